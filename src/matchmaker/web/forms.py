"""Record forms: the form's strings go through the API's own schemas (same validation, same normalisation); each
field's error is shown next to it, in the user's language."""

from __future__ import annotations

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


def validate(model: type[BaseModel], data: dict[str, Any], t: Translator) -> tuple[BaseModel | None, dict[str, str]]:
    """The validated model, or the errors by field name."""
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error.get("loc") else "form"
            errors.setdefault(name, _message(t, error))
        return None, errors


def service_errors(exc: MatchmakerError, t: Translator) -> dict[str, str]:
    """A service's refusal as errors by field (the whole form when it names none)."""
    errors: dict[str, str] = {}
    for f in exc.fields:
        key = SERVICE_MESSAGES.get(str(f.get("message")))
        errors[str(f.get("field"))] = t(key) if key else str(f.get("message"))
    return errors or {"form": exc.detail}
