"""Learning the ranking weights from the managers' decisions.

Method (deliberately simple, so a manager can follow it): every decided pairing is one example — accepted (moved
past proposed and not rejected) or rejected — described by the score contributions its explanation stored
(contribution_c = w_c · x_c for each component c). A logistic regression (class-balanced, L2) on those
contributions, standardised first (contributions live on very different scales) and mapped back to the raw scale
(β_c = β_c,std / σ_c), gives a coefficient β_c per component: how much more (or less) the decisions reward that
component than the current weights do. The new weight is

    w'_c = w_c · max(β_c, 0) / β_semantic

so the semantic weight keeps its value (it sets the scale) and a component the managers ignore or punish drops to 0.
The hard-constraint penalty is a rule, not a preference, and is kept. The result is shown on the development
evaluation set beside the current weights before anyone makes it the default (MATCHMAKER_RANKING_WEIGHTS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.errors import ValidationFailed, field_error
from matchmaker.models import Match
from matchmaker.search.ranking import Weights

COMPONENTS = ("semantic", "lexical", "chain", "trl", "mode", "price", "region", "freshness")


@dataclass(frozen=True)
class Learned:
    """Learned weights with what they were learned from."""

    weights: Weights
    coefficients: dict[str, float]
    accepted: int
    rejected: int
    train_accuracy: float


def decided_examples(session: Session) -> tuple[np.ndarray, np.ndarray]:
    """Contributions (n × components) and labels (1 accepted, 0 rejected) of every decided pairing."""
    rows, labels = [], []
    for match in session.scalars(select(Match).where(Match.status != "proposed")):
        components = (match.explanation or {}).get("components") or {}
        if not components:
            continue
        rows.append([float(components.get(c, 0.0)) for c in COMPONENTS])
        labels.append(0 if match.status == "rejected" else 1)
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(COMPONENTS)), np.asarray(labels, dtype=np.int64)


def learn_weights(session: Session, current: Weights, *, min_each: int = 10) -> Learned:
    """Fit the logistic regression described in the module docstring; 422 when there are too few decisions."""
    from sklearn.linear_model import LogisticRegression

    x, y = decided_examples(session)
    accepted, rejected = int(y.sum()), int(len(y) - y.sum())
    if accepted < min_each or rejected < min_each:
        raise ValidationFailed(
            f"need at least {min_each} accepted and {min_each} rejected pairings (have {accepted} and {rejected})",
            fields=[field_error("decisions", "too few")],
        )
    mean, std = x.mean(axis=0), x.std(axis=0)
    constant = std < 1e-9  # a component with one value carries no evidence: its coefficient is 0
    std[constant] = 1.0
    standardised = (x - mean) / std
    standardised[:, constant] = 0.0
    model = LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000)
    model.fit(standardised, y)
    raw = model.coef_[0] / std
    raw[constant] = 0.0
    beta = dict(zip(COMPONENTS, raw.tolist(), strict=True))
    if beta["semantic"] <= 0:
        raise ValidationFailed(
            "the decisions do not reward semantic similarity; weights were not changed",
            fields=[field_error("decisions", "semantic coefficient ≤ 0")],
        )
    values = current.as_dict()
    for name in COMPONENTS:
        values[name] = round(values[name] * max(beta[name], 0.0) / beta["semantic"], 4)
    values["semantic"] = current.semantic
    return Learned(
        weights=Weights.from_dict(values),
        coefficients={k: round(v, 4) for k, v in beta.items()},
        accepted=accepted,
        rejected=rejected,
        train_accuracy=round(float(model.score(standardised, y)), 4),
    )
