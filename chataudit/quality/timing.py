"""Response-time figures: GROUP BY SQL over the ``waits`` and ``sessions`` tables of :mod:`sessions`.

Percentiles are DuckDB's ``quantile_cont``: linear interpolation between closest ranks (numpy's
default, Excel's PERCENTILE.INC) — for n sorted waits the p-quantile sits at rank (n − 1)·p.
"""

from __future__ import annotations

from typing import Any

import duckdb

BUCKETS_S = (10, 30, 60, 180, 600, 1800, 3600)  # upper bounds; the last bucket is "> 1 h"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _label(low: float | None, high: float | None) -> str:
    def fmt(s: float) -> str:
        return f"{int(s)}s" if s < 60 else (f"{int(s // 60)}m" if s < 3600 else f"{int(s // 3600)}h")

    if low is None:
        return f"≤{fmt(high)}"
    if high is None:
        return f">{fmt(low)}"
    return f"{fmt(low)}–{fmt(high)}"


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


EMPTY = {"responses": 0, "mean_response_s": None, "median_response_s": None, "p90_response_s": None,
         "sla_within": 0, "sla_within_rate": None, "within_3min_rate": None}


def _spark(con: Any) -> bool:
    """True when ``con`` runs Spark SQL (chataudit.spark.quality_job.SparkSQL), which spells a few
    things differently; the figures are the same definitions either way."""
    return getattr(con, "dialect", "duckdb") == "spark"


def _quantiles(con: Any, column: str) -> str:
    """The median and p90 of ``column`` as one list, interpolated between closest ranks."""
    if _spark(con):
        return f"percentile({column}, array(0.5, 0.9))"
    return f"quantile_cont({column}::DOUBLE, [0.5, 0.9])"


def grouped(con: duckdb.DuckDBPyConnection, group: str, *, first_only: bool = False,
            line_ms: int = 180_000) -> dict[Any, dict[str, Any]]:
    """Figures of answered waits per group: count, mean, median, p90, SLA and 3-minute rates."""
    where = "reply_ms IS NOT NULL" + (" AND first_of_session" if first_only else "")
    rows = con.execute(
        f"SELECT {group} AS g, count(*), avg(wait_ms), {_quantiles(con, 'wait_ms')},"
        f" count(*) FILTER (WHERE wait_ms <= sla_ms), count(*) FILTER (WHERE wait_ms <= {int(line_ms)})"
        f" FROM waits WHERE {where} GROUP BY ALL"
    ).fetchall()
    out: dict[Any, dict[str, Any]] = {}
    for g, count, mean_ms, quantiles, within, within_line in rows:
        if not count:  # no answered wait in this group (e.g. a conversation nobody answered)
            continue
        median_ms, p90_ms = quantiles
        out[g] = {
            "responses": count,
            "mean_response_s": _r(mean_ms / 1000),
            "median_response_s": _r(median_ms / 1000),
            "p90_response_s": _r(p90_ms / 1000),
            "sla_within": within,
            "sla_within_rate": _r(within / count, 4),
            "within_3min_rate": _r(within_line / count, 4),
        }
    return out


