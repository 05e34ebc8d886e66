"""`chataudit migrate SOURCE TARGET`: move an archive between stores (SQLite file ↔ PostgreSQL).

Every table both stores have is copied row for row, ids included: sources, conversations, messages,
sightings, the ledger (leaves, checkpoints, kept sighting and conversation hashes, events, time-stamps),
governance records (audit trail, authorizations, holds, retention), settings (the archive's origin and
recorded verifier key) and every capability's tables. Nothing is re-signed: the target's checkpoints
are the source's, so its checkpoint root is the same and `verify` recomputes the same tree. The
full-text index is not copied (its form differs per store) but made again from the messages, as the
store makes it on import. The signing key and its witness file stay outside both archives; when the
target's default key file differs from the source's, they are copied there (mode 0600, never over a
different key).

The target must be empty (a new SQLite file or an empty PostgreSQL database); the copy is one
transaction under its write lock, so a failure leaves it empty. The source is only read.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from ..errors import ChatAuditError
from .sqlite import ROWID_SHIFT, Archive, is_postgres

BATCH = 5000
SKIPPED = {"schema_migrations", "message_fts", "message_fts_data", "message_fts_idx", "message_fts_docsize",
           "message_fts_config", "message_fts_content"}


def _tables(archive: Archive) -> list[str]:
    if is_postgres(archive.path):
        rows = archive.db.raw.execute(  # a partition's rows are its parent's (migration pg/0024)
            "SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relkind IN ('r', 'p') AND NOT relispartition").fetchall()
    else:
        rows = archive.db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").fetchall()
    return sorted(r[0] for r in rows if r[0] not in SKIPPED)


def _columns(archive: Archive, table: str) -> list[str]:
    if is_postgres(archive.path):
        rows = archive.db.raw.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
                                      " AND table_name = $1 ORDER BY ordinal_position", (table,)).fetchall()
        return [r[0] for r in rows]
    return [r[1] for r in archive.db.execute(f'PRAGMA table_info("{table}")').fetchall()]


def _order(archive: Archive, tables: list[str]) -> list[str]:
    """Tables in an order where each comes after the tables its foreign keys point at (PostgreSQL
    checks them as rows arrive; SQLite's are off during the copy)."""
    if not is_postgres(archive.path):
        return tables
    edges = archive.db.raw.execute(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint WHERE contype = 'f'").fetchall()
    after: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in edges:
        if child in after and parent in after and child != parent:
            after[child].add(parent)
    ordered: list[str] = []
    while after:
        ready = sorted(t for t, parents in after.items() if not parents - set(ordered))
        if not ready:
            raise ChatAuditError("migrate: the target's foreign keys form a cycle")
        ordered += ready
        for t in ready:
            del after[t]
    return ordered


def _rows(archive: Archive, table: str, columns: list[str]):
    names = ", ".join(f'"{c}"' for c in columns)
    if is_postgres(archive.path):
        cursor = archive.db.raw.cursor(name=f"migrate_{table}")  # server-side: streamed, not loaded at once
        cursor.itersize = BATCH
        cursor.execute(f'SELECT {names} FROM "{table}"')
        while rows := cursor.fetchmany(BATCH):
            yield [tuple(r) for r in rows]
        cursor.close()
        return
    cursor = archive.db.execute(f'SELECT {names} FROM "{table}"')
    while rows := cursor.fetchmany(BATCH):
        yield [tuple(r) for r in rows]


def _empty(target: Archive) -> bool:
    return all(target.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 0
               for t in ("sources", "messages", "ledger_leaves", "ledger_checkpoints", "governance_audit"))


def _copy_key(source: Archive, target: Archive) -> str | None:
    """The signing key (and witness file) where the target will look for it, when that differs."""
    from ..ledger.keys import KEY_PATH_SETTING, resolve_key_path
    from ..ledger.witness import witness_path

    recorded = source.setting(KEY_PATH_SETTING)
    kept, wanted = resolve_key_path(source.path, None, recorded), resolve_key_path(target.path, None, recorded)
    if kept == wanted or not kept.exists():
        return None
    if wanted.exists():
        if wanted.read_bytes() != kept.read_bytes():
            raise ChatAuditError(f"migrate: {wanted} holds another signing key; move it away or pass --key / $CHATAUDIT_KEY")
        return str(wanted)
    wanted.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(kept, wanted)
    wanted.chmod(0o600)
    old_witness, new_witness = witness_path(kept), witness_path(wanted)
    if old_witness.exists() and not new_witness.exists():
        shutil.copy2(old_witness, new_witness)
    return str(wanted)


def _rebuild_index(target: Archive) -> None:
    if not is_postgres(target.path):
        target.db.execute("INSERT INTO message_fts (rowid, body)"
                          " SELECT (sent_at_ms / 1000) * ? + id, index_body(text) FROM messages", (ROWID_SHIFT,))
        return
    from ..textindex import index_body
    from .pgsearch import tsvector_text

    raw = target.db.raw
    last = 0
    while rows := raw.execute("SELECT id, (sent_at_ms / 1000) * $1 + id, text FROM messages WHERE id > $2"
                              " ORDER BY id LIMIT $3", (ROWID_SHIFT, last, BATCH)).fetchall():
        with raw.cursor().copy("COPY message_fts (rowid, words) FROM STDIN") as copy:
            for _id, rowid, text in rows:
                copy.write_row((rowid, tsvector_text(index_body(text))))
        last = rows[-1][0]


def transfer(source_location: Any, target_location: Any) -> dict[str, Any]:
    """Copy the archive at ``source_location`` into the empty archive at ``target_location``."""
    started = time.monotonic()
    if str(source_location) == str(target_location):
        raise ChatAuditError("migrate: SOURCE and TARGET are the same archive")
    with Archive(source_location, create=False) as source, Archive(target_location) as target:
        if not _empty(target):
            raise ChatAuditError(f"migrate: the target already holds an archive; give a new file or an empty database")
        shared = [t for t in _tables(source) if t in set(_tables(target))]
        counts: dict[str, int] = {}
        pg = is_postgres(target.path)
        if not pg:
            target.db.execute("PRAGMA foreign_keys = OFF")  # rows arrive table by table (restored below)
        if pg:  # the months the messages need, before the copy's transaction locks the table
            target.ensure_partitions(r[0] for r in source.db.execute(
                "SELECT DISTINCT sent_at_ms - sent_at_ms % 86400000 FROM messages").fetchall())
        source.db.execute("BEGIN")  # one snapshot of the source
        target.db.execute("BEGIN IMMEDIATE")
        try:
            for table in _order(target, shared):
                columns = [c for c in _columns(source, table) if c in set(_columns(target, table))]
                names = ", ".join(f'"{c}"' for c in columns)
                counts[table] = 0
                if pg:
                    raw = target.db.raw
                    raw.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')  # guards refuse no copied row twice
                    with raw.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                        for rows in _rows(source, table, columns):
                            for row in rows:
                                copy.write_row(row)
                            counts[table] += len(rows)
                    raw.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
                else:
                    insert = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
                    for rows in _rows(source, table, columns):
                        target.db.executemany(insert, rows)
                        counts[table] += len(rows)
            _rebuild_index(target)
            target.db.execute("COMMIT")
        except BaseException:
            target.db.execute("ROLLBACK")
            raise
        finally:
            source.db.execute("ROLLBACK")
            if not pg:
                target.db.execute("PRAGMA foreign_keys = ON")
        target.settle()
        key = _copy_key(source, target)
        latest = target.db.execute("SELECT tree_size, root FROM ledger_checkpoints ORDER BY id DESC LIMIT 1").fetchone()
    return {
        "source": str(source_location) if not is_postgres(source_location) else _shown(source_location),
        "target": str(target_location) if not is_postgres(target_location) else _shown(target_location),
        "tables": len(counts),
        "rows": sum(counts.values()),
        "messages": counts.get("messages", 0),
        "tree_size": latest[0] if latest else 0,
        "root": bytes(latest[1]).hex() if latest else None,
        "key_copied_to": key,
        "seconds": round(time.monotonic() - started, 2),
    }


def _shown(url: Any) -> str:
    from .postgres import shown

    return shown(str(url))
