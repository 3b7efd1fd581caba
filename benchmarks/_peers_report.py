"""Tables of benchmarks/peers.py's results: one markdown table per data set and size (for benchmarks/results/ and the
README's Peers section) and the same rows on the terminal."""

from __future__ import annotations

from typing import Any

from _peers_engines import SELECTIVITIES

HEADERS = (
    "engine, setting",
    "build s",
    "peak RSS MiB (added)",
    "recall@10",
    "p50 ms",
    "p99 ms",
    "p50 ÷ shipped",
    "shipped beside it: p50 / p99 ms",
    *(f"{s.label}: recall / p50 ms / ÷ shipped" for s in SELECTIVITIES),
)


def _num(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def rows(run: dict[str, Any]) -> list[list[str]]:
    """One table row per measured setting of one subprocess (the peer's own settings; the shipped reference it was
    timed against is only the denominator of the ratios)."""
    if "error" in run:
        return [[f"{run['peer']} ({run['error']})", *(["–"] * (len(HEADERS) - 1))]]
    out = []
    ref = next(s["latency"] for s in run["settings"] if s["name"] == run["reference"])
    beside = f"{_num(ref.get('all p50'))} / {_num(ref.get('all p99'))}"
    for s in run["settings"]:
        if not s["own"]:
            continue
        lat = s["latency"]
        build = _num(run["build_s"], 1) + (" (cached)" if run["build_cached"] else "")
        memory = f"{run['rss_peak_mib']:,.0f} ({run['rss_added_mib']:,.0f})"
        cells = [s["name"], build, memory, _num(s["recall_at_10"]), _num(lat.get("all p50")), _num(lat.get("all p99"))]
        cells += [_num(lat.get("all ratio"), 2), beside]
        for sel in SELECTIVITIES:
            f = s[sel.label]
            full = "" if f["full_k"] >= 1.0 else f", {f['full_k']:.0%} full"
            cells.append(
                f"{_num(f['recall_at_10'])}{full} / {_num(lat.get(sel.label + ' p50'))} / "
                f"{_num(lat.get(sel.label + ' ratio'), 2)}"
            )
        out.append(cells)
    return out


def markdown(doc: dict[str, Any]) -> str:
    """Every (data, size) as a markdown table, with the machine state."""
    m = doc["machine"]
    lines = [
        "# Peers: the shipped index beside Milvus Lite, LanceDB and txtai",
        "",
        f"Measured {doc.get('timestamp', '')} on {m.get('cpu_count')} × {m.get('cpu_model')}, {m.get('ram_gib')} GiB,"
        f" load average {m.get('load_average')} at the start and {m.get('load_average_at_end')} at the end; one thread"
        " per query and per build. `÷ shipped` is the p50 of the row over the shipped index's p50 (efSearch"
        f" {doc['config']['shipped']['ef_search']}) measured interleaved in the same subprocess (above 1: the shipped"
        " index is faster).",
    ]
    quality = doc.get("quality")
    if quality and "error" not in quality:
        lines += [
            "",
            f"## Need → top 10 on the {quality['split']} split ({quality['needs']} needs, {quality['achievements']}"
            f" achievements, embedder {quality['embedder']})",
            "",
            "| request | nDCG@10 | p50 ms | p99 ms | p50 ÷ service |",
            "| --- | --- | --- | --- | --- |",
        ]
        for r in quality["rows"]:
            timing = f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['p50_ratio_to_service']:.2f}"
            lines.append(f"| {r['name']} | {_num(r['ndcg_at_10'])} | {timing} |")
    for key in dict.fromkeys((r["data"], r["n"]) for r in doc["runs"]):
        lines += ["", f"## {key[0]}, {key[1]:,} vectors", ""]
        lines.append("| " + " | ".join(HEADERS) + " |")
        lines.append("|" + "|".join(" --- " for _ in HEADERS) + "|")
        for run in doc["runs"]:
            if (run["data"], run["n"]) == key:
                lines += ["| " + " | ".join(r) + " |" for r in rows(run)]
    return "\n".join(lines) + "\n"


def print_summary(doc: dict[str, Any]) -> None:
    print(markdown(doc))
