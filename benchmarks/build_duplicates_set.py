"""Build the labelled duplicate sets data/eval/duplicates-dev.json and duplicates-test.json from the sample lists.

    python benchmarks/build_duplicates_set.py

(also writes the demo copies bundled with the sample lists, data/sample/achievements-copies.jsonl and
demands-copies.jsonl; the labelled sets read only the sample lists themselves.)

Each split holds one half of the sample lists (dev: even rows, test: odd rows) plus copies of some of its records, the
way they arrive from other centres:

* ``edit``: the same text re-typed with small edits (a sentence dropped, words swapped for synonyms, a title suffix
  added or removed, punctuation changed, keywords reordered), another centre's external id;
* ``traditional``: converted to Traditional characters with Taiwan phrasing (OpenCC s2twp: 数据库 → 資料庫), owner too;
* ``traditional+edit``: both;
* ``english``: rewritten in English by hand (below), shorter than the original, keeping the figures.

Every pair of records in a split that is not a labelled duplicate is a non-duplicate: the sample lists hold no
duplicates, and they include the hard cases — several achievements of one lab (same owner, same chain, similar
wording) and records of one chain written from one template. The output is deterministic (seeded).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from matchmaker.search.text import to_traditional

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
OUT = ROOT / "data" / "eval"

# Hand-written English versions (sample row → title, summary, owner). Even rows go to dev, odd rows to test.
ENGLISH: dict[int, tuple[str, str, str]] = {
    0: (
        "Online heterogeneous database migration and Oracle syntax conversion tool",
        "One-stop tool for migrating from Oracle and SQL Server to domestic databases (DM, Kingbase, openGauss). "
        "Converts tables, views, stored procedures, triggers, sequences and PL/SQL packages automatically; the "
        "PL/SQL automatic conversion rate is ≥96%, and statements it cannot convert are located with rewrite "
        "suggestions. Incremental sync based on redo log parsing allows migration without downtime, with a cut-over "
        "window <10 minutes; built-in row-by-row consistency check of TB-scale tables. Used for 3 bureau systems of "
        "a provincial government cloud and 2 city commercial banks, 86TB migrated.",
        "School of Computer Science, Jinghua University of Technology",
    ),
    38: (
        "56Gbps PAM4 high-speed SerDes interface IP",
        "A 56Gbps PAM4 SerDes IP designed in a 28nm process with an ADC+DSP receiver, feed-forward and decision "
        "feedback equalisation, compensating more than 30dB of channel insertion loss, BER <1E-12, about 8pJ/bit per "
        "lane. For data-centre switch chips, chip-to-chip links of AI accelerators and optical modules. Test chip "
        "taped out and measured in the lab (eye diagram, jitter); IP licensing and integration support offered.",
        "Capital IC Design Innovation Center",
    ),
    46: (
        "High-temperature reliability design and fast link recovery for automotive 5G modules",
        "For T-Box and telematics terminals whose 5G module throttles or drops the network when hot: an integrated "
        "module-housing thermal path with a vapour chamber lowers the module junction temperature by 14℃ at 85℃ "
        "ambient; adaptive RF power back-off and a fast re-attach algorithm cut the link recovery time from 38 "
        "seconds on average to under 3 seconds. Meets AEC-Q104, operating range -40~105℃. More than 30,000 sets "
        "fitted in a commercial vehicle programme; dropouts in the hot season down 86%.",
        "Tianjin Intelligent Connected Vehicle Research Institute",
    ),
    66: (
        "Virtual simulation test platform for autonomous driving",
        "A simulation test platform built on a high-fidelity physics engine and sensor models. Supports OpenSCENARIO, "
        "scenario variation and massively parallel simulation (1000 concurrent instances per cluster), with more "
        "than 3000 typical Chinese traffic scenarios, software-in-the-loop and hardware-in-the-loop testing, and "
        "reports meeting functional safety and SOTIF evaluation requirements. Serves several OEMs and test labs.",
        "Tianjin Intelligent Connected Vehicle Research Institute",
    ),
    84: (
        "Edge fault diagnosis terminal and cloud platform for rotating machinery",
        "Edge terminal for rolling mills, fans, pumps and gearboxes that samples three-axis vibration, temperature "
        "and speed (up to 51.2kHz, -30℃ to 70℃). Envelope demodulation, order tracking and a light CNN identify 14 "
        "fault types (bearing races and rollers, gear pitting and broken teeth, misalignment, looseness) with ≥93% "
        "accuracy and warn of early bearing defects 2–6 weeks ahead. 4G/5G and OPC UA to MES. 82 measuring points on "
        "a hot rolling line of a Tianjin steel plant: unplanned downtime down 62%.",
        "Binhai Institute of Industrial Intelligence, Tianjin",
    ),
    100: (
        "Longitudinal-torsional ultrasonic vibration assisted milling of titanium alloys, and tool holder",
        "A 20–35kHz longitudinal-torsional ultrasonic tool holder (HSK-A63/BT40, amplitude 2–8μm adjustable, wireless "
        "inductive power) for high-frequency interrupted cutting of TC4, TC17 and GH4169. Compared with conventional "
        "milling, cutting force falls by 25%–40%, cutting zone temperature by about 150℃, tool life rises 1.5–2.5 "
        "times. Fits existing machining centres without spindle changes; for titanium frames, beams and casings.",
        "Department of Manufacturing Engineering, Jingxi Aeronautical College",
    ),
    13: (
        "Automatic operator generation and compiler optimisation for domestic AI chips",
        "Domestic AI accelerators lack operator coverage, fall back to the CPU for custom operators and need weeks of "
        "hand-written kernels. This compiler generates high-performance NPU kernels from a tensor computation "
        "description using schedule template search and a learned cost model, with operator fusion and dynamic "
        "shapes. More than 210 Transformer operators (attention, LayerNorm, RoPE, SwiGLU) covered; generated "
        "operators reach 92%–135% of the vendor library, development time per operator from about 2 weeks to 1 day.",
        "School of Artificial Intelligence, Haihe University of Technology",
    ),
    47: (
        "Multi-link aggregated converged communication terminal for vehicles",
        "Aggregates dual 5G modules (two operators), C-V2X and BeiDou short messaging with seamless switching in "
        "<50ms when one link fails; link quality prediction from past trajectories and signal maps switches before "
        "tunnels, underground car parks and mountain areas. Measured availability in weak coverage rose from 92% to "
        "99.6%; for remote driving and hazardous goods transport monitoring.",
        "School of Information and Communication Engineering, Northern University of Information Engineering",
    ),
    55: (
        "Congestion control and resource scheduling for C-V2X sidelink (PC5) in dense traffic",
        "Dense intersections cause PC5 resource collisions and packet loss. CBR-aware adaptive transmit power, joint "
        "period control and optimised semi-persistent resource reselection raise the packet delivery ratio from 71% "
        "to 96% at 300 connected vehicles per intersection, mean latency ≤20ms, safety messages prioritised. "
        "Deployable to existing OBU/RSU by software update.",
        "School of Information and Communication Engineering, Northern University of Information Engineering",
    ),
    65: (
        "4D auto-labelling toolchain for LiDAR point clouds and images",
        "For autonomous driving training data: offline large models and multi-frame fusion pre-label 3D boxes, lane "
        "lines and drivable area in LiDAR point clouds and multi-camera images, with temporal tracking for consistent "
        "4D labels. 3D box auto-labelling accuracy (IoU≥0.7) 91%, manual review work down 80%, cost per frame down "
        "about 75%.",
        "School of Artificial Intelligence, Haihe University of Technology",
    ),
    77: (
        "Laser vision seam tracking and online weld quality inspection sensor",
        "Line structured light sensor with a narrow-band arc filter for six-axis welding robots. Recognises V, U, "
        "single-bevel, fillet and lap joints, tracking accuracy ±0.15mm at 200Hz under strong arc light and spatter; "
        "measures reinforcement and width online and detects undercut, overlap and porosity with >95% detection "
        "rate, traceable to each seam. For steel structures, construction machinery, containers, pressure vessels.",
        "School of Precision Instruments and Opto-electronics, Jinmen University",
    ),
    93: (
        "Inline structured-light 3D measurement and dimensional defect inspection unit",
        "Blue fringe projection 3D unit: 300×200mm field, 0.05mm point spacing, uncertainty ≤0.015mm, 0.6s per "
        "capture, robust to shop-floor light. Checks flatness, hole positions and contours online, and dents, knocks "
        "and bumps ≥0.05mm deep; multi-view stitching with a robot turns sampling into 100% inspection. Used on "
        "aluminium housings, die castings and valve bodies; results go to SPC.",
        "School of Precision Instruments and Opto-electronics, Jinmen University",
    ),
}

SYNONYMS = [
    ("研制了", "研发了"),
    ("提出", "给出"),
    ("实现", "达到"),
    ("适用于", "可用于"),
    ("目前", "现"),
    ("已在", "已于"),
    ("降低", "下降"),
    ("提高", "提升"),
    ("支持", "可支持"),
    ("针对", "面向"),
]
CENTRES = ("BJ", "TJ", "HB")


def _read(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (SAMPLE / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def _sentences(text: str) -> list[str]:
    out, cur = [], ""
    for ch in text:
        cur += ch
        if ch in "。；":
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


def edit(text: str, rng: random.Random, *, drop: bool = True) -> str:
    """Small edits a person makes re-typing a record: synonyms, punctuation, maybe one sentence dropped."""
    parts = _sentences(text)
    if drop and len(parts) >= 4:
        del parts[rng.randrange(1, len(parts))]
    text = "".join(parts)
    for old, new in rng.sample(SYNONYMS, 4):
        text = text.replace(old, new, 1)
    return text.replace("；", "。", rng.randint(0, 2)).replace("，", ",", rng.randint(0, 3))


def edit_title(title: str, rng: random.Random) -> str:
    """A title with a suffix added or removed."""
    if title.isascii():
        return title.removesuffix(" system") if title.endswith(" system") else title + " (improved)"
    for suffix in ("技术", "系统", "装置", "工艺"):
        if title.endswith(suffix) and len(title) > 8:
            return title[: -len(suffix)]
    return title + rng.choice(("技术", "及应用", "（升级版）"))


def other_id(external_id: str, rng: random.Random) -> str:
    """The record's id at another centre."""
    centre = rng.choice([c for c in CENTRES if not external_id.startswith(c)])
    return f"{centre}-SH-{rng.randint(2023, 2025)}-{rng.randint(1000, 9999)}"


