"""What the screenshot tests share: the fixtures folder, a fixture's expected messages, and the forms
the comparisons use (text without emoji, the side a message was on)."""

from __future__ import annotations

import json
import unicodedata
from datetime import timezone
from pathlib import Path

from chataudit.compare.align import normalize
from chataudit.model import Message
from chataudit.screenshots import records

SHOTS = Path(__file__).parent / "fixtures" / "screenshots"


def expected(name: str) -> dict:
    """The expected reading written beside a rendered fixture (``name.json``)."""
    return json.loads((SHOTS / (Path(name).stem + ".json")).read_text(encoding="utf-8"))


def shot_messages(name: str) -> list[Message]:
    """The messages one fixture imports as (UTC anchor)."""
    return [r for r in records([SHOTS / name], timezone.utc) if isinstance(r, Message)]


def plain(text: str) -> str:
    """The comparison form without emoji (the OCR does not read pictographs)."""
    return "".join(ch for ch in normalize(text) if unicodedata.category(ch) != "So")


def side(message: Message) -> str:
    return "right" if message.is_me else ("center" if message.is_me is None else "left")
