"""Authenticity signals of one copy: does anything in it look edited, reordered or invented?

A *copy* is one imported source (a file, a folder export, or every source sharing a label) or one
conversation. Each check is a set-based SQL query over the copy's messages (window functions over
the instant, the platform's own sequence numbers and the line order of the file); Python only
shapes the rows it returns into *signals*, each with the messages that raise it.

The verdict is "no anomaly found" or "anomalies found", never "authentic": a copy can be forged
without leaving any of these traces, and a real copy can show some of them for innocent reasons
(a device clock set wrong, a multi-device sync, a nickname changed). The detail of every signal
says what would explain it.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import ChatAuditError
from ..model import zone
from ..store import Archive
from ..store.sqlite import iso_from_ms

NO_ANOMALY = "no anomaly found"
ANOMALIES = "anomalies found"

SEVERITIES = ("info", "low", "medium", "high")  # info never changes the verdict

CHECKS = (
    "sequence_order",          # platform ids / sequence numbers vs instants
    "file_order",              # order of records in the file vs instants
    "future_instants",         # after the import time
    "before_platform_launch",  # before the platform existed
    "rhythm_gaps",             # a silence many times the conversation's usual gap, inside an active stretch
    "bursts",                  # many messages in one second (one minute for minute-resolution exports)
    "duplicate_ids",           # one id, different content
    "edits",                   # edited messages (and edits dated before the message)
    "recalls",                 # recalled messages
    "utc_offset_changes",      # the offset the instants were written in changes within a source
    "sender_name_changes",     # one sender id, several display names
    "source_file_hash",        # SHA-256 still matches the file; MD5 for comparing with others
    "screenshot_image",        # screenshots: editor metadata, recompression, resampling, bubble colour/side,
                               # font height, status-bar clock (chataudit.screenshots.signals)
)

# First day each platform could have carried a message (local date). E-mail and generic files: no limit.
PLATFORM_LAUNCH = {
    "wechat": "2011-01-21",
    "wecom": "2016-04-18",
    "dingtalk": "2015-01-01",
    "feishu": "2017-01-01",
    "lark": "2017-01-01",
    "telegram": "2013-08-14",
    "whatsapp": "2009-01-01",
    "slack": "2013-08-01",
}

# Where a platform's own sequence lives: message extras first (WeCom `seq`, WeChat `localId`,
# PyWxDump's local `id`), else a numeric message_id (Telegram ids, generic files). WeChat's
# MsgSvrID and e-mail Message-IDs are identities, not sequences, so they are never compared in order.
SEQUENCE_FIELDS = (
    ("seq", "$.seq", None),
    ("sequence", "$.sequence", None),
    ("Sequence", "$.Sequence", None),
    ("local_id", "$.local_id", None),
    ("localId", "$.localId", None),
    ("id", "$.id", "wechat"),
)
NOT_SEQUENTIAL_IDS = ("wechat", "email", "slack")
# Local ids are given by the exporting device, which files messages synced from another device
# in arrival order; server-side sequences (Telegram, WeCom) have no such excuse.
DEVICE_SEQUENCES = ("local_id", "localId", "id")

FUTURE_TOLERANCE_MS = 10 * 60 * 1000  # clocks of phones and of the importing machine differ a little
MAX_LISTED = 200  # signals per check; a scrambled file would otherwise list every message


@dataclass
class Signal:
    check: str
    severity: str
    detail: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, Any] | None = None  # image signals of screenshots: what was measured where

    def as_dict(self) -> dict[str, Any]:
        found = {"check": self.check, "severity": self.severity, "detail": self.detail, "messages": self.messages}
        if self.evidence is not None:
            found["evidence"] = self.evidence
        return found


@dataclass
class Scope:
    """Which messages form the copy: a WHERE clause over ``messages m`` and its parameters."""

    kind: str  # "source" or "conversation"
    description: str
    where: str
    params: tuple
    source_ids: list[int]
    relation: str = "messages m"  # what ``m`` is: the messages, or a copy's view of them


def copy_view(marks: str) -> str:
    """``m`` as the given sources showed their messages (sightings): also the messages an earlier
    source brought first, with the names, offsets, ids and positions of this copy."""
    return (
        "(SELECT msg.id, msg.conversation, msg.platform, si.message_id, msg.sender_id, si.sender_name,"
        " msg.sent_at_ms, si.utc_offset_min, msg.kind, msg.text, msg.reply_to, si.edited_at_ms, msg.amount,"
        " msg.currency, msg.attachments, msg.is_me, si.extras, si.source, si.position, msg.content_hash,"
        " msg.content_key, msg.occurrence"
        f" FROM sightings si JOIN messages msg ON msg.id = si.message WHERE si.source IN ({marks})) m"
    )


# ---- what the user named ----------------------------------------------------------------------

def resolve_scope(archive: Archive, ref: str) -> Scope:
    """A source (id, ``source:ID``, SHA-256 or a prefix of 8+ hex digits, path, label) or a
    conversation (``conversation:REF`` or anything ``conversations`` accepts)."""
    ref = str(ref).strip()
    if not ref:
        raise ChatAuditError("check needs a source or conversation")
    db = archive.db
    lowered = ref.lower()
    if lowered.startswith(("conversation:", "conv:")):
        return _conversation_scope(archive, ref.split(":", 1)[1])
    if lowered.startswith("source:"):
        ref = ref.split(":", 1)[1]
        rows = db.execute("SELECT * FROM sources WHERE id = ? OR path = ? OR label = ? ORDER BY id",
                          (int(ref) if ref.isdigit() else -1, ref, ref)).fetchall()
        if not rows:
            raise ChatAuditError(f"no source {ref!r} (see `chataudit sources`)")
        return _source_scope(rows, ref)
    rows: list[sqlite3.Row] = []
    if ref.isdigit():
        rows = db.execute("SELECT * FROM sources WHERE id = ?", (int(ref),)).fetchall()
    if not rows and re.fullmatch(r"[0-9a-fA-F]{8,64}", ref):
        rows = db.execute("SELECT * FROM sources WHERE sha256 LIKE ? ORDER BY id", (ref.lower() + "%",)).fetchall()
    if not rows:
        rows = db.execute("SELECT * FROM sources WHERE path = ? OR path = ? ORDER BY id",
                          (ref, os.path.abspath(ref))).fetchall()
    if not rows:
        rows = db.execute("SELECT * FROM sources WHERE label = ? ORDER BY id", (ref,)).fetchall()
    if rows:
        return _source_scope(rows, ref)
    try:
        return _conversation_scope(archive, ref)
    except ChatAuditError:
        raise ChatAuditError(
            f"no source or conversation {ref!r} (see `chataudit sources` and `chataudit conversations`)"
        ) from None


def _source_scope(rows: list[sqlite3.Row], ref: str) -> Scope:
    ids = [r["id"] for r in rows]
    if len(rows) == 1:
        row = rows[0]
        description = f"source {row['id']}" + (f" ({row['label']})" if row["label"] else "") + f": {row['path']}"
    else:
        description = f"{len(rows)} sources labelled {ref!r} (ids {', '.join(map(str, ids))})"
    marks = ",".join("?" * len(ids))
    return Scope("source", description, "1", tuple(ids), ids, copy_view(marks))


def _conversation_scope(archive: Archive, ref: str) -> Scope:
    row = archive.resolve_conversation(ref)
    ids = [r[0] for r in archive.db.execute(
        "SELECT DISTINCT source FROM messages WHERE conversation = ? ORDER BY source", (row["id"],))]
    title = row["title"] or row["native_id"]
    return Scope("conversation", f"conversation {row['id']} ({row['platform']}: {title})",
                 "m.conversation = ?", (row["id"],), ids)


# ---- the checks -------------------------------------------------------------------------------

def _sequence_sql() -> tuple[str, str]:
    """(field name, value) of the first sequence a message carries, as two SQL expressions."""
    names, values = [], []
    for name, path, platform in SEQUENCE_FIELDS:
        guard = f"m.platform = '{platform}' AND " if platform else ""
        test = f"{guard}json_extract(m.extras, '{path}') IS NOT NULL"
        names.append(f"WHEN {test} THEN '{name}'")
        values.append(f"WHEN {test} THEN CAST(json_extract(m.extras, '{path}') AS TEXT)")
    excluded = ", ".join(f"'{p}'" for p in NOT_SEQUENTIAL_IDS)
    names.append(f"WHEN m.platform NOT IN ({excluded}) AND m.message_id IS NOT NULL THEN 'message_id'")
    values.append(f"WHEN m.platform NOT IN ({excluded}) THEN m.message_id")
    return "CASE " + " ".join(names) + " END", "CASE " + " ".join(values) + " END"


SEQ_FIELD, SEQ_RAW = _sequence_sql()
LOCAL_DAY = "date(m.sent_at_ms / 1000 + m.utc_offset_min * 60, 'unixepoch')"


class Checker:
    """Runs every check over one scope; :meth:`run` returns the report."""

    def __init__(self, archive: Archive, scope: Scope):
        self.archive = archive
        self.db = archive.db
        self.scope = scope

    def sql(self, body: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Run ``body`` after the CTE ``keyed``: the copy's messages with ``sender``, ``seq_field`` (which
        sequence the message carries), ``seq_text`` and ``seq`` (that sequence as an integer, if it is one)."""
        head = (
            "WITH scope AS (SELECT m.*, coalesce(m.sender_name, m.sender_id) AS sender,"
            f" {SEQ_FIELD} AS seq_field, {SEQ_RAW} AS seq_text FROM {self.scope.relation} WHERE {self.scope.where}),"
            " keyed AS (SELECT *, CASE WHEN seq_text GLOB '[0-9]*' AND NOT seq_text GLOB '*[^0-9]*'"
            "  AND length(seq_text) <= 18 THEN CAST(seq_text AS INTEGER) END AS seq FROM scope) "
        )
        return self.db.execute(head + body, (*self.scope.params, *params)).fetchall()

    # the message dicts of a signal, in one query
    def messages(self, ids: Iterable[int]) -> list[dict[str, Any]]:
        wanted = [i for i in dict.fromkeys(ids) if i is not None]
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        rows = self.db.execute(
            "SELECT id, message_id, coalesce(sender_name, sender_id) AS sender, sent_at_ms, utc_offset_min, text"
            f" FROM messages WHERE id IN ({marks})", wanted).fetchall()
        by_id = {r["id"]: r for r in rows}
        return [
            {"id": r["id"], "message_id": r["message_id"], "sender": r["sender"],
             "sent_at": iso_from_ms(r["sent_at_ms"], r["utc_offset_min"]), "text": r["text"]}
            for r in (by_id[i] for i in wanted if i in by_id)
        ]

    def run(self) -> dict[str, Any]:
        counts = self.sql("SELECT count(*) AS n, count(seq) AS with_seq FROM keyed")[0]
        signals: list[Signal] = []
        for check in (self.sequence_order, self.file_order, self.future_instants, self.before_platform_launch,
                      self.rhythm_gaps, self.bursts, self.duplicate_ids, self.edits, self.recalls,
                      self.utc_offset_changes, self.sender_name_changes):
            found = check()
            if len(found) > MAX_LISTED:
                rest = len(found) - MAX_LISTED
                found = found[:MAX_LISTED] + [Signal(found[0].check, found[0].severity,
                                                     f"… and {rest} more of the same kind (not listed)")]
            signals.extend(found)
        sources = [source_file_report(row) for row in self.db.execute(
            f"SELECT * FROM sources WHERE id IN ({','.join('?' * len(self.scope.source_ids))}) ORDER BY id",
            self.scope.source_ids)]
        signals.extend(self.file_hash_signals(sources))
        signals.extend(self.screenshot_signals(sources))
        anomalies = [s for s in signals if s.severity != "info"]
        in_files = sum(s["message_count"] for s in sources) if self.scope.kind == "source" else None
        by_severity = {level: sum(1 for s in signals if s.severity == level) for level in SEVERITIES}
        return {
            "verdict": ANOMALIES if anomalies else NO_ANOMALY,
            "checked": list(CHECKS),
            "scope": {"kind": self.scope.kind, "description": self.scope.description,
                      "messages": counts["n"], "messages_with_sequence": counts["with_seq"],
                      "messages_in_sources": in_files,
                      # "ocr" when the copy was read from screenshots, not exported by the app
                      "trust": "ocr" if any(s["format"] == "screenshot" for s in sources) else "export"},
            "source": sources[0] if len(sources) == 1 else None,
            "sources": sources,
            "severity_counts": by_severity,
            "signals": [s.as_dict() for s in signals],
        }

    def screenshot_signals(self, sources: list[dict[str, Any]]) -> list[Signal]:
        """Image signals of the screenshot sources whose files are still there; the messages read
        from screenshots are marked trust: ocr in ``scope.trust``."""
        found: list[Signal] = []
        shots = [s for s in sources if s["format"] == "screenshot" and s["file_found"]]
        if not shots:
            return found
        from ..screenshots.signals import source_signals

        anchors: dict[str, Any] = {}
        for row in self.sql("SELECT DISTINCT json_extract(extras, '$.screenshot.image_sha256') AS sha,"
                            " json_extract(extras, '$.screenshot.anchor_date') AS day FROM keyed"
                            " WHERE json_extract(extras, '$.screenshot.trust') = 'ocr'"):
            if row["sha"] and row["day"]:
                from datetime import date

                anchors[row["sha"]] = date.fromisoformat(row["day"])
        for source in shots:
            for signal in source_signals(source["path"], anchors):
                found.append(Signal("screenshot_image", signal["severity"], signal["detail"],
                                    evidence={"signal": signal["check"], **signal["evidence"]}))
        return found

    # -- order --------------------------------------------------------------------------------

    def sequence_order(self) -> list[Signal]:
        """A later sequence number with an earlier instant: LAG in time order over the sequence and in
        sequence order over the instant; together they name both ends of every inversion."""
        rows = self.sql(
            "SELECT id, seq, seq_field, platform, sent_at_ms, prev_by_time, prev_seq_by_time,"
            " prev_by_seq, prev_seq_by_seq, prev_ms_by_seq FROM ("
            " SELECT id, seq, seq_field, platform, sent_at_ms,"
            "  LAG(id) OVER by_time AS prev_by_time, LAG(seq) OVER by_time AS prev_seq_by_time,"
            "  LAG(seq) OVER by_seq AS prev_seq_by_seq,"
            "  LAG(id) OVER by_seq AS prev_by_seq, LAG(sent_at_ms) OVER by_seq AS prev_ms_by_seq"
            " FROM keyed WHERE seq IS NOT NULL"
            " WINDOW by_time AS (PARTITION BY conversation, seq_field ORDER BY sent_at_ms, seq),"
            "        by_seq AS (PARTITION BY conversation, seq_field ORDER BY seq, sent_at_ms))"
            " WHERE prev_seq_by_time > seq OR prev_ms_by_seq > sent_at_ms ORDER BY sent_at_ms, id"
        )
        seen: set[frozenset[int]] = set()
        out = []
        for r in rows:
            pairs = []
            if r["prev_seq_by_time"] is not None and r["prev_seq_by_time"] > r["seq"]:
                pairs.append((r["prev_by_time"], r["prev_seq_by_time"], r["id"]))
            if r["prev_ms_by_seq"] is not None and r["prev_ms_by_seq"] > r["sent_at_ms"]:
                pairs.append((r["prev_by_seq"], r["prev_seq_by_seq"], r["id"]))
            for earlier, earlier_seq, later in pairs:
                key = frozenset((earlier, later))
                if key in seen:
                    continue
                seen.add(key)
                messages = self.messages([earlier, later])
                seconds = abs(self._ms(earlier) - self._ms(later)) / 1000
                device = r["seq_field"] in DEVICE_SEQUENCES
                severity = "medium" if device or seconds < 60 else "high"
                why = (" (a device's local ids also follow arrival order when messages sync from another device)"
                       if device else "")
                out.append(Signal("sequence_order", severity,
                                  f"{r['seq_field']} order contradicts time order by {_duration(seconds)}: "
                                  f"{_describe_pair(messages, r['seq_field'], [earlier_seq, r['seq']])}{why}",
                                  messages))
        return out

    def _ms(self, message: int) -> int:
        return self.db.execute("SELECT sent_at_ms FROM messages WHERE id = ?", (message,)).fetchone()[0]

    def file_order(self) -> list[Signal]:
        """Records the file lists earlier than their predecessor's instant. Only for files whose
        records run one way (a newest-first export is read as such) and have one position each."""
        rows = self.sql(
            "SELECT id, prev_id, platform, sent_at_ms, prev_ms, direction FROM ("
            " SELECT *, CASE WHEN ups >= downs THEN 1 ELSE -1 END AS direction FROM ("
            "  SELECT id, platform, sent_at_ms, prev_id, prev_ms, max(shared) OVER part AS most_shared,"
            "   sum(CASE WHEN sent_at_ms > prev_ms THEN 1 ELSE 0 END) OVER part AS ups,"
            "   sum(CASE WHEN sent_at_ms < prev_ms THEN 1 ELSE 0 END) OVER part AS downs FROM ("
            "    SELECT id, source, conversation, platform, sent_at_ms,"
            "     LAG(id) OVER w AS prev_id, LAG(sent_at_ms) OVER w AS prev_ms,"
            "     count(*) OVER (PARTITION BY source, conversation, position) AS shared"
            "    FROM keyed WHERE position IS NOT NULL"
            "    WINDOW w AS (PARTITION BY source, conversation ORDER BY position, id))"
            "   WINDOW part AS (PARTITION BY source, conversation)) WHERE most_shared = 1)"
            " WHERE prev_ms IS NOT NULL AND (sent_at_ms - prev_ms) * direction < 0 ORDER BY sent_at_ms, id"
        )
        out = []
        for r in rows:
            messages = self.messages([r["prev_id"], r["id"]])
            seconds = abs(r["sent_at_ms"] - r["prev_ms"]) / 1000
            direction = "oldest first" if r["direction"] == 1 else "newest first"
            if r["platform"] == "email":
                # a mailbox keeps mail in arrival order, and a Date header is the sender's own clock
                severity, why = "low", " (mail arrives out of order when a sender's clock is off or mail is delayed)"
            else:
                severity, why = ("high" if seconds >= 60 else "medium"), ""
            out.append(Signal(
                "file_order", severity,
                f"the file lists its messages {direction}, but this one is out of place by {_duration(seconds)}: "
                f"{_describe_pair(messages, None)}{why}", messages))
        return out

    # -- instants -----------------------------------------------------------------------------

    def future_instants(self) -> list[Signal]:
        rows = self.sql(
            "SELECT k.id, k.sent_at_ms, k.edited_at_ms, s.imported_at,"
            " unixepoch(s.imported_at) * 1000 AS imported_ms FROM keyed k JOIN sources s ON s.id = k.source"
            " WHERE k.sent_at_ms > unixepoch(s.imported_at) * 1000 + ?"
            "    OR k.edited_at_ms > unixepoch(s.imported_at) * 1000 + ? ORDER BY k.sent_at_ms",
            (FUTURE_TOLERANCE_MS, FUTURE_TOLERANCE_MS))
        out = []
        for r in rows:
            later = max(r["sent_at_ms"], r["edited_at_ms"] or 0)
            what = "edited" if r["edited_at_ms"] and r["edited_at_ms"] == later and later != r["sent_at_ms"] else "sent"
            out.append(Signal("future_instants", "high",
                              f"{what} {_duration((later - r['imported_ms']) / 1000)} after the file was imported "
                              f"({r['imported_at']}): a wrong device clock or an invented time",
                              self.messages([r["id"]])))
        return out

    def before_platform_launch(self) -> list[Signal]:
        launches = " UNION ALL ".join("SELECT ?, ?" for _ in PLATFORM_LAUNCH)
        params = [v for item in PLATFORM_LAUNCH.items() for v in item]
        rows = self.sql(
            f", launch(platform, day) AS ({launches})"
            f" SELECT m.id, m.platform, l.day, {LOCAL_DAY} AS local_day FROM keyed m"
            f" JOIN launch l ON l.platform = m.platform WHERE {LOCAL_DAY} < l.day ORDER BY m.sent_at_ms",
            params)
        return [Signal("before_platform_launch", "high",
                       f"dated {r['local_day']}, before {r['platform']} existed ({r['day']}): "
                       "a reset clock (1970), a wrong year or an invented date", self.messages([r["id"]]))
                for r in rows]

    # -- rhythm -------------------------------------------------------------------------------

    def rhythm_gaps(self) -> list[Signal]:
        """A silence far beyond the conversation's typical gap (median, MAD of same-day gaps) with
        brisk talk in the hour before and after it: where deleted messages would leave a hole."""
        rows = self.sql(
            ", stepped AS ("
            f" SELECT m.id, m.conversation, m.sent_at_ms, {LOCAL_DAY} AS day,"
            "  LAG(m.id) OVER w AS prev_id, LAG(m.sent_at_ms) OVER w AS prev_ms,"
            f"  LAG({LOCAL_DAY}) OVER w AS prev_day,"
            "  count(*) OVER (PARTITION BY m.conversation ORDER BY m.sent_at_ms"
            "   RANGE BETWEEN 3600000 PRECEDING AND CURRENT ROW) AS hour_before,"
            "  count(*) OVER (PARTITION BY m.conversation ORDER BY m.sent_at_ms"
            "   RANGE BETWEEN CURRENT ROW AND 3600000 FOLLOWING) AS hour_after"
            " FROM keyed m WINDOW w AS (PARTITION BY m.conversation ORDER BY m.sent_at_ms, m.id)),"
            " gaps AS (SELECT id, conversation, prev_id, sent_at_ms - prev_ms AS gap_ms, hour_after, day, prev_day,"
            "  LAG(hour_before) OVER (PARTITION BY conversation ORDER BY sent_at_ms, id) AS before_gap"
            "  FROM stepped),"
            " same_day AS MATERIALIZED (SELECT * FROM gaps WHERE day = prev_day),"
            " ranked AS (SELECT conversation, gap_ms, row_number() OVER (PARTITION BY conversation ORDER BY gap_ms) AS rn,"
            "  count(*) OVER (PARTITION BY conversation) AS n FROM same_day),"
            " median AS (SELECT conversation, avg(gap_ms) AS med, max(n) AS n FROM ranked"
            "  WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY conversation),"
            " deviation AS (SELECT r.conversation, abs(r.gap_ms - d.med) AS dev,"
            "  row_number() OVER (PARTITION BY r.conversation ORDER BY abs(r.gap_ms - d.med)) AS rn, d.n"
            "  FROM ranked r JOIN median d USING (conversation)),"
            " mad AS (SELECT conversation, avg(dev) AS mad FROM deviation WHERE rn IN ((n + 1) / 2, (n + 2) / 2)"
            "  GROUP BY conversation)"
            " SELECT s.id, s.prev_id, s.gap_ms, d.med, a.mad, s.before_gap, s.hour_after FROM same_day s"
            " JOIN median d USING (conversation) JOIN mad a USING (conversation)"
            " WHERE d.n >= 30 AND s.before_gap >= 10 AND s.hour_after >= 10"
            "  AND s.gap_ms >= 1800000 AND s.gap_ms >= 30 * d.med AND s.gap_ms >= d.med + 10 * 1.4826 * a.mad"
            " ORDER BY s.gap_ms DESC"
        )
        return [Signal("rhythm_gaps", "low",
                       f"{_duration(r['gap_ms'] / 1000)} of silence on an active day (the conversation's usual gap "
                       f"is {_duration(r['med'] / 1000)}; {r['before_gap']} messages in the hour before, "
                       f"{r['hour_after']} in the hour after): messages may be missing here, or the talk paused",
                       self.messages([r["prev_id"], r["id"]])) for r in rows]

    def bursts(self) -> list[Signal]:
        """Many messages in one second — one minute where the export only gives minutes — far above
        the conversation's usual count per busy second. System lines and media batches are left out."""
        rows = self.sql(
            ", resolution AS (SELECT conversation,"
            "  CASE WHEN max(abs(sent_at_ms) % 60000) = 0 THEN 60000 ELSE 1000 END AS unit"
            "  FROM keyed GROUP BY conversation),"
            " buckets AS (SELECT k.conversation, r.unit, k.sent_at_ms / r.unit AS bucket, count(*) AS n,"
            "  group_concat(k.id) AS ids FROM keyed k JOIN resolution r USING (conversation)"
            "  WHERE k.kind IN ('text', 'link', 'transfer', 'red_packet', 'other')"
            "  GROUP BY k.conversation, bucket),"
            " ranked AS (SELECT conversation, n, row_number() OVER (PARTITION BY conversation ORDER BY n) AS rn,"
            "  count(*) OVER (PARTITION BY conversation) AS total FROM buckets),"
            " typical AS (SELECT conversation, avg(n) AS med FROM ranked"
            "  WHERE rn IN ((total + 1) / 2, (total + 2) / 2) GROUP BY conversation)"
            " SELECT b.*, t.med FROM buckets b JOIN typical t USING (conversation)"
            " WHERE b.n >= max(CASE WHEN b.unit = 60000 THEN 40 ELSE 10 END, 10 * t.med)"
            " ORDER BY b.bucket"
        )
        out = []
        for r in rows:
            ids = [int(i) for i in r["ids"].split(",")]
            unit = "minute" if r["unit"] == 60000 else "second"
            out.append(Signal("bursts", "low",
                              f"{r['n']} messages within one {unit} (usually {r['med']:g} per busy {unit}): "
                              "a pasted or generated block, or a bulk forward", self.messages(ids[:20])))
        return out

    # -- content ------------------------------------------------------------------------------

    def duplicate_ids(self) -> list[Signal]:
        rows = self.sql(
            "SELECT conversation, 'message_id' AS field, message_id AS key, group_concat(id) AS ids"
            " FROM keyed WHERE message_id IS NOT NULL GROUP BY conversation, message_id"
            " HAVING count(DISTINCT content_hash) > 1"
            " UNION ALL"
            " SELECT conversation, seq_field, seq_text, group_concat(id) FROM keyed"
            " WHERE seq_text IS NOT NULL AND seq_field != 'message_id' GROUP BY conversation, seq_field, seq_text"
            " HAVING count(DISTINCT content_hash) > 1"
        )
        return [Signal("duplicate_ids", "high",
                       f"{r['field']} {r['key']} is used by {len(r['ids'].split(','))} messages that say different "
                       "things: one of them was changed, or two copies were merged",
                       self.messages(int(i) for i in r["ids"].split(","))) for r in rows]

    def edits(self) -> list[Signal]:
        rows = self.sql("SELECT id, sent_at_ms, edited_at_ms, utc_offset_min FROM keyed"
                        " WHERE edited_at_ms IS NOT NULL ORDER BY sent_at_ms, id")
        out = []
        for r in rows:
            delta = (r["edited_at_ms"] - r["sent_at_ms"]) / 1000
            edited = iso_from_ms(r["edited_at_ms"], r["utc_offset_min"])
            if delta < 0:
                out.append(Signal("edits", "medium",
                                  f"edited at {edited}, {_duration(-delta)} before it was sent", self.messages([r["id"]])))
            else:
                out.append(Signal("edits", "info", f"edited at {edited}, {_duration(delta)} after it was sent; "
                                  "the export shows the edited text", self.messages([r["id"]])))
        return out

    def recalls(self) -> list[Signal]:
        rows = self.sql("SELECT id FROM keyed WHERE kind = 'recall' ORDER BY sent_at_ms, id")
        return [Signal("recalls", "info", "a message was recalled (its text is gone from the export)",
                       self.messages([r["id"]])) for r in rows]

    def utc_offset_changes(self) -> list[Signal]:
        rows = self.sql(
            "SELECT id, prev_id, platform, sender, utc_offset_min, prev_offset, month FROM ("
            " SELECT id, platform, sender, utc_offset_min, LAG(id) OVER w AS prev_id, LAG(utc_offset_min) OVER w AS prev_offset,"
            f"  CAST(strftime('%m', {LOCAL_DAY.replace('m.', '')}) AS INTEGER) AS month, sent_at_ms"
            # an export shows every message in the exporting device's zone; e-mail keeps each sender's
            " FROM keyed WINDOW w AS (PARTITION BY source, CASE WHEN platform = 'email' THEN sender END"
            "  ORDER BY sent_at_ms, id)) WHERE utc_offset_min != prev_offset ORDER BY sent_at_ms, id"
        )
        out = []
        for r in rows:
            before, after = _offset(r["prev_offset"]), _offset(r["utc_offset_min"])
            daylight = abs(r["utc_offset_min"] - r["prev_offset"]) == 60 and r["month"] in (3, 4, 10, 11)
            if daylight:
                out.append(Signal("utc_offset_changes", "info",
                                  f"offset changes from {before} to {after} in month {r['month']}: "
                                  "consistent with a daylight-saving change", self.messages([r["prev_id"], r["id"]])))
            elif r["platform"] == "email":
                out.append(Signal("utc_offset_changes", "low",
                                  f"{r['sender']}'s mail changes from {before} to {after}: travel, another mail "
                                  "client, or a time taken from elsewhere (a missing Date header is read in the "
                                  "import zone)", self.messages([r["prev_id"], r["id"]])))
            else:
                out.append(Signal("utc_offset_changes", "medium",
                                  f"offset changes from {before} to {after} within one source: the device's zone "
                                  "changed (travel) or times were written by a different hand",
                                  self.messages([r["prev_id"], r["id"]])))
        return out

    def sender_name_changes(self) -> list[Signal]:
        rows = self.sql(
            "SELECT id, prev_id, platform, sender_id, sender_name, prev_name FROM ("
            " SELECT id, platform, sender_id, sender_name, sent_at_ms, LAG(id) OVER w AS prev_id,"
            "  LAG(sender_name) OVER w AS prev_name FROM keyed"
            " WHERE sender_id IS NOT NULL AND sender_name IS NOT NULL AND kind NOT IN ('system', 'recall')"
            " WINDOW w AS (PARTITION BY platform, sender_id ORDER BY sent_at_ms, id))"
            " WHERE sender_name != prev_name ORDER BY sent_at_ms, id"
        )
        return [Signal("sender_name_changes", "low",
                       f"sender {r['sender_id']} is shown as {r['prev_name']!r}, then as {r['sender_name']!r} "
                       "(a renamed nickname, or messages put under another person's id)",
                       self.messages([r["prev_id"], r["id"]])) for r in rows]

    # -- the file -----------------------------------------------------------------------------

    def file_hash_signals(self, sources: list[dict[str, Any]]) -> list[Signal]:
        out = []
        for s in sources:
            if s["sha256_matches_file"] is False:
                out.append(Signal("source_file_hash", "high",
                                  f"{s['path']} has changed since it was imported: SHA-256 now {s['current_sha256']}, "
                                  f"recorded {s['sha256']}", []))
            elif s["sha256_matches_file"] is None:
                out.append(Signal("source_file_hash", "info",
                                  f"{s['path']} is no longer there to re-read; recorded SHA-256 {s['sha256']}"
                                  + ("" if s["md5"] else " (no MD5 without the file)"), []))
        return out


