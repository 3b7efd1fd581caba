"""Consortium suggestions: the institution of an owner, and the CP-SAT team choice."""

from __future__ import annotations

import pytest

from matchmaker.search.consortium import AchievementInfo, Evidence, Institution, institution_of, suggest_teams


@pytest.mark.parametrize(
    ("owner", "institution"),
    [
        ("京华理工大学计算机学院", "京华理工大学"),
        ("京華理工大學中文資訊處理實驗室", "京华理工大学"),
        ("燕赵农业科学院设施农业研究所", "燕赵农业科学院"),
        ("北京化学材料研究院功能高分子中心", "北京化学材料研究院"),
        ("中关村先进焊接与连接研究所", "中关村先进焊接与连接研究所"),
        ("Jinghua University of Technology, EDA Laboratory", "Jinghua University of Technology"),
        ("", "（未注明单位）"),
    ],
)
def test_institution_of(owner: str, institution: str) -> None:
    assert institution_of(owner) == institution


def _inst(name: str, region: str, scores: dict[int, float]) -> Institution:
    evidence = {
        j: Evidence(j, AchievementInfo(hash((name, j)) % 10_000, f"{name}-{j}", name, region, 6), s, "语义相近")
        for j, s in scores.items()
    }
    return Institution(name=name, region=region, evidence=evidence)


def test_the_team_covers_every_indicator_and_each_member_contributes() -> None:
    pool = [
        _inst("甲", "北京", {0: 0.9, 1: 0.8}),
        _inst("乙", "北京", {2: 0.7}),
        _inst("丙", "天津", {0: 0.95}),
        _inst("丁", "河北", {1: 0.2}),  # below the threshold: covers nothing
    ]
    best = suggest_teams(pool, 3, threshold=0.5)[0]
    assert best.covered == 3
    assert {m.name for m in best.members} >= {"甲", "乙"}
    assert "丁" not in {m.name for m in best.members}
    for m in range(len(best.members)):
        assert m in best.assignment.values()  # nobody without a reason
    assert best.optimal


def test_cross_region_wins_only_when_the_cover_is_equal() -> None:
    same_region = [_inst("甲", "北京", {0: 0.9}), _inst("乙", "北京", {1: 0.9})]
    cross = [_inst("丙", "天津", {1: 0.6})]
    best = suggest_teams(same_region + cross, 2, threshold=0.5, max_size=2)[0]
    assert {m.name for m in best.members} == {"甲", "丙"}  # equal cover: the cross-region team, though weaker
    assert best.cross_region
    # A cross-region team that covers less does not win.
    weaker = [_inst("丁", "天津", {0: 0.3})]
    best = suggest_teams(same_region + weaker, 2, threshold=0.5, max_size=2)[0]
    assert {m.name for m in best.members} == {"甲", "乙"}
    assert not best.cross_region


def test_alternatives_are_distinct_and_too_few_institutions_give_none() -> None:
    pool = [_inst(n, r, {0: 0.9, 1: 0.8}) for n, r in (("甲", "北京"), ("乙", "天津"), ("丙", "河北"))]
    teams = suggest_teams(pool, 2, threshold=0.5, alternatives=3)
    assert len({frozenset(m.name for m in t.members) for t in teams}) == len(teams) == 3
    assert suggest_teams(pool[:1], 2, threshold=0.5) == []
