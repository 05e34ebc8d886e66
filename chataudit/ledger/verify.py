"""``chataudit verify``: recompute every leaf from the archive and check it against the signed tree.

One streaming pass over the leaves in tree order (joined to their message rows) recomputes each
leaf hash from what the archive holds now and feeds it to an O(log n) tree builder. At each
checkpoint's size the builder's head is compared with the signed root, and the perfect subtrees
that the consistency proofs from every earlier checkpoint to the latest need are captured on the
way. A leaf that no longer matches names its message (conversation, sender, instant) and the kind
of damage; policy purges and redactions, which are signed events of the log, are told apart.
The checkpoint the witness file keeps outside the archive is proven consistent the same way (a
smaller tree is a cut tail), and the full-text index is compared with the messages.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from . import leaves as L
from .keys import load_key
from .log import SIGNED_AT_PREFIX, Ledger, _rows
from .merkle import ProofError, TreeBuilder, consistency_ranges, hash_from_pieces, perfect_pieces, verify_consistency
from .note import Checkpoint, NoteError, Verifier, open_note
from .witness import check_witness as _check_witness, witness_for_verify

MAX_PROBLEMS = 10_000
# every leaf in tree order with its message row (MESSAGE_COLUMNS first, then the ledger's columns)
VERIFY_QUERY = (f"SELECT {L.MESSAGE_COLUMNS}, l.idx, l.kind, l.ref, l.leaf_hash, l.salts, l.conversation,"
                " l.sent_at_ms, l.sender, l.fields FROM ledger_leaves l"
                " LEFT JOIN messages m ON l.kind = 1 AND m.id = l.ref ORDER BY l.idx")
REDACTED_PLACEHOLDER = {"text": "", "sender_id": None, "sender_name": None, "extras": None, "attachments": None}

# problem kinds (the README lists them)
NO_CHECKPOINT = "no_checkpoint"
CHECKPOINT_SIGNATURE = "checkpoint_signature"   # rewritten / forged / unsigned checkpoint
CHECKPOINT_ORDER = "checkpoint_order"
CHECKPOINT_ROOT = "checkpoint_root"             # archive no longer hashes to a signed root
INCONSISTENT = "inconsistent_checkpoint"        # an earlier signed head is not a prefix of the latest
LEDGER_REWRITTEN = "ledger_rewritten"           # leaf hashes rewritten along with the records
MISSING_LEAVES = "missing_leaves"
UNSIGNED_LEAVES = "unsigned_leaves"
MODIFIED = "modified"
DELETED = "deleted"
REORDERED = "reordered"
INSERTED = "inserted"
FUTURE_INSTANT = "future_instant"
CHECKPOINT_TIME = "checkpoint_time"
TIMESTAMP = "timestamp"
SEARCH_INDEX = "search_index"                   # the full-text index does not say what the messages say


@dataclass
class VerifyReport:
    ok: bool = True
    tree_size: int = 0
    root: str | None = None
    checked: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: int = 0
    timestamps: int = 0
    key: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    problem_count: int = 0
    witness: dict[str, Any] = field(default_factory=dict)
    index_checked: bool = False  # the full-text index was compared with the messages
    unsigned_conversations: list[int] = field(default_factory=list)  # title/type/members never signed
    timestamped: list[int] = field(default_factory=list)  # ids of checkpoints with a verified RFC 3161 token

    def add(self, kind: str, detail: str, message: dict[str, Any] | None = None) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            entry: dict[str, Any] = {"kind": kind}
            if message is not None:
                entry["message"] = message
            entry["detail"] = detail
            self.problems.append(entry)

    def notice(self, kind: str, detail: str, message: dict[str, Any] | None = None) -> None:
        entry: dict[str, Any] = {"kind": kind}
        if message is not None:
            entry["message"] = message
        entry["detail"] = detail
        self.notices.append(entry)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "tree_size": self.tree_size, "root": self.root, "checked": self.checked,
                "problems": self.problems, "problem_count": self.problem_count, "notices": self.notices,
                "checkpoints": self.checkpoints, "timestamps": self.timestamps, "timestamped": self.timestamped,
                "witness": self.witness, "index_checked": self.index_checked,
                "unsigned_conversations": self.unsigned_conversations, "key": self.key, "seconds": round(self.seconds, 3)}


def _iso(ms: int | None, offset_min: int = 0) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, timezone(timedelta(minutes=offset_min or 0))).isoformat()


def trusted_verifier(ledger: Ledger, verifier: Verifier | None = None,
                     key_path: str | Path | None = None) -> tuple[Verifier | None, str]:
    """The key checkpoints must be signed by, and where it came from.

    A verifier key given by the user, else the public half of the signing key file, else (weakest:
    someone who can rewrite the archive can rewrite it too) the key recorded in the archive.
    """
    if verifier is not None:
        return verifier, "given"
    path = Path(key_path) if key_path else ledger.key_path
    if path.exists():
        return load_key(path).verifier, f"key file {path}"
    recorded = ledger.recorded_verifier()
    return recorded, "archive (no key file found: pass --pubkey to check against a key you trust)"


def verify_archive(archive, *, verifier: Verifier | None = None, key_path: str | Path | None = None,
                   check_timestamps: bool = True, witness_path: str | Path | None = None,
                   check_index: bool = True) -> VerifyReport:
    """Recompute everything and compare it with the signed checkpoints and with the checkpoint the
    witness file keeps outside the archive (one read snapshot)."""
    db = archive.db
    own = not db.in_transaction
    if own:
        db.execute("BEGIN")  # a snapshot: an import committing meanwhile is not half-seen
    try:
        return _verify(archive, verifier, key_path, check_timestamps, witness_path, check_index)
    finally:
        if own:
            db.execute("ROLLBACK")


def _signed_time(head: Checkpoint) -> str | None:
    for line in head.extensions:
        if line.startswith(SIGNED_AT_PREFIX):
            return line[len(SIGNED_AT_PREFIX):]
    return None


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _verify(archive, verifier: Verifier | None, key_path: str | Path | None, check_timestamps: bool,
            witness_path: str | Path | None = None, check_index: bool = True) -> VerifyReport:
    started = time.perf_counter()
    ledger = Ledger(archive, key_path, witness_path=witness_path)
    report = VerifyReport()
    trusted, key_source = trusted_verifier(ledger, verifier, key_path)
    report.key = {"verifier_key": str(trusted) if trusted else None, "source": key_source}
    db = archive.db

    # ---- checkpoints: signatures, format, order ---------------------------------------------------
    signed: list[dict[str, Any]] = []  # valid checkpoints, by id
    for record in ledger.checkpoints():
        report.checkpoints += 1
        where = f"checkpoint {record.id} (signed {record.signed_at})"
        if trusted is None:
            report.add(CHECKPOINT_SIGNATURE, f"{where}: no verifier key to check it with")
            continue
        try:
            note = open_note(record.note, trusted)
            head = Checkpoint.from_text(note.text)
        except NoteError as error:
            report.add(CHECKPOINT_SIGNATURE, f"{where} was rewritten or is not signed by {trusted.name}+"
                                             f"{trusted.key_id:08x}: {error}")
            continue
        if ledger.origin and head.origin != ledger.origin:
            report.add(CHECKPOINT_SIGNATURE, f"{where} is for log {head.origin!r}, not this archive's {ledger.origin!r}")
            continue
        if head.size != record.tree_size or head.root != record.root:
            report.add(CHECKPOINT_SIGNATURE, f"{where}: its size/root columns were changed (the signed note says "
                                             f"size {head.size}, root {head.root.hex()})")
        if signed and head.size < signed[-1]["size"]:
            report.add(CHECKPOINT_ORDER, f"{where} has size {head.size}, smaller than checkpoint "
                                         f"{signed[-1]['id']} before it ({signed[-1]['size']})")
            continue
        signed_at, signed_ms, time_signed = record.signed_at, record.signed_at_ms, False
        claimed = _signed_time(head)
        if claimed is not None:
            try:
                claimed_ms = _ms(claimed)
            except ValueError:
                report.add(CHECKPOINT_SIGNATURE, f"checkpoint {record.id}: malformed signed time {claimed!r}")
            else:
                if (record.signed_at, record.signed_at_ms) != (claimed, claimed_ms):
                    report.add(CHECKPOINT_TIME, f"checkpoint {record.id}: its signing time was changed in the archive "
                                                f"(to {record.signed_at}, {_iso(record.signed_at_ms)}); the signed note "
                                                f"says {claimed}")
                signed_at, signed_ms, time_signed = claimed, claimed_ms, True
        signed.append({"id": record.id, "size": head.size, "root": head.root, "signed_at": signed_at,
                       "signed_at_ms": signed_ms, "note": record.note, "time_bound_ms": signed_ms,
                       "time_signed": time_signed})
    if not signed:
        if report.checkpoints == 0:
            report.add(NO_CHECKPOINT, "the archive has no signed checkpoint (run `chataudit init`)")
        report.ok = False
        report.seconds = time.perf_counter() - started
        return report

    unsigned_times = [entry["id"] for entry in signed if not entry["time_signed"]]
    if unsigned_times:
        report.notice("checkpoint_time_unsigned", f"{len(unsigned_times)} checkpoint(s) (ids {_id_list(unsigned_times)}) "
                                                  "predate signed signing times: their time is checked only "
                                                  "against the imports they sign")
    _check_checkpoint_times(db, signed, report)

    # ---- timestamps: verify tokens, and let a TSA's time bound the checkpoint's --------------------
    if check_timestamps:
        _check_timestamps(ledger, signed, report)
    latest = signed[-1]
    n_latest = latest["size"]
    witness = _load_witnessed(ledger, trusted, report)

    # time bound per checkpoint = the earliest trusted time it existed; a leaf's bound is the min over
    # all checkpoints that include it (suffix minimum over sizes)
    bound = None
    for entry in reversed(signed):
        bound = entry["time_bound_ms"] if bound is None else min(bound, entry["time_bound_ms"])
        entry["leaf_bound_ms"] = bound

    # ---- the nodes the consistency proofs need, captured while streaming --------------------------
    wanted: set[tuple[int, int]] = set()
    proof_ranges: dict[int, list[tuple[int, int]]] = {}
    for entry in signed[:-1]:
        ranges = consistency_ranges(entry["size"], n_latest) if entry["size"] <= n_latest else []
        proof_ranges[entry["id"]] = ranges
        for a, b in ranges:
            wanted.update(perfect_pieces(a, b))
    if witness is not None and witness["size"] <= n_latest:
        witness["ranges"] = consistency_ranges(witness["size"], n_latest)
        for a, b in witness["ranges"]:
            wanted.update(perfect_pieces(a, b))
    capture_ends = {b for _, b in wanted}
    captured: dict[tuple[int, int], bytes] = {}

    def capture(start: int, end: int, node: bytes) -> None:
        if (start, end) in wanted:
            captured[(start, end)] = node

    stops: dict[int, list[dict[str, Any]]] = {}
    for entry in signed:
        stops.setdefault(entry["size"], []).append(entry)
    if witness is not None:
        stops.setdefault(witness["size"], []).append(witness)

    # ---- the streaming pass -----------------------------------------------------------------------
    conversations = {cid: (platform, native, title) for cid, platform, native, title in
                     _rows(db, "SELECT id, platform, native_id, title FROM conversations")}
    native_ids = {cid: v[1] for cid, v in conversations.items()}
    sources = {row[0]: row for row in _rows(db, f"SELECT {L.SOURCE_COLUMNS} FROM sources")}
    events = {row[0]: row for row in _rows(db, f"SELECT {L.EVENT_COLUMNS} FROM ledger_events")}
    audits = {row[0]: row for row in _rows(db, f"SELECT {L.AUDIT_COLUMNS} FROM governance_audit")}
    purged: dict[int, dict[str, Any]] = {}
    redactions: dict[int, dict[str, Any]] = {}
    for leaf_idx, action, target, fields, reason, at in events.values():
        if action == "purge":
            purged[target] = {"reason": reason, "at": at}
    for target, digests, reason, at in _rows(db, "SELECT target, digests, reason, at FROM ledger_events"
                                                 " WHERE action = 'redaction' ORDER BY leaf"):
        entry = redactions.setdefault(target, {"digests": {}, "reasons": []})
        entry["digests"].update(orjson.loads(digests))
        entry["reasons"].append({"reason": reason, "at": at})

    def describe(row: tuple | None, locator: tuple, idx: int) -> dict[str, Any]:
        if row is not None and row[0] is not None:
            cid, sender, ms, offset, mid = (row[L.COL_CONVERSATION], row[L.COL_SENDER_NAME] or row[L.COL_SENDER_ID],
                                            row[L.COL_SENT_AT], row[L.COL_OFFSET], row[L.COL_ID])
        else:
            cid, ms, sender = locator
            offset, mid = 0, None
        platform, native, title = conversations.get(cid, (None, None, None))
        return {"id": mid, "leaf": idx, "conversation": f"{platform}:{native}" if platform else cid,
                "conversation_title": title, "sender": sender, "sent_at": _iso(ms, offset)}

    def describe_message(message_id: int | None, leaf: int | None) -> dict[str, Any] | None:
        found = None
        if message_id is not None:
            found = db.execute(f"SELECT {L.MESSAGE_COLUMNS} FROM messages m WHERE m.id = ?", (message_id,)).fetchone()
        if found is None and leaf is not None:
            locator = db.execute("SELECT conversation, sent_at_ms, sender FROM ledger_leaves WHERE idx = ?",
                                 (leaf,)).fetchone()
            if locator is not None:
                return describe(None, tuple(locator), leaf)
        return describe(tuple(found), (), leaf) if found is not None else None

    signed_sightings: set[int] = set()
    builder = TreeBuilder()
    mismatched: dict[int, tuple[bytes, bytes, Any, tuple]] = {}  # idx -> (stored, recomputed, row, locator)
    changed_fields: dict[int, list[str]] = {}  # idx -> the fields whose kept fingerprint differs
    damaged_leaves: list[int] = []
    live_message_rows = 0
    audited = 0
    next_idx = 0
    stop_sizes = sorted(stops)
    stop_pos = 0
    bound_pos = 0  # signed[bound_pos] is the first checkpoint that includes the current leaf
    if stop_sizes and stop_sizes[0] == 0:
        _check_stop(builder, stops[0])
        stop_pos = 1
    message_leaf = L.message_leaf
    leaf_hash_prefix = b"\x00"
    sha = hashlib.sha256

    sql = VERIFY_QUERY
    for row in _rows(db, sql):
        idx = row[20]
        if idx != next_idx:
            tombstones = sorted(t for t in purged if next_idx <= t < idx)
            named = (f" (among them the tombstone{'s' if len(tombstones) > 1 else ''} of purged "
                     f"message{'s' if len(tombstones) > 1 else ''} at leaf {', '.join(map(str, tombstones[:10]))})"
                     if tombstones else "")
            report.add(MISSING_LEAVES, f"leaves {next_idx}–{idx - 1} were deleted from the ledger{named}")
            damaged_leaves.append(next_idx)
            next_idx = idx
        next_idx += 1
        while bound_pos < len(signed) and signed[bound_pos]["size"] <= idx:
            bound_pos += 1
        leaf_bound = signed[bound_pos]["leaf_bound_ms"] if bound_pos < len(signed) else float("inf")
        kind, stored = row[21], row[23]
        recomputed = stored
        if kind == L.MESSAGE:
            if idx in purged:
                info = purged[idx]
                report.notice("purged", f"purged by policy at {info['at']}: {info['reason']}",
                              describe(None, (row[25], row[26], row[27]), idx))
            elif row[0] is None:
                report.add(DELETED, "the message was deleted from the archive (no purge was recorded)",
                           describe(None, (row[25], row[26], row[27]), idx))
                damaged_leaves.append(idx)
            else:
                live_message_rows += 1
                redacted = redactions.get(idx)
                try:
                    if redacted is None:
                        salts = row[24]
                        data = message_leaf(row, native_ids.get(row[2], ""), sources[row[17]][1]
                                            if row[17] in sources else "", salts.hex() if salts else "")
                    else:
                        data = _redacted_leaf(row, native_ids, sources, redacted, report, describe, idx)
                    recomputed = sha(leaf_hash_prefix + data).digest()
                except (ValueError, TypeError, orjson.JSONDecodeError):
                    recomputed = b"\xff" * 32  # an unreadable row cannot match
                if recomputed != stored:
                    mismatched[idx] = (stored, recomputed, row, (row[25], row[26], row[27]))
                    changed_fields[idx] = L.differing_fields(row[28], data) if recomputed != b"\xff" * 32 else []
                if row[L.COL_SENT_AT] is not None and row[L.COL_SENT_AT] > leaf_bound:
                    report.add(FUTURE_INSTANT, f"sent at {_iso(row[L.COL_SENT_AT])}, after the archive signed it "
                                               f"at {_iso(leaf_bound)} — impossible for a genuine record",
                               describe(row, (), idx))
        elif kind == L.SOURCE:
            source = sources.get(row[22])
            if source is None:
                report.add(DELETED, f"source {row[22]} (leaf {idx}) was deleted from the archive")
                damaged_leaves.append(idx)
            else:
                recomputed = sha(leaf_hash_prefix + L.source_leaf(source)).digest()
                if recomputed != stored:
                    report.add(MODIFIED, f"source {source[0]} ({source[2]}, sha256 {source[1][:12]}…) differs from "
                                         "what was signed (path, size, format, label, time or counts)")
                    damaged_leaves.append(idx)
        elif kind == L.AUDIT:
            entry = audits.get(row[22])
            if entry is None:
                report.add(DELETED, f"audit entry {row[22]} (leaf {idx}: {row[27]} at {_iso(row[26])}) was deleted "
                                    "from the audit trail")
                damaged_leaves.append(idx)
            else:
                try:
                    recomputed = sha(leaf_hash_prefix + L.audit_leaf(entry)).digest()
                except (TypeError, ValueError):
                    recomputed = b"\xff" * 32
                if recomputed != stored:
                    report.add(MODIFIED, f"audit entry {entry[0]} (leaf {idx}: {entry[2]} ran `{entry[4]}` at "
                                         f"{entry[1]}) differs from what was signed")
                    damaged_leaves.append(idx)
                audited += 1
        elif kind == L.CONVERSATIONS:
            recomputed = _check_conversations_leaf(db, row[22], idx, sources, report)
            if recomputed != stored:
                damaged_leaves.append(idx)
        elif kind == L.SIGHTINGS:
            signed_sightings.add(row[22])
            recomputed = _check_sightings(db, row[22], idx, stored, sources, purged, report, describe_message,
                                          {leaf: {"sender_name", "extras"} & set(r["digests"])
                                           for leaf, r in redactions.items()})
            if recomputed != stored:
                damaged_leaves.append(idx)
        else:
            event = events.get(row[22])
            if event is None:
                report.add(DELETED, f"policy event at leaf {idx} was deleted")
                damaged_leaves.append(idx)
            else:
                recomputed = sha(leaf_hash_prefix + L.event_leaf(event)).digest()
                if recomputed != stored:
                    report.add(MODIFIED, f"policy event at leaf {idx} ({event[1]}) was changed")
                    damaged_leaves.append(idx)
        size = builder.size + 1
        if size in capture_ends:
            builder.append_capturing(recomputed, capture)
        else:
            builder.append(recomputed)
        if stop_pos < len(stop_sizes) and size == stop_sizes[stop_pos]:
            stop_pos += 1
            _check_stop(builder, stops[size])
    report.checked = builder.size

    def recompute(row: tuple, salts: bytes | None) -> bytes | None:
        try:
            data = message_leaf(row, native_ids.get(row[2], ""), sources[row[17]][1] if row[17] in sources else "",
                                salts.hex() if salts else "")
        except (ValueError, TypeError, orjson.JSONDecodeError):
            return None
        return sha(leaf_hash_prefix + data).digest()

    _classify_mismatches(mismatched, describe, report, damaged_leaves, recompute, changed_fields)

    # checkpoints at size 0, or beyond the leaves that exist
    for size in stop_sizes[stop_pos:]:
        if stops[size][0] is witness:
            continue
        report.add(MISSING_LEAVES, f"checkpoint {stops[size][0]['id']} signed {size} leaves, the ledger has "
                                   f"{builder.size}: leaves were removed")
    if builder.size > n_latest:
        report.add(UNSIGNED_LEAVES, f"{builder.size - n_latest} leaves after the latest checkpoint are not signed")

    _explain_roots(signed, damaged_leaves, report)
    if builder.size >= n_latest:
        _check_consistency(signed, proof_ranges, captured, report)
    if witness is not None:
        _check_witness(witness, latest, builder.size, damaged_leaves, captured, report)

    _find_unledgered(ledger, live_message_rows, purged, report)
    _reread_notices(sources, report)
    _check_conversations(db, conversations, report)
    if check_index:
        _check_text_index(db, describe_message, report)
    for source_id in sorted(set(sources) - signed_sightings):
        if db.execute("SELECT 1 FROM ledger_leaves WHERE kind = 0 AND ref = ?", (source_id,)).fetchone():
            report.notice("sightings_unsigned", f"sightings of source {source_id} ({sources[source_id][2]}) are not "
                                                "signed (imported before the ledger committed to sightings)")
    if audits:
        ledgered = {ref for (ref,) in _rows(db, f"SELECT ref FROM ledger_leaves WHERE kind = {L.AUDIT}")}
        unsigned = sorted(set(audits) - ledgered)
        for entry_id in unsigned[:100]:
            entry = audits[entry_id]
            report.add(INSERTED, f"audit entry {entry_id} ({entry[2]} ran `{entry[4]}` at {entry[1]}) is not in the "
                                 "ledger: added behind the tool's back")
        report.notice("audit_trail", f"{audited} audit entries recomputed against their signed leaves")

    _check_governance(archive, report)
    report.tree_size = n_latest
    report.root = latest["root"].hex()
    report.ok = report.problem_count == 0
    report.seconds = time.perf_counter() - started
    return report


def _check_conversations_leaf(db, source_id: int, idx: int, sources, report: VerifyReport) -> bytes:
    """A source's conversations leaf, recomputed from the conversation hashes kept for it."""
    digest, count = hashlib.sha256(), 0
    for (value,) in _rows(db, "SELECT hash FROM ledger_conversations WHERE source = ? ORDER BY conversation",
                          (source_id,)):
        digest.update(value)
        count += 1
    source = sources.get(source_id)
    recomputed = hashlib.sha256(b"\x00" + L.conversations_leaf_of(source[1] if source else "", count,
                                                                   digest.digest())).digest()
    return recomputed


