"""Sessions and waits, found by set-based SQL (DuckDB window functions over the archive's timeline).

Definitions (README "Service quality"):

* Only messages of customers and agents count. System lines, recalls and bots are left out
  entirely: they neither start nor end a wait, nor keep a session open.
* A **session** is a run of counted messages of one conversation with no idle gap longer than
  ``session_gap_s`` between two consecutive ones.
* A **wait** starts at a customer message when the previous counted message of the session is an
  agent's (or there is none); later customer messages do not restart it. It ends at the next agent
  message of the same session, which is the **response**, credited to that agent. A wait still
  open when the session ends is **unanswered**.

How: SQLite reads the covering index ``messages_timing`` in timeline order (no sort, no wide rows)
and hands the five integer columns a wait needs (conversation, instant, id, speaker, role code)
to an in-memory DuckDB through a temporary CSV file — DuckDB's own SQLite reader is an extension
it would download, and this path costs about 1 s per million messages. DuckDB then finds sessions
and waits with window functions (tables ``msgs``, ``sessions``, ``waits``), which :mod:`timing`
aggregates.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable

import duckdb

from ..model import zone
from .config import QualityOptions, RosterEntry

CUSTOMER = 0
IGNORED = -1


@dataclass(frozen=True)
class Agent:
    """An agent as the report names it. ``code`` is its number in the SQL tables (1, 2, …)."""

    code: int
    key: str
    name: str
    role: str
    hired_on: str | None
    team: str | None
    cohort: str  # new | veteran | unknown


@dataclass(frozen=True)
class Sender:
    """A (sender_id, sender_name) pair seen in the archive, numbered for the SQL tables."""

    number: int
    sender_id: str
    sender_name: str
    code: int  # agent code, CUSTOMER or IGNORED
    # why: roster | staff (WeCom/DingTalk internal) | me (your own messages) | external (a
    # platform's customer id) | other (anyone else) | ignored
    basis: str = "other"

    @property
    def label(self) -> str:
        return self.sender_name or self.sender_id


def refresh_senders(db: sqlite3.Connection) -> None:
    """Bring the distinct-sender cache up to date with messages added since the last run."""
    row = db.execute("SELECT value FROM quality_state WHERE key = 'senders_last_id'").fetchone()
    last_id = int(row[0]) if row else 0
    top = db.execute("SELECT max(id) FROM messages").fetchone()[0] or 0
    if top <= last_id:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "INSERT OR IGNORE INTO quality_senders (platform, sender_id, sender_name, is_me, side)"
            " SELECT DISTINCT platform, coalesce(sender_id, ''), coalesce(sender_name, ''),"
            " coalesce(is_me, 0), CASE WHEN extras IS NULL THEN '' ELSE"
            " coalesce(json_extract(extras, '$.side'), '') END"
            " FROM messages WHERE id > ?",
            (last_id,),
        )
        db.execute(
            "INSERT INTO quality_state (key, value) VALUES ('senders_last_id', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(top),),
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def classify_senders(
    db: sqlite3.Connection, roster: list[RosterEntry], period_start: datetime | None, new_days: int
) -> tuple[list[Sender], list[Agent]]:
    """Number every (sender_id, sender_name) and give it an agent code, CUSTOMER or IGNORED (bots).

    With a roster, agents are its members, matched on sender id or display name on any platform.
    Without one, the exporter's own messages (``is_me``) and WeCom/DingTalk internal staff are the
    agents. WeCom external ids (``wo…``/``wm…``) are always customers; bots (``wb…``, side ``bot``,
    roster role ``bot``) are left out.
    """
    refresh_senders(db)
    rows = db.execute(
        "SELECT platform, sender_id, sender_name, max(is_me), group_concat(DISTINCT side)"
        " FROM quality_senders GROUP BY platform, sender_id, sender_name ORDER BY platform, sender_id, sender_name"
    ).fetchall()
    return classify(rows, roster, period_start, new_days)


def classify(rows: Any, roster: list[RosterEntry], period_start: datetime | None,
             new_days: int) -> tuple[list[Sender], list[Agent]]:
    """:func:`classify_senders` of rows (platform, sender_id, sender_name, max is_me, comma-joined
    distinct sides) in that key order (agents without a roster are numbered in it) — whichever
    engine grouped them (the archive's cache, or Spark over a lake)."""
    by_key: dict[str, RosterEntry] = {}
    for entry in roster:
        by_key.setdefault(entry.id, entry)
    for entry in roster:
        by_key.setdefault(entry.name, entry)
    agents: dict[str, Agent] = {}

    def agent_for(key: str, name: str, role: str, hired: str | None, team: str | None) -> int:
        if key not in agents:
            agents[key] = Agent(len(agents) + 1, key, name, role, hired, team,
                                cohort_of(hired, period_start, new_days))
        return agents[key].code

    for entry in roster:  # roster order gives the codes, so the report lists agents as the roster does
        if entry.role != "bot":
            agent_for(entry.id, entry.name, entry.role,
                      entry.hired_on.isoformat() if entry.hired_on else None, entry.team)
    codes: dict[tuple[str, str], int] = {}
    bases: dict[tuple[str, str], str] = {}
    for platform, sender_id, sender_name, is_me, sides in rows:
        sides = set(filter(None, (sides or "").split(",")))
        entry = (by_key.get(sender_id) if sender_id else None) or (by_key.get(sender_name) if sender_name else None)
        basis = "ignored"
        if not sender_id and not sender_name:
            code = IGNORED
        elif entry is not None:
            code, basis = (IGNORED, "ignored") if entry.role == "bot" else (agents[entry.id].code, "roster")
        elif "bot" in sides or (platform == "wecom" and sender_id.startswith("wb")):
            code = IGNORED
        elif "external" in sides or (platform == "wecom" and sender_id[:2] in ("wo", "wm")):
            code, basis = CUSTOMER, "external"
        elif not roster and (is_me or "internal" in sides):
            code = agent_for(sender_id or sender_name, sender_name or sender_id, "service", None, None)
            basis = "staff" if "internal" in sides else "me"
        else:
            code, basis = CUSTOMER, "other"
        key = (sender_id, sender_name)
        previous = codes.get(key)
        if previous is None or code > previous:
            codes[key], bases[key] = code, basis
    senders = [Sender(n, sid, sname, code, bases[(sid, sname)])
               for n, ((sid, sname), code) in enumerate(sorted(codes.items()), start=1)]
    return senders, sorted(agents.values(), key=lambda a: a.code)


def cohort_of(hired_on: str | None, period_start: datetime | None, new_days: int) -> str:
    """new: hired less than ``new_days`` before the period starts (or during it); else veteran."""
    if not hired_on or period_start is None:
        return "unknown"
    hired = datetime.fromisoformat(hired_on).replace(tzinfo=period_start.tzinfo)
    return "new" if hired > period_start - timedelta(days=new_days) else "veteran"


def with_cohorts(con: duckdb.DuckDBPyConnection, options: QualityOptions, agents: list[Agent]) -> tuple[list[Agent], int | None]:
    """Agents with their cohort for this period (it starts at --since, else at its first message)."""
    start_ms = options.since_ms
    if start_ms is None:
        start_ms = con.execute("SELECT min(ms) FROM m").fetchone()[0]
    if start_ms is None:
        return agents, None
    start = datetime.fromtimestamp(start_ms / 1000, zone(options.tz))
    return [replace(a, cohort=cohort_of(a.hired_on, start, options.new_days)) for a in agents], start_ms


def _message_filter(options: QualityOptions) -> tuple[list[str], list[Any]]:
    where = ["m.kind NOT IN ('system', 'recall')"]
    params: list[Any] = []
    if options.since_ms is not None:
        where.append("m.sent_at_ms >= ?")
        params.append(options.since_ms)
    if options.until_ms is not None:
        where.append("m.sent_at_ms < ?")
        params.append(options.until_ms)
    if options.platforms:
        marks = ",".join("?" * len(options.platforms))
        where.append(f"m.conversation IN (SELECT id FROM conversations WHERE platform IN ({marks}))")
        params.extend(options.platforms)
    if options.conversations:
        where.append(f"m.conversation IN ({','.join(str(int(c)) for c in options.conversations)})")
    return where, params


def load_timeline(db: sqlite3.Connection, options: QualityOptions, senders: list[Sender]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding table ``m(conv, ms, id, who, code)``: every counted message."""
    for statement in ("DROP TABLE IF EXISTS temp.q_who",
                      "CREATE TEMP TABLE q_who (sid TEXT NOT NULL, sname TEXT NOT NULL, who INTEGER NOT NULL,"
                      " code INTEGER NOT NULL, PRIMARY KEY (sid, sname)) WITHOUT ROWID"):
        db.execute(statement)
    db.executemany("INSERT INTO q_who VALUES (?, ?, ?, ?)",
                   [(s.sender_id, s.sender_name, s.number, s.code) for s in senders])
    where, params = _message_filter(options)
    where.append("w.code >= 0")
    # CROSS JOIN keeps messages the outer loop, so rows come in index (timeline) order
    cursor = db.execute(
        "SELECT group_concat(m.conversation || ',' || m.sent_at_ms || ',' || m.id || ',' || w.who || ','"
        " || w.code, char(10))"
        " FROM messages m INDEXED BY messages_timing"
        " CROSS JOIN q_who w ON w.sid = coalesce(m.sender_id, '') AND w.sname = coalesce(m.sender_name, '')"
        f" WHERE {' AND '.join(where)} GROUP BY m.conversation",
        params,
    )
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    handle, path = tempfile.mkstemp(prefix="chataudit-timeline-", suffix=".csv")
    try:
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write("conv,ms,id,who,code\n")
            for (chunk,) in cursor:
                out.write(chunk)
                out.write("\n")
        con.execute(
            "CREATE TABLE m AS SELECT * FROM read_csv(?, header = true, columns = {'conv': 'BIGINT',"
            " 'ms': 'BIGINT', 'id': 'BIGINT', 'who': 'BIGINT', 'code': 'INTEGER'})",
            [path],
        )
    finally:
        os.unlink(path)
    return con


def load_rows(con: duckdb.DuckDBPyConnection, table: str, columns: str, rows: Any) -> None:
    """A DuckDB table from Python rows of plain values (no commas, quotes or newlines) through a
    temporary CSV, as :func:`load_timeline` does: one read instead of a statement per row."""
    names = [c.split()[0] for c in columns.split(",")]
    types = dict(c.split()[:2] for c in columns.split(","))
    handle, path = tempfile.mkstemp(prefix=f"chataudit-{table}-", suffix=".csv")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(",".join(names) + "\n")
            for row in rows:
                out.write(",".join("" if v is None else str(v) for v in row) + "\n")
        spec = ", ".join(f"'{n}': '{t}'" for n, t in types.items())
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM read_csv(?, header = true, "
                    f"columns = {{{spec}}})", [path])
    finally:
        os.unlink(path)


SERVICE_REASONS = {
    "named": "named with --conversation",
    "roster": "a roster member wrote in it",
    "staff": "enterprise staff (WeCom/DingTalk internal) talked with a customer",
    "external": "a customer (an external WeCom/DingTalk id) wrote in it",
    "private": "a chat of your own (is_me) with no roster member and no external customer: taken as "
               "private, not service (give --roster, or --conversation to score it)",
    "no_agent": "no agent wrote in it (no roster member, no enterprise staff)",
    "no_customer": "only agents wrote in it",
}


def take_service_conversations(con: duckdb.DuckDBPyConnection, db: sqlite3.Connection, options: QualityOptions,
                               senders: list[Sender]) -> list[dict[str, Any]]:
    """Keep in ``m`` only the conversations that are customer service, and say of each why.

    A conversation is service when a roster member wrote in it, when enterprise staff (WeCom or
    DingTalk ``internal``) talked with a customer there, when an external customer id wrote in it,
    or when it was named with ``--conversation``. A chat whose only "agent" is you (``is_me``,
    without a roster) is a private chat between friends, not a service session; so is a
    conversation where no agent wrote at all.
    """
    load_rows(con, "who_basis", "who BIGINT, basis VARCHAR", ((s.number, s.basis) for s in senders))
    named = [int(c) for c in options.conversations]
    con.execute(
        "CREATE OR REPLACE TABLE taken AS"
        " WITH c AS ("
        "  SELECT conv, count(*) AS messages,"
        "   bool_or(b.basis = 'roster') AS roster, bool_or(b.basis = 'staff') AS staff,"
        "   bool_or(b.basis = 'external') AS external, bool_or(b.basis = 'me') AS me,"
        "   bool_or(m.code > 0) AS agent, bool_or(m.code = 0) AS customer"
        "  FROM m JOIN who_basis b USING (who) GROUP BY conv"
        " )"
        " SELECT conv, messages, CASE"
        "   WHEN list_contains(?::BIGINT[], conv) THEN 'named'"
        + REASON_CASE +
        " FROM c",
        [named],
    )
    con.execute("DELETE FROM m WHERE conv NOT IN (SELECT conv FROM taken"
                " WHERE reason IN ('named', 'roster', 'staff', 'external'))")
    rows = con.execute("SELECT conv, messages, reason FROM taken ORDER BY conv").fetchall()
    titles = {}
    if rows:
        ids = ",".join(str(int(r[0])) for r in rows)
        titles = {r[0]: (r[1], r[2], r[3], r[4]) for r in db.execute(
            f"SELECT id, platform, native_id, title, type FROM conversations WHERE id IN ({ids})")}
    return service_rows(rows, titles)


def service_rows(rows: Any, titles: dict[int, tuple]) -> list[dict[str, Any]]:
    """The report's ``conversations``: (conv, messages, reason) rows in conversation order, with
    each one's (platform, native_id, title, type)."""
    out = []
    for conv, messages, reason in rows:
        platform, native_id, title, kind = titles.get(conv, (None, None, None, None))
        out.append({"conversation": conv, "platform": platform, "title": title or native_id, "type": kind,
                    "messages": messages, "service": reason in ("named", "roster", "staff", "external"),
                    "reason": reason, "why": SERVICE_REASONS[reason]})
    return out


def build(con: duckdb.DuckDBPyConnection, options: QualityOptions, agents: list[Agent]) -> None:
    """Tables ``msgs`` (each message with its session), ``sessions`` and ``waits``."""
    gap = int(options.session_gap_s * 1000)
    con.execute("CREATE OR REPLACE TABLE agents (code INTEGER, key VARCHAR, name VARCHAR, role VARCHAR,"
                " cohort VARCHAR, team VARCHAR, sla_ms BIGINT)")
    if agents:
        con.executemany(
            "INSERT INTO agents VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(a.code, a.key, a.name, a.role, a.cohort, a.team,
              int(options.sla_s.get(a.role, options.sla_s["service"]) * 1000)) for a in agents],
        )
    con.execute(
        "CREATE OR REPLACE TABLE msgs AS"
        " WITH a AS ("
        "  SELECT conv, ms, id, who, code, lag(ms) OVER w AS prev_ms, lag(code) OVER w AS prev_code"
        "  FROM m WINDOW w AS (PARTITION BY conv ORDER BY ms, id)"
        " ), b AS ("
        f"  SELECT *, (prev_ms IS NULL OR ms - prev_ms > {gap}) AS new_session FROM a"
        " )"
        " SELECT conv, ms, id, who, code,"
        "  sum(new_session::INTEGER) OVER (PARTITION BY conv ORDER BY ms, id ROWS UNBOUNDED PRECEDING) AS session_no,"
        "  code = 0 AND (new_session OR prev_code > 0) AS wait_start,"
        "  code > 0 AND NOT new_session AND prev_code = 0 AS reply"
        " FROM b"
    )
    con.execute(
        "CREATE OR REPLACE TABLE sessions AS"
        " SELECT conv, session_no, min(ms) AS start_ms, max(ms) AS end_ms, count(*) AS messages,"
        "  count(*) FILTER (WHERE code = 0) AS customer_messages,"
        "  count(*) FILTER (WHERE code > 0) AS agent_messages,"
        "  coalesce(list(DISTINCT code ORDER BY code) FILTER (WHERE code > 0), []) AS agents,"
        "  arg_min(who, ms) FILTER (WHERE code = 0) AS customer,"
        # the session's anchor (chataudit.reviews): its first and last counted messages in timeline order
        "  first(id ORDER BY ms, id) AS first_message, last(id ORDER BY ms, id) AS last_message"
        " FROM msgs GROUP BY conv, session_no"
    )
    # each wait start paired with the next reply of its session, if any
    con.execute(
        "CREATE OR REPLACE TABLE waits AS"
        " SELECT conv, session_no, ms AS start_ms, who AS customer,"
        "  CASE WHEN next_reply THEN next_ms END AS reply_ms,"
        "  CASE WHEN next_reply THEN next_code END AS agent,"
        "  row_number() OVER (PARTITION BY conv, session_no ORDER BY ms) = 1 AS first_of_session"
        " FROM ("
        "  SELECT *, lead(ms) OVER w AS next_ms, lead(code) OVER w AS next_code,"
        "   coalesce(lead(reply) OVER w, false) AS next_reply"
        "  FROM msgs WHERE wait_start OR reply"
        "  WINDOW w AS (PARTITION BY conv, session_no ORDER BY ms, id)"
        " ) WHERE wait_start"
    )
    if options.agents or options.team:
        keep = [a.code for a in agents if (not options.agents or a.key in options.agents or a.name in options.agents)
                and (not options.team or a.team == options.team)]
        con.execute("DELETE FROM sessions WHERE NOT list_has_any(agents, ?::INTEGER[])", [keep])
        con.execute("DELETE FROM waits WHERE (conv, session_no) NOT IN (SELECT (conv, session_no) FROM sessions)")
        con.execute("DELETE FROM msgs WHERE (conv, session_no) NOT IN (SELECT (conv, session_no) FROM sessions)")
    local, wait, in_hours = wait_sql(options)
    con.execute(
        "CREATE OR REPLACE TABLE waits AS"
        f" SELECT w.*, CASE WHEN reply_ms IS NOT NULL THEN {wait} END AS wait_ms,"
        f"  (({local}) // 3600000) % 24 AS hour,"
        f"  ((({local}) // 86400000) + 3) % 7 AS weekday,"  # 1970-01-01 was a Thursday; Monday = 0
        f"  {in_hours} AS in_hours,"
        "  a.role AS role, a.cohort AS cohort, a.sla_ms AS sla_ms"
        " FROM waits w LEFT JOIN agents a ON a.code = w.agent"
    )


