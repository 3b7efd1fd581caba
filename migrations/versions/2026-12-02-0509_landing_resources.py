"""Landing resources (载体与资源): parks, incubators, pilot and proof-of-concept platforms, funds.

Revision ID: 1cfc381d07ca
Revises: 86ab4af69c14
Create Date: 2026-12-02 05:09:00.338493
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "1cfc381d07ca"
down_revision: str | Sequence[str] | None = "86ab4af69c14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "landing_resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=10), nullable=False),
        sa.Column(
            "chains", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("trl_min", sa.Integer(), nullable=True),
        sa.Column("trl_max", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("capacity", sa.String(length=300), nullable=True),
        sa.Column("fund_stage", sa.String(length=10), nullable=True),
        sa.Column("ticket_min_wan", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("ticket_max_wan", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_landing_resources")),
    )
    with op.batch_alter_table("landing_resources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_landing_resources_external_id"), ["external_id"], unique=True)
        batch_op.create_index(batch_op.f("ix_landing_resources_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_landing_resources_region"), ["region"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("landing_resources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_landing_resources_region"))
        batch_op.drop_index(batch_op.f("ix_landing_resources_kind"))
        batch_op.drop_index(batch_op.f("ix_landing_resources_external_id"))

    op.drop_table("landing_resources")
