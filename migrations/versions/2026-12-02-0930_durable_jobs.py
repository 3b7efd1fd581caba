"""Durable jobs: a matching run's lock, attempts and heartbeat, and the chunks every durable job is split into.

Revision ID: 5e1f0c9a7d3b
Revises: 85752bfd2395
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5e1f0c9a7d3b"
down_revision: str | Sequence[str] | None = "8594fc11e37c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "job_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_kind", sa.String(length=20), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("items", JSON, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_kind", "job_id", "seq"),
    )
    op.create_index("ix_job_chunks_pending", "job_chunks", ["job_kind", "job_id", "status"])
    with op.batch_alter_table("matching_runs") as batch:
        batch.add_column(sa.Column("active", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint("uq_matching_runs_active", ["active"])
    # Runs left queued or running by the old in-memory executor can never finish: say so.
    op.execute(
        "UPDATE matching_runs SET status = 'failed', error = 'interrupted before durable jobs; start a new run' "
        "WHERE status IN ('queued', 'running')"
    )


def downgrade() -> None:
    with op.batch_alter_table("matching_runs") as batch:
        batch.drop_constraint("uq_matching_runs_active", type_="unique")
        batch.drop_column("heartbeat_at")
        batch.drop_column("attempts")
        batch.drop_column("active")
    op.drop_index("ix_job_chunks_pending", table_name="job_chunks")
    op.drop_table("job_chunks")
