"""Import errors as the person who filled the sheet reads them: the row, the column as they wrote it, the problem in
Chinese (or English), and the value they gave.

    第 12 行 「成熟度(TRL)」：应为 1 到 9 之间的整数（填写的是 “十”）
    row 12 「成熟度(TRL)」: must be a whole number from 1 to 9 (given '十')

Pydantic's error types are translated here, once, for every list an import reads (achievements, needs, resources);
the column comes from the header as the file spelled it (:attr:`matchmaker.services.readers.ParsedFile.headers`),
else the list's Chinese label.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from matchmaker.domain import NotOneOf
from matchmaker.schemas import RowError

Language = Literal["zh", "en"]

# error type → (Chinese, English); {name} placeholders are filled from the error's context
_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("必须填写", "is required"),
    "string_too_long": ("最多 {max_length} 个字符", "is longer than {max_length} characters"),
    "string_type": ("应为文字", "must be text"),
    "string_too_short": ("至少 {min_length} 个字符", "is shorter than {min_length} characters"),
    "too_short": ("至少 {min_length} 项", "needs at least {min_length} items"),
    "int_parsing": ("应为整数", "must be a whole number"),
    "int_from_float": ("应为整数", "must be a whole number"),
    "int_type": ("应为整数", "must be a whole number"),
    "decimal_parsing": ("应为数字", "must be a number"),
    "decimal_type": ("应为数字", "must be a number"),
    "float_parsing": ("应为数字", "must be a number"),
    "decimal_max_digits": ("数字位数过多（最多 {max_digits} 位）", "has too many digits (at most {max_digits})"),
    "decimal_max_places": ("最多 {decimal_places} 位小数", "has more than {decimal_places} decimal places"),
    "decimal_whole_digits": ("整数部分位数过多", "has too many digits before the point"),
    "greater_than_equal": ("不能小于 {ge}", "must be at least {ge}"),
    "greater_than": ("应大于 {gt}", "must be more than {gt}"),
    "less_than_equal": ("不能大于 {le}", "must be at most {le}"),
    "less_than": ("应小于 {lt}", "must be less than {lt}"),
    "date_parsing": ("应为日期，如 2027-03-31", "must be a date such as 2027-03-31"),
    "date_from_datetime_parsing": ("应为日期，如 2027-03-31", "must be a date such as 2027-03-31"),
    "date_from_datetime_inexact": ("应为日期（不含时刻）", "must be a date without a time of day"),
    "date_type": ("应为日期，如 2027-03-31", "must be a date such as 2027-03-31"),
    "bool_parsing": ("应为 是 或 否", "must be yes or no (是 / 否)"),
    "bool_type": ("应为 是 或 否", "must be yes or no (是 / 否)"),
    "enum": ("应为以下之一：{expected}", "must be one of {expected}"),
    "literal_error": ("应为以下之一：{expected}", "must be one of {expected}"),
    "list_type": ("应为以 、 分隔的多项", "must be a list of items separated by 、"),
    "extra_forbidden": ("未知的列", "is not a column of this list"),
}
_TRL_RANGE = ("应为 1 到 9 之间的整数", "must be a whole number from 1 to 9")


def _problem(error: ErrorDetails, lang: Language) -> str:
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, NotOneOf):
        return ("应为以下之一：" if lang == "zh" else "must be one of ") + "、".join(cause.allowed)
    if _given(error.get("input")) is None and error["type"] in ("too_short", "string_too_short"):
        return _MESSAGES["missing"][lang == "en"]  # an empty cell where text is required
    field = str(error["loc"][0]) if error["loc"] else ""
    if field in ("trl", "min_trl", "trl_min", "trl_max") and error["type"] in ("greater_than_equal", "less_than_equal"):
        return _TRL_RANGE[lang == "en"]
    template = _MESSAGES.get(error["type"])
    if template is None:  # a rule of our own validators: its message already says what is wrong
        return str(error["msg"]).removeprefix("Value error, ")
    return template[lang == "en"].format(**{k: v for k, v in ctx.items() if k != "error"})


def _given(value: Any) -> str | None:
    if value is None or isinstance(value, dict):
        return None
    text = "、".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
    if not text.strip():
        return None
    return text if len(text) <= 60 else text[:57] + "…"


def row_message(row: int, column: str, problem: str, given: str | None, lang: Language) -> str:
    """One error in the reader's language: row, column as written, problem, the value given."""
    if lang == "en":
        return f"row {row} 「{column}」: {problem}" + (f" (given {given!r})" if given is not None else "")
    return f"第 {row} 行 「{column}」：{problem}" + (f"（填写的是 “{given}”）" if given is not None else "")


def column_of(field: str, headers: dict[str, str], labels: dict[str, str]) -> str:
    """The column a field was read from, as the file spelled it; else the list's Chinese label."""
    return headers.get(field) or labels.get(field) or field


def row_errors(
    row: int, exc: ValidationError, headers: dict[str, str], labels: dict[str, str], lang: Language = "zh"
) -> list[RowError]:
    """The errors of one row, each naming its column as written."""
    out = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"][:1]) or "row"
        column = column_of(field, headers, labels)
        given = None if error["type"] == "missing" else _given(error.get("input"))
        message = row_message(row, column, _problem(error, lang), given, lang)
        out.append(RowError(row=row, field=field, column=column, value=given, message=message))
    return out


def custom_error(
    row: int, field: str, problem: str, headers: dict[str, str], labels: dict[str, str], lang: Language = "zh",
    given: Any = None,
) -> RowError:  # fmt: skip
    """An error found by a rule outside the schema (a duplicate id in the file, a range the wrong way round)."""
    column = column_of(field, headers, labels)
    value = _given(given)
    return RowError(
        row=row, field=field, column=column, value=value, message=row_message(row, column, problem, value, lang)
    )
