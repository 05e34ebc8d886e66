"""`supervise report`: hits over time by policy, agent or team; the false-positive rate of each rule
(lexicon term, pattern, PII type …) from the dispositions of closed items, so lexicons can be tuned;
and the queue's open, overdue and closed figures with the mean time to close.

A hit's time is when its message was sent, in the offset the export showed (a sampled conversation:
when the alert was raised, UTC). Its agent is the roster member who sent it (``(not on roster)``
otherwise); its team that member's roster team. An alert counts as a false positive when its item
was closed for good as ``no issue``. All counting is SQL over the alerts and items tables.
"""

from __future__ import annotations

from typing import Any

from ..errors import ChatAuditError
from ..governance import clock
from ..governance import roster as roster_api
from ..queries import time_window
from ..store import Archive
from . import queue

GROUPINGS = ("policy", "agent", "team")
PERIODS = ("day", "week", "month")
NOT_ON_ROSTER = "(not on roster)"
SAMPLE = "(sample)"

# the local day of a hit: the message's own offset, or the raising time for a sampled conversation
_DAY = ("coalesce(date((m.sent_at_ms / 1000) + m.utc_offset_min * 60, 'unixepoch'),"
        " date(substr(a.raised_at, 1, 19)))")
_BUCKET = {"day": _DAY, "week": f"date({_DAY}, 'weekday 0', '-6 days')", "month": f"substr({_DAY}, 1, 7)"}