def source_file_report(row: sqlite3.Row) -> dict[str, Any]:
    """The recorded SHA-256, and the file read again: does it still match, and its MD5."""
    path = row["path"]
    current = _hash_source(path)
    report = {
        "id": row["id"], "path": path, "label": row["label"], "format": row["format"],
        "imported_at": row["imported_at"], "message_count": row["message_count"], "new_count": row["new_count"],
        "sha256": row["sha256"], "md5": None, "current_sha256": None, "sha256_matches_file": None,
        "file_found": current is not None,
    }
    if current is not None:
        sha256, md5 = current
        # a source re-read in another zone (import --reread) is identified as SHA256@ZONE
        report.update(md5=md5, current_sha256=sha256, sha256_matches_file=sha256 == row["sha256"].split("@", 1)[0])
    return report


def _hash_source(path: str) -> tuple[str, str | None] | None:
    """(SHA-256, MD5) of a file, the manifest SHA-256 of a folder (no MD5), a zip member's bytes."""
    candidate = Path(path)
    try:
        if candidate.is_file():
            with open(candidate, "rb") as handle:
                return _digests(handle)
        if candidate.is_dir():
            from ..importer import folder_sha256

            return folder_sha256(candidate)[0], None
        if "!" in path:
            bundle, member = path.split("!", 1)
            if Path(bundle).is_file() and zipfile.is_zipfile(bundle):
                return _hash_zip_member(Path(bundle), member)
    except OSError:
        return None
    return None


