"""The command line against an embedded SQLite database in a temporary data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from matchmaker.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MATCHMAKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MATCHMAKER_DATABASE_URL", raising=False)
    return tmp_path


def test_db_upgrade_and_current(env: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    current = runner.invoke(app, ["db", "current"])
    assert json.loads(current.stdout)["up_to_date"] is True
    assert (env / "data" / "matchmaker.db").exists()


def test_import_dry_run_import_and_export(env: Path) -> None:
    source = env / "needs.csv"
    source.write_bytes(
        "需求编号,需求名称,需求描述,所属产业链,所在地区,期望合作方式\n"
        "TJ-1,焊缝开裂,低温冲击功不足,高端装备,天津,合作开发、技术服务\n"
        "TJ-2,染菌,发酵罐染菌率5%,生物醫藥,天津,转让\n".encode("gb18030")
    )
    dry = runner.invoke(app, ["import", "demands", str(source), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout.strip().splitlines()[-1])["created"] == 2
    real = runner.invoke(app, ["import", "demands", str(source)])
    assert json.loads(real.stdout.strip().splitlines()[-1])["written"] is True
    assert "importing demands: 2/2 (100%)" in real.stderr
    quiet = runner.invoke(app, ["import", "demands", str(source), "--quiet"])
    assert quiet.exit_code == 0, quiet.output
    assert "importing" not in quiet.stderr
    out = env / "out.json"
    exported = runner.invoke(app, ["export", "demands", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [r["external_id"] for r in rows] == ["TJ-1", "TJ-2"]
    assert rows[1]["field"] == "生物医药"


def test_import_reports_failed_rows_with_exit_code_2(env: Path) -> None:
    source = env / "bad.csv"
    source.write_text("title,summary,trl\n好,简介,10\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "achievements", str(source), "--atomic"])
    assert result.exit_code == 1
    assert "第 2 行 「trl」：应为 1 到 9 之间的整数（填写的是 “10”）" in result.output


def test_demo_loads_sample_lists(env: Path) -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "achievements" in result.output


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the sample lists loaded and indexed (once for the module)."""
    folder = tmp_path_factory.mktemp("cli-loaded")
    patch = pytest.MonkeyPatch()
    patch.setenv("MATCHMAKER_DATA_DIR", str(folder / "data"))
    patch.delenv("MATCHMAKER_DATABASE_URL", raising=False)
    try:
        assert runner.invoke(app, ["demo"]).exit_code == 0
        first = runner.invoke(app, ["reindex"])
        assert first.exit_code == 0, first.output
        assert "embedding achievements (use-multilingual-v3+t2s): 306/306 (100%)" in first.stderr  # progress, logged
    finally:
        patch.undo()
    return folder