def _check_conversations(db, conversations: dict[int, tuple], report: VerifyReport) -> None:
    """Each conversation's platform, id, title, type and members must be the ones last signed; one
    never signed (imported before the ledger committed to conversations) is named as unverified."""
    latest: dict[int, tuple[bytes, bytes | None]] = {}
    for conversation, value, fields in _rows(
            db, "SELECT lc.conversation, lc.hash, lc.fields FROM ledger_conversations lc"
                f" JOIN ledger_leaves l ON l.kind = {L.CONVERSATIONS} AND l.ref = lc.source ORDER BY l.idx"):
        latest[conversation] = (value, fields)
    unsigned = []
    for row in _rows(db, f"SELECT {L.CONVERSATION_COLUMNS} FROM conversations ORDER BY id"):
        kept = latest.pop(row[0], None)
        if kept is None:
            unsigned.append(row[0])
            continue
        line = L.conversation_line(row)
        if hashlib.sha256(line).digest() != kept[0]:
            fields = L.differing_fields(kept[1], line)
            report.add(MODIFIED, f"conversation {row[1]}:{row[2]} (title {row[3]!r}) differs from what was signed"
                                 + (f": differs in {', '.join(fields)}" if fields else " (title, type or members)"))
    for conversation in sorted(latest):
        report.add(DELETED, f"conversation {conversation} was deleted from the archive")
    if unsigned:
        names = [f"{conversations[c][0]}:{conversations[c][1]}" for c in unsigned[:10] if c in conversations]
        report.notice("conversations_unsigned", f"{len(unsigned)} conversation(s) ({', '.join(names)}"
                                                f"{' …' if len(unsigned) > 10 else ''}) have titles, types and members "
                                                "that are not signed (imported before the ledger committed to "
                                                "them): unverified")
    report.unsigned_conversations = unsigned


