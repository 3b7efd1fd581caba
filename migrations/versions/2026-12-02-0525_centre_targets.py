"""The Centre's yearly targets (defaults: the 2024 plan of seed 002).

Revision ID: c29e75a6147f
Revises: 4b65b8251748
Create Date: 2026-12-02 05:25:53.259796
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c29e75a6147f"
down_revision: str | Sequence[str] | None = "4b65b8251748"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "centre_targets",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=30), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.PrimaryKeyConstraint("year", "key", name=op.f("pk_centre_targets")),
    )


def downgrade() -> None:
    op.drop_table("centre_targets")
