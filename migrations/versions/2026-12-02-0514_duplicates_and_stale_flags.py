"""Duplicate candidates, merges with their undo journal, pointers from archived copies to survivors, stale flags.

Revision ID: 03d0cb8f41d7
Revises: c29e75a6147f
Create Date: 2026-12-02 05:14:37.422391
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "03d0cb8f41d7"
down_revision: str | Sequence[str] | None = "c29e75a6147f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "stale_flags",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column(
            "flagged_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kind", "record_id", name=op.f("pk_stale_flags")),
    )
    op.create_table(
        "duplicate_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("record_a", sa.Integer(), nullable=False),
        sa.Column("record_b", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column(
            "evidence", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("import_batch_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_duplicate_candidates_decided_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["import_batch_id"],
            ["import_batches.id"],
            name=op.f("fk_duplicate_candidates_import_batch_id_import_batches"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_candidates")),
        sa.UniqueConstraint("kind", "record_a", "record_b", name=op.f("uq_duplicate_candidates_kind")),
    )
    with op.batch_alter_table("duplicate_candidates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_duplicate_candidates_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_duplicate_candidates_record_a"), ["record_a"], unique=False)
        batch_op.create_index(batch_op.f("ix_duplicate_candidates_record_b"), ["record_b"], unique=False)
        batch_op.create_index(batch_op.f("ix_duplicate_candidates_status"), ["status"], unique=False)

    op.create_table(
        "duplicate_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column(
            "merged_ids", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "journal", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column("undone_by", sa.Integer(), nullable=True),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_duplicate_merges_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["undone_by"], ["users.id"], name=op.f("fk_duplicate_merges_undone_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_merges")),
    )
    with op.batch_alter_table("duplicate_merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_duplicate_merges_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_duplicate_merges_survivor_id"), ["survivor_id"], unique=False)

    op.create_table(
        "merged_records",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("merge_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merge_id"],
            ["duplicate_merges.id"],
            name=op.f("fk_merged_records_merge_id_duplicate_merges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kind", "record_id", name=op.f("pk_merged_records")),
    )
    with op.batch_alter_table("merged_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_merged_records_merge_id"), ["merge_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_merged_records_survivor_id"), ["survivor_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("merged_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merged_records_survivor_id"))
        batch_op.drop_index(batch_op.f("ix_merged_records_merge_id"))

    op.drop_table("merged_records")
    with op.batch_alter_table("duplicate_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_duplicate_merges_survivor_id"))
        batch_op.drop_index(batch_op.f("ix_duplicate_merges_kind"))

    op.drop_table("duplicate_merges")
    with op.batch_alter_table("duplicate_candidates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_duplicate_candidates_status"))
        batch_op.drop_index(batch_op.f("ix_duplicate_candidates_record_b"))
        batch_op.drop_index(batch_op.f("ix_duplicate_candidates_record_a"))
        batch_op.drop_index(batch_op.f("ix_duplicate_candidates_kind"))

    op.drop_table("duplicate_candidates")
    op.drop_table("stale_flags")
