"""Trends over time — what a team lead reads first: per day and per ISO week, how many conversations
and sessions, how fast the first response, how many resolved, how satisfied (where ratings exist).

Set-based like the rest of quality: one GROUP BY over DuckDB's ``sessions`` and ``waits`` tables,
joined with two small tables of per-session outcomes (resolution from the texts, matched ratings)
that reach DuckDB the way the timeline does, through a temporary CSV. Every day (week) between the
first and the last session is a row, also one without sessions, so a chart shows the gaps.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Callable, Iterable

import duckdb

from .sessions import load_rows, local_ms_sql

PERIODS = ("day", "week")
COLUMNS = ["period", "start", "conversations", "sessions", "first_responses", "first_response_mean_s",
           "first_response_median_s", "first_response_sla_rate", "unanswered_sessions", "resolution_sessions",
           "resolved", "resolution_rate", "ratings", "satisfaction_mean", "satisfied_rate"]


def trends(con: duckdb.DuckDBPyConnection, tz: str, resolutions: Iterable[tuple[int, int, bool]],
           ratings: Iterable[tuple[int, int, float]]) -> dict[str, list[dict[str, Any]]]:
    """``{"day": [row…], "week": [row…]}``; ``resolutions`` are (conv, session_no, resolved) of the
    sessions whose resolution is known, ``ratings`` (conv, session_no, rating 0–1) the matched ones."""
    load_rows(con, "outcome", "conv BIGINT, session_no BIGINT, resolved BOOLEAN",
          ((c, s, str(r).lower()) for c, s, r in resolutions))
    load_rows(con, "rated", "conv BIGINT, session_no BIGINT, rating DOUBLE", ratings)
    return figures(con, tz)


def figures(con: Any, tz: str, local_ms_of: Callable[[str, str], str] = local_ms_sql) -> dict[str, list[dict[str, Any]]]:
    """:func:`trends` of the tables (or views) ``sessions``, ``waits``, ``outcome`` and ``rated``
    that ``con`` holds: DuckDB's, or Spark's (``con.dialect == "spark"``, with Spark's
    ``local_ms_of``: :func:`chataudit.spark.quality_job.local_ms_sql`).

    Days and weeks are one GROUPING SETS query over the sessions; the days (weeks) without a session
    are filled in here, between the first and the last, from the aggregated rows (one per period):
    the SQL that made the full range itself read its aggregate twice, which Spark computes twice."""
    spark = getattr(con, "dialect", "duckdb") == "spark"
    div = "div" if spark else "//"
    day = f"(({local_ms_of('s.start_ms', tz)}) {div} 86400000)"
    median = "percentile(first_ms, 0.5)" if spark else "quantile_cont(first_ms::DOUBLE, 0.5)"
    found: dict[str, dict[int, tuple]] = {period: {} for period in PERIODS}
    for week_grouped, bucket, *figures in con.execute(
        "WITH per_session AS ("
        f"  SELECT s.conv, s.session_no, {day} AS day,"
        "   f.wait_ms AS first_ms, f.sla_ms AS sla_ms, u.unanswered, o.resolved, r.rating"
        "  FROM sessions s"
        "  LEFT JOIN (SELECT conv, session_no, wait_ms, sla_ms FROM waits"
        "             WHERE first_of_session AND reply_ms IS NOT NULL) f USING (conv, session_no)"
        "  LEFT JOIN (SELECT conv, session_no, count(*) AS unanswered FROM waits WHERE reply_ms IS NULL"
        "             GROUP BY ALL) u USING (conv, session_no)"
        "  LEFT JOIN outcome o USING (conv, session_no)"
        "  LEFT JOIN (SELECT conv, session_no, avg(rating) AS rating FROM rated GROUP BY ALL) r"
        "   USING (conv, session_no)"
        " ), bucketed AS ("
        "  SELECT *, day - ((day + 3) % 7) AS week FROM per_session"  # the week's Monday (day 0 was a Thursday)
        " )"
        " SELECT grouping(day), coalesce(day, week), count(DISTINCT conv), count(*),"
        f"  count(first_ms), avg(first_ms) / 1000, {median} / 1000,"
        "  count(*) FILTER (WHERE first_ms <= sla_ms), count(unanswered),"
        "  count(resolved), count(*) FILTER (WHERE resolved),"
        "  count(rating), avg(rating), count(*) FILTER (WHERE rating >= 0.75)"
        " FROM bucketed GROUP BY GROUPING SETS ((day), (week))"
    ).fetchall():
        found["week" if week_grouped else "day"][int(bucket)] = tuple(figures)
    out: dict[str, list[dict[str, Any]]] = {}
    for period, step in zip(PERIODS, (1, 7)):
        rows = found[period]
        every = range(min(rows), max(rows) + 1, step) if rows else ()
        out[period] = [_row(period, (EPOCH + timedelta(days=bucket)).isoformat(), *rows.get(bucket, NO_SESSIONS))
                       for bucket in every]
    return out


EPOCH = date(1970, 1, 1)
# a day (week) between the first and the last session with none of its own
NO_SESSIONS = (0, 0, 0, None, None, None, 0, 0, 0, 0, None, None)


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def _row(period: str, start: str, conversations: int, sessions: int, first_responses: int,
         first_mean: float | None, first_median: float | None, first_within: int | None, unanswered: int,
         resolution_sessions: int, resolved: int, ratings: int, rating_mean: float | None,
         satisfied: int | None) -> dict[str, Any]:
    return {
        "period": period, "start": start, "conversations": conversations, "sessions": sessions,
        "first_responses": first_responses, "first_response_mean_s": _round(first_mean),
        "first_response_median_s": _round(first_median),
        "first_response_sla_rate": _round(first_within / first_responses, 4) if first_responses else None,
        "unanswered_sessions": unanswered, "resolution_sessions": resolution_sessions, "resolved": resolved,
        "resolution_rate": _round(resolved / resolution_sessions, 4) if resolution_sessions else None,
        "ratings": ratings, "satisfaction_mean": _round(rating_mean, 4) if ratings else None,
        "satisfied_rate": _round((satisfied or 0) / ratings, 4) if ratings else None,
    }


def write_csv(report: dict[str, Any], out: Any) -> int:
    """Every trend row, days then weeks, one CSV row each (``period`` tells them apart)."""
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for period in PERIODS:
        for row in report["trends"][period]:
            writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
            count += 1
    return count