def figures(con: duckdb.DuckDBPyConnection, sla_s: dict[str, float], line_s: float) -> dict[str, Any]:
    """Every timing figure of the report (JSON-ready)."""
    line_ms = int(line_s * 1000)
    overall = grouped(con, "0", line_ms=line_ms).get(0) or EMPTY
    first = grouped(con, "0", first_only=True, line_ms=line_ms).get(0) or EMPTY
    unanswered = con.execute("SELECT count(*) FROM waits WHERE reply_ms IS NULL").fetchone()[0]
    sessions, messages, customer_messages, agent_messages = con.execute(
        "SELECT count(*), coalesce(sum(messages), 0), coalesce(sum(customer_messages), 0),"
        " coalesce(sum(agent_messages), 0) FROM sessions"
    ).fetchone()
    by_role = grouped(con, "role", line_ms=line_ms)
    sla = {role: {"target_s": target, **{k: (by_role.get(role) or EMPTY)[k]
                                         for k in ("responses", "sla_within", "sla_within_rate")}}
           for role, target in sla_s.items()}
    case = " ".join(f"WHEN wait_ms <= {b * 1000} THEN {i}" for i, b in enumerate(BUCKETS_S))
    counts = dict(con.execute(
        f"SELECT CASE {case} ELSE {len(BUCKETS_S)} END AS b, count(*) FROM waits"
        " WHERE reply_ms IS NOT NULL GROUP BY b"
    ).fetchall())
    total = overall["responses"] or 1
    distribution = []
    for i in range(len(BUCKETS_S) + 1):
        low = BUCKETS_S[i - 1] if i > 0 else None
        high = BUCKETS_S[i] if i < len(BUCKETS_S) else None
        distribution.append({"label": _label(low, high), "from_s": low or 0, "to_s": high,
                             "count": counts.get(i, 0), "share": round(counts.get(i, 0) / total, 4)})
    by_hour = grouped(con, "hour", line_ms=line_ms)
    first_by_hour = grouped(con, "hour", first_only=True, line_ms=line_ms)
    unanswered_hour = dict(con.execute("SELECT hour, count(*) FROM waits WHERE reply_ms IS NULL GROUP BY 1").fetchall())
    hours = [{"hour": h, **(by_hour.get(h) or EMPTY),
              "first_responses": (first_by_hour.get(h) or EMPTY)["responses"],
              "first_response_mean_s": (first_by_hour.get(h) or EMPTY)["mean_response_s"],
              "unanswered": unanswered_hour.get(h, 0)} for h in range(24)]
    by_weekday = grouped(con, "weekday", line_ms=line_ms)
    weekdays = [{"weekday": d, "name": WEEKDAYS[d], **(by_weekday.get(d) or EMPTY)} for d in range(7)]
    heatmap = [{"weekday": d, "hour": h, "responses": n, "mean_response_s": _r(m / 1000)}
               for d, h, n, m in con.execute(
                   "SELECT weekday, hour, count(*), avg(wait_ms) FROM waits WHERE reply_ms IS NOT NULL"
                   " GROUP BY ALL ORDER BY ALL").fetchall()]
    by_cohort = grouped(con, "cohort", line_ms=line_ms)
    first_by_cohort = grouped(con, "cohort", first_only=True, line_ms=line_ms)
    cohorts = {c: {**v, "first_response_mean_s": (first_by_cohort.get(c) or EMPTY)["mean_response_s"]}
               for c, v in sorted(by_cohort.items()) if c is not None}
    ratio = None
    if cohorts.get("new") and cohorts.get("veteran") and cohorts["veteran"]["mean_response_s"]:
        ratio = round(cohorts["new"]["mean_response_s"] / cohorts["veteran"]["mean_response_s"], 4)
    outside = con.execute("SELECT count(*) FROM waits WHERE NOT in_hours").fetchone()[0]
    return {
        "sessions": sessions,
        "messages": int(messages),
        "customer_messages": int(customer_messages),
        "agent_messages": int(agent_messages),
        "responses": overall["responses"],
        "unanswered": unanswered,
        "mean_response_s": overall["mean_response_s"],
        "median_response_s": overall["median_response_s"],
        "p90_response_s": overall["p90_response_s"],
        "sla_within_rate": overall["sla_within_rate"],
        "within_3min_rate": overall["within_3min_rate"],
        "first_response": {k: first[k] for k in ("responses", "mean_response_s", "median_response_s",
                                                  "p90_response_s", "sla_within_rate", "within_3min_rate")},
        "sla": {"line_s": line_s, **sla},
        "distribution": distribution,
        "by_hour": hours,
        "by_weekday": weekdays,
        "heatmap": heatmap,
        "by_cohort": {"groups": cohorts, "new_to_veteran_ratio": ratio},
        "waits_outside_hours": outside,
    }