def _rec(
    rid: str, kind: str, title: str, body: str, owner: str | None, ext: str | None, row: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": rid,
        "kind": kind,
        "title": title,
        "body": body,
        "owner": owner,
        "external_id": ext,
        "field": row["field"],
    }


def build(parity: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    lists = {"achievements": _read("achievements.jsonl"), "demands": _read("demands.jsonl")}
    for kind, rows in lists.items():
        body_key, owner_key = ("summary", "owner") if kind == "achievements" else ("description", "enterprise")
        prefix = "a" if kind == "achievements" else "d"
        mine = [i for i in range(len(rows)) if i % 2 == parity]
        for i in mine:
            r = rows[i]
            records.append(_rec(f"{prefix}{i}", kind, r["title"], r[body_key], r.get(owner_key), r["external_id"], r))
        picks = [i for i in mine if i not in ENGLISH]
        rng.shuffle(picks)
        n_each = 10 if kind == "achievements" else 3
        plan = (
            [("edit", i) for i in picks[:n_each]]
            + [("traditional", i) for i in picks[n_each : 2 * n_each]]
            + [("traditional+edit", i) for i in picks[2 * n_each : 2 * n_each + 4]]
            # a group of three: one record copied twice (edited, and in Traditional)
            + [("edit", picks[0]), ("traditional", picks[n_each])]
        )
        if kind == "achievements":
            plan += [("english", i) for i in mine if i in ENGLISH]
            plan += [("traditional", i) for i in mine if i in ENGLISH][:3]  # English + Traditional copies of one
        counter: dict[int, int] = {}
        for how, i in plan:
            r = rows[i]
            counter[i] = counter.get(i, 0) + 1
            rid = f"{prefix}{i}-{how}-{counter[i]}"
            title, body, owner = r["title"], r[body_key], r.get(owner_key)
            if how == "english":
                title, body, owner = ENGLISH[i]
            if "edit" in how:
                title, body = edit_title(title, rng), edit(body, rng)
            if "traditional" in how:
                title, body = to_traditional(title)[1], to_traditional(body)[1]
                owner = to_traditional(owner)[1] if owner else owner
            records.append(_rec(rid, kind, title, body, owner, other_id(r["external_id"], rng), r))
            pairs.append({"a": f"{prefix}{i}", "b": rid, "how": how})
    # copies of one original are duplicates of each other too
    by_origin: dict[str, list[str]] = {}
    for p in pairs:
        by_origin.setdefault(p["a"], []).append(p["b"])
    for copies in by_origin.values():
        for x in range(len(copies)):
            for y in range(x + 1, len(copies)):
                pairs.append({"a": copies[x], "b": copies[y], "how": "copy-copy"})
    return {
        "description": "Labelled duplicates: every pair listed is a duplicate, every other pair of records of one "
        "kind is not (see benchmarks/build_duplicates_set.py).",
        "records": records,
        "duplicates": pairs,
    }


# Copies bundled with the sample lists for the demo (data/sample/*-copies.jsonl): (row, how, new external id, region)
DEMO_COPIES = {
    "achievements": [
        (0, "traditional", "TJ-P1-2024-910", "天津"),
        (0, "english", "BJ-EN-2024-011", "北京"),
        (46, "english", "TJ-EN-2025-108", "天津"),
        (77, "traditional+edit", "HB-P2-2024-377", "河北"),
        (100, "edit", "TJ-P2-2025-512", "天津"),
        (13, "english", "BJ-EN-2024-038", "北京"),
    ],
    "demands": [(0, "traditional", "HB-D-2025-901", "河北"), (5, "edit", "BJ-D-2025-905", "北京")],
}


def demo_copies() -> dict[str, list[dict[str, Any]]]:
    """Copies of a few sample records, in the sample lists' own format."""
    rng = random.Random(5)
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, plan in DEMO_COPIES.items():
        rows = _read(f"{kind}.jsonl")
        body_key, owner_key = ("summary", "owner") if kind == "achievements" else ("description", "enterprise")
        copies = []
        for i, how, ext, region in plan:
            row = dict(rows[i])
            if how == "english":
                row["title"], row[body_key], row[owner_key] = ENGLISH[i]
                row["keywords"] = []
            if "edit" in how:
                row["title"], row[body_key] = edit_title(row["title"], rng), edit(row[body_key], rng)
            if "traditional" in how:
                row["title"], row[body_key] = to_traditional(row["title"])[1], to_traditional(row[body_key])[1]
                row[owner_key] = to_traditional(row[owner_key])[1] if row.get(owner_key) else row.get(owner_key)
                row["keywords"] = [to_traditional(k)[1] for k in row.get("keywords") or []]
            row["external_id"], row["region"] = ext, region
            copies.append(row)
        out[kind] = copies
    return out


def main() -> None:
    for kind, rows in demo_copies().items():
        path = SAMPLE / f"{kind}-copies.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"{path}: {len(rows)} copies")  # noqa: T201
    for name, parity, seed in (("dev", 0, 11), ("test", 1, 23)):
        data = build(parity, seed)
        path = OUT / f"duplicates-{name}.json"
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"{path}: {len(data['records'])} records, {len(data['duplicates'])} duplicate pairs")  # noqa: T201


if __name__ == "__main__":
    main()
