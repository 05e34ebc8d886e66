"""A service session as a review names it: its conversation and its first and last message ids.

The quality pipeline numbers sessions per conversation (``12-3``), and that number moves when an
option that splits sessions changes (``--session-gap``, ``--since``). A review must keep pointing at
the same messages, so it anchors the session by ``conversation/first_message-last_message``
(``12/3401-3420``): the anchor is taken from the pipeline's own session rows
(:func:`chataudit.quality.report.analyze`), never from a second session finder, and stored with the
automatic score it had then (``review_sessions``).

Who someone is: an operator (the CLI's ``--operator``, the web user's name) is the roster member
whose id or name equals it; a session is theirs when that member is one of its agents.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import orjson

from ..errors import ChatAuditError
from ..governance import clock
from ..store import Archive

ANCHOR = re.compile(r"(\d+)/(\d+)-(\d+)")
QUALITY_ID = re.compile(r"(\d+)-(\d+)")
SESSION_KEYS = ("session", "session_id", "conversation", "first_message", "last_message", "start", "end", "agents",
                "agent_names", "auto")
TRANSCRIPT_KEYS = ("id", "sent_at", "sender_id", "sender_name", "kind", "text", "agent")


def anchor_text(conversation: int, first_message: int, last_message: int) -> str:
    return f"{conversation}/{first_message}-{last_message}"


# ---- the quality pipeline's sessions -----------------------------------------------------------------

def archive_roster(archive: Archive) -> list[Any]:
    """The archive's roster (`roster set`) as the quality pipeline reads a roster file."""
    from ..governance.roster import roster
    from ..quality.config import RosterEntry

    return [RosterEntry(r["id"], r["name"], r["role"], date.fromisoformat(r["hired_on"]) if r["hired_on"] else None,
                        r["team"]) for r in roster(archive)]


def zone_name(archive: Archive, tz: str | None = None) -> str:
    """The zone `quality` reads naive times and days in: --tz, else the archive's, else Asia/Shanghai."""
    return tz or archive.setting("tz") or "Asia/Shanghai"


def pipeline_options(archive: Archive, *, since_ms: int | None = None, until_ms: int | None = None,
                     conversations: tuple[int, ...] = (), tz: str | None = None) -> Any:
    """The quality report's options for a review: the archive's roster and zone, default scorecard."""
    from ..quality.config import QualityOptions

    return QualityOptions(since_ms=since_ms, until_ms=until_ms, conversations=conversations,
                          tz=zone_name(archive, tz), roster=archive_roster(archive))


def pipeline(archive: Archive, *, since_ms: int | None = None, until_ms: int | None = None,
             conversations: tuple[int, ...] = (), tz: str | None = None) -> dict[str, Any]:
    """The quality report (``quality --json``) over the period or conversations: its ``session_rows``
    carry each session's anchor (first/last message), agents and automatic score."""
    from ..quality.report import analyze

    return analyze(archive, pipeline_options(archive, since_ms=since_ms, until_ms=until_ms,
                                             conversations=conversations, tz=tz))


def row_facts(row: dict[str, Any]) -> dict[str, Any]:
    """What an anchor stores of a pipeline session row (and its audit entry records)."""
    from ..quality.score import DIMENSIONS

    return {"conversation": row["conversation"], "first_message": row["first_message"],
            "last_message": row["last_message"], "start_ms": row["start_ms"], "end_ms": row["end_ms"],
            "agents": list(row["agent_keys"]), "agent_names": list(row["agents"]), "auto_score": row["score"],
            "auto_dimensions": {d: row[d] for d in DIMENSIONS}, "auto_critical": list(row["critical"]),
            "resolution": row["resolution_reason"], "sensitive": row["sensitive"]}


ANCHOR_COLUMNS = ("conversation", "first_message", "last_message", "start_ms", "end_ms", "agents", "agent_names",
                  "auto_score", "auto_dimensions", "auto_critical", "resolution", "sensitive")
JSON_COLUMNS = ("agents", "agent_names", "auto_dimensions", "auto_critical")


