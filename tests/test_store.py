"""The archive store: migrations, dedup, one transaction per source."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from chataudit.errors import ParseError
from chataudit.importer import import_paths
from chataudit.model import Conversation, ConversationType, Kind, Message
from chataudit.store import Archive, SourceInfo

CST = timezone(timedelta(hours=8))


def msg(text: str, minute: int, sender: str = "a", conversation: str = "c1") -> Message:
    return Message(platform="test", conversation_id=conversation, sender_id=sender, sender_name=sender,
                   sent_at=datetime(2026, 3, 12, 15, minute, tzinfo=CST), text=text)


def source(name: str) -> SourceInfo:
    return SourceInfo(path=name, sha256=name.ljust(64, "0"), size=1, format="test")


def test_migrations_set_schema_version_and_are_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with Archive(path) as archive:
        assert archive.schema_version >= 1
        version = archive.schema_version
    with Archive(path) as archive:  # reopening applies nothing twice
        assert archive.schema_version == version
        tables = {r[0] for r in archive.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sources", "conversations", "messages", "message_fts", "settings"} <= tables


def test_same_source_twice_adds_nothing(archive: Archive) -> None:
    records = [msg("你好", 1), msg("在吗", 2)]
    first = archive.import_records(source("f1"), records)
    again = archive.import_records(source("f1"), records)
    assert (first.messages, first.new) == (2, 2)
    assert again.already_imported and again.new == 0
    assert archive.stats()["messages"] == 2


def test_overlapping_export_adds_only_what_is_new(archive: Archive) -> None:
    archive.import_records(source("old"), [msg("你好", 1), msg("在吗", 2)])
    result = archive.import_records(source("new"), [msg("你好", 1), msg("在吗", 2), msg("退货", 3)])
    assert (result.messages, result.new, result.duplicates) == (3, 1, 2)
    assert archive.stats()["messages"] == 3


def test_identical_messages_in_the_same_minute_are_both_kept_and_dedup_by_occurrence(archive: Archive) -> None:
    twice = [msg("好的", 5), msg("好的", 5)]
    assert archive.import_records(source("one"), twice).new == 2
    # a longer export holding the same two plus a third identical one adds exactly one
    assert archive.import_records(source("two"), twice + [msg("好的", 5)]).new == 1
    assert archive.stats()["messages"] == 3


def test_parse_error_rolls_back_the_whole_source(archive: Archive) -> None:
    def broken():
        yield msg("第一条", 1)
        yield msg("第二条", 2)
        raise ParseError("x.txt", 3, "bad line")

    with pytest.raises(ParseError):
        archive.import_records(source("broken"), broken())
    assert archive.stats() == {"sources": 0, "conversations": 0, "messages": 0}
    assert archive.db.execute("SELECT count(*) FROM message_fts").fetchone()[0] == 0


def test_conversation_header_sets_title_type_and_members(archive: Archive) -> None:
    header = Conversation("test", "g1", "项目群", ConversationType.GROUP, (("u1", "张三"), ("u2", "李四")))
    archive.import_records(source("g"), [header, msg("大家好", 1, conversation="g1")])
    row = archive.resolve_conversation("test:g1")
    assert (row["title"], row["type"]) == ("项目群", "group")
    assert "张三" in row["members"]
    assert archive.resolve_conversation("项目群")["id"] == row["id"]


def test_instants_keep_their_original_offset(archive: Archive) -> None:
    archive.import_records(source("tz"), [msg("x", 7)])
    (row,) = archive.timeline(archive.resolve_conversation("c1")["id"])
    assert row["sent_at"] == "2026-03-12T15:07:00+08:00"


def test_content_hash_ignores_provenance_but_not_content() -> None:
    base = msg("金额5000", 1)
    moved = Message(**{**{f: getattr(base, f) for f in base.__slots__}, "position": 99})
    changed = Message(**{**{f: getattr(base, f) for f in base.__slots__}, "text": "金额500"})
    assert base.content_hash() == moved.content_hash()
    assert base.content_hash() != changed.content_hash()


def test_import_of_a_bad_file_prints_where_and_leaves_archive_unchanged(tmp_path: Path, archive: Archive) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"sent_at": "2026-03-12T10:00:00+08:00", "text": "好", "sender_name": "a"}\n', encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"sent_at": "2026-03-12T10:00:00+08:00", "text": "一", "sender_name": "a"}\n'
                   '{"sent_at": "2026-03-12T10:01:00+08:00", "text": "二", "sender_name": "a"}\n'
                   '{"sent_at": "2026-03-12T10:02:00+08:00", "text": "三", "sen', encoding="utf-8")
    summary = import_paths(archive, [good, bad])
    assert [e.split(": ")[0] for e in summary.as_dict()["errors"]] == [f"{bad}:3"]
    assert archive.stats()["messages"] == 1  # the good file only; nothing of the bad one
    assert [s["path"] for s in archive.sources()] == [str(good)]


def test_message_requires_aware_instant() -> None:
    with pytest.raises(ValueError):
        Message(platform="t", conversation_id="c", sent_at=datetime(2026, 1, 1), kind=Kind.TEXT)


def test_store_file_is_plain_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    with Archive(path) as archive:
        archive.import_records(source("p"), [msg("hello", 1)])
    assert sqlite3.connect(path).execute("SELECT text FROM messages").fetchone()[0] == "hello"


def test_a_migration_numbered_below_the_applied_ones_is_still_applied(tmp_path: Path, monkeypatch) -> None:
    from chataudit.store import sqlite as store_sqlite

    real = store_sqlite._migrations()
    gap = [m for m in real if m[0] != 2]
    monkeypatch.setattr(store_sqlite, "_migrations", lambda: gap)
    path = tmp_path / "gap.db"
    with Archive(path) as archive:
        assert "people" not in {r[0] for r in archive.db.execute("SELECT name FROM sqlite_master")}
    monkeypatch.setattr(store_sqlite, "_migrations", lambda: real)
    with Archive(path) as archive:
        assert "people" in {r[0] for r in archive.db.execute("SELECT name FROM sqlite_master")}
        applied = [r[0] for r in archive.db.execute("SELECT number FROM schema_migrations ORDER BY number")]
        assert applied == [n for n, _ in real]


def test_each_source_keeps_its_own_view_of_shared_messages(archive: Archive) -> None:
    """Both parties' exports hold the same messages: stored once, but each copy sees all of them,
    under the names and ids it showed."""
    mine = [Message(platform="test", conversation_id="c1", sender_id="a", sender_name="小李",
                    sent_at=datetime(2026, 3, 12, 15, m, tzinfo=CST), text=t, message_id=f"m{m}", position=m)
            for m, t in [(1, "交付时间是3月20日"), (2, "好的")]]
    theirs = [Message(platform="test", conversation_id="c1", sender_id="a", sender_name="李工",
                      sent_at=datetime(2026, 3, 12, 15, m, tzinfo=timezone.utc) + timedelta(hours=-8),
                      text=t, message_id=f"x{m}", position=10 + m)
              for m, t in [(1, "交付时间是3月20日"), (2, "好的"), (3, "再确认一下")]]
    first = archive.import_records(source("mine"), mine)
    second = archive.import_records(source("theirs"), theirs)
    assert (first.new, second.new) == (2, 1)
    view = list(archive.source_view(second.source_id))
    assert [r["text"] for r in view] == ["交付时间是3月20日", "好的", "再确认一下"]
    assert [r["sender_name"] for r in view] == ["李工"] * 3
    assert [r["message_id"] for r in view] == ["x1", "x2", "x3"]
    assert [r["position"] for r in view] == [11, 12, 13]
    assert view[0]["sent_at"].endswith("+00:00")
    assert [r["sender_name"] for r in archive.source_view(first.source_id)] == ["小李", "小李"]


def test_reimporting_an_overlapping_file_records_sightings_once(archive: Archive) -> None:
    records = [msg("你好", 1), msg("在吗", 2)]
    archive.import_records(source("a"), records)
    archive.import_records(source("b"), records + [msg("退货", 3)])
    counts = dict(archive.db.execute("SELECT source, count(*) FROM sightings GROUP BY source").fetchall())
    assert sorted(counts.values()) == [2, 3]