def agent_figures(con: duckdb.DuckDBPyConnection, line_s: float) -> dict[int, dict[str, Any]]:
    """Timing figures per agent code: responses credited to them, first responses, sessions."""
    line_ms = int(line_s * 1000)
    answered = grouped(con, "agent", line_ms=line_ms)
    first = grouped(con, "agent", first_only=True, line_ms=line_ms)
    sessions = dict(con.execute(
        "SELECT code, count(*) FROM sessions LATERAL VIEW explode(agents) t AS code GROUP BY code" if _spark(con)
        else "SELECT unnest(agents) AS code, count(*) FROM sessions GROUP BY 1").fetchall())
    out = {}
    for code in set(answered) | set(sessions):
        row = answered.get(code) or EMPTY
        out[code] = {
            "sessions": sessions.get(code, 0),
            **{k: row[k] for k in ("responses", "mean_response_s", "median_response_s", "p90_response_s",
                                   "sla_within_rate", "within_3min_rate")},
            "first_responses": (first.get(code) or EMPTY)["responses"],
            "first_response_mean_s": (first.get(code) or EMPTY)["mean_response_s"],
        }
    return out


def session_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Per session: conv, session_no, start, end, messages, customer/agent messages, agents,
    customer, waits, responses, unanswered, first response s, mean response s, the wait figures,
    first and last message ids."""
    return con.execute(session_rows_sql(con)).fetchall()


def session_rows_sql(con: Any, order: bool = True) -> str:
    """The query of :func:`session_rows` in ``con``'s dialect (Spark runs it as a DataFrame that
    never reaches the driver: chataudit.spark.quality_job); ``order``: by conversation and session."""
    if _spark(con):
        return (
            "SELECT s.conv, s.session_no, s.start_ms, s.end_ms, s.messages, s.customer_messages, s.agent_messages,"
            " s.agents, s.customer, coalesce(w.waits, 0) AS waits, coalesce(w.responses, 0) AS responses,"
            " coalesce(w.waits, 0) - coalesce(w.responses, 0) AS unanswered, w.first_response_s, w.mean_response_s,"
            " w.wait_list, s.first_message, s.last_message"
            " FROM sessions s LEFT JOIN ("
            "  SELECT conv, session_no, count(*) AS waits, count(reply_ms) AS responses,"
            "   max(wait_ms) FILTER (WHERE first_of_session) / 1000 AS first_response_s,"
            "   avg(wait_ms) / 1000 AS mean_response_s,"
            "   transform(array_sort(collect_list(struct(start_ms, wait_ms, sla_ms, agent))),"
            "             x -> struct(x.wait_ms, x.sla_ms, x.agent)) AS wait_list"
            "  FROM waits GROUP BY conv, session_no"
            " ) w ON w.conv = s.conv AND w.session_no = s.session_no"
            + (" ORDER BY s.conv, s.session_no" if order else ""))
    return (
        "SELECT s.conv, s.session_no, any_value(s.start_ms), any_value(s.end_ms), any_value(s.messages),"
        " any_value(s.customer_messages), any_value(s.agent_messages), any_value(s.agents), any_value(s.customer),"
        " count(w.start_ms) AS waits, count(w.reply_ms) AS responses,"
        " count(w.start_ms) - count(w.reply_ms) AS unanswered,"
        " max(w.wait_ms) FILTER (WHERE w.first_of_session) / 1000 AS first_response_s,"
        " avg(w.wait_ms) / 1000 AS mean_response_s,"
        " list((w.wait_ms, w.sla_ms, w.agent) ORDER BY w.start_ms) FILTER (WHERE w.start_ms IS NOT NULL) AS wait_list,"
        " any_value(s.first_message), any_value(s.last_message)"
        " FROM sessions s LEFT JOIN waits w ON w.conv = s.conv AND w.session_no = s.session_no"
        " GROUP BY s.conv, s.session_no" + (" ORDER BY s.conv, s.session_no" if order else ""))
