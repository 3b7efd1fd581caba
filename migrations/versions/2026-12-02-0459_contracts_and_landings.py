"""Technology contracts of a pairing (技术合同) and the record of where it landed (落地).

Revision ID: 86ab4af69c14
Revises: 0ac406cac8d3
Create Date: 2026-12-02 04:59:09.873594
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "86ab4af69c14"
down_revision: str | Sequence[str] | None = "0ac406cac8d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "landings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("carrier_kind", sa.String(length=10), nullable=False),
        sa.Column("carrier_name", sa.String(length=200), nullable=False),
        sa.Column("region", sa.String(length=10), nullable=False),
        sa.Column("landed_on", sa.Date(), nullable=False),
        sa.Column(
            "funding", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_landings_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_landings_match_id_matches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_landings")),
        sa.UniqueConstraint("match_id", name=op.f("uq_landings_match_id")),
    )
    with op.batch_alter_table("landings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_landings_landed_on"), ["landed_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_landings_region"), ["region"], unique=False)

    op.create_table(
        "tech_contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("contract_type", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "parties", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("term_start", sa.Date(), nullable=True),
        sa.Column("term_end", sa.Date(), nullable=True),
        sa.Column("total_wan", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("tech_wan", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("registration_no", sa.String(length=60), nullable=True),
        sa.Column("file_name", sa.String(length=200), nullable=True),
        sa.Column("file_type", sa.String(length=10), nullable=True),
        sa.Column("file_size", sa.Integer(), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("file_path", sa.String(length=300), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_tech_contracts_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_tech_contracts_match_id_matches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tech_contracts")),
        sa.CheckConstraint(
            "total_wan >= 0 AND tech_wan >= 0 AND tech_wan <= total_wan", name=op.f("ck_tech_contracts_amounts")
        ),
    )
    with op.batch_alter_table("tech_contracts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tech_contracts_contract_type"), ["contract_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_tech_contracts_match_id"), ["match_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tech_contracts_signed_on"), ["signed_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tech_contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tech_contracts_signed_on"))
        batch_op.drop_index(batch_op.f("ix_tech_contracts_match_id"))
        batch_op.drop_index(batch_op.f("ix_tech_contracts_contract_type"))

    op.drop_table("tech_contracts")
    with op.batch_alter_table("landings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_landings_region"))
        batch_op.drop_index(batch_op.f("ix_landings_landed_on"))

    op.drop_table("landings")
