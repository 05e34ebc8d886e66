"""Minimal Telegram JSON (issue #11): a ``result.json`` holding only ``messages`` (entries with
``date_unixtime``, ``from``, ``text``; no chat ``id``/``name``, no message ``id``) and a
``chats.list`` batch of such chats, as tools that trim or re-emit tdesktop's export write them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_format_telegram_json import as_dict, messages, records

from chataudit.errors import ParseError
from chataudit.formats import detect, telegram_json
from chataudit.importer import import_paths
from chataudit.store import Archive

FIX = Path(__file__).parent / "fixtures" / "telegram"


@pytest.mark.parametrize("name", ["minimal_result.json", "minimal_chats_result.json"])
def test_fixture_matches_expected(name: str) -> None:
    got = [as_dict(r) for r in records(FIX / name)]
    expected = json.loads((FIX / name.replace(".json", ".expected.json")).read_text(encoding="utf-8"))
    assert got == expected


@pytest.mark.parametrize("name", ["minimal_result.json", "minimal_chats_result.json"])
def test_detected_and_imported(tmp_path: Path, name: str) -> None:
    module, confidence = detect(FIX / name)
    assert module is telegram_json and confidence >= 0.5
    for format_name in ("auto", "telegram-json"):
        with Archive(tmp_path / f"{format_name}.db") as archive:
            summary = import_paths(archive, [FIX / name], format_name=format_name).as_dict()
        assert summary["errors"] == [] and summary["messages"] == (3 if name == "minimal_result.json" else 4)


def test_derived_id_is_stable_and_says_so() -> None:
    first = messages(FIX / "minimal_result.json")
    again = messages(FIX / "minimal_result.json")
    assert {m.conversation_id for m in first} == {"participants:Marc, Olga"}
    assert [m.content_hash() for m in first] == [m.content_hash() for m in again]
    assert all(m.extras["conversation_id_derived"] == "participants" for m in first)
    assert all(m.message_id is None for m in first)
    assert [m.position for m in first] == [4, 9, 20]  # each message's own line


def test_same_chat_in_a_batch_and_alone_is_one_conversation(tmp_path: Path) -> None:
    """The first chat of the batch is the single-chat file's chat: a re-import adds nothing."""
    with Archive(tmp_path / "a.db") as archive:
        import_paths(archive, [FIX / "minimal_result.json"])
        batch = import_paths(archive, [FIX / "minimal_chats_result.json"]).as_dict()
        assert batch["new"] == 3  # "Yes." differs from "Yes, see …"; the other chat's two are new
        assert len(archive.conversations()) == 2


def test_chat_without_senders_gets_a_file_id(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"messages": [{"date_unixtime": "1727409600", "text": "notice"}]}), encoding="utf-8")
    (message,) = messages(path)
    assert message.conversation_id == "file:export.json#1"
    assert message.extras["conversation_id_derived"] == "file"


def test_a_full_export_still_needs_message_ids(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"name": "A", "type": "personal_chat", "id": 5, "messages": [
        {"type": "message", "date": "2026-01-01T00:00:00", "from": "A", "text": "x"}]}, indent=1), encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        records(path)
    assert 'no numeric "id"' in caught.value.message


def test_a_non_numeric_chat_id_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"name": "A", "id": "abc", "messages": []}, indent=1), encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        records(path)
    assert '"id" is not a number' in caught.value.message
