"""Side-by-side runs of several commits of the service: each commit's tree exported once, its figures compared with the
first commit's as medians of per-repeat ratios.

A benchmark that measures "is this change slower" on a shared machine must run both sides in the same minutes: the
load of the other jobs drifts by more than most changes are worth. So the servers of every commit are started
together, their load runs alternate within each repeat (a, b, a, b, ...), and each repeat gives one ratio per commit
against the first commit measured beside it; the median of those ratios is the figure reported, with the medians of
the raw values for context.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

WORKTREE = "worktree"
"""The revision name of the files as they are in this checkout, committed or not."""

EXPORTED = ("src", "migrations", "alembic.ini")
"""What a server needs of a commit: the package (run from its ``src`` first on ``PYTHONPATH``) and the migrations
(found next to the source tree)."""


@dataclass(frozen=True)
class Revision:
    """One side of a comparison: a name as given, the commit it resolves to, and the tree its server runs from."""

    name: str
    commit: str
    tree: Path

    @property
    def src(self) -> Path:
        """The directory to put first on ``PYTHONPATH``."""
        return self.tree / "src"


def resolve(root: Path, names: Sequence[str], into: Path) -> list[Revision]:
    """Each name as a revision: :data:`WORKTREE` is ``root`` itself; any other git revision is exported (``git
    archive`` of :data:`EXPORTED`) into a folder under ``into``."""
    out: list[Revision] = []
    for name in names:
        if name == WORKTREE:
            head = _git(root, "rev-parse", "HEAD").decode().strip()
            dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no").strip())
            out.append(Revision(name, head + ("+changes" if dirty else ""), root))
            continue
        commit = _git(root, "rev-parse", "--verify", f"{name}^{{commit}}").decode().strip()
        tree = into / commit[:12]
        if not tree.exists():
            archive = _git(root, "archive", "--format=tar", commit, *EXPORTED)
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(tree, filter="data")
        out.append(Revision(name, commit, tree))
    return out


def _git(root: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=True, timeout=120).stdout


HIGHER_IS_BETTER = {"match_rps": True, "all_rps": True, "match_p50_ms": False, "match_p99_ms": False}
TOLERANCE = 0.05
"""How far a median ratio may move the wrong way before the verdict calls a revision slower."""


def compare(
    per_repeat: Mapping[str, Sequence[Mapping[str, float]]], base: str, metrics: Sequence[str] = tuple(HIGHER_IS_BETTER)
) -> dict[str, dict[str, Any]]:
    """Each revision against ``base``: for every metric, the median of the raw values and the median of the ratios
    of the repeats (revision / base, repeat by repeat; a repeat without both values is skipped).

    ``per_repeat[revision][i]`` holds the figures of repeat ``i``. A ratio above 1 is faster for a rate and slower
    for a latency; ``verdict`` says "not slower" when no metric moved the wrong way by more than :data:`TOLERANCE`.
    """
    out: dict[str, dict[str, Any]] = {}
    for revision, repeats in per_repeat.items():
        figures: dict[str, Any] = {}
        worse = []
        for metric in metrics:
            mine = [r.get(metric) for r in repeats]
            theirs = [r.get(metric) for r in per_repeat[base]]
            ratios = [a / b for a, b in zip(mine, theirs, strict=False) if a is not None and b]
            values = [v for v in mine if v is not None]
            ratio = round(median(ratios), 3) if ratios else None
            figures[metric] = {"median": round(median(values), 2) if values else None, "ratio": ratio}
            if ratio is not None and (ratio < 1 - TOLERANCE if HIGHER_IS_BETTER[metric] else ratio > 1 + TOLERANCE):
                worse.append(metric)
        figures["repeats"] = len(repeats)
        if revision != base:
            figures["verdict"] = f"slower ({', '.join(worse)})" if worse else "not slower"
        out[revision] = figures
    return out
