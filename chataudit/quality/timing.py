"""Response-time figures: GROUP BY SQL over the ``waits`` and ``sessions`` tables of :mod:`sessions`.

Percentiles are DuckDB's ``quantile_cont``: linear interpolation between closest ranks (numpy's
default, Excel's PERCENTILE.INC) — for n sorted waits the p-quantile sits at rank (n − 1)·p.
"""

from __future__ import annotations

from typing import Any

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


# every grouping the report shows of answered waits (a pair is named by its columns in this order)
GROUPINGS = ("role", "weekday", "hour", "cohort", "agent", "bucket", "weekday, hour")


def _figures_of(count: int, mean_ms: float, quantiles: Any, within: int, within_line: int) -> dict[str, Any]:
    median_ms, p90_ms = quantiles
    return {
        "responses": count,
        "mean_response_s": _r(mean_ms / 1000),
        "median_response_s": _r(median_ms / 1000),
        "p90_response_s": _r(p90_ms / 1000),
        "sla_within": within,
        "sla_within_rate": _r(within / count, 4),
        "within_3min_rate": _r(within_line / count, 4),
    }


def answered(con: Any, line_ms: int = 180_000) -> dict[tuple[str, bool], dict[Any, dict[str, Any]]]:
    """Figures of answered waits (count, mean, median, p90, SLA and 3-minute rates) for every grouping
    of :data:`GROUPINGS` (``""`` is all waits; ``"weekday, hour"`` is keyed by the pair), each over all
    answered waits (``False``) and over each session's first response (``True``).

    One GROUPING SETS query, its first-response figures as FILTERed aggregates: one scan of ``waits``
    instead of one query per grouping — on Spark each query is a few jobs of fixed cost, and the
    report used to run a dozen. A group with no answered wait is left out."""
    case = " ".join(f"WHEN wait_ms <= {b * 1000} THEN {i}" for i, b in enumerate(BUCKETS_S))
    columns = [c for c in GROUPINGS if "," not in c]
    sets = ", ".join(["()"] + [f"({g})" for g in GROUPINGS])

    def aggregates(where: str) -> str:
        only = f" FILTER (WHERE {where})" if where else ""
        return (f"count(*){only}, avg(wait_ms){only}, {_quantiles(con, 'wait_ms')}{only},"
                f" count(*) FILTER (WHERE {where + ' AND ' if where else ''}wait_ms <= sla_ms),"
                f" count(*) FILTER (WHERE {where + ' AND ' if where else ''}wait_ms <= {int(line_ms)})")

    rows = con.execute(
        f"SELECT {', '.join(columns)}, {', '.join(f'grouping({c})' for c in columns)},"
        f" {aggregates('')}, {aggregates('first_of_session')}"
        f" FROM (SELECT *, CASE {case} ELSE {len(BUCKETS_S)} END AS bucket FROM waits WHERE reply_ms IS NOT NULL) a"
        f" GROUP BY GROUPING SETS ({sets})"
    ).fetchall()
    out: dict[tuple[str, bool], dict[Any, dict[str, Any]]] = {(g, first): {} for g in ("",) + GROUPINGS
                                                                    for first in (False, True)}
    width = len(columns)
    for row in rows:
        values, absent = row[:width], row[width:2 * width]
        grouping = ", ".join(c for c, a in zip(columns, absent) if not a)
        key = tuple(v for v, a in zip(values, absent) if not a)
        key = key[0] if len(key) == 1 else (key or 0)
        for first, at in ((False, 2 * width), (True, 2 * width + 5)):
            if row[at]:
                out[(grouping, first)][key] = _figures_of(*row[at:at + 5])
    return out


