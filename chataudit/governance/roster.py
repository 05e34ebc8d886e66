"""The employees: the roster CSV ``id,name,role,hired_on[,team]`` that `quality --roster` reads.

In enterprise mode a message is an employee's when its sender id is a roster id, its sender name a
roster name (as `quality` matches agents), or its identity is linked (`people link`) to a person
who is on the roster by name or by one of those identities. Role ``bot`` marks automated accounts,
which are nobody's personal data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..errors import ChatAuditError
from ..quality.config import load_roster
from ..store import Archive
from . import audit

ROSTER_COMMAND = "roster set"
COLUMNS = ("id", "name", "role", "hired_on", "team")


def roster(archive: Archive) -> list[dict[str, Any]]:
    return [dict(zip(COLUMNS, row)) for row in archive.db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM governance_roster ORDER BY id")]


def digest(rows: list[dict[str, Any]]) -> str:
    """SHA-256 of the roster as stored (canonical JSON, by id): what its audit entry records."""
    ordered = sorted(([r[c] for c in COLUMNS] for r in rows), key=lambda r: r[0])
    return hashlib.sha256(audit.canonical_json(ordered).encode()).hexdigest()


def set_roster(archive: Archive, path: str | Path, *, operator: str, params: dict[str, Any]) -> dict[str, Any]:
    """Replace the roster with the file's and record the change (one transaction)."""
    entries = load_roster(path)
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries, start=1):
        if entry.id in seen:
            raise ChatAuditError(f"{path}: id {entry.id!r} is listed twice (entries {seen[entry.id]} and {number})")
        seen[entry.id] = number
    rows = [{"id": e.id, "name": e.name, "role": e.role, "hired_on": e.hired_on.isoformat() if e.hired_on else None,
             "team": e.team} for e in entries]
    file_sha256 = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    db = archive.db
    with audit.transaction(db):
        db.execute("DELETE FROM governance_roster")
        db.executemany(f"INSERT INTO governance_roster ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?)",
                       [tuple(r[c] for c in COLUMNS) for r in rows])
        roster_sha256 = digest(rows)
        entry = audit.record(archive, operator=operator, command=ROSTER_COMMAND, params=params,
                             facts={"members": len(rows), "roster_sha256": roster_sha256, "file_sha256": file_sha256})
    return {"members": len(rows), "roster_sha256": roster_sha256, "file_sha256": file_sha256, "audit_entry": entry}


def check_unchanged(archive: Archive) -> list[dict[str, Any]]:
    """The roster, refused when it differs from the one `roster set` last recorded."""
    rows = roster(archive)
    last = audit.latest_facts(archive, ROSTER_COMMAND, "roster_sha256")
    if last is None:
        if rows:
            raise ChatAuditError("the roster was written behind the tool's back (no `roster set` recorded it); "
                                 "set it with `chataudit roster set FILE`")
        return rows
    if digest(rows) != last[1]["roster_sha256"]:
        raise ChatAuditError(f"the roster differs from the one `roster set` recorded (audit entry {last[0]}): it was "
                             "changed behind the tool's back; run `chataudit verify` and set it again")
    return rows


MEMBER_KEYS = "temp.governance_member_keys"


def load_member_keys(archive: Archive, rows: list[dict[str, Any]]) -> int:
    """Fill a temporary table ``(kind, platform, key) → member`` with what marks each employee's
    messages: roster ids (sender ids), roster names (sender names) and linked identities."""
    db = archive.db
    db.execute("CREATE TEMP TABLE IF NOT EXISTS governance_member_keys (kind TEXT NOT NULL, platform TEXT NOT NULL,"
               " key TEXT NOT NULL, member TEXT NOT NULL, PRIMARY KEY (kind, platform, key)) WITHOUT ROWID")
    db.execute(f"DELETE FROM {MEMBER_KEYS}")
    people = [r for r in rows if r["role"] != "bot"]
    db.executemany(f"INSERT OR IGNORE INTO {MEMBER_KEYS} VALUES ('id', '', ?, ?)", [(r["id"], r["id"]) for r in people])
    db.executemany(f"INSERT OR IGNORE INTO {MEMBER_KEYS} VALUES ('name', '', ?, ?)",
                   [(r["name"], r["id"]) for r in people])
    # identities linked to a person who is on the roster (by name, or through an identity keyed
    # by a roster id or name)
    for r in people:
        db.execute(
            f"INSERT OR IGNORE INTO {MEMBER_KEYS} SELECT 'identity', pi.platform, pi.sender_key, ?"
            " FROM person_identities pi WHERE pi.person IN ("
            "  SELECT id FROM people WHERE name = ?"
            "  UNION SELECT person FROM person_identities WHERE sender_key IN (?, ?))",
            (r["id"], r["name"], r["id"], r["name"]))
    return len(people)


MEMBER_OF_MESSAGE = (
    "coalesce("
    f"(SELECT member FROM {MEMBER_KEYS} k WHERE k.kind = 'id' AND k.platform = '' AND k.key = m.sender_id),"
    f"(SELECT member FROM {MEMBER_KEYS} k WHERE k.kind = 'name' AND k.platform = '' AND k.key = m.sender_name),"
    f"(SELECT member FROM {MEMBER_KEYS} k WHERE k.kind = 'identity' AND k.platform = m.platform"
    "  AND k.key = coalesce(m.sender_id, m.sender_name)))"
)
