"""``spark quality``: the service-quality report computed by Spark over a lake.

The same definitions as :mod:`chataudit.quality.sessions` in Spark SQL: senders classified by the
same Python (:func:`chataudit.quality.sessions.classify`, on the grouped distinct senders), sessions
and waits by window functions partitioned by conversation, the timing figures and the trends by the
very SQL of :mod:`chataudit.quality.timing` and :mod:`chataudit.quality.trends` (their Spark
spelling), the slowest sessions by a window top-N.

The per-session work runs on the executors, with the functions the single-machine report calls:
each session's facts and texts (one row per session, range-partitioned in (conversation, session)
order) are folded by :class:`chataudit.quality.report.TextFold`, judged (scripts, resolution,
scores) by :class:`chataudit.quality.report.SessionJudge` and tallied by
:class:`chataudit.quality.report.Tally`. The driver receives one tally per partition and merges them
in session order — the same lists, tie orders and means as one pass — plus aggregates and the
bounded lists the report shows; it never holds a record per session while computing. The
report's customer questions (the topics' input) still come back whole — each already filed on the
executors under its taxonomy topic or split into its key words, so the driver only counts — and the JSON's
``session_rows`` are read back from the Parquet the executors wrote, since ``quality --json``
prints every session.

Results land under ``LAKE/results/quality/``: ``sessions/``, ``waits/`` and ``session_rows/`` (each
session's report row as JSON, and its topic; Parquet, written by the executors) and ``report/``.
The later figures read the sessions, waits and judged sessions back from Parquet (the judged ones,
and a --compare-to period's tables, from a ``_work-…`` folder removed at the end), not from cached
plans: see :func:`_materialized`.
"""

from __future__ import annotations

import pickle
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

from ..quality import report as report_api, score, sessions as sessions_sql, timing, trends as trends_api
from ..quality.config import QualityOptions
from ..quality.topics import TopicFinder
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
    work = lake_path(lake, "results", "quality", f"_work-{uuid.uuid4().hex[:12]}")
    done = False
    try:
        result = _analyze(spark, lake, options, db, on_progress, results, cached, work)
        done = True
        return result
    finally:
        for frame in cached:  # this run's cached tables only (never the session's whole cache)
            frame.unpersist()
        try:
            _remove(spark, work)
        except Exception:  # a session that died cannot delete: the error that stopped the run is the one to see
            if done:
                raise


def _remove(spark: Any, path: str) -> None:
    """Delete ``path`` (a folder this run wrote; local, HDFS or s3a) if it exists."""
    folder = spark._jvm.org.apache.hadoop.fs.Path(path)
    folder.getFileSystem(spark._jsc.hadoopConfiguration()).delete(folder, True)


def _materialized(spark: Any, frame: Any, path: str) -> Any:
    """``frame`` written as Parquet at ``path`` and read back. The tables every later figure reads
    (sessions, waits, the judged sessions) are files, not cached plans: a query that names one of
    them twice (the trends join ``waits`` twice) is re-analysed with fresh attribute ids, and Spark
    then no longer matched the cache and computed the windows and the Python judging all over again
    (seen at 1M and 10M: the trends took longer than the judging). A file scan is read, never redone;
    and it leaves the local driver's heap free."""
    frame.write.mode("overwrite").parquet(path)
    return spark.read.parquet(path)