@pytest.fixture
def in_loaded(loaded: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MATCHMAKER_DATA_DIR", str(loaded / "data"))
    monkeypatch.delenv("MATCHMAKER_DATABASE_URL", raising=False)
    return loaded


def test_reindex_with_nothing_changed_embeds_nothing(in_loaded: Path) -> None:
    result = runner.invoke(app, ["reindex", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "embedding" not in result.stderr  # --quiet: results only
    assert "achievements: 306 records" in result.output
    assert "texts embedded this time: 0" in result.output


def test_match_prints_explained_pairings(in_loaded: Path) -> None:
    result = runner.invoke(app, ["match", "1", "--k", "3", "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert [i["rank"] for i in items] == [1, 2, 3]
    assert items[0]["explanation"]["sentence"].startswith("语义相近")
    missing = runner.invoke(app, ["match", "999999"])
    assert missing.exit_code == 1
    assert "not found" in missing.output


def test_match_table_names_the_need_and_wraps_the_explanation(in_loaded: Path) -> None:
    as_json = json.loads(runner.invoke(app, ["match", "1", "--k", "2", "--json"]).stdout)
    result = runner.invoke(app, ["match", "1", "--k", "2"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("需求 ")
    assert "…" not in result.stdout  # nothing is cut
    # every character of the first explanation is printed (folded over several lines of its column)
    from collections import Counter

    wanted = Counter(ch for ch in as_json[0]["explanation"]["sentence"] if not ch.isspace())
    printed = Counter(ch for ch in result.stdout if not ch.isspace())
    assert not wanted - printed


def test_match_list_writes_the_spreadsheet(in_loaded: Path) -> None:
    import openpyxl

    out = in_loaded / "清单.xlsx"
    result = runner.invoke(app, ["match-list", "--out", str(out), "--k", "2", "--field", "新材料"])
    assert result.exit_code == 0, result.output
    rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[0][0] == "需求编号"
    assert len(rows) - 1 == 2 * 8  # eight open 新材料 needs in the sample list, two pairings each
    run_id = result.stderr.split("matching run ")[-1].split(":")[0]
    assert f"matching run {run_id}: needs ranked: 8/8 (100%)" in result.stderr  # not a terminal: a log line
    assert runner.invoke(app, ["match-list", "--out", str(in_loaded / "x.pdf")]).exit_code == 2
    quiet = runner.invoke(app, ["match-list", "--out", str(out), "--k", "2", "--field", "新材料", "--quiet"])
    assert quiet.exit_code == 0, quiet.output
    assert "needs ranked" not in quiet.stderr
    assert "wrote" in quiet.stderr  # the result is still said


def test_users_create_prints_a_working_token(in_loaded: Path) -> None:
    result = runner.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "li@uni.example",
            "--role",
            "institution",
            "--org",
            "北方理工大学",
            "--print-token",
        ],
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("mm_")
    duplicate = runner.invoke(app, ["users", "create", "--email", "li@uni.example", "--role", "manager"])
    assert duplicate.exit_code == 1
    no_org = runner.invoke(app, ["users", "create", "--email", "x@e.example", "--role", "enterprise"])
    assert no_org.exit_code == 1
    assert "needs an organisation" in no_org.output


def test_eval_prints_baselines_and_full_ranking(in_loaded: Path) -> None:
    result = runner.invoke(app, ["eval", "--split", "dev", "--embedders", "use"])
    assert result.exit_code == 0, result.output
    assert "bm25" in result.stdout
    assert "dense:use" in result.stdout
    assert "full:use" in result.stdout
    assert runner.invoke(app, ["eval", "--split", "nope"]).exit_code == 2


def test_eval_measures_what_serve_runs_with_progress(in_loaded: Path) -> None:
    result = runner.invoke(app, ["eval", "--split", "dev", "--no-baselines"])
    assert result.exit_code == 0, result.output
    # serve's defaults: USE with Traditional→Simplified and the starter thesaurus
    assert "full:use+t2s +thesaurus (= serve)" in result.stdout
    assert "bands of full:use+t2s +thesaurus (= serve): 强: n=" in result.stdout
    assert "ranking dev (full:use+t2s +thesaurus (= serve)): 48/48 (100%)" in result.stderr  # not a terminal: lines
    off = runner.invoke(app, ["eval", "--split", "dev", "--no-baselines", "--thesaurus", "none"])
    assert "full:use+t2s (" not in off.stdout
    assert "full:use+t2s" in off.stdout


def test_thesaurus_commands_add_list_load_and_remove(env: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    added = runner.invoke(app, ["thesaurus", "add", "冷却时间长", "随形冷却", "--relation", "symptom"])
    assert added.exit_code == 0, added.output
    assert "冷却时间长 —症状→技术→ 随形冷却" in added.output
    assert runner.invoke(app, ["thesaurus", "add", "冷却时间长", "随形冷却"]).exit_code == 1  # exists already
    assert runner.invoke(app, ["thesaurus", "add", "a", "b", "--relation", "kind-of"]).exit_code == 2
    listed = runner.invoke(app, ["thesaurus", "list", "--q", "随形"])
    assert "随形冷却" in listed.output
    assert "1 of 1 links" in listed.output
    starter = Path(__file__).resolve().parents[1] / "data" / "thesaurus" / "starter.jsonl"
    loaded = runner.invoke(app, ["thesaurus", "load", str(starter), "--origin", "starter"])
    assert loaded.exit_code == 0, loaded.output
    assert int(loaded.output.split()[0]) > 300
    # the first link of a fresh database has id 1
    assert runner.invoke(app, ["thesaurus", "remove", "1"]).exit_code == 0
    assert runner.invoke(app, ["thesaurus", "remove", "1"]).exit_code == 1
