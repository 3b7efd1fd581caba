"""揭榜挂帅: challenges with indicators and rubric, experts, proposals, scores and the moves of a challenge.

Revision ID: 85752bfd2395
Revises: 03d0cb8f41d7
Create Date: 2026-12-02 04:59:56.762864
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "85752bfd2395"
down_revision: str | Sequence[str] | None = "03d0cb8f41d7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("goal", sa.Text(), nullable=False),
        sa.Column("background", sa.Text(), nullable=True),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("region", sa.String(length=10), nullable=False),
        sa.Column("issuer_org_id", sa.Integer(), nullable=True),
        sa.Column(
            "issuers", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "demand_ids", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("bounty_wan", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("cofund_wan", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column(
            "eligibility", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("research_months", sa.Integer(), nullable=False),
        sa.Column("ip_ownership", sa.String(length=300), nullable=True),
        sa.Column("ip_licence", sa.String(length=300), nullable=True),
        sa.Column(
            "contacts", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("mask_applicants", sa.Boolean(), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column(
            "stage_changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("awarded_proposal_id", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_challenges_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["issuer_org_id"],
            ["organisations.id"],
            name=op.f("fk_challenges_issuer_org_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenges")),
        sa.UniqueConstraint("external_id", name=op.f("uq_challenges_external_id")),
    )
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_challenges_field"), ["field"], unique=False)
        batch_op.create_index(batch_op.f("ix_challenges_issuer_org_id"), ["issuer_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_challenges_stage"), ["stage"], unique=False)

    op.create_table(
        "challenge_criteria",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_challenge_criteria_challenge_id_challenges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_criteria")),
    )
    with op.batch_alter_table("challenge_criteria", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_challenge_criteria_challenge_id"), ["challenge_id"], unique=False)

    op.create_table(
        "challenge_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("from_stage", sa.String(length=12), nullable=True),
        sa.Column("to_stage", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_challenge_events_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_challenge_events_challenge_id_challenges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_events")),
    )
    with op.batch_alter_table("challenge_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_challenge_events_challenge_id"), ["challenge_id"], unique=False)

    op.create_table(
        "challenge_experts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "conflicts", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("vetting_ok", sa.Boolean(), nullable=True),
        sa.Column("vetting_comment", sa.Text(), nullable=True),
        sa.Column(
            "assigned_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_challenge_experts_challenge_id_challenges"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_challenge_experts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_experts")),
        sa.UniqueConstraint("challenge_id", "user_id", name=op.f("uq_challenge_experts_challenge_id")),
    )
    with op.batch_alter_table("challenge_experts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_challenge_experts_challenge_id"), ["challenge_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_challenge_experts_user_id"), ["user_id"], unique=False)

    op.create_table(
        "challenge_indicators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("comparator", sa.String(length=2), nullable=False),
        sa.Column("target_value", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("measured_value", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_challenge_indicators_challenge_id_challenges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_indicators")),
    )
    with op.batch_alter_table("challenge_indicators", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_challenge_indicators_challenge_id"), ["challenge_id"], unique=False)

    op.create_table(
        "challenge_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column(
            "members", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("team", sa.Text(), nullable=False),
        sa.Column("approach", sa.Text(), nullable=False),
        sa.Column(
            "achievement_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "promises", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("budget_wan", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column(
            "schedule", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_challenge_proposals_challenge_id_challenges"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_challenge_proposals_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["users.id"], name=op.f("fk_challenge_proposals_submitted_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_proposals")),
        sa.UniqueConstraint("challenge_id", "org_id", name=op.f("uq_challenge_proposals_challenge_id")),
    )
    with op.batch_alter_table("challenge_proposals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_challenge_proposals_challenge_id"), ["challenge_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_challenge_proposals_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_challenge_proposals_status"), ["status"], unique=False)

    op.create_table(
        "proposal_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("expert_id", sa.Integer(), nullable=False),
        sa.Column(
            "scores", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["users.id"], name=op.f("fk_proposal_scores_expert_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["challenge_proposals.id"],
            name=op.f("fk_proposal_scores_proposal_id_challenge_proposals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal_scores")),
        sa.UniqueConstraint("proposal_id", "expert_id", name=op.f("uq_proposal_scores_proposal_id")),
    )
    with op.batch_alter_table("proposal_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposal_scores_expert_id"), ["expert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_proposal_scores_proposal_id"), ["proposal_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("proposal_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposal_scores_proposal_id"))
        batch_op.drop_index(batch_op.f("ix_proposal_scores_expert_id"))

    op.drop_table("proposal_scores")
    with op.batch_alter_table("challenge_proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_challenge_proposals_status"))
        batch_op.drop_index(batch_op.f("ix_challenge_proposals_org_id"))
        batch_op.drop_index(batch_op.f("ix_challenge_proposals_challenge_id"))

    op.drop_table("challenge_proposals")
    with op.batch_alter_table("challenge_indicators", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_challenge_indicators_challenge_id"))

    op.drop_table("challenge_indicators")
    with op.batch_alter_table("challenge_experts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_challenge_experts_user_id"))
        batch_op.drop_index(batch_op.f("ix_challenge_experts_challenge_id"))

    op.drop_table("challenge_experts")
    with op.batch_alter_table("challenge_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_challenge_events_challenge_id"))

    op.drop_table("challenge_events")
    with op.batch_alter_table("challenge_criteria", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_challenge_criteria_challenge_id"))

    op.drop_table("challenge_criteria")
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_challenges_stage"))
        batch_op.drop_index(batch_op.f("ix_challenges_issuer_org_id"))
        batch_op.drop_index(batch_op.f("ix_challenges_field"))

    op.drop_table("challenges")