def _analyze(spark: Any, lake: str | Path, options: QualityOptions, db: Any,
             on_progress: Callable[[int, str], None] | None, results: bool, cached: list[Any],
             work: str) -> dict[str, Any]:
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
    out = lake_path(lake, "results", "quality") if results else work
    for table in ("sessions", "waits"):  # written once (the results, or this run's work): every figure reads them
        _materialized(spark, spark.table(table), f"{out}/{table}").createOrReplaceTempView(table)
    waits = timing.answered(sql, int(options.line_s * 1000))
    figures = timing.figures(sql, options.sla_s, options.line_s, waits)
    per_agent = timing.agent_figures(sql, waits)
    hour_sessions, slow_sessions = report_api.slow_lists(sql)
    timing_seconds = time.perf_counter() - started
    step(0, "timings")

    nlp_started = time.perf_counter()
    judged = _materialized(spark, _judge_sessions(spark, options, agents, figures["sessions"]), f"{work}/judged")
    judged.createOrReplaceTempView("q_judged")
    for frame in cached:  # the messages are judged: nothing reads them again
        frame.unpersist()
    cached.clear()
    tally, texts = _merged_tally(judged, options, agents)
    nlp_stats: dict[str, Any] = {"messages": 0, "analyzed": 0, "cached": 0, "seconds": 0.0}
    if options.nlp and tally.sessions:
        nlp_stats = {"messages": texts, "analyzed": texts, "cached": 0,
                     "seconds": round(time.perf_counter() - nlp_started, 3)}
        nlp_stats["per_second"] = round(texts / nlp_stats["seconds"], 1) if nlp_stats["seconds"] else None
        step(texts, "texts")
    topics, session_topic = TopicFinder(options.taxonomy).group(tally.questions, options.top)
    spark.createDataFrame([(int(k.split("-")[0]), int(k.split("-")[1]), v) for k, v in session_topic.items()] or [],
                          "conv long, session_no long, topic string").createOrReplaceTempView("q_topic")
    rows = spark.sql("SELECT /*+ BROADCAST(t) */ j.conv, j.session_no, t.topic, j.row FROM q_judged j"
                     " LEFT JOIN q_topic t USING (conv, session_no) WHERE j.conv IS NOT NULL")
    if results:
        rows.write.mode("overwrite").parquet(lake_path(lake, "results", "quality", "session_rows"))

    rated, satisfied = _ratings(spark, db, options, agents)
    spark.createDataFrame([(f.conv, f.session_no, rating) for f, rating in rated or ()] or [],
                          "conv long, session_no long, rating double").createOrReplaceTempView("rated")
    spark.sql("SELECT conv, session_no, resolution = 'resolved' AS resolved FROM q_judged"
              " WHERE conv IS NOT NULL AND resolution IS NOT NULL").createOrReplaceTempView("outcome")
    trends = trends_api.figures(sql, options.tz, local_ms_sql)
    result = report_api.assemble(options, agents, taken, figures, per_agent, tally, hour_sessions, slow_sessions,
                                 topics, satisfied, trends)
    result["nlp"] = nlp_stats
    result["timing_seconds"] = round(timing_seconds, 3)
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["session_rows"] = _session_rows(rows) if options.session_lists else None
    return result


def _session_rows(rows: Any) -> list[dict[str, Any]]:
    """The report's last key, one row per session in (conversation, session) order, as the
    executors wrote them (their topic set): the JSON of ``quality --json`` holds every session."""
    import orjson

    table = rows.orderBy("conv", "session_no").select("topic", "row").toArrow()
    out = []
    for topic, row in zip(table.column(0).to_pylist(), table.column(1).to_pylist()):
        value = orjson.loads(row)
        value["topic"] = topic
        out.append(value)
    return out


def _ratings(spark: Any, db: Any, options: QualityOptions, agents: list[sessions_sql.Agent]) -> tuple[Any, Any]:
    """The archive's ratings matched to sessions (:func:`chataudit.quality.report.matched_ratings`)
    and their satisfaction figures: only the rated conversations' sessions reach the driver."""
    if db is None:
        return None, None
    convs = sorted({c for (c,) in db.execute("SELECT DISTINCT conversation FROM quality_ratings"
                                             " WHERE conversation IS NOT NULL")})
    facts: dict[tuple[int, int], score.SessionFacts] = {}
    if convs:
        spark.createDataFrame([(c,) for c in convs], "conv long").createOrReplaceTempView("q_rated_convs")
        for conv, no, start_ms, end_ms, agent_codes in spark.sql(
                "SELECT /*+ BROADCAST(r) */ s.conv, s.session_no, s.start_ms, s.end_ms, s.agents FROM sessions s"
                " LEFT SEMI JOIN q_rated_convs r ON r.conv = s.conv ORDER BY s.conv, s.session_no").collect():
            facts[(conv, no)] = score.SessionFacts(report_api.session_id(conv, no), conv, no, start_ms, end_ms,
                                                   0, 0, 0, list(agent_codes or []), None, 0, 0, 0, None, None, [])
    rated = report_api.matched_ratings(db, facts)
    return rated, report_api.satisfaction(db, facts, agents, options, rated) if rated is not None else None


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


# what the executors hand back: one row per session (its resolution, its report row as JSON), and
# per partition one more row (conv NULL) with the partition's texts count and its pickled Tally
JUDGED = "conv long, session_no long, resolution string, texts long, row binary"


