"""The pages' message catalogue (zh-CN first, en) and the language of a request."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request

LANGS: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"
LANG_COOKIE = "mm_lang"
CATALOGUE_DIR = Path(__file__).parent / "i18n"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every message of one language, by key."""
    data: dict[str, str] = json.loads((CATALOGUE_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def request_lang(request: Request) -> str:
    """The language chosen with the switch (a cookie); Chinese otherwise."""
    lang = request.cookies.get(LANG_COOKIE, DEFAULT_LANG)
    return lang if lang in LANGS else DEFAULT_LANG


class Translator:
    """``t("key", name=value)``: the message in the request's language, formatted; the key itself when missing."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._messages = catalogue(lang)
        self._fallback = catalogue(DEFAULT_LANG)

    def __call__(self, key: str, **values: Any) -> str:
        message = self._messages.get(key) or self._fallback.get(key) or key
        return message.format(**values) if values else message

    def has(self, key: str) -> bool:
        """Whether the catalogue names this key."""
        return key in self._messages