def _check_text_index(db, describe_message, report: VerifyReport) -> None:
    """Name every message the full-text index hides from search or makes match words it lacks."""
    from ..search import index_differences
    from ..store.sqlite import ROWID_SHIFT

    # a message already named as deleted, inserted or changed takes its stale index row with it
    named = {p["message"]["id"] for p in report.problems if p.get("message") and p["message"].get("id")}
    for p in report.problems:
        leaf = (p.get("message") or {}).get("leaf")
        if leaf is not None and not p["message"].get("id"):
            ref = db.execute("SELECT ref FROM ledger_leaves WHERE idx = ? AND kind = 1", (leaf,)).fetchone()
            if ref:
                named.add(ref[0])
    orphans = []
    for difference in index_differences(db):
        if (difference.message or difference.rowid & (ROWID_SHIFT - 1)) in named:
            continue
        if difference.message is None:
            orphans.append(difference)
            continue
        details = []
        if difference.missing:
            details.append("search cannot find it" + ("" if not difference.extra and _all_missing(db, difference)
                                                      else f" by {_words(difference.missing)}"))
        if difference.extra:
            details.append(f"the index makes it match words it does not contain: {_words(difference.extra)}")
        report.add(SEARCH_INDEX, f"full-text index: {'; '.join(details)}", describe_message(difference.message, None))
    if orphans:  # one line: a deleted import leaves many
        words = [w for d in orphans for w in d.extra]
        rows = ", ".join(str(d.rowid) for d in orphans[:3]) + (" …" if len(orphans) > 3 else "")
        report.add(SEARCH_INDEX, f"the full-text index holds {len(orphans)} row{'s' if len(orphans) > 1 else ''} for no "
                                 f"message (rowid {rows}), with the words {_words(words)}")
    report.index_checked = True


