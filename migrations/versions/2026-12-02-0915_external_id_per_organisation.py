"""An external_id is unique within its organisation (records without one share one namespace), not across the lists'
organisations: a member could otherwise learn another organisation's ids from the 409 (issue 17, item 13).

Revision ID: 5e2c7a91d3b4
Revises: 85752bfd2395
Create Date: 2026-12-02 09:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e2c7a91d3b4"
down_revision: str | Sequence[str] | None = "85752bfd2395"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("achievements", "demands")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_external_id")
            batch_op.create_index(f"ix_{table}_external_id", ["external_id"], unique=False)
        op.create_index(
            f"uq_{table}_org_external_id", table, [sa.text("coalesce(org_id, 0)"), sa.text("external_id")], unique=True
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"uq_{table}_org_external_id", table_name=table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_external_id")
            batch_op.create_index(f"ix_{table}_external_id", ["external_id"], unique=True)