def locate(archive: Archive, ref: str) -> dict[str, Any]:
    """The session ``ref`` names — an anchor ``12/3401-3420`` or a quality session id ``12-3`` (as
    ``quality --json`` numbers it with the default options) — as stored facts: the anchored row if
    any (with ``id``), else the pipeline's row (``id`` None; :func:`anchor` stores it)."""
    text = str(ref).strip()
    match = ANCHOR.fullmatch(text)
    if match:
        conversation, first, last = (int(g) for g in match.groups())
        found = archive.db.execute("SELECT id FROM review_sessions WHERE conversation = ? AND first_message = ?"
                                   " AND last_message = ?", (conversation, first, last)).fetchone()
        if found:
            return stored(archive, found[0])
        rows = [r for r in _conversation_rows(archive, conversation)
                if r["first_message"] == first and r["last_message"] == last]
        if not rows:
            raise ChatAuditError(f"no service session {text}: the quality pipeline finds no session of conversation "
                                 f"{conversation} from message {first} to message {last}")
        return {"id": None, **row_facts(rows[0])}
    match = QUALITY_ID.fullmatch(text)
    if match:
        conversation = int(match.group(1))
        rows = [r for r in _conversation_rows(archive, conversation) if r["session"] == text]
        if not rows:
            raise ChatAuditError(f"no service session {text} (see `chataudit quality --json`, session_rows)")
        facts = row_facts(rows[0])
        found = archive.db.execute("SELECT id FROM review_sessions WHERE conversation = ? AND first_message = ?"
                                   " AND last_message = ?", (conversation, facts["first_message"],
                                                             facts["last_message"])).fetchone()
        return stored(archive, found[0]) if found else {"id": None, **facts}
    raise ChatAuditError(f"session {text!r}: give CONVERSATION/FIRST-LAST (message ids, e.g. 12/3401-3420) or a "
                         "quality session id such as 12-3")


def _conversation_rows(archive: Archive, conversation: int) -> list[dict[str, Any]]:
    if not archive.db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation,)).fetchone():
        raise ChatAuditError(f"no conversation {conversation} (see `chataudit conversations`)")
    return pipeline(archive, conversations=(conversation,))["session_rows"]


def locate_stored(archive: Archive, facts: dict[str, Any]) -> int | None:
    """The id of the stored anchor of these facts, or None."""
    found = archive.db.execute("SELECT id FROM review_sessions WHERE conversation = ? AND first_message = ?"
                               " AND last_message = ?", (facts["conversation"], facts["first_message"],
                                                         facts["last_message"])).fetchone()
    return found[0] if found else None


def anchor_facts(facts: dict[str, Any], session_id: int) -> dict[str, Any]:
    """What the audit entry that anchors a session records of it (all of its row but the time)."""
    return {"id": session_id, **{c: facts[c] for c in ANCHOR_COLUMNS}}


def anchor(archive: Archive, facts: dict[str, Any]) -> int:
    """Store the session (in the caller's transaction) unless it is already; its id."""
    if facts.get("id"):
        return int(facts["id"])
    values = [orjson.dumps(facts[c]).decode() if c in JSON_COLUMNS else facts[c] for c in ANCHOR_COLUMNS]
    archive.db.execute(f"INSERT OR IGNORE INTO review_sessions ({', '.join(ANCHOR_COLUMNS)}, anchored_at)"
                       f" VALUES ({', '.join('?' * len(ANCHOR_COLUMNS))}, ?)", (*values, clock.iso()))
    return archive.db.execute("SELECT id FROM review_sessions WHERE conversation = ? AND first_message = ?"
                              " AND last_message = ?", (facts["conversation"], facts["first_message"],
                                                        facts["last_message"])).fetchone()[0]


def stored(archive: Archive, session_id: int) -> dict[str, Any]:
    row = archive.db.execute(f"SELECT id, {', '.join(ANCHOR_COLUMNS)} FROM review_sessions WHERE id = ?",
                             (session_id,)).fetchone()
    if row is None:
        raise ChatAuditError(f"no review session {session_id}")
    facts = dict(zip(("id", *ANCHOR_COLUMNS), row))
    for column in JSON_COLUMNS:
        facts[column] = _json(facts[column])
    return facts


def _json(text: Any) -> Any:
    try:
        return orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError):
        return text  # shown as stored; `verify` names the damage


