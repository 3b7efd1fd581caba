"""Record forms: the form's strings go through the API's own schemas (same validation, same normalisation); each
field's error is shown next to it, in the user's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from matchmaker.errors import MatchmakerError
from matchmaker.web.i18n import Translator

# Messages the services put on a field, by their English text.
SERVICE_MESSAGES = {"already used": "formerr.already_used", "cannot be null": "formerr.missing"}


def _message(t: Translator, error: Any) -> str:
    kind = error.get("type", "")
    ctx = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, int | float | str)}
    ctx.setdefault("error", str(error.get("msg", "")).removeprefix("Value error, "))
    if kind in ("string_too_short", "too_short") and ctx.get("min_length") == 1:
        kind = "missing"
    key = f"formerr.{kind}"
    if t.has(key):
        try:
            return t(key, **ctx)
        except (KeyError, IndexError):
            return t(key)
    return t("formerr.invalid", detail=str(error.get("msg", "")).removeprefix("Value error, "))


def field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """The form field of an error's location: ``("partners", 0, "name")`` → ``partners[0].name``."""
    name = ""
    for part in loc:
        if isinstance(part, int) or str(part).isdigit():  # a list index, or a dict key that is an id
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or "form"


def validate(
    model: type[BaseModel], data: dict[str, Any], t: Translator, *, nested: bool = False
) -> tuple[BaseModel | None, dict[str, str]]:
    """The validated model, or the errors by field name (``nested``: by the full location, as ``field_name``)."""
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            loc = error.get("loc") or ()
            name = field_name(loc) if nested else (str(loc[0]) if loc else "form")
            errors.setdefault(name, _message(t, error))
        return None, errors


def service_errors(exc: MatchmakerError, t: Translator) -> dict[str, str]:
    """A service's refusal as errors by field (the whole form when it names none)."""
    errors: dict[str, str] = {}
    for f in exc.fields:
        key = SERVICE_MESSAGES.get(str(f.get("message")))
        message = t(key) if key else str(f.get("message"))
        name = str(f.get("field"))
        errors[name] = f"{errors[name]}；{message}" if name in errors else message  # every problem of a field
    return errors or {"form": exc.detail}


def form_errors(
    exc: MatchmakerError, t: Translator, shown: set[str], rename: Callable[[str], str] = str
) -> dict[str, str]:
    """A service's refusal of what was typed (409, 413, 415, 422) as errors beside the fields the form ``shown``
    (the service's names passed through ``rename``), the rest said by the service's own sentence above the form; a
    refusal of who is asking (401, 403, 404) is raised again, to answer as the API does."""
    if exc.status_code in (401, 403, 404):
        raise exc
    errors: dict[str, str] = {}
    for name, message in service_errors(exc, t).items():
        name = rename(name)
        errors[name] = f"{errors[name]}；{message}" if name in errors else message
    if any(name not in shown for name in errors):
        errors = {name: message for name, message in errors.items() if name in shown} | {"form": exc.detail}
    return errors


def placed(errors: dict[str, str], shown: set[str] | frozenset[str]) -> dict[str, str]:
    """The errors of fields the form does not show moved to the form as a whole (so none goes unseen)."""
    out = {k: v for k, v in errors.items() if k in shown}
    rest = [v for k, v in errors.items() if k not in shown]
    if rest:
        out["form"] = "；".join(rest)
    return out


def rows(form: Any, prefix: str, names: tuple[str, ...], typed: tuple[str, ...], limit: int) -> list[dict[str, str]]:
    """The rows of a repeated group (``prefix[i].name`` inputs) in which something was typed into one of the
    ``typed`` fields (the others are selects with a default), in order."""
    found: list[dict[str, str]] = []
    for i in range(limit):
        row = {n: str(form.get(f"{prefix}[{i}].{n}") or "").strip() for n in names}
        if any(row[n] for n in typed):
            found.append(row)
    return found
