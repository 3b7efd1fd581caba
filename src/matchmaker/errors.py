"""One error hierarchy; the handler in app.py turns each into {"error": code, "detail": message, "fields": [...]}."""

from __future__ import annotations

from typing import Any


class MatchmakerError(Exception):
    """Base of every error the service answers on purpose."""

    status_code: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        fields: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields or []
        self.headers = headers
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of the error."""
        return {"error": self.code, "detail": self.detail, "fields": self.fields, **self.extra}


class NotFound(MatchmakerError):
    status_code = 404
    code = "not_found"


class Conflict(MatchmakerError):
    status_code = 409
    code = "conflict"


class ValidationFailed(MatchmakerError):
    status_code = 422
    code = "validation_error"


class InvalidImport(MatchmakerError):
    status_code = 422
    code = "invalid_import"


class TooLarge(MatchmakerError):
    status_code = 413
    code = "too_large"


def field_error(field: str, message: str, **extra: Any) -> dict[str, Any]:
    """One entry of an error's "fields" list."""
    return {"field": field, "message": message, **extra}


class Unauthorized(MatchmakerError):
    status_code = 401
    code = "unauthorized"


class Forbidden(MatchmakerError):
    status_code = 403
    code = "forbidden"


class UnsupportedType(MatchmakerError):
    status_code = 415
    code = "unsupported_type"


class TooManyRequests(MatchmakerError):
    status_code = 429
    code = "too_many_requests"
