"""``spark quality``: the service-quality report computed by Spark over a lake.

The same definitions as :mod:`chataudit.quality.sessions` in Spark SQL: senders classified by the
same Python (:func:`chataudit.quality.sessions.classify`, on the grouped distinct senders), sessions
and waits by window functions partitioned by conversation, the timing figures by the very SQL of
:mod:`chataudit.quality.timing` (its Spark spelling). The texts are folded into their sessions on
the executors by :class:`chataudit.quality.report.TextFold` with :class:`chataudit.quality.nlp.Analyzer`
— the functions the single-machine path calls — and only each session's folded state comes back.
The driver then holds one small record per session (as the single-machine report does) and
assembles the report with :func:`chataudit.quality.report.assemble`: the JSON is ``quality --json``'s.

Results land under ``LAKE/results/quality/``: ``sessions/`` and ``waits/`` (Parquet, written by the
executors) and ``report.json``.
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from ..quality import report as report_api, score, sessions as sessions_sql, timing
from ..quality.config import QualityOptions
from .arrow import map_rows
from .jobs import lake_path, read_table, sender_rows

# a Python worker keeps at most this many analyses of repeated texts (greetings, "好的", stickers)
SEEN_TEXTS = 50_000


class SparkSQL:
    """A DuckDB-connection look-alike over a SparkSession, so that :mod:`chataudit.quality.timing`
    runs its aggregates on Spark (``dialect`` tells it the few spellings that differ). Only
    aggregate results are fetched to the driver."""

    dialect = "spark"

    def __init__(self, spark: Any):
        self.spark = spark

    def execute(self, sql: str, params: Any = None) -> "_Fetched":
        return _Fetched(self.spark.sql(sql, args=params) if params else self.spark.sql(sql))


def _as_rows(value: Any) -> Any:
    """A value from Arrow as Spark's rows give it: a struct is a tuple (a Row), not a dict."""
    if isinstance(value, dict):
        return tuple(_as_rows(v) for v in value.values())
    if isinstance(value, list):
        return [_as_rows(v) for v in value]
    return value


class _Fetched:
    def __init__(self, frame: Any):
        self.frame = frame

    def fetchall(self) -> list[tuple]:
        # as one Arrow table, not pickled rows: the per-session rows of a large period are many
        table = self.frame.toArrow()
        columns = [[_as_rows(v) for v in column.to_pylist()] if "struct" in str(column.type) else column.to_pylist()
                   for column in table.columns]
        return list(zip(*columns)) if table.num_rows else []

    def fetchone(self) -> tuple | None:
        rows = self.frame.take(1)
        return tuple(rows[0]) if rows else None


def _quote(text: str) -> str:
    return "'" + str(text).replace("\\", "\\\\").replace("'", "\\'") + "'"


def local_ms_sql(column: str, tz: str) -> str:
    """Spark SQL for the local wall-clock milliseconds of the UTC instant ``column`` in ``tz`` (the
    session runs in UTC): :func:`chataudit.quality.sessions.local_ms_sql` in Spark's words."""
    from ..model import zone

    fixed = zone(tz)
    if not hasattr(fixed, "key"):
        return f"({column} + {int(fixed.utcoffset(None).total_seconds() * 1000)})"
    return f"unix_millis(from_utc_timestamp(timestamp_millis({column}), {_quote(tz)}))"


