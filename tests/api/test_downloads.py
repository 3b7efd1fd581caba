"""Download names: RFC 5987 UTF-8 name with an ASCII fallback, dated in Beijing."""

from __future__ import annotations

from datetime import UTC, datetime

from matchmaker.api.downloads import agenda_names, content_disposition, dated, run_list_names


def test_the_day_in_a_name_is_beijing_s() -> None:
    late_evening_utc = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)  # 01:30 on 2 December in Beijing
    assert dated("供需对接清单", "xlsx", late_evening_utc) == "供需对接清单-2026-12-02.xlsx"


def test_content_disposition_has_both_names() -> None:
    value = content_disposition("供需对接清单-3-2026-12-02.xlsx", "matching-run-3-2026-12-02.xlsx")
    assert value == (
        'attachment; filename="matching-run-3-2026-12-02.xlsx"; '
        "filename*=UTF-8''%E4%BE%9B%E9%9C%80%E5%AF%B9%E6%8E%A5%E6%B8%85%E5%8D%95-3-2026-12-02.xlsx"
    )


def test_the_fallback_is_plain_ascii_without_quotes() -> None:
    value = content_disposition('名单 "a".csv', 'list "a"\r\n.csv')
    assert value.startswith('attachment; filename="list a.csv"; ')
    assert "%20%22a%22.csv" in value  # space and quotes percent-encoded in the UTF-8 name
    assert content_disposition("名单.csv", "名单.csv").startswith('attachment; filename="download.csv"')
    assert content_disposition("名单", "名单").startswith('attachment; filename="download"')


def test_api_and_pages_name_a_file_alike() -> None:
    name, fallback = run_list_names(7, "csv")
    assert name.startswith("供需对接清单-7-")
    assert fallback.startswith("matching-run-7-")
    assert agenda_names(1, 3, "ics") == ("个人日程-1-3.ics", "agenda-1-3.ics")
