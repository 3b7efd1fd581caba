"""What an event hands out: personal agendas (spreadsheet, .ics calendar) and the table plan (spreadsheet, printable
page). Spreadsheets have Chinese headers, a frozen header row, real date-time cells and no formulas."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from matchmaker.models.events import Event
from matchmaker.services.tables import write_table

EVENT_TZ = ZoneInfo("Asia/Shanghai")  # slots are kept in the event's local (Beijing) time
ATTENDANCE_LABELS = {"pending": "未签到", "met": "已洽谈", "no_show": "缺席"}


def _workbook(title: str, headers: list[str], rows: list[list[Any]], widths: list[int]) -> bytes:
    return write_table("xlsx", headers, rows, sheet=title, widths=widths)


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _record_title(record: dict[str, Any] | None) -> str:
    return record["title"] if record else ""


AGENDA_HEADERS = [
    "开始时间",
    "结束时间",
    "桌号",
    "对方单位",
    "对方角色",
    "对方参会人",
    "技术需求",
    "科技成果",
    "推荐理由",
    "签到",
]
ROLE_LABELS = {"enterprise": "企业", "institution": "高校院所", "investor": "投资机构"}


def agenda_xlsx(agenda: dict[str, Any]) -> bytes:
    """One participant's agenda as a spreadsheet."""
    rows = [
        [
            _when(i["start"]), _when(i["end"]), i["table"], i["counterpart"]["organisation"],
            ROLE_LABELS.get(i["counterpart"]["role"], i["counterpart"]["role"]),
            "、".join(p["name"] for p in i["counterpart_people"] if p.get("name")),
            _record_title(i["demand"]), _record_title(i["achievement"]), i["reason"] or "",
            ATTENDANCE_LABELS.get(i["attendance"], i["attendance"]),
        ]
        for i in agenda["items"]
    ]  # fmt: skip
    return _workbook("个人日程", AGENDA_HEADERS, rows, [17, 17, 8, 30, 10, 20, 36, 36, 40, 8])


def agenda_ics(agenda: dict[str, Any], event: Event) -> bytes:
    """One participant's agenda as an iCalendar file (one VEVENT per meeting, Beijing time)."""
    calendar = Calendar()
    calendar.add("prodid", "-//matchmaker//events//ZH")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{agenda['title']} · {agenda['organisation']}")
    for item in agenda["items"]:
        entry = CalendarEvent()
        entry.add("uid", f"event-{event.id}-meeting-{item['meeting_id']}@matchmaker")
        entry.add("dtstamp", datetime.now(EVENT_TZ))
        entry.add("dtstart", _when(item["start"]).replace(tzinfo=EVENT_TZ))
        entry.add("dtend", _when(item["end"]).replace(tzinfo=EVENT_TZ))
        entry.add("summary", f"洽谈：{item['counterpart']['organisation']}（第 {item['table']} 桌）")
        place = event.venue or event.online_url or ""
        entry.add("location", f"{place} 第 {item['table']} 桌".strip())
        lines = [f"活动：{agenda['title']}"]
        if item["demand"]:
            lines.append(f"技术需求：{item['demand']['title']}")
        if item["achievement"]:
            lines.append(f"科技成果：{item['achievement']['title']}")
        if item["reason"]:
            lines.append(f"推荐理由：{item['reason']}")
        entry.add("description", "\n".join(lines))
        calendar.add_component(entry)
    return calendar.to_ical()


PLAN_HEADERS = ["开始时间", "结束时间", "桌号", "单位甲", "单位乙", "技术需求", "科技成果", "匹配分", "置顶", "签到"]


def table_plan_xlsx(schedule: dict[str, Any]) -> bytes:
    """The organisers' table plan: every meeting by slot then table."""
    rows = [
        [
            _when(m["start"]), _when(m["end"]), m["table"], m["first"]["organisation"], m["second"]["organisation"],
            _record_title(m["demand"]), _record_title(m["achievement"]),
            m["score"] if m["score"] is not None else None, "是" if m["pinned"] else "否",
            ATTENDANCE_LABELS.get(m["attendance"], m["attendance"]),
        ]
        for m in schedule["meetings"]
    ]  # fmt: skip
    return _workbook("桌位安排", PLAN_HEADERS, rows, [17, 17, 8, 30, 30, 36, 36, 8, 6, 8])


def table_plan_html(schedule: dict[str, Any], event: Event) -> str:
    """A printable page: one row per slot, one column per table, and the unplaced requests below."""
    esc = html.escape
    by_place = {(m["slot"], m["table"]): m for m in schedule["meetings"]}
    head = "".join(f"<th>第 {t} 桌</th>" for t in range(1, event.tables + 1))
    body = []
    for slot in schedule["slots"]:
        cells = []
        for table in range(1, event.tables + 1):
            m = by_place.get((slot["index"], table))
            cells.append(
                f"<td>{esc(m['first']['organisation'])}<br>× {esc(m['second']['organisation'])}</td>"
                if m
                else "<td></td>"
            )
        label = f"{slot['start'][11:16]}–{slot['end'][11:16]}"
        body.append(f"<tr><th>{esc(slot['start'][:10])} {esc(label)}</th>{''.join(cells)}</tr>")
    unplaced = "".join(f"<li>申请 {u['request_id']}：{esc(u['reason_label'])}</li>" for u in schedule["unplaced"])
    place = esc(event.venue or event.online_url or "")
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{esc(event.title)} · 桌位安排</title>
<style>
body {{ font-family: "Noto Sans SC", "Microsoft YaHei", sans-serif; margin: 1cm; }}
table {{ border-collapse: collapse; width: 100%; font-size: 10pt; }}
th, td {{ border: 1px solid #444; padding: 4px; vertical-align: top; }}
thead th {{ background: #eee; }}
@media print {{ @page {{ size: A4 landscape; margin: 1cm; }} tr {{ page-break-inside: avoid; }} }}
</style></head>
<body>
<h1>{esc(event.title)}</h1>
<p>{esc(event.kind)} · {event.starts_on.isoformat()} · {place} · 共 {len(schedule["meetings"])} 场会谈</p>
<table><thead><tr><th>时段</th>{head}</tr></thead><tbody>
{"".join(body)}
</tbody></table>
<h2>未能排入的申请</h2><ul>{unplaced or "<li>无</li>"}</ul>
</body></html>
"""
