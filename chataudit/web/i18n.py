"""The UI's two languages: a message catalogue per language (messages/<lang>.json, keys shared), the
language taken from ``?lang=`` (remembered in a cookie), else Accept-Language, else English."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from fastapi import Request

LANGUAGES = ("en", "zh")
LANG_COOKIE = "chataudit_lang"
_FOLDER = Path(__file__).parent / "messages"


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """messages/<lang>.json, and each capability's own messages/<lang>.<capability>.json over it."""
    messages: dict[str, str] = {}
    for path in [_FOLDER / f"{lang}.json", *sorted(_FOLDER.glob(f"{lang}.*.json"))]:
        messages.update(json.loads(path.read_text(encoding="utf-8")))
    return messages


def language(request: Request) -> str:
    for asked in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if asked in LANGUAGES:
            return asked
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.split("-")[0] in LANGUAGES:
            return tag.split("-")[0]
    return "en"


def translator(lang: str):
    """``t(key, **values)``: the message in ``lang`` (English, then the key itself, when missing)."""
    messages, english = catalogue(lang), catalogue("en")

    def t(key: str, **values: object) -> str:
        text = messages.get(key) or english.get(key) or key
        return text.format(**values) if values else text

    return t
