"""Retention rules, legal holds, and retention runs that purge through the ledger.

A rule keeps messages for a duration (``2y``, ``18m``, ``6w``, ``90d``) or for ever (``keep``),
per conversation, source label or platform, or by default; the most specific rule that applies to
a message decides (conversation, then label, then platform, then default; among several labels of
the copies that hold a message, the longest retention). No rule: kept.

A run lists every message older than its rule allows. A legal hold (a conversation, or a person's
timeline as `messages --person` shows it) keeps what it covers until it is released, and the run
reports what each hold kept. Applying a run purges the rest through :meth:`Ledger.purge_many`:
the content, its full-text rows and sightings go, the leaf hash stays as a tombstone, and a signed
purge event names the rule, so `verify` reports a purge and not tampering.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import ChatAuditError
from ..ledger.log import Ledger
from ..model import parse_user_time, utc_ms, zone
from ..store import Archive
from ..store.sqlite import iso_from_ms
from . import audit, clock
from .scope import person_sql

KEEP = "keep"
DURATION = re.compile(r"^(\d+)\s*([ymwd])$")
UNITS = {"y": "years", "m": "months", "w": "weeks", "d": "days"}
KINDS = ("conversation", "label", "platform", "default")  # most specific first
SET_COMMAND, APPLY_COMMAND = "retention set", "retention apply"
HOLD_COMMAND, RELEASE_COMMAND = "hold add", "hold release"


# ---- rules ---------------------------------------------------------------------------------------------

def parse_keep(text: Any) -> str:
    value = str(text).strip().lower()
    if value in (KEEP, "forever"):
        return KEEP
    if not DURATION.match(value):
        raise ChatAuditError(f"retention {text!r}: use keep or a duration like 2y, 18m, 6w, 90d")
    return value.replace(" ", "")


def cutoff(keep: str, as_of: datetime) -> datetime | None:
    """The instant before which a message is older than ``keep`` allows (None: kept for ever)."""
    if keep == KEEP:
        return None
    number, unit = DURATION.match(keep).groups()  # type: ignore[union-attr]
    number = int(number)
    if unit in "wd":
        return as_of - timedelta(days=number * (7 if unit == "w" else 1))
    months = as_of.year * 12 + as_of.month - 1 - number * (12 if unit == "y" else 1)
    year, month = divmod(months, 12)
    return as_of.replace(year=year, month=month + 1, day=min(as_of.day, calendar.monthrange(year, month + 1)[1]))


def parse_selector(archive: Archive, text: str) -> tuple[str, str]:
    """``default``, ``platform:NAME`` (or a bare platform name), ``label:LABEL`` or ``conversation:REF``."""
    text = str(text).strip()
    if text.lower() == "default":
        return "default", ""
    kind, sep, value = text.partition(":")
    kind = kind.lower()
    if not sep or kind not in KINDS:
        kind, value = "platform", text
    if not value:
        raise ChatAuditError(f"retention selector {text!r}: use default, platform:NAME, label:LABEL or conversation:REF")
    if kind == "conversation":
        value = str(archive.resolve_conversation(value)["id"])
    return kind, value


def selector_text(kind: str, value: str) -> str:
    return "default" if kind == "default" else f"{kind}:{value}"


def rules(archive: Archive) -> list[dict[str, Any]]:
    found = []
    for selector, keep in archive.db.execute("SELECT selector, keep FROM governance_retention"):
        kind, _, value = selector.partition(":")
        found.append({"selector": selector, "kind": kind, "value": value, "keep": keep})
    return sorted(found, key=lambda r: (KINDS.index(r["kind"]), r["value"]))


def load_rules_file(path: str | Path) -> dict[str, str]:
    """YAML or TOML: ``dingtalk: 2y``, ``default: keep``, ``"label:alice-phone": 1y``, or nested
    ``platform: {dingtalk: 2y}`` / ``label: {…}`` / ``conversation: {…}``."""
    from ..quality.config import load_yaml, read_text

    text = read_text(path)
    if str(path).lower().endswith(".toml"):
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ChatAuditError(f"{path}: not valid TOML ({error})") from None
    else:
        doc = load_yaml(text, str(path))
    if not isinstance(doc, dict):
        raise ChatAuditError(f"{path}: expected selector: duration entries, e.g. `dingtalk: 2y` and `default: keep`")
    flat: dict[str, str] = {}
    for key, value in doc.items():
        if isinstance(value, dict) and key in ("platform", "label", "conversation"):
            for inner, keep in value.items():
                flat[f"{key}:{inner}"] = str(keep)
        else:
            flat[str(key)] = str(value)
    return flat


def set_rules(archive: Archive, new_rules: dict[str, str], *, replace: bool, operator: str,
              params: dict[str, Any]) -> list[dict[str, Any]]:
    parsed = {selector_text(*parse_selector(archive, s)): parse_keep(k) for s, k in new_rules.items()}
    db = archive.db
    with audit.transaction(db):
        if replace:
            db.execute("DELETE FROM governance_retention")
        db.executemany("INSERT INTO governance_retention (selector, keep) VALUES (?, ?)"
                       " ON CONFLICT (selector) DO UPDATE SET keep = excluded.keep", list(parsed.items()))
        current = rules(archive)
        audit.record(archive, operator=operator, command=SET_COMMAND, params=params,
                     facts={"rules": {r["selector"]: r["keep"] for r in current}, "replaced": replace})
    return current


# ---- holds -------------------------------------------------------------------------------------------------

def add_hold(archive: Archive, *, conversation: str | None, person: str | None, reason: str, operator: str,
             params: dict[str, Any]) -> dict[str, Any]:
    from ..people import resolve_person

    if bool(conversation) == bool(person):
        raise ChatAuditError("a hold covers exactly one --conversation or --person")
    if not reason.strip():
        raise ChatAuditError("a hold needs its --reason (the matter it is kept for)")
    db = archive.db
    identities: list[tuple[str, str]] = []
    conversation_id = None
    if conversation:
        conversation_id = archive.resolve_conversation(conversation)["id"]
    else:
        _, identities = resolve_person(archive, person)  # type: ignore[arg-type]
    with audit.transaction(db):
        hold_id = db.execute(
            "INSERT INTO governance_holds (kind, target, conversation, reason, placed_by, placed_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            ("conversation" if conversation else "person", conversation or person, conversation_id, reason, operator,
             clock.iso())).lastrowid
        db.executemany("INSERT OR IGNORE INTO governance_hold_identities (hold, platform, sender_key) VALUES (?, ?, ?)",
                       [(hold_id, p, k) for p, k in identities])
        audit.record(archive, operator=operator, command=HOLD_COMMAND, params=params,
                     facts={"hold": hold_id, "conversation": conversation_id,
                            "identities": [f"{p}:{k}" for p, k in identities]})
    return hold(archive, hold_id)


def release_hold(archive: Archive, hold_id: int, reason: str | None, *, operator: str,
                 params: dict[str, Any]) -> dict[str, Any]:
    current = hold(archive, hold_id)
    if current["released_at"]:
        raise ChatAuditError(f"hold {hold_id} was already released on {current['released_at']}")
    with audit.transaction(archive.db):
        archive.db.execute("UPDATE governance_holds SET released_at = ?, released_by = ?, release_reason = ?"
                           " WHERE id = ?", (clock.iso(), operator, reason, hold_id))
        audit.record(archive, operator=operator, command=RELEASE_COMMAND, params=params,
                     facts={"hold": hold_id, "reason": reason})
    return hold(archive, hold_id)


HOLD_KEYS = ("id", "kind", "target", "conversation", "reason", "placed_by", "placed_at", "released_at",
             "released_by", "release_reason")


def holds(archive: Archive, include_released: bool = False) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(HOLD_KEYS)} FROM governance_holds"
    if not include_released:
        sql += " WHERE released_at IS NULL"
    found = [dict(zip(HOLD_KEYS, row)) for row in archive.db.execute(sql + " ORDER BY id")]
    for entry in found:
        entry["identities"] = [f"{p}:{k}" for p, k in archive.db.execute(
            "SELECT platform, sender_key FROM governance_hold_identities WHERE hold = ? ORDER BY platform, sender_key",
            (entry["id"],))]
        entry["active"] = entry["released_at"] is None
    return found


def hold(archive: Archive, hold_id: int) -> dict[str, Any]:
    found = [h for h in holds(archive, include_released=True) if h["id"] == hold_id]
    if not found:
        raise ChatAuditError(f"no hold {hold_id} (see `chataudit hold list`)")
    return found[0]


# ---- runs ----------------------------------------------------------------------------------------------------

def as_of_instant(archive: Archive, as_of: str | None) -> datetime:
    from ..importer import archive_zone_name

    tz = zone(archive_zone_name(archive))
    return parse_user_time(as_of, tz) if as_of else clock.now().astimezone(tz)


def plan(archive: Archive, as_of: datetime) -> dict[str, Any]:
    """What a run at ``as_of`` would purge and what holds keep: two set-based queries."""
    db = archive.db
    current = rules(archive)
    db.execute("CREATE TEMP TABLE IF NOT EXISTS governance_rules (id INTEGER PRIMARY KEY, kind TEXT, value,"
               " selector TEXT, keep TEXT, cutoff_ms INTEGER)")
    db.execute("DELETE FROM temp.governance_rules")
    for rule in current:
        moment = cutoff(rule["keep"], as_of)
        rule["cutoff"] = moment.isoformat() if moment else None
        value: Any = int(rule["value"]) if rule["kind"] == "conversation" else rule["value"]
        db.execute("INSERT INTO temp.governance_rules (kind, value, selector, keep, cutoff_ms) VALUES (?, ?, ?, ?, ?)",
                   (rule["kind"], value, rule["selector"], rule["keep"], utc_ms(moment) if moment else None))
    deciding = {
        "conversation": "(SELECT r.id FROM temp.governance_rules r WHERE r.kind = 'conversation' AND r.value = m.conversation)",
        # among the labels of the copies holding the message, the longest retention (keep first)
        "label": "(SELECT r.id FROM temp.governance_rules r JOIN sightings si ON si.message = m.id"
                 " JOIN sources s ON s.id = si.source WHERE r.kind = 'label' AND r.value = s.label"
                 " ORDER BY r.cutoff_ms IS NOT NULL, r.cutoff_ms LIMIT 1)",
        "platform": "(SELECT r.id FROM temp.governance_rules r WHERE r.kind = 'platform' AND r.value = m.platform)",
        "default": "(SELECT r.id FROM temp.governance_rules r WHERE r.kind = 'default')",
    }
    present = [deciding[k] for k in KINDS if any(r["kind"] == k for r in current)]
    db.execute("CREATE TEMP TABLE IF NOT EXISTS governance_due (message INTEGER PRIMARY KEY, rule INTEGER NOT NULL)")
    db.execute("DELETE FROM temp.governance_due")
    oldest_cutoff = max((utc_ms(cutoff(r["keep"], as_of)) for r in current if r["keep"] != KEEP), default=None)
    if present and oldest_cutoff is not None:
        db.execute(
            "INSERT INTO temp.governance_due (message, rule) SELECT x.id, x.rule FROM"
            # NULL as a last argument: SQLite's coalesce() wants two at least, and one kind of rule is common
            f" (SELECT m.id, m.sent_at_ms, coalesce({', '.join(present)}, NULL) AS rule FROM messages m"
            "  WHERE m.sent_at_ms < ?) x JOIN temp.governance_rules r ON r.id = x.rule"
            " WHERE r.cutoff_ms IS NOT NULL AND x.sent_at_ms < r.cutoff_ms", (oldest_cutoff,))
    kept = _held(archive)
    rows = db.execute(
        "SELECT m.id, m.platform, m.conversation, c.native_id, c.title, coalesce(m.sender_name, m.sender_id),"
        " m.sent_at_ms, m.utc_offset_min, r.selector, r.keep, r.cutoff_ms"
        " FROM temp.governance_due d JOIN messages m ON m.id = d.message JOIN conversations c ON c.id = m.conversation"
        " JOIN temp.governance_rules r ON r.id = d.rule ORDER BY m.sent_at_ms, m.id").fetchall()
    purge, held = [], []
    tz = as_of.tzinfo
    for mid, platform, conversation, native, title, sender, sent_ms, offset, selector, keep, cutoff_ms in rows:
        item = {"message": mid, "platform": platform, "conversation": conversation,
                "conversation_native_id": native, "conversation_title": title, "sender": sender,
                "sent_at": iso_from_ms(sent_ms, offset), "rule": selector, "keep": keep,
                "reason": f"retention {selector} keeps {keep}: sent before {iso_from_ms(cutoff_ms, tz=tz)}"}
        if mid in kept:
            hold_id, hold_reason = kept[mid]
            held.append(item | {"hold": hold_id, "hold_reason": hold_reason})
        else:
            purge.append(item)
    by_hold: dict[int, int] = {}
    for item in held:
        by_hold[item["hold"]] = by_hold.get(item["hold"], 0) + 1
    return {"as_of": as_of.isoformat(), "rules": current, "purge": purge, "held": held,
            "counts": {"purge": len(purge), "held": len(held), "by_hold": by_hold}}


def _held(archive: Archive) -> dict[int, tuple[int, str]]:
    """Due messages a legal hold keeps: message id → (hold id, reason)."""
    db = archive.db
    kept: dict[int, tuple[int, str]] = {}
    for hold_id, kind, target, conversation, reason in db.execute(
            "SELECT id, kind, target, conversation, reason FROM governance_holds WHERE released_at IS NULL ORDER BY id"
    ).fetchall():
        if kind == "conversation":
            found = db.execute("SELECT d.message FROM temp.governance_due d JOIN messages m ON m.id = d.message"
                               " WHERE m.conversation = ?", (conversation,)).fetchall()
        else:
            found = db.execute(
                "SELECT d.message FROM temp.governance_due d JOIN messages m ON m.id = d.message"
                " JOIN governance_hold_identities i ON i.platform = m.platform"
                " AND i.sender_key = coalesce(m.sender_id, m.sender_name) WHERE i.hold = ?", (hold_id,)).fetchall()
            try:
                with_clause, where, params = person_sql(archive, target)
                found += db.execute(f"{with_clause}SELECT m.id FROM messages m WHERE {where}"
                                    " AND m.id IN (SELECT message FROM temp.governance_due)", params).fetchall()
            except ChatAuditError:
                pass  # the person was unlinked since: the identities recorded with the hold still count
        for (mid,) in found:
            kept.setdefault(mid, (hold_id, reason))
    return kept


def apply(archive: Archive, *, as_of: str | None, dry_run: bool, operator: str, params: dict[str, Any],
          key_path: str | None = None) -> dict[str, Any]:
    """Plan a run and, unless ``dry_run``, purge what it lists (one transaction with its audit entry).

    A run counts ages back from now; a later ``as_of`` would purge what the rules keep today, so it
    is only a preview (``dry_run``). An earlier one purges less, which is always safe."""
    moment = as_of_instant(archive, as_of)
    if not dry_run and moment > clock.now():
        raise ChatAuditError(f"--as-of {as_of} is in the future: a run purges only what the rules allow now "
                             "(use --dry-run to preview what a later run would purge)")
    result = plan(archive, moment)
    result["dry_run"] = dry_run
    plan_sha256 = hashlib.sha256(audit.canonical_json({"purge": result["purge"], "held": result["held"]})
                                 .encode()).hexdigest()
    facts = {"as_of": result["as_of"], "dry_run": dry_run, "purge": len(result["purge"]), "held": len(result["held"]),
             "by_hold": result["counts"]["by_hold"], "rules": {r["selector"]: r["keep"] for r in result["rules"]},
             "plan_sha256": plan_sha256}
    with audit.transaction(archive.db):
        if not dry_run and result["purge"]:
            checkpoint = Ledger(archive, key_path).purge_many((item["message"], item["reason"])
                                                              for item in result["purge"])
            result["checkpoint"] = checkpoint.as_dict()
            facts["tree_size"] = checkpoint.tree_size
        result["audit_entry"] = audit.record(archive, operator=operator, command=APPLY_COMMAND, params=params,
                                             records=len(result["purge"]), facts=facts)
    result["purged"] = 0 if dry_run else len(result["purge"])
    result["plan_sha256"] = plan_sha256
    return result
