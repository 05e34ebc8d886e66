"""The kept per-conversation counts (migration 0015) equal the aggregate over the messages after
every change to messages, `conversations` reads them, and check/verify never depend on them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.importer import import_paths
from chataudit.ledger import Ledger
from chataudit.ledger.verify import verify_archive
from chataudit.store import Archive

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
WANG = FIXTURES / "compare" / "wang_phone.csv"
SHOP = FIXTURES / "compare" / "shop_console.jsonl"

AGGREGATE = (
    "SELECT c.id, c.platform, c.native_id, c.title, c.type,"
    " count(m.id), min(m.sent_at_ms), max(m.sent_at_ms), count(DISTINCT coalesce(m.sender_id, m.sender_name))"
    " FROM conversations c LEFT JOIN messages m ON m.conversation = c.id"
    " GROUP BY c.id ORDER BY max(m.sent_at_ms) DESC, c.id"
)
KEPT = (
    "SELECT conversation, message_count, first_ms, last_ms, senders FROM conversation_stats ORDER BY conversation"
)


def run(db: Path, *args: str, code: int = 0):
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def assert_kept_equals_aggregate(db: Path) -> None:
    with sqlite3.connect(db) as connection:
        aggregate = connection.execute(AGGREGATE).fetchall()
        kept = connection.execute(KEPT).fetchall()
    assert kept == sorted(tuple(row[:1]) + tuple(row[5:]) for row in aggregate if row[5])
    with Archive(db) as archive:
        listed = [(c.id, c.platform, c.native_id, c.title, c.type, c.message_count, c.senders)
                  for c in archive.conversations()]
    assert listed == [tuple(row[:6]) + (row[8],) for row in aggregate]


def test_kept_counts_follow_import_reimport_purge_redaction_and_reread(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with Archive(db) as archive:
        assert not import_paths(archive, [SAMPLES], tz="Asia/Shanghai").errors
    assert_kept_equals_aggregate(db)
    before = run(db, "conversations", "--json").stdout
    with Archive(db) as archive:  # the same files again add nothing
        import_paths(archive, [SAMPLES], tz="Asia/Shanghai")
    assert_kept_equals_aggregate(db)
    assert run(db, "conversations", "--json").stdout == before
    with Archive(db) as archive:
        counts = {c.id: c.message_count for c in archive.conversations()}
        ledger = Ledger(archive)
        ledger.purge(3, "retention: 3 years")
        ledger.redact(4, ["sender_id", "sender_name"], "personal data")
        # a conversation emptied by purges has no kept row and lists with 0 messages
        only = archive.db.execute("SELECT conversation FROM messages GROUP BY conversation"
                                  " ORDER BY count(*) LIMIT 1").fetchone()[0]
        ids = [r[0] for r in archive.db.execute("SELECT id FROM messages WHERE conversation = ?", (only,))]
        ledger.purge_many((i, "retention") for i in ids)
        listed = {c.id: c for c in archive.conversations()}
    assert listed[only].message_count == 0 and listed[only].first_at is None and listed[only].senders == 0
    assert sum(c.message_count for c in listed.values()) == sum(counts.values()) - 1 - len(ids)
    assert_kept_equals_aggregate(db)
    report = _verify(db)
    assert report.ok, report.problems


def test_kept_counts_follow_a_reread(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    run(db, "import", str(WANG), "--label", "wang-phone", "--tz", "Europe/Berlin")
    run(db, "import", str(SHOP), "--label", "shop")
    assert_kept_equals_aggregate(db)
    run(db, "import", "--reread", "wang-phone", "--tz", "Asia/Shanghai", str(WANG), "--json")
    assert_kept_equals_aggregate(db)


def test_migration_fills_the_counts_of_an_existing_archive(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with Archive(db) as archive:
        assert not import_paths(archive, [SAMPLES], tz="Asia/Shanghai").errors
    with sqlite3.connect(db) as connection:  # as an archive made before 0015
        connection.execute("DROP TABLE conversation_stats")
        connection.execute("DELETE FROM schema_migrations WHERE number = 15")
    with Archive(db):
        pass
    assert_kept_equals_aggregate(db)


def test_check_and_verify_do_not_read_the_kept_counts(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with Archive(db) as archive:
        assert not import_paths(archive, [SAMPLES], tz="Asia/Shanghai").errors
    with sqlite3.connect(db) as connection:  # a cache someone emptied or falsified
        connection.execute("UPDATE conversation_stats SET message_count = 999999, senders = 0")
    report = _verify(db)
    assert report.ok, report.problems
    checked = json.loads(run(db, "check", "1", "--json").stdout)
    assert checked["source"]["id"] == 1
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM conversation_stats")
    assert _verify(db).ok


def _verify(db: Path):
    with Archive(db) as archive:
        return verify_archive(archive)