def report(archive: Archive, *, by: str = "policy", period: str = "week", since: str | None = None,
           until: str | None = None, tz: str | None = None, sla: str | None = None) -> dict[str, Any]:
    """`supervise report --json`: ``{by, period, since, until, sla, hits, terms, dispositions, queue}``.

    * ``hits``: ``[{period, group, alerts}]`` — alerts per period (a day ``2026-03-12``, a week by its
      Monday ``2026-03-09``, a month ``2026-03``) and group (policy name, agent, team);
    * ``terms``: ``[{policy, rule, alerts, closed, false_positives, false_positive_rate}]`` — per rule,
      the alerts in the window, those whose item was closed for good, and those closed as ``no issue``
      (rate = false_positives / closed, None before any is closed);
    * ``dispositions``: closed items per final disposition (``escalated`` counts items escalated);
    * ``queue``: ``{open_items, overdue_items, escalated_items, closed_items, open_alerts, overdue_alerts,
      mean_hours_to_close}`` — the queue now (closed figures: items closed in the window).
    """
    if by not in GROUPINGS:
        raise ChatAuditError(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    if period not in PERIODS:
        raise ChatAuditError(f"--period must be one of {', '.join(PERIODS)}, not {period!r}")
    window = queue.parse_sla(sla)
    since_ms, until_ms = time_window(archive, since, until, tz)
    since_iso = clock.iso(_moment(since_ms)) if since_ms is not None else None
    until_iso = clock.iso(_moment(until_ms)) if until_ms is not None else None
    db = archive.db
    # the window over a hit's time: its message's send time, else (a sample) the time it was raised
    where, params = ["1"], []
    if since_ms is not None:
        where.append("coalesce(m.sent_at_ms >= ?, a.raised_at >= ?)")
        params += [since_ms, since_iso]
    if until_ms is not None:
        where.append("coalesce(m.sent_at_ms < ?, a.raised_at < ?)")
        params += [until_ms, until_iso]
    condition = " AND ".join(where)
    group = {"policy": f"coalesce(a.policy, '{SAMPLE}')"}
    if by in ("agent", "team"):
        rows = [r for r in roster_api.check_unchanged(archive) if r["role"] != "bot"]
        roster_api.load_member_keys(archive, rows)
        db.execute("CREATE TEMP TABLE IF NOT EXISTS supervision_report_teams (member TEXT PRIMARY KEY, team TEXT)")
        db.execute("DELETE FROM temp.supervision_report_teams")
        db.executemany("INSERT INTO temp.supervision_report_teams VALUES (?, ?)", [(r["id"], r["team"]) for r in rows])
        member = f"(CASE WHEN m.id IS NULL THEN NULL ELSE {roster_api.MEMBER_OF_MESSAGE} END)"
        group["agent"] = f"coalesce({member}, '{NOT_ON_ROSTER}')"
        group["team"] = (f"coalesce((SELECT t.team FROM temp.supervision_report_teams t WHERE t.member = {member}),"
                         f" '{NOT_ON_ROSTER}')")
    base = (" FROM supervision_alerts a LEFT JOIN messages m ON m.id = a.message"
            " LEFT JOIN supervision_item_alerts ia ON ia.alert = a.id LEFT JOIN supervision_items i ON i.id = ia.item"
            f" WHERE {condition}")
    hits = [{"period": p, "group": g, "alerts": n} for p, g, n in db.execute(
        f"SELECT {_BUCKET[period]} AS bucket, {group[by]} AS grp, count(*){base} GROUP BY bucket, grp"
        " ORDER BY bucket, grp", params)]
    terms = [{"policy": policy, "rule": rule, "alerts": alerts, "closed": closed, "false_positives": fp,
              "false_positive_rate": round(fp / closed, 4) if closed else None}
             for policy, rule, alerts, closed, fp in db.execute(
                 "SELECT a.policy, coalesce(a.rule, a.kind), count(*), count(*) FILTER (WHERE i.status = 'closed'),"
                 f" count(*) FILTER (WHERE i.status = 'closed' AND i.disposition = 'no issue'){base}"
                 " GROUP BY a.policy, coalesce(a.rule, a.kind)"
                 " ORDER BY count(*) FILTER (WHERE i.status = 'closed' AND i.disposition = 'no issue') DESC,"
                 " count(*) DESC, a.policy, 2", params)]
    closed_where, closed_params = ["status = 'closed'"], []
    if since_iso is not None:
        closed_where.append("closed_at >= ?")
        closed_params.append(since_iso)
    if until_iso is not None:
        closed_where.append("closed_at < ?")
        closed_params.append(until_iso)
    closed_sql = " AND ".join(closed_where)
    dispositions = {d: 0 for d in queue.DISPOSITIONS}
    for disposition, count in db.execute(f"SELECT disposition, count(*) FROM supervision_items WHERE {closed_sql}"
                                         " GROUP BY disposition", closed_params):
        dispositions[disposition] = count
    dispositions["escalated"] = db.execute(
        "SELECT count(*) FROM supervision_items WHERE escalated_at IS NOT NULL" +
        "".join(f" AND escalated_at {op} ?" for op, v in ((">=", since_iso), ("<", until_iso)) if v is not None),
        [v for v in (since_iso, until_iso) if v is not None]).fetchone()[0]
    closed_items, mean_days = db.execute(
        f"SELECT count(*), avg(julianday(closed_at) - julianday(opened_at)) FROM supervision_items WHERE {closed_sql}",
        closed_params).fetchone()
    now = clock.now()
    open_items = queue.items(archive, status="open", sla=sla)
    overdue_ids = {i["id"] for i in open_items if i["overdue"]}
    cutoff = clock.iso(now - window)
    open_alerts, overdue_alerts = db.execute(
        "SELECT count(*), count(*) FILTER (WHERE a.raised_at < ?) FROM supervision_alerts a"
        " LEFT JOIN supervision_item_alerts ia ON ia.alert = a.id LEFT JOIN supervision_items i ON i.id = ia.item"
        " WHERE i.id IS NULL OR i.status != 'closed'", (cutoff,)).fetchone()
    return {
        "by": by, "period": period, "since": since, "until": until, "sla": sla or queue.DEFAULT_SLA,
        "hits": hits, "terms": terms, "dispositions": dispositions,
        "queue": {"open_items": len(open_items), "overdue_items": len(overdue_ids),
                  "escalated_items": sum(i["status"] == "escalated" for i in open_items),
                  "closed_items": closed_items, "open_alerts": open_alerts, "overdue_alerts": overdue_alerts,
                  "mean_hours_to_close": round(mean_days * 24, 2) if mean_days is not None else None},
    }


def _moment(ms: int):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
