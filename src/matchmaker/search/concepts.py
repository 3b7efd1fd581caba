"""A thesaurus of concepts the ranking uses for query expansion, concept evidence and explanations.

Managers teach the matcher what a small model cannot know: that "冷却时间长" (a symptom) is solved by "随形冷却" (a
technology), that "跳闸" in an old plant calls for "需量管理", that "倒瓶" on a filling line is found by "机器视觉".
Each
link joins two terms with a relation:

* ``synonym`` (同义词) — the two terms name the same thing (symmetric): 光刻胶 ~ 光阻 ~ photoresist;
* ``broader`` (上下位) — ``source`` is a kind of ``target`` (symmetric for matching, weaker evidence):
  随形冷却 → 模具冷却;
* ``symptom`` (症状→技术) — a need describing ``source`` is addressed by an achievement offering ``target``;
* ``opposite`` (方向相反) — a need describing ``source`` is *not* served by a solution whose headline is ``target``
  (a battery that must be warmed in winter and a liquid-cooling plate; a chip that must shed heat and a thermal
  insulator). Words and embeddings see the same topic either way; only the direction differs, so the ranking needs
  this knowledge to stop an opposite solution from riding on the shared chain and vocabulary.

Matching is on the canonical text (NFKC, Simplified, lower case): a Chinese term matches as a substring, a Latin term
as a whole word. For one pairing, :meth:`QueryConcepts.evidence` gives

* ``concept`` in [0, 1] — the strongest positive link between the need and the achievement (synonym and symptom 1,
  broader 0.5, times the link's weight), and
* ``opposite`` in [0, 1] — 1 when the achievement's title or keywords state the opposite of what the need describes
  and no positive link joins the two;

plus the readable links ("冷却时间长 → 随形冷却"). :meth:`QueryConcepts.expansion` gives the linked terms to add to the
query's BM25 tokens, so that a solution sharing no word with the symptom is still retrieved.

Pure module: no web framework, no ORM.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from matchmaker.search.text import canonical, tokenize

Relation = Literal["synonym", "broader", "symptom", "opposite"]
RELATIONS: tuple[Relation, ...] = ("synonym", "broader", "symptom", "opposite")
RELATION_LABELS: dict[str, str] = {
    "synonym": "同义词",
    "broader": "上下位",
    "symptom": "症状→技术",
    "opposite": "方向相反",
}
STRENGTH: dict[str, float] = {"synonym": 1.0, "symptom": 1.0, "broader": 0.5}
_LATIN_TERM = re.compile(r"^[0-9a-z][0-9a-z .+\-/]*$")


@dataclass(frozen=True)
class ConceptLink:
    """One link of the thesaurus: ``source`` —relation→ ``target`` with a weight in (0, 1]."""

    source: str
    relation: Relation
    target: str
    weight: float = 1.0
    field: str | None = None  # the industrial chain the link was written for (informative only)


@lru_cache(maxsize=4096)
def _term_pattern(term: str) -> re.Pattern[str] | str:
    """How a term is looked for in canonical text: a whole-word regex for Latin terms, a substring otherwise."""
    form = canonical(term)
    if _LATIN_TERM.match(form):
        return re.compile(r"(?<![0-9a-z])" + re.escape(form) + r"(?![0-9a-z])")
    return form


def contains(text: str, term: str) -> bool:
    """Whether canonical ``text`` mentions ``term`` (see the module docstring)."""
    pattern = _term_pattern(term)
    if isinstance(pattern, str):
        return bool(pattern) and pattern in text
    return pattern.search(text) is not None


@dataclass(frozen=True)
class Evidence:
    """What the thesaurus says about one pairing."""

    concept: float
    opposite: float
    links: tuple[str, ...]  # "冷却时间长 → 随形冷却", strongest first
    opposites: tuple[str, ...]  # "低温充电 ↔ 液冷"


NO_EVIDENCE = Evidence(0.0, 0.0, (), ())


class QueryConcepts:
    """The links that apply to one need (the need's text is known), ready to test its candidates."""

    def __init__(self, positive: Sequence[tuple[str, str, float]], opposite: Sequence[tuple[str, str]]) -> None:
        self.positive = tuple(positive)  # (need term, offer term, strength)
        self.opposite = tuple(opposite)  # (need term, offer headline term)

    def __bool__(self) -> bool:
        return bool(self.positive or self.opposite)

    def expansion(self, limit: int = 24) -> list[str]:
        """BM25 tokens of the achievement-side terms linked to the need (each once, at most ``limit``)."""
        out: dict[str, None] = {}
        for _, term, _ in self.positive:
            for token in tokenize(term):
                out.setdefault(token, None)
                if len(out) >= limit:
                    return list(out)
        return list(out)

    def evidence(self, offer_text: str, offer_headline: str) -> Evidence:
        """Concept evidence of one achievement (its canonical full text and canonical title + keywords)."""
        if not self:
            return NO_EVIDENCE
        found: dict[str, float] = {}
        best = 0.0
        for need_term, offer_term, strength in self.positive:
            if contains(offer_text, offer_term):
                label = f"{need_term} → {offer_term}"
                if strength > found.get(label, 0.0):
                    found[label] = strength
                best = max(best, strength)
        opposites: list[str] = []
        if not found:
            for need_term, offer_term in self.opposite:
                if contains(offer_headline, offer_term):
                    opposites.append(f"{need_term} ↔ {offer_term}")
        links = tuple(sorted(found, key=lambda k: -found[k]))
        return Evidence(best, 1.0 if opposites else 0.0, links, tuple(dict.fromkeys(opposites)))


class Thesaurus:
    """A set of concept links, queried per need."""

    def __init__(self, links: Iterable[ConceptLink] = ()) -> None:
        self.links = tuple(links)
        # A symmetric relation is stored once and applies both ways.
        pairs: list[tuple[str, str, str, float]] = []
        for link in self.links:
            pairs.append((link.source, link.target, link.relation, link.weight))
            if link.relation in ("synonym", "broader"):
                pairs.append((link.target, link.source, link.relation, link.weight))
        self._pairs = tuple(pairs)

    def __len__(self) -> int:
        return len(self.links)

    def for_need(self, need_text: str) -> QueryConcepts:
        """The links whose need-side term the need's text mentions."""
        text = canonical(need_text)
        positive: list[tuple[str, str, float]] = []
        opposite: list[tuple[str, str]] = []
        seen: set[str] = set()
        for source, target, relation, weight in self._pairs:
            if source in seen or contains(text, source):
                seen.add(source)
                if relation == "opposite":
                    opposite.append((source, target))
                else:
                    positive.append((source, target, STRENGTH[relation] * weight))
        return QueryConcepts(positive, opposite)

    def for_offer(self, offer_text: str) -> list[tuple[str, str, str, float]]:
        """The links whose achievement-side term the achievement's text mentions (need term, offer term, ...)."""
        text = canonical(offer_text)
        return [p for p in self._pairs if p[2] != "opposite" and contains(text, p[1])]


def headline(text: str) -> str:
    """The first two lines of a record's text (title and keywords, see ``record_text``): what a solution *is*."""
    return "\n".join(text.split("\n", 2)[:2])


def load_links(path: str | Path) -> list[ConceptLink]:
    """Read a thesaurus file (JSON lines) into links.

    Each line is one group: ``{"field": "高端装备", "relation": "symptom", "sources": [...], "targets": [...]}``
    gives a link from every source to every target; a ``synonym`` group may instead list ``"terms": [...]`` (all
    synonyms of the first). ``weight`` (default 1) applies to every link of the group. Raises ValueError naming the
    line for an unknown relation or an empty group.
    """
    links: list[ConceptLink] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        row = json.loads(line)
        relation = row.get("relation")
        if relation not in RELATIONS:
            raise ValueError(f"{path}:{n}: unknown relation {relation!r} (one of {', '.join(RELATIONS)})")
        if "terms" in row:
            terms = [str(t) for t in row["terms"]]
            sources, targets = terms[1:], terms[:1]
        else:
            sources, targets = [str(t) for t in row.get("sources", [])], [str(t) for t in row.get("targets", [])]
        if not sources or not targets:
            raise ValueError(f"{path}:{n}: a group needs sources and targets (or terms)")
        weight = float(row.get("weight", 1.0))
        for s in sources:
            for t in targets:
                links.append(ConceptLink(s.strip(), relation, t.strip(), weight, row.get("field")))
    return links