def figures(con: Any, sla_s: dict[str, float], line_s: float,
            waits: dict[tuple[str, bool], dict[Any, dict[str, Any]]]) -> dict[str, Any]:
    """Every timing figure of the report (JSON-ready); ``waits``: :func:`answered` (shared with
    :func:`agent_figures`, so the report scans the waits once)."""
    overall = waits[("", False)].get(0) or EMPTY
    first = waits[("", True)].get(0) or EMPTY
    unanswered, outside, unanswered_hour = 0, 0, {}
    for hour, absent, missing, out_of_hours in con.execute(
            "SELECT hour, grouping(hour), count(*) FILTER (WHERE reply_ms IS NULL), count(*) FILTER (WHERE NOT in_hours)"
            " FROM waits GROUP BY GROUPING SETS ((), (hour))").fetchall():
        if absent:
            unanswered, outside = missing, out_of_hours
        elif missing:
            unanswered_hour[hour] = missing
    sessions, messages, customer_messages, agent_messages = con.execute(
        "SELECT count(*), coalesce(sum(messages), 0), coalesce(sum(customer_messages), 0),"
        " coalesce(sum(agent_messages), 0) FROM sessions"
    ).fetchone()
    by_role = waits[("role", False)]
    sla = {role: {"target_s": target, **{k: (by_role.get(role) or EMPTY)[k]
                                         for k in ("responses", "sla_within", "sla_within_rate")}}
           for role, target in sla_s.items()}
    counts = {b: v["responses"] for b, v in waits[("bucket", False)].items()}
    total = overall["responses"] or 1
    distribution = []
    for i in range(len(BUCKETS_S) + 1):
        low = BUCKETS_S[i - 1] if i > 0 else None
        high = BUCKETS_S[i] if i < len(BUCKETS_S) else None
        distribution.append({"label": _label(low, high), "from_s": low or 0, "to_s": high,
                             "count": counts.get(i, 0), "share": round(counts.get(i, 0) / total, 4)})
    by_hour, first_by_hour = waits[("hour", False)], waits[("hour", True)]
    hours = [{"hour": h, **(by_hour.get(h) or EMPTY),
              "first_responses": (first_by_hour.get(h) or EMPTY)["responses"],
              "first_response_mean_s": (first_by_hour.get(h) or EMPTY)["mean_response_s"],
              "unanswered": unanswered_hour.get(h, 0)} for h in range(24)]
    by_weekday = waits[("weekday", False)]
    weekdays = [{"weekday": d, "name": WEEKDAYS[d], **(by_weekday.get(d) or EMPTY)} for d in range(7)]
    heatmap = [{"weekday": d, "hour": h, "responses": v["responses"], "mean_response_s": v["mean_response_s"]}
               for (d, h), v in sorted(waits[("weekday, hour", False)].items())]
    by_cohort, first_by_cohort = waits[("cohort", False)], waits[("cohort", True)]
    cohorts = {c: {**v, "first_response_mean_s": (first_by_cohort.get(c) or EMPTY)["mean_response_s"]}
               for c, v in sorted((c, v) for c, v in by_cohort.items() if c is not None)}
    ratio = None
    if cohorts.get("new") and cohorts.get("veteran") and cohorts["veteran"]["mean_response_s"]:
        ratio = round(cohorts["new"]["mean_response_s"] / cohorts["veteran"]["mean_response_s"], 4)
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


def agent_figures(con: Any, waits: dict[tuple[str, bool], dict[Any, dict[str, Any]]]) -> dict[int, dict[str, Any]]:
    """Timing figures per agent code: responses credited to them, first responses, sessions;
    ``waits``: :func:`answered`."""
    answered_by, first = waits[("agent", False)], waits[("agent", True)]
    sessions = dict(con.execute(
        "SELECT code, count(*) FROM sessions LATERAL VIEW explode(agents) t AS code GROUP BY code" if _spark(con)
        else "SELECT unnest(agents) AS code, count(*) FROM sessions GROUP BY 1").fetchall())
    out = {}
    for code in set(answered_by) | set(sessions):
        row = answered_by.get(code) or EMPTY
        out[code] = {
            "sessions": sessions.get(code, 0),
            **{k: row[k] for k in ("responses", "mean_response_s", "median_response_s", "p90_response_s",
                                   "sla_within_rate", "within_3min_rate")},
            "first_responses": (first.get(code) or EMPTY)["responses"],
            "first_response_mean_s": (first.get(code) or EMPTY)["mean_response_s"],
        }
    return out


def session_rows_sql(con: Any, order: bool = True) -> str:
    """Per session: conv, session_no, start, end, messages, customer/agent messages, agents,
    customer, waits, responses, unanswered, first response s, mean response s, the wait figures,
    first and last message ids — in ``con``'s dialect (the single machine streams it a conversation
    at a time; Spark runs it as a DataFrame that never reaches the driver:
    chataudit.spark.quality_job); ``order``: by conversation and session."""
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