def _words(terms: list[str]) -> str:
    unique = sorted(set(terms))
    return ", ".join(repr(t) for t in unique[:8]) + (f" … ({len(unique)} in all)" if len(unique) > 8 else "")


def _all_missing(db, difference) -> bool:
    """True when the index has nothing at all of the message (its row was dropped)."""
    from ..store.sqlite import ROWID_SHIFT

    row = db.execute("SELECT (sent_at_ms / 1000) * ? + id FROM messages WHERE id = ?",
                     (ROWID_SHIFT, difference.message)).fetchone()
    return row is not None and db.execute("SELECT 1 FROM message_fts_docsize WHERE id = ?", (row[0],)).fetchone() is None


def _check_sightings(db, source_id: int, idx: int, stored: bytes, sources, purged, report: VerifyReport,
                     describe_message, redacted_leaves: dict[int, set[str]] | None = None) -> bytes:
    """Recompute a source's sightings leaf from its sightings rows (and, for a message purged since,
    the hash kept when the leaf was signed); name each sighting that differs from its kept hash."""
    source = sources.get(source_id)
    if source is None:
        report.add(DELETED, f"source {source_id} (sightings leaf {idx}) was deleted from the archive")
        return b"\xff" * 32
    kept_rows = list(_rows(db, "SELECT leaf, hash, salt FROM ledger_sightings WHERE source = ?", (source_id,)))
    kept = {leaf: value for leaf, value, _ in kept_rows}
    salts = {leaf: salt for leaf, _, salt in kept_rows}
    where = f"source {source_id} ({source[2]})"
    hashes: list[tuple[int, bytes]] = []
    problems = report.problem_count
    for row in _rows(db, L.SIGHTINGS_QUERY, (source_id,)):
        leaf, message_id = row[0], row[1]
        try:
            current = L.sighting_hash(row, salts.get(leaf) or b"")
        except (TypeError, ValueError):
            current = b"\xff" * 32
        if leaf is None or leaf not in kept:
            report.add(INSERTED, f"{where} holds a sighting of this message that was not signed: added behind "
                                 "the tool's back", describe_message(message_id, leaf))
            if leaf is None:
                continue
        elif salts.get(leaf) is None and (redacted_leaves or {}).get(leaf):
            # redacted by policy: the value went (and must stay gone), the signed hash stands in
            columns = {"sender_name": row[3], "extras": row[7]}
            if any(columns[f] is not None for f in redacted_leaves[leaf]):
                report.add(MODIFIED, f"{where}'s sighting of this message holds a value that was redacted by policy",
                           describe_message(message_id, leaf))
            current = kept[leaf]
        elif kept[leaf] != current:
            report.add(MODIFIED, f"{where}'s sighting of this message (position, sender name, offset, edit time, id "
                                 "or extras as that copy showed it) differs from what was signed",
                       describe_message(message_id, leaf))
        hashes.append((leaf, current))
    seen = {leaf for leaf, _ in hashes}
    for leaf, value in kept.items():
        if leaf in seen:
            continue
        if leaf in purged:
            hashes.append((leaf, value))  # the message was purged by policy, its sightings with it
            continue
        ref = db.execute("SELECT ref FROM ledger_leaves WHERE idx = ? AND kind = 1", (leaf,)).fetchone()
        report.add(DELETED, f"{where}'s sighting of this message was deleted (no purge was recorded)",
                   describe_message(ref[0] if ref else None, leaf))
    recomputed = hashlib.sha256(b"\x00" + L.sightings_leaf(source[1], hashes)).digest()
    if recomputed != stored and report.problem_count == problems:
        report.add(MODIFIED, f"the sightings of {where} (leaf {idx}) differ from what was signed: the kept "
                             "sighting hashes were rewritten")
    return recomputed