def as_json(archive: Archive, facts: dict[str, Any], *, with_auto: bool = True) -> dict[str, Any]:
    """A session as `review show --json` gives it (``auto`` None when hidden from a blind reviewer)."""
    from ..store.sqlite import iso_from_ms

    from ..model import zone

    tz = zone_name(archive)
    return {"session": anchor_text(facts["conversation"], facts["first_message"], facts["last_message"]),
            "session_id": facts.get("id"), "conversation": facts["conversation"],
            "first_message": facts["first_message"], "last_message": facts["last_message"],
            "start": iso_from_ms(facts["start_ms"], tz=zone(tz)), "end": iso_from_ms(facts["end_ms"], tz=zone(tz)),
            "agents": facts["agents"], "agent_names": facts["agent_names"],
            "auto": {"score": facts["auto_score"], "dimensions": facts["auto_dimensions"],
                     "critical": facts["auto_critical"], "resolution": facts["resolution"],
                     "sensitive": facts["sensitive"], "scale": 100} if with_auto else None}


def transcript(archive: Archive, facts: dict[str, Any], redact_policy: str | None = None) -> list[dict[str, Any]]:
    """Every message of the session's conversation from its first to its last message, timeline order."""
    from ..queries import redactor_for

    transform = redactor_for(redact_policy, archive, facts["conversation"])
    rows = archive.select_messages(
        "m.conversation = ? AND (m.sent_at_ms, m.id) >= (SELECT sent_at_ms, id FROM messages WHERE id = ?)"
        " AND (m.sent_at_ms, m.id) <= (SELECT sent_at_ms, id FROM messages WHERE id = ?)",
        [facts["conversation"], facts["first_message"], facts["last_message"]], None, None)
    agents = set(facts["agents"]) | set(facts["agent_names"])
    found = []
    for row in rows:
        agent = row.get("sender_id") in agents or row.get("sender_name") in agents  # before names are redacted
        if transform is not None:
            row = transform(row)
        found.append({k: row.get(k) for k in TRANSCRIPT_KEYS[:-1]} | {"agent": agent})
    return found


def message_ids(archive: Archive, facts: dict[str, Any]) -> set[int]:
    return {row["id"] for row in transcript(archive, facts)}


# ---- who is who ---------------------------------------------------------------------------------------

def identities(archive: Archive, operator: str) -> set[str]:
    """The operator's names: itself, and the id and name of the roster member it is."""
    found = {operator}
    for member_id, name in archive.db.execute("SELECT id, name FROM governance_roster WHERE id = ? OR name = ?",
                                              (operator, operator)):
        found |= {member_id, name}
    return found


def canonical(archive: Archive, operator: str) -> str:
    """The roster id of the member ``operator`` names (by id or name), else ``operator`` itself: a
    reviewer is stored under one name whichever of the two they log in with."""
    row = archive.db.execute("SELECT id FROM governance_roster WHERE id = ? UNION ALL"
                             " SELECT id FROM governance_roster WHERE name = ? LIMIT 1", (operator, operator)).fetchone()
    return row[0] if row else operator


def is_agent_of(archive: Archive, operator: str, facts: dict[str, Any]) -> bool:
    """Whether ``operator`` is one of the session's agents (by roster id or name)."""
    return bool(identities(archive, operator) & (set(facts["agents"]) | set(facts["agent_names"])))


def read_scope(archive: Archive, params: dict[str, Any]) -> Any:
    """What a review command reads (enterprise mode checks it against the authorizations before it
    runs): the conversation of the review or session it names; for `review assign`, its week."""
    from ..governance.scope import Scope

    if params.get("week"):
        from .assignment import week_bounds

        _, since_ms, until_ms = week_bounds(archive, str(params["week"]))
        return Scope(since_ms=since_ms, until_ms=until_ms)
    ref = params.get("ref") or params.get("session_ref")
    review_id = params.get("review_id")
    if ref is not None and str(ref).strip().isdigit():
        review_id = int(str(ref).strip())
    if review_id is not None:
        row = archive.db.execute("SELECT s.conversation FROM reviews r JOIN review_sessions s ON s.id = r.session"
                                 " WHERE r.id = ?", (int(review_id),)).fetchone()
        if row is None:
            raise ChatAuditError(f"no review {review_id} (see `chataudit review list`)")
        return Scope(conversations=(row[0],))
    match = ANCHOR.fullmatch(str(ref or "").strip()) or QUALITY_ID.fullmatch(str(ref or "").strip())
    if match:
        return Scope(conversations=(int(match.group(1)),))
    return Scope()  # nothing named: the whole archive

