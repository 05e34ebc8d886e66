"""Cross-platform identity: the same person as a wxid, a WeCom userid, an e-mail address, a name.

An *identity* is ``platform:sender_key`` (sender_key = the sender id the export gave, else the
display name). A *person* groups identities the user linked. Likely links are suggested — same
e-mail address, same phone number, same display name on different platforms — and never applied
without the user saying so.
"""

from __future__ import annotations

import re

import orjson
from typing import Any, Iterator

from .errors import ChatAuditError
from .store import Archive

SENDER_KEY = "coalesce(m.sender_id, m.sender_name)"


def identities(archive: Archive) -> list[dict[str, Any]]:
    """Every sender identity with its names, counts, platforms span and linked person."""
    rows = archive.db.execute(
        f"SELECT m.platform, {SENDER_KEY} AS identity_key, json_group_array(DISTINCT m.sender_name) AS names,"
        " count(*) AS message_count, count(DISTINCT m.conversation) AS conversations,"
        " min(m.sent_at_ms) AS first_ms, max(m.sent_at_ms) AS last_ms, p.id AS person, p.name AS person_name"
        " FROM messages m"
        f" LEFT JOIN person_identities pi ON pi.platform = m.platform AND pi.sender_key = {SENDER_KEY}"
        " LEFT JOIN people p ON p.id = pi.person"
        f" WHERE {SENDER_KEY} IS NOT NULL"
        " GROUP BY m.platform, identity_key ORDER BY message_count DESC, m.platform, identity_key"  # ties: one order
    ).fetchall()
    from .store.sqlite import iso_from_ms

    return [
        {
            "identity": f"{r['platform']}:{r['identity_key']}",
            "platform": r["platform"],
            "sender_key": r["identity_key"],
            "names": sorted(n for n in orjson.loads(r["names"]) if n),
            "message_count": r["message_count"],
            "conversations": r["conversations"],
            "first_at": iso_from_ms(r["first_ms"]),
            "last_at": iso_from_ms(r["last_ms"]),
            "person": r["person"],
            "person_name": r["person_name"],
        }
        for r in rows
    ]


def _split_identity(ref: str) -> tuple[str, str]:
    if ":" not in ref:
        raise ChatAuditError(f"identity {ref!r} must be platform:sender (see `chataudit people`)")
    platform, key = ref.split(":", 1)
    return platform, key


def link(archive: Archive, refs: list[str], name: str | None = None) -> int:
    """Link identities into one person (merging persons they already belong to); returns its id."""
    if len(refs) < 1:
        raise ChatAuditError("people link needs at least one identity")
    db = archive.db
    parsed = [_split_identity(r) for r in refs]
    for platform, key in parsed:
        exists = db.execute(
            f"SELECT 1 FROM messages m WHERE m.platform = ? AND {SENDER_KEY} = ? LIMIT 1", (platform, key)
        ).fetchone()
        if exists is None:
            raise ChatAuditError(f"no messages from identity {platform}:{key} (see `chataudit people`)")
    db.execute("BEGIN IMMEDIATE")
    try:
        persons = sorted({
            row[0] for platform, key in parsed
            for row in db.execute("SELECT person FROM person_identities WHERE platform = ? AND sender_key = ?",
                                  (platform, key))
        })
        if persons:
            person = persons[0]
            for other in persons[1:]:
                db.execute("UPDATE person_identities SET person = ? WHERE person = ?", (person, other))
                db.execute("DELETE FROM people WHERE id = ?", (other,))
            if name:
                db.execute("UPDATE people SET name = ? WHERE id = ?", (name, person))
        else:
            default_name = name or _best_name(archive, parsed[0])
            person = db.execute("INSERT INTO people (name) VALUES (?)", (default_name,)).lastrowid
        for platform, key in parsed:
            db.execute(
                "INSERT INTO person_identities (person, platform, sender_key) VALUES (?, ?, ?)"
                " ON CONFLICT (platform, sender_key) DO UPDATE SET person = excluded.person",
                (person, platform, key),
            )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return person


def unlink(archive: Archive, refs: list[str]) -> None:
    for platform, key in (_split_identity(r) for r in refs):
        archive.db.execute("DELETE FROM person_identities WHERE platform = ? AND sender_key = ?", (platform, key))
    archive.db.execute("DELETE FROM people WHERE id NOT IN (SELECT person FROM person_identities)")


