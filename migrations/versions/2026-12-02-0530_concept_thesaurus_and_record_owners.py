"""The concept thesaurus managers edit (concept_links); records posted by members name their organisation.

Needs posted by an enterprise member and achievements posted by an institution member were stored with
``enterprise`` / ``owner`` empty although the record belongs to the member's organisation (org_id): fill them from
the organisation's name.

Revision ID: 0ac406cac8d3
Revises: d42506295699
Create Date: 2026-12-02 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0ac406cac8d3"
down_revision: str | Sequence[str] | None = "d42506295699"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "concept_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("relation", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("field", sa.String(length=20), nullable=True),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_concept_links_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concept_links")),
        sa.UniqueConstraint("source", "relation", "target", name=op.f("uq_concept_links_source")),
    )
    for table, column in (("demands", "enterprise"), ("achievements", "owner")):
        op.execute(
            f"UPDATE {table} SET {column} = (SELECT name FROM organisations WHERE organisations.id = {table}.org_id) "
            f"WHERE ({column} IS NULL OR {column} = '') AND org_id IS NOT NULL"
        )


def downgrade() -> None:
    # The filled names stay: they are true, and an empty name cannot be told apart from one that was filled.
    op.drop_table("concept_links")
