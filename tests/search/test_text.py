"""Text normalisation: width, script, language detection, segmentation."""

from __future__ import annotations

import pytest

from matchmaker.search.text import (
    canonical,
    detect_language,
    normalize_width,
    to_simplified,
    to_traditional,
    tokenize,
)


def test_full_width_letters_digits_and_spaces_become_ascii_but_punctuation_stays() -> None:
    assert normalize_width("　ＴＲＬ７，功率１２０ｋＷ　") == "TRL7，功率120kW"


def test_script_conversion() -> None:
    assert to_simplified("生物醫藥與軟體") == "生物医药与软体"
    assert "資料庫" in to_traditional("数据库")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("基于RISC-V的SoC芯片设计，主频1.2GHz，功耗降低30%", "zh-Hans"),
        ("發酵罐頻繁染菌，產品收率下降，需要線上監測", "zh-Hant"),
        ("Laser cladding repair of worn turbine blades", "en"),
        ("本项目 uses deep learning models for 缺陷检测 on printed circuit boards", "mixed"),
        ("", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_tokenize_segments_converts_and_lowercases() -> None:
    tokens = tokenize("相變蓄冷材料用于ＰＣＢ冷链 Cold-Chain")
    assert "相变" in tokens
    assert "蓄冷" in tokens
    assert "pcb" in tokens
    assert "的" not in tokens
    assert canonical("ＡＢＣ數據") == "abc数据"


def test_script_family_groups_both_chinese_scripts() -> None:
    from matchmaker.search.text import script_family

    assert script_family("无人机跳频抗干扰图传数据链") == "zh"
    assert script_family("細紗機單錠斷頭即時監測") == "zh"
    assert script_family("Anti-jamming video data link for drones") == "en"
    assert script_family("无人机 anti-jamming 数据链 video link for drones") == "mixed"