def _best_name(archive: Archive, identity: tuple[str, str]) -> str:
    row = archive.db.execute(
        f"SELECT m.sender_name FROM messages m WHERE m.platform = ? AND {SENDER_KEY} = ?"
        " AND m.sender_name IS NOT NULL GROUP BY m.sender_name ORDER BY count(*) DESC LIMIT 1",
        identity,
    ).fetchone()
    return row[0] if row else identity[1]


def people(archive: Archive) -> list[dict[str, Any]]:
    """Linked persons with their identities."""
    out = []
    for person in archive.db.execute("SELECT id, name FROM people ORDER BY id"):
        ids = [f"{r[0]}:{r[1]}" for r in archive.db.execute(
            "SELECT platform, sender_key FROM person_identities WHERE person = ? ORDER BY platform, sender_key",
            (person["id"],))]
        out.append({"id": person["id"], "name": person["name"], "identities": ids})
    return out


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(1[3-9]\d(?:[\s-]?\d){8})(?!\d)")


def _signals(identity: dict[str, Any]) -> set[tuple[str, str]]:
    """What can tie an identity to another: e-mail addresses, mainland mobile numbers, names."""
    found: set[tuple[str, str]] = set()
    texts = [identity["sender_key"], *identity["names"]]
    for text in texts:
        for email in EMAIL.findall(text or ""):
            found.add(("email", email.lower()))
        for phone in PHONE.findall(text or ""):
            found.add(("phone", re.sub(r"\D", "", phone)))
    for name in identity["names"]:
        normalized = re.sub(r"\s+", "", name or "").casefold()
        if len(normalized) >= 2:
            found.add(("name", normalized))
    return found


def suggestions(archive: Archive) -> list[dict[str, Any]]:
    """Pairs of identities on different platforms that share an e-mail, a phone or a name."""
    by_signal: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for identity in identities(archive):
        for signal in _signals(identity):
            by_signal.setdefault(signal, []).append(identity)
    seen: set[tuple[str, str]] = set()
    out = []
    for (reason, value), group in sorted(by_signal.items()):
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if a["platform"] == b["platform"]:
                    continue
                if a["person"] is not None and a["person"] == b["person"]:
                    continue  # already linked
                pair = tuple(sorted((a["identity"], b["identity"])))
                if pair in seen:
                    continue
                seen.add(pair)
                out.append({"identities": list(pair), "reason": reason, "value": value})
    return out


def resolve_person(archive: Archive, ref: str) -> tuple[int | None, list[tuple[str, str]]]:
    """A person by id or name, or a single identity ``platform:sender``; returns its identities."""
    row = None
    if ref.isdigit():
        row = archive.db.execute("SELECT id FROM people WHERE id = ?", (int(ref),)).fetchone()
    if row is None:
        row = archive.db.execute("SELECT id FROM people WHERE name = ?", (ref,)).fetchone()
    if row is not None:
        ids = archive.db.execute(
            "SELECT platform, sender_key FROM person_identities WHERE person = ?", (row[0],)).fetchall()
        return row[0], [(r[0], r[1]) for r in ids]
    if ":" in ref:
        platform, key = _split_identity(ref)
        return None, [(platform, key)]
    raise ChatAuditError(f"no person {ref!r} (see `chataudit people`; link identities with `people link`)")


def person_timeline(archive: Archive, ref: str, since_ms: int | None = None,
                    until_ms: int | None = None) -> Iterator[dict[str, Any]]:
    """One merged timeline across platforms: what the person said, and both sides of their
    one-to-one conversations (where the other side's words matter as much)."""
    _, ids = resolve_person(archive, ref)
    if not ids:
        return iter(())
    pairs = " OR ".join(f"(m.platform = ? AND {SENDER_KEY} = ?)" for _ in ids)
    with_clause = (
        f"WITH mine AS (SELECT m.id, m.conversation FROM messages m WHERE {pairs}),"
        " private AS (SELECT m.conversation FROM messages m WHERE m.conversation IN"
        "   (SELECT DISTINCT conversation FROM mine)"
        "   GROUP BY m.conversation HAVING count(DISTINCT coalesce(m.sender_id, m.sender_name)) <= 2) "
    )
    return archive.select_messages(
        "m.id IN (SELECT id FROM mine) OR m.conversation IN (SELECT conversation FROM private)",
        [v for pair in ids for v in pair], since_ms, until_ms, with_clause,
    )
