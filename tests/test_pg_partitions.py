"""PostgreSQL messages partitioned by month (migrations/pg/0024): the import makes the months it
needs, a period search and a period timeline read only that period's partitions (EXPLAIN of the very
statements the commands ran), with the same answers as SQLite; an archive made before 0024 is
rewritten into partitions and still verifies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.search import search_messages
from chataudit.store import Archive, postgres

HEADER = "sent_at,platform,conversation_id,conversation_title,sender_id,sender_name,kind,text,amount,currency\n"
WORDS = ["我想退货", "退款到账了吗", "好的谢谢", "refund please", "换货可以吗"]


def _export(folder: Path) -> Path:
    """Sixty messages, fifteen in each of January to April 2026 (UTC), two conversations."""
    lines = [HEADER]
    for month in range(1, 5):
        for n in range(15):
            conversation = f"shop-{n % 2}"
            lines.append(f"2026-{month:02d}-{1 + n:02d} 10:{n:02d}:00,generic,{conversation},店{n % 2},"
                         f"u{n % 3},客户{n % 3},text,{WORDS[(n + month) % len(WORDS)]} {month}-{n},,\n")
    path = folder / "months.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def run(db, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def stores(pg_cluster, tmp_path_factory):
    folder = tmp_path_factory.mktemp("months")
    export = _export(folder)
    sqlite_db, pg_db = folder / "a.db", pg_cluster.create_database("by_month")
    for db in (sqlite_db, pg_db):
        run(db, "import", str(export), "--tz", "UTC")
    return sqlite_db, pg_db


def _partitions_read(url: str, action) -> set[str]:
    """The partitions the SELECTs run by ``action(archive)`` read, from EXPLAIN of each statement."""
    ran: list[tuple[str, tuple]] = []
    original = psycopg.Cursor.execute

    def recording(cursor, query, params=None, **kwargs):
        if isinstance(query, str) and re.match(r"\s*(SELECT|WITH)", query, re.I):
            ran.append((query, tuple(params or ())))
        return original(cursor, query, params, **kwargs)

    archive = Archive(url)
    try:
        psycopg.Cursor.execute = recording  # type: ignore[method-assign]
        try:
            action(archive)
        finally:
            psycopg.Cursor.execute = original  # type: ignore[method-assign]
        read: set[str] = set()
        for query, params in ran:
            if "messages" not in query and "message_fts" not in query:
                continue
            plan = archive.db.raw.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()[0]
            read |= set(re.findall(r'"Relation Name": "(messages_\w+|message_fts_\w+)"', json.dumps(plan)))
        return read
    finally:
        archive.close()


def test_import_makes_a_partition_per_month(stores) -> None:
    _, pg_db = stores
    with psycopg.connect(pg_db) as db:
        counts = dict(db.execute(
            "SELECT tableoid::regclass::text, count(*) FROM messages GROUP BY 1").fetchall())
        fts = dict(db.execute("SELECT tableoid::regclass::text, count(*) FROM message_fts GROUP BY 1").fetchall())
    assert counts == {f"messages_p2026_{m:02d}": 15 for m in range(1, 5)}
    assert fts == {f"message_fts_p2026_{m:02d}": 15 for m in range(1, 5)}


def test_period_search_reads_only_its_months_and_equals_sqlite(stores) -> None:
    sqlite_db, pg_db = stores
    window = ["--since", "2026-02-01T00:00", "--until", "2026-03-01T00:00", "--tz", "UTC"]
    for query in ("退", "退货", "refund", "谢谢"):
        expected = json.loads(run(sqlite_db, "search", query, *window, "--json"))
        assert json.loads(run(pg_db, "search", query, *window, "--json")) == expected
    assert {row["sent_at"][:7] for row in expected} == {"2026-02"} and expected  # a non-empty February answer
    assert json.loads(run(pg_db, "search", "退", "--json")) == json.loads(run(sqlite_db, "search", "退", "--json"))

    def february(archive) -> None:
        since, until = 1769904000000, 1772323200000  # 2026-02-01, 2026-03-01 UTC
        assert search_messages(archive, "退", since_ms=since, until_ms=until)

    assert _partitions_read(pg_db, february) == {"messages_p2026_02", "message_fts_p2026_02"}
    whole = _partitions_read(pg_db, lambda archive: search_messages(archive, "退"))
    assert {"message_fts_p2026_01", "message_fts_p2026_04", "message_fts_before_1970"} <= whole


def test_period_timeline_reads_only_its_months_and_equals_sqlite(stores) -> None:
    sqlite_db, pg_db = stores
    window = ["--since", "2026-03-01T00:00", "--until", "2026-05-01T00:00", "--tz", "UTC"]
    for conversation in ("1", "2"):
        expected = json.loads(run(sqlite_db, "messages", "--conversation", conversation, *window, "--json"))
        assert len(expected) in (14, 16)
        assert json.loads(run(pg_db, "messages", "--conversation", conversation, *window, "--json")) == expected

    def march_april(archive) -> None:
        assert list(archive.timeline(1, 1772323200000, 1777593600000))  # 2026-03-01 to 2026-05-01 UTC

    assert _partitions_read(pg_db, march_april) == {"messages_p2026_03", "messages_p2026_04"}


def test_an_archive_made_before_partitioning_is_rewritten_and_verifies(pg_cluster, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    url = pg_cluster.create_database("before_0024")
    every, ensure = postgres._migrations(), postgres.PostgresArchive.ensure_partitions
    monkeypatch.setattr(postgres, "_migrations", lambda: tuple(m for m in every if m[0] < 24))
    monkeypatch.setattr(postgres.PostgresArchive, "ensure_partitions", lambda self, instants: None)  # the code before 0024
    run(url, "import", str(_export(tmp_path)), "--tz", "UTC")
    with psycopg.connect(url) as db:
        assert db.execute("SELECT relkind FROM pg_class WHERE relname = 'messages'").fetchone()[0] == "r"
        before = db.execute("SELECT id, sent_at_ms, content_hash FROM messages ORDER BY id").fetchall()
    monkeypatch.setattr(postgres, "_migrations", lambda: every)
    monkeypatch.setattr(postgres.PostgresArchive, "ensure_partitions", ensure)
    assert json.loads(run(url, "verify", "--json"))["ok"] is True  # opening applies 0024
    with psycopg.connect(url) as db:
        assert db.execute("SELECT relkind FROM pg_class WHERE relname = 'messages'").fetchone()[0] == "p"
        assert db.execute("SELECT id, sent_at_ms, content_hash FROM messages ORDER BY id").fetchall() == before
        assert db.execute("SELECT count(*) FROM messages_p2026_01").fetchone()[0] == 15
        assert db.execute("SELECT count(*) FROM message_fts_p2026_03").fetchone()[0] == 15
        # what the foreign keys did, triggers do: a message's sightings go with it; a conversation or
        # source that messages name stays
        assert db.execute("SELECT count(*) FROM sightings WHERE message = 1").fetchone()[0] == 1
        db.execute("DELETE FROM messages WHERE id = 1")
        assert db.execute("SELECT count(*) FROM sightings WHERE message = 1").fetchone()[0] == 0
        db.rollback()
        for table in ("conversations", "sources"):
            with pytest.raises(psycopg.errors.ForeignKeyViolation, match="messages name this"):
                db.execute(f"DELETE FROM {table} WHERE id = 1")
            db.rollback()
