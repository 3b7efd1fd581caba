"""File downloads: a response with a Chinese file name that every browser keeps (RFC 6266 / RFC 5987).

``Content-Disposition: attachment; filename="matching-run-3-2026-12-02.xlsx"; filename*=UTF-8''%E4%BE%9B...`` — the
``filename*`` form carries the Chinese name percent-encoded as UTF-8; the plain ``filename`` is an ASCII fallback for
clients that do not read the first. The date in a name is the day in Beijing, where the office works.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from fastapi import Response

from matchmaker.services.tables import OFFICE_TZ


def dated(stem: str, extension: str, now: datetime | None = None) -> str:
    """``<stem>-<today in Beijing>.<extension>`` (供需对接清单-2026-12-02.xlsx)."""
    day = (now or datetime.now(OFFICE_TZ)).astimezone(OFFICE_TZ).date()
    return f"{stem}-{day.isoformat()}.{extension}"


def content_disposition(filename: str, fallback: str) -> str:
    """An ``attachment`` header value with the UTF-8 name and an ASCII fallback (quotes and controls dropped)."""
    ascii_name = "".join(c for c in fallback if 32 <= ord(c) < 127 and c not in '"\\')
    if not ascii_name or ascii_name.startswith("."):  # nothing but an extension left: keep a name in front of it
        ascii_name = "download" + ascii_name
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def attachment(content: bytes, media_type: str, filename: str, fallback: str) -> Response:
    """A download of ``content`` named ``filename`` (``fallback``: the ASCII name for older clients)."""
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": content_disposition(filename, fallback)}
    )


def run_list_names(run_id: int, fmt: str, *, partial: bool = False) -> tuple[str, str]:
    """The Chinese name and ASCII fallback of a matching run's list (API and web page alike); an unfinished run's
    list says it is partial in both."""
    suffix = ("-部分", "-partial") if partial else ("", "")
    return dated(f"供需对接清单-{run_id}{suffix[0]}", fmt), dated(f"matching-run-{run_id}{suffix[1]}", fmt)


def agenda_names(event_id: int, participant_id: int, fmt: str) -> tuple[str, str]:
    """The Chinese name and ASCII fallback of a participant's agenda (API and web page alike)."""
    name = f"{event_id}-{participant_id}.{fmt}"
    return f"个人日程-{name}", f"agenda-{name}"