def _reread_notices(sources: dict[int, tuple], report: VerifyReport) -> None:
    """Amendments: a source re-read in another zone (`import --reread`) is a signed source of its own
    whose SHA-256 is the file's followed by ``@ZONE``; the messages it replaced are signed purges."""
    by_hash = {row[1]: row for row in sources.values()}
    for row in sorted(sources.values()):
        if "@" not in (row[1] or ""):
            continue
        file_hash, zone = row[1].split("@", 1)
        earlier = [r[0] for r in sources.values() if r[0] < row[0] and (r[1] == file_hash
                                                                         or r[1].startswith(file_hash + "@"))]
        original = by_hash.get(file_hash)
        report.notice("reread", f"source {row[0]} ({row[2]}) is the file {file_hash[:12]}… read again in "
                                f"{zone.split('#')[0]}, replacing source {max(earlier) if earlier else '?'}"
                                + ("" if original else " (the original source is not in the archive)"))


def _redacted_leaf(row, native_ids, sources, redacted, report, describe, idx) -> bytes:
    digests = redacted["digests"]
    for name in digests:
        value = row[{"text": L.COL_TEXT, "sender_id": L.COL_SENDER_ID, "sender_name": L.COL_SENDER_NAME,
                     "extras": L.COL_EXTRAS, "attachments": L.COL_ATTACHMENTS}[name]]
        if value != REDACTED_PLACEHOLDER[name]:
            raise ValueError(f"redacted field {name} holds a value again")
    salts = row[24].hex() if row[24] else ""
    data = L.message_leaf(row, native_ids.get(row[2], ""), sources[row[17]][1] if row[17] in sources else "",
                          salts, digests)
    reasons = "; ".join(f"{r['reason']} ({r['at']})" for r in redacted["reasons"])
    report.notice("redacted", f"{', '.join(sorted(digests))} redacted by policy: {reasons}", describe(row, (), idx))
    return data


