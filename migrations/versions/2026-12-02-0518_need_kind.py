"""A need's kind: 技术需求 (a problem to solve) or 应用场景 (a place to try or deploy a technology).

Revision ID: 4b65b8251748
Revises: 1cfc381d07ca
Create Date: 2026-12-02 05:18:58.619208
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4b65b8251748"
down_revision: str | Sequence[str] | None = "1cfc381d07ca"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("demands", schema=None) as batch_op:
        batch_op.add_column(sa.Column("need_kind", sa.String(length=10), server_default="技术需求", nullable=False))
        batch_op.create_index(batch_op.f("ix_demands_need_kind"), ["need_kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("demands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_demands_need_kind"))
        batch_op.drop_column("need_kind")
