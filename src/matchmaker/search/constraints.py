"""What a pairing is judged on: both sides' facts, the one decision on the need's hard constraints, and the checks a
manager reads.

A pairing is always seen from the need's side (the enterprise states the constraints), whichever list the query came
from. The hard constraints are the need's ``min_trl``, its ``preferred_modes`` and a passed ``deadline``;
:func:`hard_violations` is the one place that decides whether a pairing breaks one. The explanation's checks
(:func:`check_constraints`), the score components and the constraint policies (:mod:`matchmaker.search.ranking`), the
resource fit and the offline evaluation all ask it. The price against the budget is a soft check: shown, never a
violation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class NeedFacts:
    """What the ranking needs to know about the need of a pairing."""

    field: str
    region: str
    min_trl: int | None = None
    preferred_modes: frozenset[str] = frozenset()
    budget_wan: float | None = None
    deadline: date | None = None
    scenario: bool = False  # an application scenario (应用场景), explained in its own words


@dataclass(frozen=True)
class OfferFacts:
    """What the ranking needs to know about the achievement of a pairing."""

    field: str
    region: str
    trl: int | None = None
    modes: frozenset[str] = frozenset()
    price_wan: float | None = None


@dataclass(frozen=True)
class Check:
    """One hard-constraint or preference check, with the values compared."""

    name: str
    ok: bool | None  # None: cannot be checked (a value is missing)
    hard: bool
    need_value: Any
    offer_value: Any
    message: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


def _fmt_wan(value: float) -> str:
    return f"{value:g}万"


def hard_violations(need: NeedFacts, offer: OfferFacts, today: date | None) -> list[str]:
    """The one decision on hard constraints: the names of the ones a pairing breaks, in the order
    :func:`check_constraints` lists them.

    * ``trl``: the achievement's TRL is known and below the need's ``min_trl`` (an unknown TRL cannot be checked);
    * ``modes``: the need prefers transfer modes and the achievement offers others, none of them (an achievement or a
      free text that states no mode cannot be checked);
    * ``deadline``: the need's deadline passed before ``today`` (``None``: not judged, as in the offline evaluation,
      where the deadline is a property of the need that flags every candidate alike).

    The explanation's checks, the score components, the constraint policies and the evaluation all ask this function.
    """
    violations: list[str] = []
    if need.min_trl is not None and offer.trl is not None and offer.trl < need.min_trl:
        violations.append("trl")
    if need.preferred_modes and offer.modes and not need.preferred_modes & offer.modes:
        violations.append("modes")
    if today is not None and need.deadline is not None and need.deadline < today:
        violations.append("deadline")
    return violations


def check_constraints(need: NeedFacts, offer: OfferFacts, today: date) -> list[Check]:
    """The hard constraints (min_trl, preferred_modes, deadline) and soft preferences (price, chain, region)."""
    violated = hard_violations(need, offer, today)
    checks: list[Check] = []
    if need.min_trl is not None:
        if offer.trl is None:
            checks.append(Check("trl", None, True, need.min_trl, None, f"成熟度未知（要求≥{need.min_trl}）"))
        elif "trl" not in violated:
            checks.append(Check("trl", True, True, need.min_trl, offer.trl, f"成熟度{offer.trl}≥要求{need.min_trl}"))
        else:
            checks.append(Check("trl", False, True, need.min_trl, offer.trl, f"成熟度{offer.trl}<要求{need.min_trl}"))
    if need.preferred_modes:
        common = sorted(need.preferred_modes & offer.modes)
        wanted = "、".join(sorted(need.preferred_modes))
        if not offer.modes:  # the achievement (or a free text) states no mode: nothing to compare, nothing broken
            checks.append(
                Check("modes", None, True, sorted(need.preferred_modes), [], f"合作方式未注明（期望{wanted}）")
            )
        elif "modes" not in violated:
            checks.append(
                Check(
                    "modes",
                    True,
                    True,
                    sorted(need.preferred_modes),
                    sorted(offer.modes),
                    f"合作方式相符：{'、'.join(common)}",
                )
            )
        else:
            offered = "、".join(sorted(offer.modes)) or "未注明"
            checks.append(
                Check(
                    "modes",
                    False,
                    True,
                    sorted(need.preferred_modes),
                    sorted(offer.modes),
                    f"合作方式不符：期望{wanted}，提供{offered}",
                )
            )
    if need.deadline is not None:
        passed = "deadline" in violated
        message = f"需求已于{need.deadline.isoformat()}截止" if passed else f"截止日期{need.deadline.isoformat()}"
        checks.append(Check("deadline", not passed, True, need.deadline.isoformat(), today.isoformat(), message))
    if need.budget_wan is not None and offer.price_wan is not None:
        ok = offer.price_wan <= need.budget_wan
        sign = "≤" if ok else ">"
        checks.append(
            Check(
                "price",
                ok,
                False,
                need.budget_wan,
                offer.price_wan,
                f"报价{_fmt_wan(offer.price_wan)}{sign}预算{_fmt_wan(need.budget_wan)}",
            )
        )
    return checks