# sessions per task of the judging stage, at most: a task's cached rows and its tally stay far from
# a block's 2 GB (10M messages in local mode's 4 partitions made blocks of GBs, and a later read was
# seen judging every session again; that smaller blocks prevent it is not yet shown at 10M)
SESSIONS_PER_TASK = 200_000


def _judge_sessions(spark: Any, options: QualityOptions, agents: list[sessions_sql.Agent], sessions: int) -> Any:
    """The rows of :data:`JUDGED`: every session's facts (:func:`timing.session_rows_sql`)
    with its texts, judged on the executors by :func:`_judge`. The ``sessions`` are range-partitioned
    (the shuffle's partitions, or more: SESSIONS_PER_TASK) and sorted by (conversation, session)
    within each, so each task tallies a run of consecutive sessions."""
    texts = ("SELECT conv, session_no, array_sort(collect_list(struct(ms, id, code, who, text))) AS texts"
             " FROM msgs WHERE text IS NOT NULL GROUP BY conv, session_no")
    frame = spark.sql(
        "SELECT r.*, w.customer_label" + (", t.texts" if options.nlp else ", CAST(NULL AS array<int>) AS texts")
        + f" FROM ({timing.session_rows_sql(SparkSQL(spark), order=False)}) r"
        " LEFT JOIN (SELECT who, CASE WHEN sname != '' THEN sname ELSE sid END AS customer_label FROM q_who) w"
        "  ON w.who = r.customer"
        + (f" LEFT JOIN ({texts}) t ON t.conv = r.conv AND t.session_no = r.session_no" if options.nlp else ""))
    parts = max(int(spark.conf.get("spark.sql.shuffle.partitions")), -(-int(sessions or 0) // SESSIONS_PER_TASK))
    frame = frame.repartitionByRange(parts, "conv", "session_no").sortWithinPartitions("conv", "session_no")
    return map_rows(frame, _judge(options, agents), JUDGED)


def _merged_tally(judged: Any, options: QualityOptions, agents: list[sessions_sql.Agent]) -> tuple[report_api.Tally, int]:
    """The partitions' tallies merged in session order, and how many texts were read."""
    tally, texts, parts = report_api.Tally(options, agents), 0, []
    for count, state in judged.where("conv IS NULL").select("texts", "row").collect():
        texts += count
        parts.append(pickle.loads(state))
    for part in sorted((p for p in parts if p.first_key is not None), key=lambda p: p.first_key):
        tally.merge(part)
    return tally, texts


def _judge(options: QualityOptions, agents: list[sessions_sql.Agent]) -> Callable[[Iterator[tuple]], Iterator[tuple]]:
    """The executors' function: session rows in (conversation, session) order in, each with its
    texts in timeline order; per session its row of :data:`JUDGED`, then the partition's tally. The
    texts are folded by :class:`chataudit.quality.report.TextFold` with
    :class:`chataudit.quality.nlp.Analyzer`, the session judged by
    :class:`chataudit.quality.report.SessionJudge` and tallied by :class:`chataudit.quality.report.Tally`:
    what the single-machine report calls, per session."""

    def run(rows: Iterator[tuple]) -> Iterator[tuple]:
        import orjson

        from ..quality import nlp

        analyzer, fold = nlp.Analyzer(options.lexicons), report_api.TextFold(options)
        judge, tally = report_api.SessionJudge(options), report_api.Tally(options, agents)
        labels: dict[int, str] = {}
        row_of = report_api._session_row_builder(agents, None, options, labels=labels)
        seen: dict[str, Any] = {}
        count = 0
        for *columns, label, texts in rows:
            columns[14] = [tuple(w.values()) for w in columns[14] or ()]  # the wait structs, as tuples
            (f,) = report_api.facts_from_rows([columns]).values()
            for t in texts or ():
                text = t["text"]
                analysis = seen.get(text)
                if analysis is None:
                    analysis = analyzer.analyze(text)
                    if len(seen) < SEEN_TEXTS:
                        seen[text] = analysis
                fold(f, t["ms"], t["code"], t["who"], text, analysis)
            count += len(texts or ())
            judge(f)
            tally.add(f)
            labels.clear()
            if label is not None:
                labels[f.customer] = label
            yield f.conv, f.session_no, f.resolution, len(texts or ()), orjson.dumps(row_of(f))
        yield None, None, None, count, pickle.dumps(tally)

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
