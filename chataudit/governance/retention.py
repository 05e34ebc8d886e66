"""Retention rules, legal holds, and retention runs that purge through the ledger.

A rule keeps messages for a duration (``2y``, ``18m``, ``6w``, ``90d``) or for ever (``keep``),
per conversation, source label or platform, or by default; the most specific rule that applies to
a message decides (conversation, then label, then platform, then default; among several labels of
the copies that hold a message, the longest retention). No rule: kept.

A run lists every message older than its rule allows. A legal hold (a conversation, or a person's
timeline as `messages --person` shows it; :mod:`.holds`) keeps what it covers until it is released,
and the run reports what each hold kept. The run takes the holds from the signed audit trail, and
refuses to run when it cannot verify them. Applying a run purges the rest through :meth:`Ledger.purge_many`:
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
from .holds import verified_holds
from .scope import person_sql

KEEP = "keep"
DURATION = re.compile(r"^(\d+)\s*([ymwd])$")
UNITS = {"y": "years", "m": "months", "w": "weeks", "d": "days"}
KINDS = ("conversation", "label", "platform", "default")  # most specific first
SET_COMMAND, APPLY_COMMAND = "retention set", "retention apply"


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


# ---- runs ----------------------------------------------------------------------------------------------------

def as_of_instant(archive: Archive, as_of: str | None) -> datetime:
    from ..importer import archive_zone_name

    tz = zone(archive_zone_name(archive))
    return parse_user_time(as_of, tz) if as_of else clock.now().astimezone(tz)


def plan(archive: Archive, as_of: datetime, active_holds: list[dict[str, Any]]) -> dict[str, Any]:
    """What a run at ``as_of`` would purge and what ``active_holds`` (:func:`.holds.verified_holds`)
    keep: two set-based queries."""
    db = archive.db
    current = rules(archive)
    db.execute("CREATE TEMP TABLE IF NOT EXISTS governance_rules (id INTEGER PRIMARY KEY, kind TEXT, value TEXT,"
               " selector TEXT, keep TEXT, cutoff_ms INTEGER)")
    db.execute("DELETE FROM temp.governance_rules")
    for rule in current:
        moment = cutoff(rule["keep"], as_of)
        rule["cutoff"] = moment.isoformat() if moment else None
        value: Any = str(int(rule["value"])) if rule["kind"] == "conversation" else rule["value"]  # one type: text
        db.execute("INSERT INTO temp.governance_rules (kind, value, selector, keep, cutoff_ms) VALUES (?, ?, ?, ?, ?)",
                   (rule["kind"], value, rule["selector"], rule["keep"], utc_ms(moment) if moment else None))
    deciding = {
        "conversation": "(SELECT r.id FROM temp.governance_rules r WHERE r.kind = 'conversation' AND r.value = CAST(m.conversation AS TEXT))",
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
    kept = _held(archive, active_holds)
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


def _held(archive: Archive, active_holds: list[dict[str, Any]]) -> dict[int, tuple[int, str]]:
    """Due messages a legal hold keeps: message id → (hold id, reason)."""
    db = archive.db
    db.execute("CREATE TEMP TABLE IF NOT EXISTS governance_held_identities (platform TEXT NOT NULL,"
               " sender_key TEXT NOT NULL, PRIMARY KEY (platform, sender_key)) WITHOUT ROWID")
    kept: dict[int, tuple[int, str]] = {}
    for entry in active_holds:
        hold_id, reason = entry["id"], entry["reason"]
        if entry["kind"] == "conversation":
            found = db.execute("SELECT d.message FROM temp.governance_due d JOIN messages m ON m.id = d.message"
                               " WHERE m.conversation = ?", (entry["conversation"],)).fetchall()
        else:
            db.execute("DELETE FROM temp.governance_held_identities")
            db.executemany("INSERT OR IGNORE INTO temp.governance_held_identities VALUES (?, ?)",
                           [tuple(identity.split(":", 1)) for identity in entry["identities"] if ":" in identity])
            found = db.execute(
                "SELECT d.message FROM temp.governance_due d JOIN messages m ON m.id = d.message"
                " JOIN temp.governance_held_identities i ON i.platform = m.platform"
                " AND i.sender_key = coalesce(m.sender_id, m.sender_name)").fetchall()
            try:
                with_clause, where, params = person_sql(archive, entry["target"])
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
    with audit.transaction(archive.db):  # no hold is placed or released between the check and the purge
        result = plan(archive, moment, verified_holds(archive, key_path))
        result["dry_run"] = dry_run
        plan_sha256 = hashlib.sha256(audit.canonical_json({"purge": result["purge"], "held": result["held"]})
                                     .encode()).hexdigest()
        facts = {"as_of": result["as_of"], "dry_run": dry_run, "purge": len(result["purge"]),
                 "held": len(result["held"]), "by_hold": result["counts"]["by_hold"],
                 "rules": {r["selector"]: r["keep"] for r in result["rules"]}, "plan_sha256": plan_sha256}
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
