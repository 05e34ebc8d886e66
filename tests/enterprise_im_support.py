"""Shared by the WeCom, Feishu and DingTalk format tests: expected-parse files and fuzz inputs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from hypothesis import strategies as st

from chataudit.model import Conversation, Message

FIXTURES = Path(__file__).parent / "fixtures"


def message_dict(message: Message) -> dict:
    """The key fields of a parsed message, JSON-ready, for the *.expected.json files."""
    return {
        "position": message.position,
        "message_id": message.message_id,
        "conversation_id": message.conversation_id,
        "conversation_title": message.conversation_title,
        "sender_id": message.sender_id,
        "sender_name": message.sender_name,
        "sent_at": message.sent_at.isoformat(),
        "kind": str(message.kind),
        "text": message.text,
        "reply_to": message.reply_to,
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "amount": message.amount,
        "currency": message.currency,
        "attachments": [a.as_dict() for a in message.attachments],
        "is_me": message.is_me,
        "extras": dict(message.extras),
    }


def check_expected(fixture: Path, records: Iterable) -> list[dict]:
    """Compare a parse with ``<fixture>.expected.json`` (rewrite it with CHATAUDIT_REGEN=1)."""
    actual = [message_dict(r) for r in records if isinstance(r, Message)]
    expected_path = fixture.with_name(fixture.name + ".expected.json")
    if os.environ.get("CHATAUDIT_REGEN"):
        expected_path.write_text(json.dumps(actual, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        assert got == want
    return actual


def messages(records: Iterable) -> list[Message]:
    return [r for r in records if isinstance(r, Message)]


def conversations(records: Iterable) -> list[Conversation]:
    return [r for r in records if isinstance(r, Conversation)]


# Fixture folders of a capability that hold exports of one format (its detect() rightly says yes)
EXPORTS_ELSEWHERE = {"wecom": ("supervision",)}


def other_fixtures(own: str) -> list[Path]:
    """Every fixture file of the other formats in the repository (for "detect says 0")."""
    mine = (own, *EXPORTS_ELSEWHERE.get(own, ()))
    return sorted(
        p for p in FIXTURES.rglob("*")
        if p.is_file() and p.relative_to(FIXTURES).parts[0] not in mine and not p.name.endswith(".expected.json")
    )


# ---- inputs for "never raises anything but ParseError" ------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False) | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)


def mutate(data: bytes, cut_at: float, length: int, insert: bytes) -> bytes:
    """A fixture damaged in one place: a slice removed and some bytes inserted."""
    at = int(len(data) * cut_at)
    return data[:at] + insert + data[at + length:]