def _hash_zip_member(bundle: Path, member: str) -> tuple[str, str | None] | None:
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            names = {info.filename}
            if not info.flag_bits & 0x800:
                try:
                    names.add(info.filename.encode("cp437").decode("gb18030"))
                except (UnicodeEncodeError, UnicodeDecodeError):
                    pass
            if member in names and not info.is_dir():
                with archive.open(info) as handle:
                    return _digests(handle)
    return None


def _digests(handle: Any) -> tuple[str, str]:
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    while chunk := handle.read(1 << 20):
        sha256.update(chunk)
        md5.update(chunk)
    return sha256.hexdigest(), md5.hexdigest()


# ---- wording helpers --------------------------------------------------------------------------

def _duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:g} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def _offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _describe_pair(messages: list[dict[str, Any]], field: str | None, keys: list[Any] | None = None) -> str:
    """'#12 (seq 7) at … then #13 (seq 6) at …' — the pair in the order the file or sequence gives."""
    parts = []
    for index, m in enumerate(messages):
        key = f" ({field} {keys[index]})" if field and keys and index < len(keys) else ""
        parts.append(f"#{m['id']}{key} at {m['sent_at']}")
    return " then ".join(parts)


# ---- API --------------------------------------------------------------------------------------

def check(archive: Archive, ref: str, *, tz: str | None = None) -> dict[str, Any]:
    """Every check over one copy (see :func:`resolve_scope`); the report documented in the README.

    An export file that is not in the archive is read into a temporary archive (in ``tz``, else the
    archive's zone) and checked there: the archive is not changed.
    """
    if tz:
        zone(tz)  # an unknown zone is an error even when the copy is already in the archive
    try:
        scope = resolve_scope(archive, ref)
    except ChatAuditError:
        if not str(ref).strip() or not Path(ref).exists():
            raise
        return check_file(archive, Path(ref), tz=tz)
    return Checker(archive, scope).run()


def check_file(archive: Archive, path: Path, *, tz: str | None = None) -> dict[str, Any]:
    """Check an export file without importing it; ids of the temporary archive are not reported."""
    from ..importer import temporary_archive

    with temporary_archive(archive, path, tz) as temporary:
        rows = temporary.db.execute("SELECT * FROM sources ORDER BY id").fetchall()
        if not rows:
            raise ChatAuditError(f"{path}: holds no chat export that could be read")
        scope = _source_scope(rows, path.name)
        scope.kind = "file"
        scope.description = f"file {path} (read for this check only; not in the archive)"
        report = Checker(temporary, scope).run()
    for source in report["sources"]:
        source["id"] = None
    for signal in report["signals"]:
        for message in signal["messages"]:
            message["id"] = None
    return report
