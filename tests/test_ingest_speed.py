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


def test_full_text_rowids_of_instants_before_1970_as_sqlite_computes_them(tmp_path):
    """The rows of an all-new batch get their full-text rowid in Python: SQLite's integer division
    truncates toward zero, so a message half a second before the epoch is in second 0, not -1."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    instants = [epoch - timedelta(milliseconds=ms) for ms in (500, 1000, 1500, 86_400_000 * 365 * 20 + 1)]
    instants += [epoch + timedelta(milliseconds=ms) for ms in (0, 999, 1000, 1_700_000_000_123)]
    messages = [Message("wecom", "c1", moment, text=f"text {i}", sender_id="u1") for i, moment in enumerate(instants)]
    with Archive(tmp_path / "a.db") as archive:
        archive.import_records(SourceInfo("x.jsonl", "c" * 64, 1, "generic"), messages)
        # half of them again, with two new ones: the batch that finds some archived takes the join
        again = messages[::2] + [Message("wecom", "c1", epoch - timedelta(milliseconds=2500), text="new", sender_id="u1"),
                                 Message("wecom", "c1", epoch + timedelta(milliseconds=2500), text="new", sender_id="u1")]
        archive.import_records(SourceInfo("y.jsonl", "d" * 64, 1, "generic"), again)
        db = archive.db
        expected = sorted(r[0] for r in db.execute("SELECT (sent_at_ms / 1000) * ? + id FROM messages", (1 << 31,)))
        assert sorted(r[0] for r in db.execute("SELECT rowid FROM message_fts")) == expected
        assert len(expected) == 10
        assert db.execute("SELECT count(*) FROM sightings").fetchone()[0] == len(messages) + len(again)
        assert archive.search('"new"', limit=5) and len(archive.search('"new"', limit=5)) == 2


def test_bulk_tree_extension_keeps_the_nodes_one_append_at_a_time_keeps():
    from chataudit.ledger.merkle import TreeBuilder, leaf_hash

    for start, count in ((0, 1), (0, 37), (1, 64), (5, 100), (63, 70), (64, 3)):
        leaves = [leaf_hash(b"%d" % i) for i in range(start + count)]
        one, seen = TreeBuilder(), []
        one.extend(leaves[:start])
        bulk = TreeBuilder(one.frontier, one.size)
        one.on_node = lambda s, e, h: seen.append(((e - s).bit_length() - 1, s >> ((e - s).bit_length() - 1), h)) \
            if e - s > 1 else None
        one.extend(leaves[start:])
        kept: list = []
        bulk.extend_nodes(leaves[start:], kept)
        assert kept == seen and (bulk.size, bulk.root()) == (one.size, one.root())
        assert len(kept) == sum(1 for n in range(start + 1, start + count + 1) for _ in range(1, (n & -n).bit_length()))


def test_overlapping_sources_in_many_batches_verify(tmp_path, monkeypatch):
    """Batches all new, partly archived and all archived, in one source after another: every
    sighting is signed at its message's leaf (verify recomputes each source's sightings leaf with
    the general query) and a re-import adds nothing."""
    from chataudit.store import sqlite as store_sqlite

    monkeypatch.setattr(store_sqlite, "BATCH", 7)
    first = _messages(40)
    grown = _messages(40)[10:] + [Message("wecom", "c1", datetime(2025, 3, 2, tzinfo=CST) + timedelta(seconds=i),
                                          text=f"later {i}", sender_id="u1") for i in range(25)]
    with Archive(tmp_path / "a.db") as archive:
        attach(archive)
        for name, records in (("a", first), ("b", grown), ("c", grown[::3])):
            archive.import_records(SourceInfo(f"{name}.jsonl", name * 64, 1, "generic"), records)
        again = archive.import_records(SourceInfo("d.jsonl", "d" * 64, 1, "generic"), first)
        assert again.new == 0
        db = archive.db
        assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 65
        assert db.execute("SELECT count(*) FROM ledger_sightings").fetchone()[0] == 40 + 55 + 19 + 40
        report = verify_archive(archive)
        assert report.ok, report.problems


def _indexes(db) -> list[tuple]:
    return db.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name").fetchall()


def test_a_first_import_builds_the_indexes_it_dropped_and_a_failed_one_keeps_them(tmp_path, monkeypatch):
    from chataudit import importer
    from chataudit.importer import import_paths
    from chataudit.store.sqlite import REBUILT_INDEXES

    monkeypatch.setattr(importer, "PIPELINE_MIN_BYTES", 0)  # the large-file path, which rebuilds
    lines = [f'{{"sent_at":"2025-01-01T08:00:{i:02d}+08:00","platform":"wecom","conversation_id":"c{i % 3}",'
             f'"sender_id":"u{i % 4}","text":"第{i}条"}}' for i in range(50)]
    (tmp_path / "chat.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with Archive(tmp_path / "fresh.db") as fresh:
        expected = [tuple(row) for row in _indexes(fresh.db)]
    assert {name for name, *_ in expected} >= set(REBUILT_INDEXES)
    with Archive(tmp_path / "failed.db") as archive:
        archive.after_batch.append(lambda *_args: 1 / 0)
        assert import_paths(archive, [tmp_path / "chat.jsonl"], tz="Asia/Shanghai").errors
        assert [tuple(row) for row in _indexes(archive.db)] == expected
    with Archive(tmp_path / "a.db") as archive:
        summary = import_paths(archive, [tmp_path / "chat.jsonl"], tz="Asia/Shanghai")
        assert summary.as_dict()["new"] == 50
        assert [tuple(row) for row in _indexes(archive.db)] == expected
        assert archive.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        plan = " ".join(str(r[-1]) for r in archive.db.execute(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM messages WHERE source = 1"))
        assert "messages_source" in plan
        assert verify_archive(archive).ok
