"""The terms a need and an achievement share, shown in a pairing's explanation: most informative first (by IDF),
longer terms preferred over their parts, written as the query wrote them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

from matchmaker.search.text import is_meaningful_term, surface_form


def select_shared_terms(
    query_tokens: Sequence[str], doc_tokens: Sequence[str], idf: dict[str, float], limit: int = 6, query_text: str = ""
) -> tuple[str, ...]:
    """Terms both texts contain, most informative first (by IDF), longer terms preferred over their parts."""
    return QueryTerms(query_tokens, lambda t: idf.get(t, 0.0), query_text).shared_with(doc_tokens, limit)


class QueryTerms:
    """A query's meaningful terms, prepared once to find the terms each of its candidates shares with it.

    Terms are shown as the query wrote them (09MnNiDR, NVH), or as the document did when the query does not contain
    them literally; stop-words, numbers, fragments and everyday words are left out
    (:func:`~matchmaker.search.text.is_meaningful_term`).
    """

    def __init__(self, query_tokens: Sequence[str], idf: Callable[[str], float], query_text: str = "") -> None:
        self.terms = frozenset(t for t in query_tokens if _worth_considering(t))
        self._idf = idf
        self._text = query_text
        self._order: dict[str, tuple[float, int, str]] = {}  # sort keys, filled for the terms actually shared

    def _key(self, term: str) -> tuple[float, int, str]:
        key = self._order.get(term)
        if key is None:
            key = self._order[term] = (-self._idf(term), -len(term), term)
        return key

    def shared_with(self, doc_tokens: Sequence[str], limit: int = 6, doc_text: str = "") -> tuple[str, ...]:
        """Terms the document shares with the query, most informative first (by IDF), at most ``limit``; a term
        that is part of a longer shared term is left out (相变 when 相变蓄冷 is shared)."""
        common = self.terms.intersection(doc_tokens)
        longest_first = sorted(common, key=len, reverse=True)
        kept: list[str] = []
        # The walk in final order stops at `limit` kept terms (the same result as filtering all, then sorting).
        for t in sorted(common, key=self._key):
            size = len(t)
            contained = False
            for other in longest_first:
                if len(other) <= size:
                    break
                if t in other:
                    contained = True
                    break
            if contained:
                continue
            surface = surface_form(t, self._text, doc_text)
            if _meaningful(t, surface):
                kept.append(surface)
                if len(kept) == limit:
                    break
        return tuple(kept)


def _worth_considering(token: str) -> bool:
    """The cheap part of the test, applied to every query token (Latin words are judged on their written form)."""
    if token.isascii():
        return len(token) >= 2 and not token.isdigit()
    return _meaningful(token, token)


@lru_cache(maxsize=65536)
def _meaningful(token: str, surface: str) -> bool:
    return is_meaningful_term(token, surface)
