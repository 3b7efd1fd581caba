"""The index behind the lists' text search (``q=``): character bigrams of each record's title, body and external id.

The meaning of ``q`` stays the substring match of :func:`matchmaker.services.records.filtered_select` (the title, the
body or the external id contains the text, in any of its scripts). Chinese words are often two characters (冷链, 焊接,
芯片), too short for a trigram index, and a LIKE over every record reads the whole list (about a second at 100k
achievements). So each record keeps the set of its bigrams (lower-cased, never across whitespace) in
``record_grams``, indexed by the database's own full-text index: an FTS5 table on SQLite, a GIN index over
``to_tsvector('simple', grams)`` on PostgreSQL. A record holding the text holds every bigram of it, so the records
holding all of them are a superset of the matches, and the LIKE then decides among those few.

Bigrams are stored as short hashes (``g`` and four base-36 digits): any tokenizer keeps them whole, whatever the
characters, and a collision only adds a candidate that the LIKE then drops. A text without a bigram (one character)
is searched without the index.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import Boolean

from matchmaker.models import RecordGrams

BUCKETS = 36**4
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _token(gram: str) -> str:
    n = zlib.crc32(gram.encode("utf-8")) % BUCKETS
    out = []
    for _ in range(4):
        n, digit = divmod(n, 36)
        out.append(DIGITS[digit])
    return "g" + "".join(out)


def gram_tokens(texts: Iterable[str | None]) -> list[str]:
    """The distinct bigram tokens of some texts (lower-cased; a bigram never spans whitespace), sorted."""
    tokens: set[str] = set()
    for text in texts:
        low = (text or "").lower()
        for a, b in zip(low, low[1:], strict=False):
            if not a.isspace() and not b.isspace():
                tokens.add(_token(a + b))
    return sorted(tokens)


def refresh_grams(session: Session, kind: str, record_id: int, texts: Sequence[str | None]) -> None:
    """Store a record's bigrams (after it was created or its title, body or external id changed)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(RecordGrams).values(kind=kind, record_id=record_id, grams=" ".join(gram_tokens(texts)))
    session.execute(
        stmt.on_conflict_do_update(index_elements=["kind", "record_id"], set_={"grams": stmt.excluded.grams})
    )


def forget_grams(session: Session, kind: str, record_id: int) -> None:
    """Drop a deleted record's bigrams."""
    session.execute(delete(RecordGrams).where(RecordGrams.kind == kind, RecordGrams.record_id == record_id))


class HoldsGrams(ColumnElement[bool]):
    """``id_column`` is a record of ``kind`` holding every bigram of at least one of ``texts``."""

    type = Boolean()
    _is_implicitly_boolean = True  # a condition in itself (SQLite must not render "... = 1", which hides the IN)
    inherit_cache = False  # the token groups are rendered into the statement's parameters, not its cache key

    def __init__(self, kind: str, id_column: Any, groups: list[list[str]]) -> None:
        self.kind = kind
        self.id_column = id_column
        self.groups = groups


def holds_grams(kind: str, id_column: Any, texts: Sequence[str]) -> HoldsGrams | None:
    """The index condition for a search for any of ``texts``; None when one of them has no bigram (one character:
    the search reads every record)."""
    groups = [gram_tokens([text]) for text in texts]
    return HoldsGrams(kind, id_column, groups) if groups and all(groups) else None


def _candidates(element: HoldsGrams, compiler: SQLCompiler, match: str, query: str, **kw: Any) -> str:
    column = compiler.process(element.id_column, **kw)
    kind = compiler.process(bindparam("grams_kind", element.kind, unique=True), **kw)
    text = compiler.process(bindparam("grams_query", query, unique=True), **kw)
    return f"{column} IN (SELECT record_grams.record_id FROM record_grams {match.format(kind=kind, query=text)})"


@compiles(HoldsGrams, "sqlite")
def _sqlite(element: HoldsGrams, compiler: SQLCompiler, **kw: Any) -> str:
    query = " OR ".join(f"({' '.join(group)})" for group in element.groups)  # FTS5: AND within, OR between
    # the full-text match first (its rowids are record_grams ids, looked up by key: "+" keeps SQLite off the kind
    # index, which would read every record's row), never once per record_grams row
    match = (
        "WHERE +record_grams.kind = {kind} AND record_grams.id IN "
        "(SELECT rowid FROM record_grams_fts WHERE record_grams_fts MATCH {query})"
    )
    return _candidates(element, compiler, match, query, **kw)


@compiles(HoldsGrams, "postgresql")
def _postgresql(element: HoldsGrams, compiler: SQLCompiler, **kw: Any) -> str:
    query = " | ".join(f"({' & '.join(group)})" for group in element.groups)
    match = (
        "WHERE record_grams.kind = {kind} "
        "AND to_tsvector('simple', record_grams.grams) @@ to_tsquery('simple', {query})"
    )
    return _candidates(element, compiler, match, query, **kw)


@compiles(HoldsGrams)
def _other(element: HoldsGrams, compiler: SQLCompiler, **kw: Any) -> str:
    return "1 = 1"  # no full-text index: the LIKE alone decides
