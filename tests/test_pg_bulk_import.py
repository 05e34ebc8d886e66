"""The PostgreSQL import's bulk paths (issue 15, "import at the store's speed"): batches of new
messages go straight in by COPY, others through the staging table; full-text bodies are made by the
parsing process in the store's own form; a large upsert is one statement. Each gives what the
SQLite archive gives (messages, sightings, search) and `verify` passes."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from chataudit import importer
from chataudit.cli import cli
from chataudit.store import Archive, pgsql, sqlite
from chataudit.store.postgres import PostgresArchive


def run(db, *args: str):
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def listing(db, *args: str):
    return json.loads(run(db, *args, "--json"))


def _lines(numbers, minute: int = 0) -> bytes:
    """Generic JSONL: message n in conv-(n % 3) at second n, with two real identical "好的" at one instant."""
    rows = []
    for n in numbers:
        rows.append({"sent_at": f"2026-03-{1 + n // 86400:02d}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}+08:00",
                     "platform": "wecom", "conversation_id": f"conv-{n % 3}", "conversation_title": f"客户{n % 3}",
                     "sender_id": f"u{n % 5}", "sender_name": f"客服{n % 5}", "text": f"我想退货 parcel #{n}"})
    rows.append({"sent_at": f"2026-04-01T00:{minute:02d}:00+08:00", "platform": "wecom", "conversation_id": "conv-0",
                 "sender_id": "u1", "text": "好的"})
    rows.append(dict(rows[-1]))
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


@pytest.fixture
def counted(monkeypatch):
    """Which path each stored PostgreSQL batch took (the real methods, counted)."""
    taken = {"copy": 0, "staging": 0}
    copy_new, staging = PostgresArchive._copy_new, PostgresArchive._staging

    def counting_copy(self, *args, **kwargs):
        taken["copy"] += 1
        return copy_new(self, *args, **kwargs)

    def counting_staging(self):
        taken["staging"] += 1
        return staging(self)

    monkeypatch.setattr(PostgresArchive, "_copy_new", counting_copy)
    monkeypatch.setattr(PostgresArchive, "_staging", counting_staging)
    return taken


def test_new_batches_by_copy_overlapping_ones_staged_same_as_sqlite(pg_cluster, tmp_path: Path, monkeypatch,
                                                                     counted) -> None:
    monkeypatch.setattr(sqlite, "BATCH", 40)  # several batches from a small file
    monkeypatch.setattr(pgsql, "MANY_ROWS", 8)  # the ledger's tree nodes go in as one upsert per flush
    first, grown = tmp_path / "first.jsonl", tmp_path / "grown.jsonl"
    first.write_bytes(_lines(range(0, 100)))
    grown.write_bytes(_lines(range(60, 200), minute=1))  # 40 already archived, 100 new, its own pair
    sqlite_db, pg_db = tmp_path / "a.db", pg_cluster.create_database("bulk_paths")
    for path in (first, grown):
        run(sqlite_db, "import", str(path), "--tz", "Asia/Shanghai")
    monkeypatch.setattr(importer, "PIPELINE_MIN_BYTES", 0)  # the parsing process makes PostgreSQL's bodies
    run(pg_db, "import", str(first), "--tz", "Asia/Shanghai")
    assert counted == {"copy": 3, "staging": 0}  # 102 new messages in batches of 40
    run(pg_db, "import", str(grown), "--tz", "Asia/Shanghai")
    assert counted["staging"] >= 1 and counted["copy"] >= 4  # the overlapping batch staged, the rest copied
    rows = ("SELECT id, conversation, sent_at_ms, text, source, position, content_hash, occurrence FROM messages"
            " ORDER BY id")
    seen = "SELECT source, message, position, sender_name, message_id FROM sightings ORDER BY 1, 2"
    with Archive(pg_db, create=False) as pg, Archive(sqlite_db, create=False) as lite:
        assert [tuple(r) for r in pg.db.execute(rows).fetchall()] == [tuple(r) for r in lite.db.execute(rows).fetchall()]
        assert len(pg.db.execute(rows).fetchall()) == 204
        assert [tuple(r) for r in pg.db.execute(seen).fetchall()] == [tuple(r) for r in lite.db.execute(seen).fetchall()]
        for query in ('"退货"', '"parcel"', '"好的"', '"150"'):
            assert pg.search(query, limit=500) == lite.search(query, limit=500) != []
        assert pg.db.execute("SELECT count(*) FROM ledger_nodes").fetchone()[0] > 0
    assert listing(pg_db, "verify")["ok"] is True  # index rows, leaves (from the staged rows), sightings, tree


def test_bodies_are_made_in_the_store_form() -> None:
    """The parsing process is told the archive's index_text by name: FTS5 bodies for SQLite,
    tsvector text for PostgreSQL (as the store stores it and `verify` makes it again)."""
    from chataudit.store import pgsearch
    from chataudit.textindex import index_body

    assert Archive.index_text is index_body and PostgresArchive.index_text is pgsearch.index_text
    assert pgsearch.index_text("我想退货 好的好的") == "'我想':1 '想退':2 '退货':3 '货':4 '好的':5,7 '的好':6 '的':8"
    assert pgsearch.index_text("it's O'Neil") == "'it':1 's':2 'o':3 'neil':4"  # FTS5 splits at the quote


def test_a_large_upsert_is_one_statement_with_the_rows_effect(pg_cluster, monkeypatch) -> None:
    monkeypatch.setattr(pgsql, "MANY_ROWS", 3)
    db = pgsql.PgConnection(pg_cluster.create_database("upserts"))
    try:
        db.raw.execute("CREATE TABLE t (k BIGINT, j BIGINT, v TEXT, PRIMARY KEY (k, j))")
        db.load_catalog()  # (INSERT OR REPLACE needs the primary key)
        db.executemany("INSERT INTO t (k, j, v) VALUES (?, ?, ?)", [(1, 1, "a"), (2, 1, "b")])
        db.executemany("INSERT OR REPLACE INTO t (k, j, v) VALUES (?, ?, ?)",
                       [(2, 1, "B"), (3, 1, "c"), (4, 1, "d"), (1, 2, "e")])
        assert db.raw.execute("SELECT to_regclass('pg_temp.many_t')").fetchone()[0] is not None  # went staged
        db.executemany("INSERT OR IGNORE INTO t (k, j, v) VALUES (?, ?, ?)", [(1, 1, "x"), (5, 1, "f"), (6, 1, "g")])
        # a key twice in one batch: each row sees the one before (the last value wins), as row by row
        db.executemany("INSERT OR REPLACE INTO t (k, j, v) VALUES (?, ?, ?)", [(7, 1, "h"), (7, 1, "i"), (8, 1, "j")])
        assert db.execute("SELECT k, j, v FROM t ORDER BY k, j").fetchall() == [
            (1, 1, "a"), (1, 2, "e"), (2, 1, "B"), (3, 1, "c"), (4, 1, "d"), (5, 1, "f"), (6, 1, "g"), (7, 1, "i"),
            (8, 1, "j")]
        cursor = db.cursor()
        cursor.row_factory = None  # plain tuples, as a sqlite3 cursor gives
        row = cursor.execute("SELECT k, v FROM t WHERE k = 2").fetchone()
        assert type(row) is tuple and row == (2, "B")
        assert db.execute("SELECT k, v FROM t WHERE k = 2").fetchone()["v"] == "B"
    finally:
        db.close()


def test_a_message_seen_again_at_an_earlier_instant_in_a_later_batch_is_stored_once(pg_cluster, tmp_path: Path,
                                                                                     monkeypatch, counted) -> None:
    """A batch whose messages are all later than their conversation's latest archived one goes in
    without a lookup; a message at an instant already reached (here the same "好的" again, after
    the conversation moved on: its occurrence restarts at 0) is looked up and found, as SQLite finds it."""
    monkeypatch.setattr(sqlite, "BATCH", 40)
    rows = [{"sent_at": "2026-03-01T08:00:00+08:00", "platform": "wecom", "conversation_id": "c", "sender_id": "u",
             "text": "好的"}]
    rows += [{"sent_at": f"2026-03-01T08:{1 + n // 60:02d}:{n % 60:02d}+08:00", "platform": "wecom",
              "conversation_id": "c", "sender_id": "u", "text": f"退货 #{n}"} for n in range(60)]
    rows.append(dict(rows[0]))  # the first message again, in the second batch
    rows.append({**rows[0], "sent_at": "2026-03-01T07:00:00+08:00"})  # earlier, but a message of its own
    path = tmp_path / "back.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    sqlite_db, pg_db = tmp_path / "a.db", pg_cluster.create_database("seen_again")
    run(sqlite_db, "import", str(path), "--tz", "Asia/Shanghai")
    run(pg_db, "import", str(path), "--tz", "Asia/Shanghai")
    assert counted == {"copy": 1, "staging": 1}  # the first batch new, the second holds a message already stored
    query = "SELECT id, sent_at_ms, text, position, occurrence FROM messages ORDER BY id"
    seen = "SELECT source, message, position FROM sightings ORDER BY 1, 2"
    with Archive(pg_db, create=False) as pg, Archive(sqlite_db, create=False) as lite:
        assert [tuple(r) for r in pg.db.execute(query).fetchall()] == [tuple(r) for r in lite.db.execute(query).fetchall()]
        assert len(pg.db.execute(query).fetchall()) == 62
        assert [tuple(r) for r in pg.db.execute(seen).fetchall()] == [tuple(r) for r in lite.db.execute(seen).fetchall()]
    assert listing(pg_db, "verify")["ok"] is True


def test_an_upsert_of_keys_not_stored_yet_is_a_plain_copy(pg_cluster, monkeypatch) -> None:
    """No staging table while every key is new (the ledger's tree nodes); after a batch that met a
    stored key the table takes the staging path; the rows are the same either way."""
    monkeypatch.setattr(pgsql, "MANY_ROWS", 3)
    db = pgsql.PgConnection(pg_cluster.create_database("fresh_upserts"))
    try:
        db.raw.execute("CREATE TABLE n (level BIGINT, idx BIGINT, hash TEXT, PRIMARY KEY (level, idx))")
        db.load_catalog()
        db.executemany("INSERT OR REPLACE INTO n (level, idx, hash) VALUES (?, ?, ?)", [(1, i, f"h{i}") for i in range(5)])
        assert db.raw.execute("SELECT to_regclass('pg_temp.many_n')").fetchone()[0] is None
        assert db.total_changes == 5
        db.executemany("INSERT OR REPLACE INTO n (level, idx, hash) VALUES (?, ?, ?)", [(1, 4, "H4"), (1, 5, "h5"), (1, 6, "h6")])
        assert db.raw.execute("SELECT to_regclass('pg_temp.many_n')").fetchone()[0] is not None
        assert db.execute("SELECT idx, hash FROM n ORDER BY idx").fetchall() == [
            (0, "h0"), (1, "h1"), (2, "h2"), (3, "h3"), (4, "H4"), (5, "h5"), (6, "h6")]
    finally:
        db.close()


def test_the_ledger_reads_an_import_back_a_page_at_a_time(pg_cluster, tmp_path: Path, monkeypatch) -> None:
    """The tree's message leaves and the new messages' sightings are read back in pages (a client
    cursor on PostgreSQL holds a query's whole result): pages of 7, every leaf and sighting once, in
    order — `verify` recomputes the tree and the sightings leaf from them, on both stores."""
    from chataudit.ledger import log

    monkeypatch.setattr(log, "BATCH", 7)
    monkeypatch.setattr(sqlite, "BATCH", 40)
    path = tmp_path / "paged.jsonl"
    path.write_bytes(_lines(range(0, 100)))
    for db in (tmp_path / "a.db", pg_cluster.create_database("paged")):
        run(db, "import", str(path), "--tz", "Asia/Shanghai")
        with Archive(db, create=False) as archive:
            assert archive.db.execute("SELECT count(*), count(DISTINCT leaf) FROM ledger_sightings").fetchone()[:2] == (102, 102)
            assert archive.db.execute("SELECT tree_size FROM ledger_checkpoints").fetchone()[0] == 1 + 102 + 2
        assert listing(db, "verify")["ok"] is True
