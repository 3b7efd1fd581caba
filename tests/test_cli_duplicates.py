"""`matchmaker duplicates scan | list | merge | undo | not-duplicates` against an embedded SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from matchmaker.cli import app
from matchmaker.search.text import to_traditional

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MATCHMAKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MATCHMAKER_DATABASE_URL", raising=False)
    return tmp_path


def _last_json(output: str) -> dict[str, object]:
    return json.loads(output.strip().splitlines()[-1])


def test_scan_list_merge_undo(env: Path) -> None:
    title = "相变蓄冷材料及冷链运输箱温控技术"
    summary = "潜热≥220 J/g，保温箱在35℃环境下保持2～8℃达120小时，已在3家医药冷链企业应用。"
    rows = [
        {"external_id": "BJ-1", "title": title, "summary": summary, "field": "新材料", "region": "北京"},
        {
            "external_id": "TJ-9",
            "title": to_traditional(title)[1],
            "summary": to_traditional(summary)[1],
            "field": "新材料",
            "region": "天津",
        },
        {
            "external_id": "HB-3",
            "title": "焊缝激光视觉跟踪传感器",
            "summary": "跟踪精度±0.15mm，采样频率200Hz。",
            "field": "高端装备",
            "region": "河北",
        },
    ]
    source = env / "成果.json"
    source.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    imported = runner.invoke(app, ["import", "achievements", str(source)])
    assert imported.exit_code == 0, imported.output

    scan = runner.invoke(app, ["duplicates", "scan", "achievements"])
    assert scan.exit_code == 0, scan.output
    assert _last_json(scan.stdout)["pairs"] == 1
    assert _last_json(scan.stdout)["new_pairs"] == 0  # already linked by the import
    listed = runner.invoke(app, ["duplicates", "list", "achievements"])
    groups = _last_json(listed.stdout)
    assert groups["total"] == 1
    ids = [r["id"] for r in groups["items"][0]["records"]]  # type: ignore[index]
    assert len(ids) == 2

    merged = runner.invoke(app, ["duplicates", "merge", "achievements", str(ids[0]), str(ids[1])])
    assert merged.exit_code == 0, merged.output
    merge = _last_json(merged.stdout)
    assert merge["merged_ids"] == [ids[1]]
    assert _last_json(runner.invoke(app, ["duplicates", "list", "achievements"]).stdout)["total"] == 0
    undone = runner.invoke(app, ["duplicates", "undo", str(merge["id"])])
    assert undone.exit_code == 0, undone.output
    assert _last_json(undone.stdout)["status"] == "undone"
    again = runner.invoke(app, ["duplicates", "undo", str(merge["id"])])
    assert again.exit_code == 1
    assert "already undone" in again.output

    marked = runner.invoke(app, ["duplicates", "not-duplicates", "achievements", str(ids[0]), str(ids[1])])
    assert _last_json(marked.stdout) == {"kind": "achievements", "pairs": 1}
    assert _last_json(runner.invoke(app, ["duplicates", "list", "achievements"]).stdout)["total"] == 0
    bad = runner.invoke(app, ["duplicates", "list", "matches"])
    assert bad.exit_code == 1
    assert "kind" in bad.output