def _filters(options: QualityOptions) -> list[str]:
    """:func:`chataudit.quality.sessions._message_filter` over the lake (the ``month`` partition
    column, UTC months of ``sent_at_ms``, only prunes files: the instant bounds decide)."""
    from datetime import datetime, timezone

    def month(ms: int) -> str:
        return _quote(datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m"))

    where = ["m.kind NOT IN ('system', 'recall')"]
    if options.since_ms is not None:
        where += [f"m.sent_at_ms >= {int(options.since_ms)}", f"m.month >= {month(options.since_ms)}"]
    if options.until_ms is not None:
        where += [f"m.sent_at_ms < {int(options.until_ms)}", f"m.month <= {month(options.until_ms)}"]
    if options.platforms:
        where.append("m.conversation IN (SELECT id FROM lake_conversations WHERE platform IN ("
                     + ", ".join(_quote(p) for p in options.platforms) + "))")
    if options.conversations:
        where.append(f"m.conversation IN ({', '.join(str(int(c)) for c in options.conversations)})")
    return where


def analyze(spark: Any, lake: str | Path, options: QualityOptions, *, db: Any = None,
            on_progress: Callable[[int, str], None] | None = None, results: bool = True) -> dict[str, Any]:
    """Every figure of ``chataudit quality`` for one period, computed by Spark over ``lake``.
    ``db`` (an archive's connection, or None) supplies the imported satisfaction ratings;
    ``results``: write the sessions and waits under ``results/quality/`` (not for a --compare-to period)."""
    cached: list[Any] = []
    try:
        return _analyze(spark, lake, options, db, on_progress, results, cached)
    finally:
        for frame in cached:  # this run's cached tables only (never the session's whole cache)
            frame.unpersist()


def _analyze(spark: Any, lake: str | Path, options: QualityOptions, db: Any,
             on_progress: Callable[[int, str], None] | None, results: bool, cached: list[Any]) -> dict[str, Any]:
    import duckdb

    step = on_progress or (lambda _n, _phase: None)
    started = time.perf_counter()
    sql = SparkSQL(spark)
    read_table(spark, lake, "messages").createOrReplaceTempView("lake_messages")
    read_table(spark, lake, "conversations").createOrReplaceTempView("lake_conversations")

    rows = sender_rows(spark)
    senders, agents = sessions_sql.classify(rows, options.roster, None, options.new_days)
    spark.createDataFrame([(s.sender_id, s.sender_name, s.number, s.code, s.basis) for s in senders] or [],
                          "sid string, sname string, who long, code int, basis string"
                          ).createOrReplaceTempView("q_who")

    # the timeline: every counted message (texts ride along for the executors' fold)
    timeline = spark.sql(
        "SELECT /*+ BROADCAST(w) */ m.conversation AS conv, m.sent_at_ms AS ms, m.id AS id, w.who AS who, w.code AS code,"
        "  CASE WHEN m.kind = 'text' THEN m.text END AS text"
        " FROM lake_messages m JOIN q_who w"
        "  ON w.sid = coalesce(m.sender_id, '') AND w.sname = coalesce(m.sender_name, '')"
        f" WHERE {' AND '.join(_filters(options))} AND w.code >= 0")
    cached.append(timeline.persist())
    timeline.createOrReplaceTempView("m_all")
    taken, first_ms = _take_service_conversations(spark, options)
    agents = _with_cohorts(options, agents, first_ms)
    cached.append(_build(spark, options, agents))
    out = lake_path(lake, "results", "quality")
    for table in ("sessions", "waits"):  # materialized once (cached, and written out): every figure reads them
        frame = spark.table(table).persist()
        cached.append(frame)
        if results:
            frame.write.mode("overwrite").parquet(f"{out}/{table}")
        frame.createOrReplaceTempView(table)
    figures = timing.figures(sql, options.sla_s, options.line_s)
    per_agent = timing.agent_figures(sql, options.line_s)
    facts = report_api.facts_from_rows(timing.session_rows(sql))
    hour_sessions, slow_sessions = report_api.slow_lists(sql)
    timing_seconds = time.perf_counter() - started
    step(0, "timings")

    nlp_stats: dict[str, Any] = {"messages": 0, "analyzed": 0, "cached": 0, "seconds": 0.0}
    if options.nlp and facts:
        nlp_started = time.perf_counter()
        texts = _fold_texts(spark, options, facts)
        nlp_stats = {"messages": texts, "analyzed": texts, "cached": 0,
                     "seconds": round(time.perf_counter() - nlp_started, 3)}
        nlp_stats["per_second"] = round(texts / nlp_stats["seconds"], 1) if nlp_stats["seconds"] else None
        step(texts, "texts")
    questions = [(text, f.id) for f in facts.values() for text in f.questions]

    trends_con = duckdb.connect()  # the trends' GROUP BY over per-session rows already on the driver
    try:
        sessions_sql.load_rows(trends_con, "sessions", "conv BIGINT, session_no BIGINT, start_ms BIGINT",
                               ((f.conv, f.session_no, f.start_ms) for f in facts.values()))
        sessions_sql.load_rows(
            trends_con, "waits", "conv BIGINT, session_no BIGINT, first_of_session BOOLEAN, reply_ms BIGINT,"
            " wait_ms BIGINT, sla_ms BIGINT",
            ((f.conv, f.session_no, "true" if i == 0 else "false", None if w[0] is None else 1, w[0], w[1])
             for f in facts.values() for i, w in enumerate(f.wait_list)))
        result = report_api.assemble(options, senders, agents, taken, figures, per_agent, facts, hour_sessions,
                                     slow_sessions, questions, db, trends_con)
    finally:
        trends_con.close()
    result["nlp"] = nlp_stats
    result["timing_seconds"] = round(timing_seconds, 3)
    result["seconds"] = round(time.perf_counter() - started, 3)
    return report_api.finish(result, options, agents, senders, facts)


def _take_service_conversations(spark: Any, options: QualityOptions) -> tuple[list[dict[str, Any]], int | None]:
    """:func:`chataudit.quality.sessions.take_service_conversations` in Spark SQL: view ``m`` keeps
    the service conversations; the returned rows say of each conversation why. Also the first
    instant of the kept messages (the period's start when --since is not given)."""
    named = ", ".join(str(int(c)) for c in options.conversations)
    spark.sql(
        "WITH c AS ("
        "  SELECT /*+ BROADCAST(b) */ conv, count(*) AS messages, min(ms) AS first_ms,"
        "   bool_or(b.basis = 'roster') AS roster, bool_or(b.basis = 'staff') AS staff,"
        "   bool_or(b.basis = 'external') AS external, bool_or(b.basis = 'me') AS me,"
        "   bool_or(m.code > 0) AS agent, bool_or(m.code = 0) AS customer"
        "  FROM m_all m JOIN q_who b USING (who) GROUP BY conv"
        " )"
        " SELECT conv, messages, first_ms, CASE"
        + (f"   WHEN conv IN ({named}) THEN 'named'" if named else "") +
        sessions_sql.REASON_CASE +
        " FROM c").createOrReplaceTempView("taken_all")
    rows = [tuple(r) for r in spark.sql(
        "SELECT t.conv, t.messages, t.reason, c.platform, c.native_id, c.title, c.type, t.first_ms"
        " FROM taken_all t LEFT JOIN lake_conversations c ON c.id = t.conv ORDER BY t.conv").collect()]
    kept = [r[0] for r in rows if r[2] in ("named", "roster", "staff", "external")]
    spark.sql("SELECT * FROM m_all WHERE conv IN (SELECT conv FROM taken_all"
              " WHERE reason IN ('named', 'roster', 'staff', 'external'))").createOrReplaceTempView("m")
    first_ms = min((r[7] for r in rows if r[0] in set(kept) and r[7] is not None), default=None)
    return sessions_sql.service_rows([r[:3] for r in rows], {r[0]: r[3:7] for r in rows}), first_ms


def _with_cohorts(options: QualityOptions, agents: list[sessions_sql.Agent],
                  first_ms: int | None) -> list[sessions_sql.Agent]:
    """:func:`chataudit.quality.sessions.with_cohorts`: the period starts at --since, else at its first message."""
    from dataclasses import replace
    from datetime import datetime

    from ..model import zone

    start_ms = options.since_ms if options.since_ms is not None else first_ms
    if start_ms is None:
        return agents
    start = datetime.fromtimestamp(start_ms / 1000, zone(options.tz))
    return [replace(a, cohort=sessions_sql.cohort_of(a.hired_on, start, options.new_days)) for a in agents]


def _build(spark: Any, options: QualityOptions, agents: list[sessions_sql.Agent]) -> Any:
    """Views ``msgs`` (each message with its session), ``sessions`` and ``waits``: the definitions of
    :func:`chataudit.quality.sessions.build`, window functions partitioned by conversation. Returns
    the cached ``msgs`` (the caller unpersists it)."""
    gap = int(options.session_gap_s * 1000)
    spark.createDataFrame(
        [(a.code, a.key, a.name, a.role, a.cohort, a.team, int(options.sla_s.get(a.role, options.sla_s["service"]) * 1000))
         for a in agents] or [],
        "code int, key string, name string, role string, cohort string, team string, sla_ms long",
    ).createOrReplaceTempView("agents")
    msgs = spark.sql(
        "WITH a AS ("
        "  SELECT conv, ms, id, who, code, text, lag(ms) OVER w AS prev_ms, lag(code) OVER w AS prev_code"
        "  FROM m WINDOW w AS (PARTITION BY conv ORDER BY ms, id)"
        " ), b AS ("
        f"  SELECT *, (prev_ms IS NULL OR ms - prev_ms > {gap}) AS new_session FROM a"
        " )"
        " SELECT conv, ms, id, who, code, text,"
        "  sum(CAST(new_session AS INT)) OVER (PARTITION BY conv ORDER BY ms, id"
        "   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_no,"
        "  code = 0 AND (new_session OR prev_code > 0) AS wait_start,"
        "  code > 0 AND NOT new_session AND prev_code = 0 AS reply"
        " FROM b")
    msgs.persist()
    msgs.createOrReplaceTempView("msgs")
    spark.sql(
        "SELECT conv, session_no, min(ms) AS start_ms, max(ms) AS end_ms, count(*) AS messages,"
        "  count(*) FILTER (WHERE code = 0) AS customer_messages,"
        "  count(*) FILTER (WHERE code > 0) AS agent_messages,"
        "  array_sort(collect_set(CASE WHEN code > 0 THEN code END)) AS agents,"
        "  min_by(CASE WHEN code = 0 THEN who END, CASE WHEN code = 0 THEN struct(ms, id) END) AS customer,"
        "  min_by(id, struct(ms, id)) AS first_message, max_by(id, struct(ms, id)) AS last_message"
        " FROM msgs GROUP BY conv, session_no").createOrReplaceTempView("sessions")
    spark.sql(
        "SELECT conv, session_no, ms AS start_ms, who AS customer,"
        "  CASE WHEN next_reply THEN next_ms END AS reply_ms,"
        "  CASE WHEN next_reply THEN next_code END AS agent,"
        "  row_number() OVER (PARTITION BY conv, session_no ORDER BY ms, id) = 1 AS first_of_session"
        " FROM ("
        "  SELECT *, lead(ms) OVER w AS next_ms, lead(code) OVER w AS next_code,"
        "   coalesce(lead(reply) OVER w, false) AS next_reply"
        "  FROM msgs WHERE wait_start OR reply"
        "  WINDOW w AS (PARTITION BY conv, session_no ORDER BY ms, id)"
        " ) WHERE wait_start").createOrReplaceTempView("waits_raw")
    if options.agents or options.team:
        keep = [a.code for a in agents if (not options.agents or a.key in options.agents or a.name in options.agents)
                and (not options.team or a.team == options.team)]
        overlap = f"arrays_overlap(agents, array({', '.join(str(k) for k in keep)}))" if keep else "false"
        spark.sql(f"SELECT * FROM sessions WHERE {overlap}").createOrReplaceTempView("sessions_kept")
        spark.table("sessions_kept").createOrReplaceTempView("sessions")
        for view in ("waits_raw", "msgs"):
            spark.sql(f"SELECT x.* FROM {view} x LEFT SEMI JOIN sessions_kept s"
                      " ON s.conv = x.conv AND s.session_no = x.session_no").createOrReplaceTempView(view)
    local, wait, in_hours = sessions_sql.wait_sql(options, local_ms_sql, int_div="div")
    spark.sql(
        f"SELECT /*+ BROADCAST(a) */ w.*, CASE WHEN reply_ms IS NOT NULL THEN {wait} END AS wait_ms,"
        f"  (({local}) div 3600000) % 24 AS hour,"
        f"  ((({local}) div 86400000) + 3) % 7 AS weekday,"  # 1970-01-01 was a Thursday; Monday = 0
        f"  {in_hours} AS in_hours,"
        "  a.role AS role, a.cohort AS cohort, a.sla_ms AS sla_ms"
        " FROM waits_raw w LEFT JOIN agents a ON a.code = w.agent").createOrReplaceTempView("waits")
    return msgs


def _fold_texts(spark: Any, options: QualityOptions, facts: dict[tuple[int, int], score.SessionFacts]) -> int:
    """Fold every counted text into its session on the executors; set each session's folded state
    on ``facts``. Returns how many texts were read."""
    rows = (spark.table("msgs").where("text IS NOT NULL")
            .select("conv", "session_no", "ms", "code", "who", "text")
            .repartition("conv").sortWithinPartitions("conv", "session_no", "ms", "id"))
    texts = 0
    folded = map_rows(rows, _folder(options), "conv long, session_no long, count long, state binary")
    for conv, session_no, count, state in folded.toLocalIterator():
        f = facts.get((conv, session_no))
        texts += count
        if f is not None:
            for name, value in pickle.loads(state).items():
                setattr(f, name, value)
    return texts


def _folder(options: QualityOptions) -> Callable[[Iterator[Any]], Iterator[tuple]]:
    """The executors' function: rows sorted by session and timeline in, one folded state per
    session out (conv, session_no, texts, pickled SessionFacts fields of report.FOLDED)."""

    def run(rows: Iterator[Any]) -> Iterator[tuple]:
        from ..quality import nlp
        from ..quality.report import FOLDED, TextFold, session_id

        analyzer, fold = nlp.Analyzer(options.lexicons), TextFold(options)
        seen: dict[str, Any] = {}
        f: score.SessionFacts | None = None
        count = 0
        for conv, no, ms, code, who, text in rows:
            if f is None or (conv, no) != (f.conv, f.session_no):
                if f is not None:
                    yield f.conv, f.session_no, count, pickle.dumps({n: getattr(f, n) for n in FOLDED})
                count = 0
                f = score.SessionFacts(session_id(conv, no), conv, no, 0, 0, 0, 0, 0, [], None, 0, 0, 0, None, None, [])
            analysis = seen.get(text)
            if analysis is None:
                analysis = analyzer.analyze(text)
                if len(seen) < SEEN_TEXTS:
                    seen[text] = analysis
            fold(f, ms, code, who, text, analysis)
            count += 1
        if f is not None:
            yield f.conv, f.session_no, count, pickle.dumps({n: getattr(f, n) for n in FOLDED})

    return run


def write_report(spark: Any, lake: str | Path, result: dict[str, Any]) -> str:
    """The report beside the sessions and waits: ``results/quality/report/`` (Parquet, one row:
    the UTC time it was written and the JSON that ``--json`` prints)."""
    from datetime import datetime, timezone

    from ..render.output import JSON_OPTIONS
    import orjson

    path = lake_path(lake, "results", "quality", "report")
    written = datetime.now(timezone.utc).isoformat(timespec="seconds")
    spark.createDataFrame([(written, orjson.dumps(result, option=JSON_OPTIONS).decode())],
                          "written_at string, report string").coalesce(1).write.mode("overwrite").parquet(path)
    return path