def _check_governance(archive, report: VerifyReport) -> None:
    """Governance tables (legal holds, the mode setting) must agree with the audit entries that record them."""
    from ..governance.integrity import check

    check(archive, report)


def _check_stop(builder: TreeBuilder, entries: list[dict[str, Any]]) -> None:
    root = builder.root()
    for entry in entries:
        entry["recomputed_root"] = root


def _id_list(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:10])) + (f" … ({len(ids)} in all)" if len(ids) > 10 else "")


def _check_checkpoint_times(db, signed: list[dict[str, Any]], report: VerifyReport) -> None:
    """A checkpoint claiming a time before an import it signs names itself (not the messages it
    would make look "from the future"); its time then bounds nothing."""
    imports = sorted(_rows(db, "SELECT l.idx, s.imported_at FROM ledger_leaves l JOIN sources s"
                               " ON l.kind = 0 AND s.id = l.ref"))
    latest_import, latest_ms, position = None, None, 0
    for entry in signed:
        while position < len(imports) and imports[position][0] < entry["size"]:
            try:
                moment = _ms(imports[position][1])
            except (TypeError, ValueError):
                moment = None
            if moment is not None and (latest_ms is None or moment > latest_ms):
                latest_import, latest_ms = imports[position][1], moment
            position += 1
        if latest_ms is not None and entry["signed_at_ms"] < latest_ms - 1000:
            report.add(CHECKPOINT_TIME, f"checkpoint {entry['id']} claims to be signed at {entry['signed_at']}, "
                                        f"before the import it signs ({latest_import})")
            entry["time_bound_ms"] = float("inf")


