"""Each source's sightings are committed to the ledger (one `sightings` leaf per source) and checked
by `verify`: a copy's view edited, deleted or inserted behind the tool's back is named; a purge is not."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from chataudit.importer import import_paths
from chataudit.ledger import Ledger, leaves as L
from chataudit.ledger.merkle import TreeBuilder
from chataudit.ledger.verify import verify_archive
from chataudit.model import Message
from chataudit.store import Archive, SourceInfo

HEADER = "conversation_id,sent_at,sender_name,text\n"
ROWS = [
    "deal,2026-03-20T10:00:00+08:00,王女士,合同发你了\n",
    "deal,2026-03-20T10:01:00+08:00,李先生,收到\n",
    "deal,2026-03-20T10:02:00+08:00,王女士,明天签\n",
    "deal,2026-03-20T10:03:00+08:00,李先生,好的\n",
]


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    """Two overlapping copies: a.csv holds rows 0–2, b.csv rows 1–3 (two messages seen twice)."""
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(HEADER + "".join(ROWS[0:3]), encoding="utf-8")
    b.write_text(HEADER + "".join(ROWS[1:4]), encoding="utf-8")
    path = tmp_path / "archive.db"
    with Archive(path) as archive:
        assert not import_paths(archive, [a]).errors
        assert not import_paths(archive, [b]).errors
    return path


def report_of(db: Path):
    with Archive(db) as archive:
        return verify_archive(archive)


def tamper(db: Path, statement: str, params=()) -> None:
    connection = sqlite3.connect(db)
    connection.execute(statement, params)
    connection.commit()
    connection.close()


def source_of(db: Path, name: str) -> int:
    with Archive(db) as archive:
        return archive.db.execute("SELECT id FROM sources WHERE path LIKE ?", (f"%{name}",)).fetchone()[0]


def message_of(db: Path, text: str) -> int:
    with Archive(db) as archive:
        return archive.db.execute("SELECT id FROM messages WHERE text = ?", (text,)).fetchone()[0]


def test_each_source_gets_a_sightings_leaf_after_its_messages_and_verify_is_clean(db: Path) -> None:
    with Archive(db) as archive:
        rows = archive.db.execute("SELECT idx, kind, ref FROM ledger_leaves ORDER BY idx").fetchall()
        kinds = [kind for _, kind, _ in rows]
        assert kinds == [L.SOURCE, L.MESSAGE, L.MESSAGE, L.MESSAGE, L.SIGHTINGS, L.CONVERSATIONS,
                         L.SOURCE, L.MESSAGE, L.SIGHTINGS, L.CONVERSATIONS]
        b = source_of(db, "b.csv")
        rows = rows[:-1]  # the sightings leaf is the last but one
        assert rows[-1][2] == b
        # b's leaf counts all three of its sightings, also the two messages a.csv brought first
        kept = archive.db.execute("SELECT leaf FROM ledger_sightings WHERE source = ? ORDER BY leaf", (b,)).fetchall()
        assert [leaf for (leaf,) in kept] == [2, 3, 7]
        sha = archive.db.execute("SELECT sha256 FROM sources WHERE id = ?", (b,)).fetchone()[0]
        salts = dict(archive.db.execute("SELECT leaf, salt FROM ledger_sightings WHERE source = ?", (b,)))
        assert all(len(salt) == 16 for salt in salts.values())  # salted, like the message fields
        hashes = [(leaf, L.sighting_hash(row, salts[leaf])) for row in archive.db.execute(L.SIGHTINGS_QUERY, (b,))
                  for leaf in [row[0]]]
        stored = archive.db.execute("SELECT leaf_hash FROM ledger_leaves WHERE idx = 8").fetchone()[0]
        leaf = L.sightings_leaf(sha, hashes)
        assert L.leaf_hash_of(leaf) == stored
        assert b'"count":3' in leaf and b'"type":"sightings"' in leaf
    report = report_of(db)
    assert report.ok, report.problems
    assert not [n for n in report.notices if n["kind"] == "sightings_unsigned"]


def test_an_edited_sender_name_in_a_sighting_fails_naming_source_and_message(db: Path) -> None:
    b, message = source_of(db, "b.csv"), message_of(db, "收到")
    tamper(db, "UPDATE sightings SET sender_name = '张三' WHERE source = ? AND message = ?", (b, message))
    report = report_of(db)
    assert not report.ok
    modified = [p for p in report.problems if p["kind"] == "modified"]
    assert len(modified) == 1
    assert f"source {b} " in modified[0]["detail"] and "b.csv" in modified[0]["detail"]
    assert modified[0]["message"]["id"] == message and modified[0]["message"]["sender"] == "李先生"
    assert "checkpoint_root" in [p["kind"] for p in report.problems]


def test_edited_position_or_message_id_also_fails(db: Path) -> None:
    a, message = source_of(db, "a.csv"), message_of(db, "合同发你了")
    tamper(db, "UPDATE sightings SET position = position + 7 WHERE source = ? AND message = ?", (a, message))
    problems = report_of(db).problems
    assert [p["message"]["id"] for p in problems if p["kind"] == "modified"] == [message]


def test_a_deleted_sighting_fails_naming_source_and_message(db: Path) -> None:
    b, message = source_of(db, "b.csv"), message_of(db, "明天签")
    tamper(db, "DELETE FROM sightings WHERE source = ? AND message = ?", (b, message))
    report = report_of(db)
    assert not report.ok
    deleted = [p for p in report.problems if p["kind"] == "deleted"]
    assert len(deleted) == 1 and f"source {b} " in deleted[0]["detail"]
    assert deleted[0]["message"]["id"] == message


def test_an_inserted_sighting_fails_naming_source_and_message(db: Path) -> None:
    a, message = source_of(db, "a.csv"), message_of(db, "好的")  # a.csv never held it
    tamper(db, "INSERT INTO sightings (source, message, position, sender_name, utc_offset_min)"
               " VALUES (?, ?, 9, '李先生', 480)", (a, message))
    report = report_of(db)
    inserted = [p for p in report.problems if p["kind"] == "inserted"]
    assert len(inserted) == 1 and f"source {a} " in inserted[0]["detail"]
    assert inserted[0]["message"]["id"] == message and not report.ok


def test_kept_sighting_hashes_cannot_be_rewritten(db: Path) -> None:
    with Archive(db) as archive:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            archive.db.execute("UPDATE ledger_sightings SET hash = zeroblob(32)")
    # rewritten with the guard dropped: the edited sighting and its kept hash agree, the signed leaf does not
    b, message = source_of(db, "b.csv"), message_of(db, "收到")
    tamper(db, "DROP TRIGGER ledger_sightings_no_update")
    tamper(db, "UPDATE sightings SET sender_name = '张三' WHERE source = ? AND message = ?", (b, message))
    with Archive(db) as archive:
        leaf = archive.db.execute("SELECT message_leaf FROM (SELECT max(idx) AS message_leaf FROM ledger_leaves"
                                  " WHERE kind = 1 AND ref = ?)", (message,)).fetchone()[0]
        row = archive.db.execute(L.SIGHTINGS_QUERY + " AND si.message = ?", (b, message)).fetchone()
        salt = archive.db.execute("SELECT salt FROM ledger_sightings WHERE source = ? AND leaf = ?", (b, leaf)).fetchone()[0]
    tamper(db, "UPDATE ledger_sightings SET hash = ? WHERE source = ? AND leaf = ?", (L.sighting_hash(row, salt), b, leaf))
    report = report_of(db)
    assert not report.ok
    assert any(p["kind"] == "modified" and f"source {b} " in p["detail"] for p in report.problems)


def test_a_purge_keeps_verify_green(db: Path) -> None:
    shared, alone = message_of(db, "收到"), message_of(db, "合同发你了")
    with Archive(db) as archive:
        Ledger(archive).purge_many([(shared, "retention test"), (alone, "retention test")])
        assert archive.db.execute("SELECT count(*) FROM sightings WHERE message IN (?, ?)",
                                  (shared, alone)).fetchone()[0] == 0
        # the purged messages' sighting salts are gone: their kept hashes confirm no guessed name
        leaves = [r[0] for r in archive.db.execute(
            "SELECT idx FROM ledger_leaves WHERE kind = 1 AND ref IN (?, ?)", (shared, alone))]
        marks = ",".join("?" * len(leaves))
        assert archive.db.execute(f"SELECT count(*) FROM ledger_sightings WHERE leaf IN ({marks}) AND salt IS NOT NULL",
                                  leaves).fetchone()[0] == 0
        assert archive.db.execute(f"SELECT count(*) FROM ledger_sightings WHERE leaf IN ({marks})",
                                  leaves).fetchone()[0] >= 2
    report = report_of(db)
    assert report.ok, report.problems
    assert len([n for n in report.notices if n["kind"] == "purged"]) == 2
    # a later import still appends and verifies
    extra = db.parent / "c.csv"
    extra.write_text(HEADER + ROWS[2] + "deal,2026-03-21T09:00:00+08:00,王女士,签好了\n", encoding="utf-8")
    with Archive(db) as archive:
        assert not import_paths(archive, [extra]).errors
    assert report_of(db).ok


def test_a_source_appended_before_sightings_were_signed_gets_a_notice(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with Archive(db) as archive:
        archive.import_records(SourceInfo("x.csv", "ab" * 32, 10, "generic"),
                               [Message("generic", "c1", datetime(2026, 1, 1, tzinfo=timezone.utc), text="旧消息")])
        ledger = Ledger(archive)
        ledger.append_pending(checkpoint_if_empty=True)
        source = archive.db.execute("SELECT id FROM sources").fetchone()[0]
    # an archive signed before this leaf kind existed: a source leaf, its message, no sightings leaf
    tamper(db, "DROP TRIGGER ledger_leaves_no_delete")
    tamper(db, "DROP TRIGGER ledger_sightings_no_delete")
    tamper(db, "DROP TRIGGER ledger_conversations_no_delete")
    tamper(db, "DELETE FROM ledger_leaves WHERE kind IN (4, 5)")  # nor conversations leaves
    tamper(db, "DELETE FROM ledger_sightings")
    tamper(db, "DELETE FROM ledger_conversations")
    with Archive(db) as archive:
        ledger = Ledger(archive)
        assert ledger.leaf_count() == 2
        builder = TreeBuilder()
        builder.extend(ledger.stored_leaf_hashes())
        archive.db.execute("BEGIN")
        old_style = ledger._write_checkpoint(builder)  # sign the tree as the code before sightings leaves did
        archive.db.execute("COMMIT")
        assert old_style.tree_size == 2
    tamper(db, "DROP TRIGGER ledger_checkpoints_no_delete")
    tamper(db, "DELETE FROM ledger_checkpoints WHERE tree_size = 4")
    (tmp_path / "old.db.witness").unlink()  # such an archive predates witness files too
    report = report_of(db)
    assert report.ok, report.problems
    (notice,) = [n for n in report.notices if n["kind"] == "sightings_unsigned"]
    assert f"sightings of source {source} " in notice["detail"] and "not signed" in notice["detail"]


def test_redacting_a_sender_name_clears_every_copys_view_and_verify_stays_green(db: Path) -> None:
    message = message_of(db, "收到")
    with Archive(db) as archive:
        names = {r[0] for r in archive.db.execute("SELECT sender_name FROM sightings WHERE message = ?", (message,))}
        assert names - {None}  # the copies showed a name
        Ledger(archive).redact(message, ["sender_name"], "privacy request")
        left = {r[0] for r in archive.db.execute("SELECT sender_name FROM sightings WHERE message = ?", (message,))}
        assert left == {None}
    report = report_of(db)
    assert report.ok, report.problems
    assert any(n["kind"] == "redacted" for n in report.notices)
    # a redacted sighting given a value again behind the tool's back is caught
    tamper(db, "UPDATE sightings SET sender_name = '李先生' WHERE message = ?", (message,))
    assert not report_of(db).ok
