"""Text search index of the lists: record_grams (each record's character bigrams), full-text indexed (FTS5 on SQLite,
GIN on PostgreSQL), filled from the records.

Revision ID: 8594fc11e37c
Revises: 85752bfd2395
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from matchmaker.services.text_search import gram_tokens

revision: str = "8594fc11e37c"
down_revision: str | None = "5e2c7a91d3b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTS = (("achievements", "summary"), ("demands", "description"))
BATCH = 2000
SQLITE_TRIGGERS = (
    "CREATE TRIGGER record_grams_ai AFTER INSERT ON record_grams BEGIN "
    "INSERT INTO record_grams_fts(rowid, grams) VALUES (new.id, new.grams); END",
    "CREATE TRIGGER record_grams_ad AFTER DELETE ON record_grams BEGIN "
    "INSERT INTO record_grams_fts(record_grams_fts, rowid, grams) VALUES ('delete', old.id, old.grams); END",
    "CREATE TRIGGER record_grams_au AFTER UPDATE ON record_grams BEGIN "
    "INSERT INTO record_grams_fts(record_grams_fts, rowid, grams) VALUES ('delete', old.id, old.grams); "
    "INSERT INTO record_grams_fts(rowid, grams) VALUES (new.id, new.grams); END",
)


def upgrade() -> None:
    op.create_table(
        "record_grams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("grams", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_grams")),
        sa.UniqueConstraint("kind", "record_id", name=op.f("uq_record_grams_kind")),
    )
    bind = op.get_bind()
    grams = sa.table("record_grams", sa.column("kind"), sa.column("record_id"), sa.column("grams"))
    for kind, body in LISTS:
        rows = bind.execute(sa.text(f"SELECT id, title, {body}, external_id FROM {kind} ORDER BY id"))
        while batch := rows.fetchmany(BATCH):
            values = [{"kind": kind, "record_id": r[0], "grams": " ".join(gram_tokens(r[1:]))} for r in batch]
            bind.execute(grams.insert(), values)
    if bind.dialect.name == "sqlite":
        # detail=none: the search asks which records hold every token, never where (a much smaller index)
        op.execute(
            "CREATE VIRTUAL TABLE record_grams_fts USING fts5(grams, content='record_grams', content_rowid='id', "
            "detail=none)"
        )
        op.execute("INSERT INTO record_grams_fts(record_grams_fts) VALUES ('rebuild')")
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
    else:
        op.execute("CREATE INDEX ix_record_grams_fts ON record_grams USING gin (to_tsvector('simple', grams))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("record_grams_ai", "record_grams_ad", "record_grams_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS record_grams_fts")
    op.drop_table("record_grams")