def _load_witnessed(ledger: Ledger, trusted: Verifier | None, report: VerifyReport) -> dict[str, Any] | None:
    """The checkpoint the witness file keeps for this log, as a stop of the streaming pass."""
    found = witness_for_verify(ledger.witness_path, ledger.origin, trusted, report)
    if found is None:
        return None
    kept, head = found
    claimed = _signed_time(head)
    report.witness["signed_at"] = claimed
    return {"id": "witness", "size": head.size, "root": head.root, "signed_at": claimed or kept.recorded_at,
            "path": str(ledger.witness_path)}


def _explain_roots(signed: list[dict[str, Any]], damaged: list[int], report: VerifyReport) -> None:
    """A signed root that the archive no longer reaches: explained by damaged records, or not."""
    first_damage = min(damaged) if damaged else None
    latest = signed[-1]
    latest_ok = latest.get("recomputed_root") == latest["root"]
    unexplained = []
    for entry in signed:
        recomputed = entry.get("recomputed_root")
        if recomputed is None or recomputed == entry["root"]:
            continue
        if first_damage is not None and first_damage < entry["size"]:
            if entry is latest:
                report.add(CHECKPOINT_ROOT, f"the archive no longer hashes to the latest signed root "
                                            f"(checkpoint {entry['id']}, size {entry['size']}) because of the "
                                            "damaged records listed")
            continue
        if latest_ok:
            report.add(INCONSISTENT, f"checkpoint {entry['id']} (size {entry['size']}, signed {entry['signed_at']}) "
                                     "is not a prefix of the latest: history was rewritten and signed again")
        else:
            unexplained.append(entry)
    if unexplained:
        first = unexplained[0]
        report.add(LEDGER_REWRITTEN, f"the archive does not hash to the signed root of checkpoint {first['id']} "
                                     f"(size {first['size']}, signed {first['signed_at']}) nor of "
                                     f"{len(unexplained) - 1} later ones, although every stored leaf hash matches "
                                     "its record: leaf hashes were rewritten together with records after "
                                     f"leaf {signed[signed.index(first) - 1]['size'] if signed.index(first) else 0}")


def _check_consistency(signed, proof_ranges, captured, report: VerifyReport) -> None:
    latest = signed[-1]
    for entry in signed[:-1]:
        ranges = proof_ranges.get(entry["id"], [])
        try:
            proof = [hash_from_pieces(a, b, captured) for a, b in ranges]
            verify_consistency(entry["size"], latest["size"], proof, entry["root"], latest["root"])
        except (ProofError, KeyError) as error:
            if not any(p["kind"] in (CHECKPOINT_ROOT, INCONSISTENT, LEDGER_REWRITTEN, MODIFIED, DELETED, REORDERED,
                                     MISSING_LEAVES)
                       for p in report.problems):
                report.add(INCONSISTENT, f"no consistency proof from checkpoint {entry['id']} (size {entry['size']}) "
                                         f"to the latest: {error}")


def _classify_mismatches(mismatched, describe, report: VerifyReport, damaged: list[int], recompute,
                         changed_fields: dict[int, list[str]] | None = None) -> None:
    """Name each leaf whose record no longer matches: moved/swapped rows, or changed content.

    Salts belong to the leaf, so a row moved to another message id is recognised by recomputing it
    with the salts of the leaf whose locator (conversation, instant, sender) it now shows.
    """
    by_locator: dict[tuple, list[int]] = {}
    for idx, (_stored, _recomputed, _row, locator) in mismatched.items():
        by_locator.setdefault(locator, []).append(idx)
    for idx, (stored, recomputed, row, locator) in sorted(mismatched.items()):
        damaged.append(idx)
        current = (row[L.COL_CONVERSATION], row[L.COL_SENT_AT], row[L.COL_SENDER_NAME] or row[L.COL_SENDER_ID])
        moved_from = None
        for other in by_locator.get(current, []):
            if other != idx and recompute(row, mismatched[other][2][24]) == mismatched[other][0]:
                moved_from = other
                break
        if moved_from is not None:
            report.add(REORDERED, f"this row holds the message signed at leaf {moved_from}: rows were swapped or "
                                  "moved", describe(row, locator, idx))
            continue
        changes = []
        conversation, sent_at_ms, sender = locator
        if conversation is not None and row[L.COL_CONVERSATION] != conversation:
            changes.append(f"moved from conversation {conversation}")
        if sent_at_ms is not None and row[L.COL_SENT_AT] != sent_at_ms:
            changes.append(f"instant changed from {_iso(sent_at_ms)}")
        if sender is not None and current[2] != sender:
            changes.append(f"sender changed from {sender!r}")
        located = {"conversation", "sent_at_ms", "sender_id", "sender_name"} if changes else set()
        fields = [f for f in (changed_fields or {}).get(idx, []) if f not in located]
        if fields:
            changes.append(f"differs in {', '.join(fields)}")
        detail = "; ".join(changes) if changes else "its content differs from what was signed (text, attachments or another field)"
        report.add(MODIFIED, detail, describe(row, locator, idx))


