"""Issue 14's faster import paths build what the slower ones did: each message's leaf signs the
row as SQLite stored it, whichever path made it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from chataudit.ledger import attach
from chataudit.ledger.verify import verify_archive
from chataudit.model import Message
from chataudit.store import Archive, SourceInfo

CST = timezone(timedelta(hours=8))


def _messages(count: int, **odd) -> list[Message]:
    start = datetime(2025, 3, 1, 9, tzinfo=CST)
    usual = lambda i: {"sender_id": f"u{i % 3}", "message_id": f"m{i}"}  # noqa: E731
    return [Message("wecom", "c1", start + timedelta(seconds=i), text=f"第{i}条", sender_name="客服", position=i + 1,
                    **(usual(i) | (odd if i == 7 else {})))
            for i in range(count)]


def test_a_value_sqlite_converts_is_signed_as_stored(tmp_path):
    """A format handing an integer to a TEXT column (an id) has it stored as text: the leaf must
    commit to "123", as verify reads it, not to the integer it was given."""
    with Archive(tmp_path / "a.db") as archive:
        attach(archive)
        archive.import_records(SourceInfo("x.jsonl", "a" * 64, 1, "generic"),
                               _messages(20, message_id=123, sender_id=456, reply_to=9))
        stored = archive.db.execute("SELECT message_id, sender_id, reply_to FROM messages WHERE position = 8").fetchone()
        assert tuple(stored) == ("123", "456", "9")
        report = verify_archive(archive)
        assert report.ok, report.problems
        assert report.checked >= 20


def test_rows_signed_without_reading_them_back_verify(tmp_path):
    with Archive(tmp_path / "a.db") as archive:
        attach(archive)
        archive.import_records(SourceInfo("x.jsonl", "b" * 64, 1, "generic"), _messages(30))
        report = verify_archive(archive)
        assert report.ok, report.problems
        assert archive.db.execute("SELECT count(*) FROM ledger_leaves WHERE kind = 1").fetchone()[0] == 30
