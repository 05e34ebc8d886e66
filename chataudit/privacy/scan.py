"""Scan the archive for personal data, incrementally: findings are stored per message.

``pii_findings`` (migration 0004) holds every finding of every scanned message, and
``pii_scan_state.scanned_through`` the highest message id scanned. A scan looks only at messages
above that mark plus those whose text changed since (``pii_rescan``, filled by a trigger), so a
second scan of an unchanged archive reads nothing but the mark. Findings of an older recognizer
version are dropped and recomputed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Collection, Iterable

from ..errors import ChatAuditError
from ..store import Archive
from .recognizers import SENSITIVE, TYPES, VERSION, find

BATCH = 20_000

TRIGGERS = (
    """CREATE TRIGGER IF NOT EXISTS pii_text_changed AFTER UPDATE OF text ON messages
    WHEN old.text IS NOT new.text
    BEGIN
        DELETE FROM pii_findings WHERE message = old.id;
        INSERT OR IGNORE INTO pii_rescan (message)
            SELECT old.id FROM pii_scan_state WHERE scanned_through >= old.id;
    END""",
    # message ids are rowids: once the newest messages are deleted their ids can be given out
    # again, so the mark falls back to the newest message left
    """CREATE TRIGGER IF NOT EXISTS pii_message_deleted AFTER DELETE ON messages
    BEGIN
        DELETE FROM pii_rescan WHERE message = old.id;
        UPDATE pii_scan_state SET scanned_through = (SELECT coalesce(max(id), 0) FROM messages)
            WHERE scanned_through > (SELECT coalesce(max(id), 0) FROM messages);
    END""",
)


@dataclass
class ScanResult:
    findings: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    scanned: int = 0  # messages read by this run (new or changed since the last scan)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"findings": self.findings, "counts": self.counts, "scanned": self.scanned,
                "seconds": round(self.seconds, 3)}


def parse_types(value: str | Iterable[str] | None) -> frozenset[str] | None:
    """``--types mobile,id_card`` as a set of known type names (None: all)."""
    if value is None:
        return None
    names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    unknown = [n for n in names if n not in TYPES]
    if unknown:
        raise ChatAuditError(f"unknown type(s) {', '.join(unknown)} (known: {', '.join(TYPES)})")
    return frozenset(names) or None


def _ensure_ready(archive: Archive) -> int:
    """Triggers in place, state row present, stale findings dropped; returns the scanned mark."""
    db = archive.db
    for statement in TRIGGERS:
        db.execute(statement)
    row = db.execute("SELECT scanned_through, recognizers FROM pii_scan_state WHERE id = 1").fetchone()
    if row is None:
        db.execute("INSERT INTO pii_scan_state (id, scanned_through, recognizers) VALUES (1, 0, ?)", (VERSION,))
        return 0
    if row["recognizers"] != VERSION:
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM pii_findings")
        db.execute("DELETE FROM pii_rescan")
        db.execute("UPDATE pii_scan_state SET scanned_through = 0, recognizers = ? WHERE id = 1", (VERSION,))
        db.execute("COMMIT")
        return 0
    return row["scanned_through"]


def update(archive: Archive, progress: Callable[[int], None] | None = None, batch: int = BATCH) -> int:
    """Store the findings of every message not scanned yet; returns how many messages were read."""
    db = archive.db
    mark = _ensure_ready(archive)
    scanned = 0
    insert = 'INSERT OR REPLACE INTO pii_findings (message, start, "end", type, value) VALUES (?, ?, ?, ?, ?)'

    def store(rows: list[tuple[int, str]], new_mark: int | None) -> None:
        found = [(mid, f.start, f.end, f.type, f.value) for mid, text in rows for f in find(text)]
        db.execute("BEGIN IMMEDIATE")
        try:
            if new_mark is None:  # changed messages: their old findings were dropped by the trigger
                db.executemany("DELETE FROM pii_findings WHERE message = ?", [(mid,) for mid, _ in rows])
                db.executemany("DELETE FROM pii_rescan WHERE message = ?", [(mid,) for mid, _ in rows])
            db.executemany(insert, found)
            if new_mark is not None:
                db.execute("UPDATE pii_scan_state SET scanned_through = ?, scanned_at = ? WHERE id = 1",
                           (new_mark, datetime.now(timezone.utc).isoformat(timespec="seconds")))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    changed = [r[0] for r in db.execute("SELECT message FROM pii_rescan ORDER BY message")]
    for i in range(0, len(changed), 500):
        ids = changed[i:i + 500]
        rows = db.execute(f"SELECT id, text FROM messages WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall()
        store([(r[0], r[1]) for r in rows], None)
        gone = set(ids) - {r[0] for r in rows}
        if gone:
            db.executemany("DELETE FROM pii_rescan WHERE message = ?", [(g,) for g in gone])
        scanned += len(rows)
    while True:
        rows = db.execute("SELECT id, text FROM messages WHERE id > ? ORDER BY id LIMIT ?", (mark, batch)).fetchall()
        if not rows:
            break
        mark = rows[-1][0]
        store([(r[0], r[1]) for r in rows], mark)
        scanned += len(rows)
        if progress is not None:
            progress(scanned)
    return scanned


def _scope(archive: Archive, conversation: str | None, person: str | None) -> tuple[str, list[Any]]:
    """SQL condition on ``m`` (messages) for --conversation / --person, as ``messages`` reads them."""
    if conversation and person:
        raise ChatAuditError("give at most one of --conversation or --person")
    if conversation:
        return "m.conversation = ?", [archive.resolve_conversation(conversation)["id"]]
    if person:
        from ..people import SENDER_KEY, resolve_person

        _, ids = resolve_person(archive, person)
        if not ids:
            return "0", []
        pairs = " OR ".join(f"(x.platform = ? AND {SENDER_KEY.replace('m.', 'x.')} = ?)" for _ in ids)
        params: list[Any] = [v for pair in ids for v in pair]
        # what the person said, plus both sides of their one-to-one conversations
        condition = (
            f"(m.id IN (SELECT x.id FROM messages x WHERE {pairs}) OR m.conversation IN ("
            " SELECT y.conversation FROM messages y WHERE y.conversation IN"
            f"  (SELECT DISTINCT x.conversation FROM messages x WHERE {pairs})"
            " GROUP BY y.conversation HAVING count(DISTINCT coalesce(y.sender_id, y.sender_name)) <= 2))"
        )
        return condition, params + params
    return "1", []


def findings(archive: Archive, *, conversation: str | None = None, person: str | None = None,
             types: Collection[str] | None = None) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Stored findings (run :func:`update` first) in message and text order, and counts by type."""
    condition, params = _scope(archive, conversation, person)
    sql = ('SELECT f.message, f.type, f.value, f.start, f."end" FROM pii_findings f'
           f" JOIN messages m ON m.id = f.message WHERE {condition}")
    if types:
        sql += f" AND f.type IN ({','.join('?' * len(types))})"
        params = params + sorted(types)
    sql += " ORDER BY f.message, f.start"
    rows = []
    counts: dict[str, int] = {}
    for r in archive.db.execute(sql, params):
        rows.append({"message_id": r[0], "type": r[1], "value": r[2], "start": r[3], "end": r[4],
                     "sensitive": r[1] in SENSITIVE})
        counts[r[1]] = counts.get(r[1], 0) + 1
    return rows, dict(sorted(counts.items()))


def scan(archive: Archive, *, conversation: str | None = None, person: str | None = None,
         types: str | Collection[str] | None = None, progress: Callable[[int], None] | None = None) -> ScanResult:
    """``pii scan``: bring the stored findings up to date, then list those in scope."""
    started = time.perf_counter()
    wanted = parse_types(types) if types is not None else None
    _scope(archive, conversation, person)  # a bad reference fails before any scanning
    scanned = update(archive, progress)
    rows, counts = findings(archive, conversation=conversation, person=person, types=wanted)
    return ScanResult(rows, counts, scanned, time.perf_counter() - started)