def _find_unledgered(ledger: Ledger, live_rows: int, purged: dict, report: VerifyReport) -> None:
    db = ledger.db
    total = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    if total != live_rows:
        sql = ("SELECT m.id, m.conversation, m.sender_name, m.sender_id, m.sent_at_ms, m.utc_offset_min,"
               " c.platform, c.native_id, c.title FROM messages m LEFT JOIN conversations c ON c.id = m.conversation"
               " WHERE NOT EXISTS (SELECT 1 FROM ledger_leaves l WHERE l.kind = 1 AND l.ref = m.id"
               " AND l.idx NOT IN (SELECT target FROM ledger_events WHERE action = 'purge'))")
        for mid, cid, name, sid, ms, offset, platform, native, title in _rows(db, sql):
            report.add(INSERTED, "the message is not in the ledger: added after the archive was signed",
                       {"id": mid, "leaf": None, "conversation": f"{platform}:{native}", "conversation_title": title,
                        "sender": name or sid, "sent_at": _iso(ms, offset)})
    for (sid, path) in _rows(db, "SELECT id, path FROM sources WHERE id NOT IN"
                                 " (SELECT ref FROM ledger_leaves WHERE kind = 0)"):
        report.add(INSERTED, f"source {sid} ({path}) is not in the ledger (imported without it, or added later; "
                             "`chataudit init` signs what is there)")


def _check_timestamps(ledger: Ledger, signed: list[dict[str, Any]], report: VerifyReport) -> None:
    from .tsa import TsaError, load_pem_certificates, verify_response

    by_id = {entry["id"]: entry for entry in signed}
    for tid, checkpoint_id, response, ca_pem, url in _rows(
            ledger.db, "SELECT id, checkpoint, response, ca_pem, tsa_url FROM ledger_timestamps ORDER BY id"):
        report.timestamps += 1
        entry = by_id.get(checkpoint_id)
        if entry is None:
            report.add(TIMESTAMP, f"timestamp {tid} is for checkpoint {checkpoint_id}, which is not validly signed")
            continue
        try:
            anchors = load_pem_certificates(ca_pem) if ca_pem else []
            info = verify_response(response, entry["note"].encode(), ca_certificates=anchors)
        except TsaError as error:
            report.add(TIMESTAMP, f"timestamp {tid} of checkpoint {checkpoint_id} from {url}: {error}")
            continue
        gen_ms = int(info.gen_time.timestamp() * 1000)
        entry["time_bound_ms"] = min(entry["time_bound_ms"], gen_ms)
        if gen_ms < entry["signed_at_ms"] - 60_000:
            report.add(CHECKPOINT_TIME, f"checkpoint {checkpoint_id} claims to be signed at {entry['signed_at']}, but "
                                        f"a TSA stamped it at {info.gen_time.isoformat()}, earlier")
        if checkpoint_id not in report.timestamped:
            report.timestamped.append(checkpoint_id)
        report.notice("timestamped", f"checkpoint {checkpoint_id} existed at {info.gen_time.isoformat()} "
                                     f"({info.tsa_name or info.signer}; chain {'verified' if info.chain_verified else 'not checked'})")


def summary_lines(report: VerifyReport) -> list[str]:
    """A short human-readable account (the CLI prints it)."""
    lines = []
    for p in report.problems:
        m = p.get("message")
        who = ""
        if m:
            who = f"{m.get('conversation')} / {m.get('sender')} / {m.get('sent_at')} (message {m.get('id')}, leaf {m.get('leaf')}): "
        lines.append(f"{p['kind'].upper()}: {who}{p['detail']}")
    if report.problem_count > len(report.problems):
        lines.append(f"… and {report.problem_count - len(report.problems)} more problems")
    for n in report.notices:
        m = n.get("message")
        who = f"{m.get('conversation')} / {m.get('sent_at')} (leaf {m.get('leaf')}): " if m else ""
        lines.append(f"{n['kind']}: {who}{n['detail']}")
    if report.checkpoints:
        stamped = report.timestamped
        lines.append(f"timestamped checkpoints: {_id_list(stamped) if stamped else 'none'}")
    if report.witness:
        w = report.witness
        lines.append(f"witness {w['path']}: {w['status']}" + (f" (size {w['tree_size']})" if "tree_size" in w else "")
                     + "".join(f"; cosigned by {c['witness']} at {c['timestamp']}" for c in w.get("cosigned_by", [])))
    verdict = "OK" if report.ok else "FAILED"
    lines.append(f"{verdict}: {report.checked} leaves recomputed, tree size {report.tree_size}, root {report.root}, "
                 f"{report.checkpoints} checkpoints, {report.timestamps} timestamps, {report.seconds:.2f} s "
                 f"(key: {report.key.get('source')})")
    return lines


__all__ = ["VerifyReport", "verify_archive", "summary_lines", "trusted_verifier"]