def local_ms_sql(column: str, tz: str) -> str:
    """SQL for the local wall-clock milliseconds of the UTC instant ``column`` in ``tz``.

    DuckDB knows IANA zones; a fixed offset (``+08:00``, which ``--tz`` also accepts) is plain
    arithmetic, and DuckDB would reject it as a zone name."""
    fixed = zone(tz)
    if not hasattr(fixed, "key"):  # datetime.timezone: a fixed offset (UTC included)
        offset_ms = int(fixed.utcoffset(None).total_seconds() * 1000)
        return f"({column} + {offset_ms})"
    return f"epoch_ms(timezone('{_quote(tz)}', to_timestamp({column} / 1000)))"


def _quote(text: str) -> str:
    return text.replace("'", "''")


def wait_sql(options: Any, local_ms_of: Callable[[str, Any], str] | None = None,
             int_div: str = "//") -> tuple[str, str, str]:
    """(``start_ms`` as local wall-clock ms, the wait from ``start_ms`` to ``reply_ms``, whether
    ``start_ms`` is in business hours) as SQL: DuckDB's here, Spark's in
    :mod:`chataudit.spark.quality_job` (its ``local_ms_of``, ``int_div="div"``). With ``--hours`` a
    wait counts business time only."""
    local_ms_sql_of = local_ms_of or local_ms_sql
    local = local_ms_sql_of("start_ms", options.tz)
    if not options.hours:
        return local, "reply_ms - start_ms", "true"
    open_ms, close_ms = options.hours[0] * 60000, options.hours[1] * 60000

    def business_clock(column: str) -> str:
        # business milliseconds elapsed since the epoch at local instant `column`: whole days
        # count their opening hours, today counts the part of its opening hours already past
        local_ms = local_ms_sql_of(column, options.tz)
        return (f"((({local_ms}) {int_div} 86400000) * {close_ms - open_ms}"
                f" + least(greatest(({local_ms}) % 86400000, {open_ms}), {close_ms}) - {open_ms})")

    return (local, f"{business_clock('reply_ms')} - {business_clock('start_ms')}",
            f"({local}) % 86400000 >= {open_ms} AND ({local}) % 86400000 < {close_ms}")


# Why a conversation is taken or left, after a 'named' test in each engine's own spelling (DuckDB
# here, Spark SQL in chataudit.spark.quality_job): one list of rules for both.
REASON_CASE = ("   WHEN NOT customer AND agent THEN 'no_customer'"
               "   WHEN roster THEN 'roster'"
               "   WHEN staff AND customer THEN 'staff'"
               "   WHEN external THEN 'external'"
               "   WHEN me THEN 'private'"
               "   ELSE 'no_agent' END AS reason")
