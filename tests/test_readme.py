"""README stays true: every setting is in its configuration table, and the two set-up commands are there."""

from __future__ import annotations

from pathlib import Path

from matchmaker.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    missing = [name for name in Settings.model_fields if f"`MATCHMAKER_{name.upper()}`" not in README]
    assert missing == []


def test_two_setup_commands() -> None:
    assert "./dev.sh serve" in README
    assert "./dev.sh test" in README
