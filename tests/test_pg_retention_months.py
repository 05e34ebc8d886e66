"""Retention on PostgreSQL empties whole month partitions where it can: the same ledger, the same
`verify`, the same remaining rows as the row-by-row purge (and as SQLite); a held message, or a
month only partly due, keeps the row path."""

from __future__ import annotations

import json
import sqlite3

import psycopg
import pytest

from chataudit.governance import retention
from chataudit.ledger import Ledger
from chataudit.store import Archive, postgres
from chataudit.store.postgres import PostgresArchive
from store_tamper import copy_archive
from test_governance import CHATS, DM, ROSTER, run

AS_OF = "2026-04-01"
MONTHS = ["2023-05", "2023-06", "2023-07"]  # the DingTalk messages older than 2 years, every one of its month


def _filled(location) -> str:
    run(location, "import", str(CHATS), "--tz", "Asia/Shanghai", "--label", "hr-export")
    run(location, "roster", "set", str(ROSTER))
    run(location, "retention", "set", "dingtalk", "2y")
    run(location, "pii", "scan")  # its findings and its trigger on deleted messages are part of a purge
    return location


def _apply(url: str) -> tuple[dict, list[str]]:
    with Archive(url, create=False) as archive:
        result = retention.apply(archive, as_of=AS_OF, dry_run=False, operator="compliance-li", params={})
        return result, archive.emptied_months


def _state(url: str, signed_before: int) -> dict:
    """What must be equal after either path: ledger (old leaves byte for byte, purge events), rows left."""
    with psycopg.connect(url) as db:
        def rows(sql: str) -> list:
            return db.execute(sql).fetchall()
        return {
            "leaves": rows(f"SELECT idx, kind, ref, CASE WHEN idx < {signed_before} THEN leaf_hash END, sender IS NULL,"
                           " salts IS NULL FROM ledger_leaves ORDER BY idx"),
            "events": rows("SELECT leaf, action, target, reason FROM ledger_events ORDER BY leaf"),
            "messages": rows("SELECT * FROM messages ORDER BY id"),
            "index": rows("SELECT rowid, words::text FROM message_fts ORDER BY rowid"),
            "sightings": rows("SELECT * FROM sightings ORDER BY source, message"),
            "conversations": rows("SELECT * FROM conversations ORDER BY id"),
            "pii": rows("SELECT * FROM pii_findings ORDER BY message, start")
            + rows("SELECT * FROM pii_scan_state") + rows("SELECT * FROM pii_rescan"),
        }


def _relfilenode(url: str, month: str) -> int:
    with psycopg.connect(url) as db:
        return db.execute("SELECT relfilenode FROM pg_class WHERE relname = %s",
                          ("messages_p" + month.replace("-", "_"),)).fetchone()[0]


def test_whole_months_are_emptied_with_the_same_ledger_verify_and_rows_as_the_row_path(
        pg_cluster, tmp_path, monkeypatch) -> None:
    months = _filled(pg_cluster.create_database("months"))
    rows_url = copy_archive(months, None)  # the same archive, byte for byte: same salts, same leaves
    with Archive(months, create=False) as archive:
        signed_before = Ledger(archive).leaf_count()
    files_before = {m: _relfilenode(months, m) for m in MONTHS}

    by_month, emptied = _apply(months)
    monkeypatch.setattr(PostgresArchive, "empties_months", False)
    by_row, row_emptied = _apply(rows_url)

    assert emptied == MONTHS and row_emptied == []
    assert all(_relfilenode(months, m) != files_before[m] for m in MONTHS)  # emptied whole, not row by row
    assert all(_relfilenode(rows_url, m) == files_before[m] for m in MONTHS)
    assert by_month["purge"] == by_row["purge"] and len(by_month["purge"]) == 5
    assert _state(months, signed_before) == _state(rows_url, signed_before)
    reports = [json.loads(run(url, "verify", "--json").output) for url in (months, rows_url)]
    assert all(r["ok"] for r in reports) and reports[0]["tree_size"] == reports[1]["tree_size"]

    # and what SQLite's archive purges and keeps is the same (ids are numbered alike)
    lite = _filled(tmp_path / "r.db")
    on_sqlite = json.loads(run(lite, "retention", "apply", "--as-of", AS_OF, "--json").output)
    assert on_sqlite["purge"] == by_month["purge"] and on_sqlite["held"] == by_month["held"] == []
    with sqlite3.connect(lite) as db:
        kept = db.execute("SELECT id, text FROM messages ORDER BY id").fetchall()
    assert [tuple(r) for r in _state(months, 0)["messages"]] and kept == [
        (m[0], m[9]) for m in _state(months, 0)["messages"]]


def test_a_held_message_keeps_its_month_on_the_row_path_and_a_partly_due_month_too(pg_cluster, monkeypatch) -> None:
    url = _filled(pg_cluster.create_database("held_months"))
    run(url, "hold", "add", "--conversation", DM, "--reason", "labour arbitration 2026-88")
    with Archive(url, create=False) as archive:
        first_of_may, = archive.db.execute("SELECT min(m.id) FROM messages m JOIN conversations c ON c.id = m.conversation"
                                           " WHERE c.native_id = 'team-1'").fetchone()
        Ledger(archive).purge_many([(first_of_may, "manual: one message of 2023-05")])
        assert archive.emptied_months == []  # the month's other message stays: row path
        held, = archive.db.execute("SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation"
                                   " WHERE c.native_id = 'dm-e002' ORDER BY m.id LIMIT 1").fetchone()
        with pytest.raises(sqlite3.IntegrityError, match="legal hold"):
            Ledger(archive).purge_many([(held, "manual")])  # its month is held: the row path, where the hold refuses
        assert archive.emptied_months == []
    monkeypatch.setattr(postgres, "MONTH_LOCK_WAIT", "200ms")
    with psycopg.connect(url) as reader:  # a reader in the middle of June 2023: that month is not waited for
        reader.execute("SELECT count(*) FROM messages_p2023_06").fetchone()
        result, emptied = _apply(url)
    assert emptied == ["2023-05"]  # 2023-06: rows, as its reader holds it; 2023-07: the held conversation's
    assert len(result["purge"]) == 2 and len(result["held"]) == 2
    with Archive(url, create=False) as archive:
        left = [r[0] for r in archive.db.execute("SELECT c.native_id FROM messages m JOIN conversations c"
                                                  " ON c.id = m.conversation WHERE m.platform = 'dingtalk'"
                                                  " AND m.sent_at_ms < 1704067200000 ORDER BY m.id")]  # before 2024
    assert left == ["dm-e002", "dm-e002"]
    assert json.loads(run(url, "verify", "--json").output)["ok"]
