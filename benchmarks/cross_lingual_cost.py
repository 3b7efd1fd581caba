"""What the cross-language offset costs a match request: the matcher ranking the judged dev split's needs with the
offset's language check (cold cache: every record's script read again) against the same matcher with the check
stubbed out, alternated in one run; medians of the rounds and their ratio.

    PYTHONPATH=src python benchmarks/cross_lingual_cost.py [--rounds 7] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from _common import format_table, machine, median, results_path, write_results
from matchmaker.search import matcher as matcher_module
from matchmaker.search.eval_data import load_split
from matchmaker.search.evaluation import Config, Evaluator
from matchmaker.search.text import script_family

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tiny", action="store_true", help="2 rounds (the smoke test)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    rounds = 2 if args.tiny else args.rounds
    split = load_split(ROOT / "data" / "eval" / "dev")
    evaluator = Evaluator(split)
    config = Config("full", embedder="use", to_simplified=True, thesaurus=str(ROOT / "data/thesaurus/starter.jsonl"))
    evaluator.ranked(config)  # embeds the split and warms the matcher
    times: dict[str, list[float]] = {"with the language check": [], "check stubbed out": []}
    for _ in range(rounds):
        for label in times:
            script_family.cache_clear()
            matcher_module.script_family = script_family if label.startswith("with") else (lambda text: "zh")  # type: ignore[assignment]
            started = time.perf_counter()
            evaluator.ranked(config)
            times[label].append((time.perf_counter() - started) * 1000 / len(split.needs))
    matcher_module.script_family = script_family
    medians = {label: median(values) for label, values in times.items()}
    ratio = medians["with the language check"] / medians["check stubbed out"]
    print(format_table(["matcher", "ms per need (median)"], [[k, f"{v:.3f}"] for k, v in medians.items()]))
    print(f"ratio {ratio:.3f} ({len(split.needs)} needs × {rounds} rounds, cold script cache each round)")
    payload: dict[str, Any] = {"rounds": rounds, "ms_per_need": times, "medians": medians, "ratio": ratio}
    write_results(results_path("cross_lingual_cost", args.out, args.tiny), "cross_lingual_cost", payload,
                         machine_info=machine())  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
