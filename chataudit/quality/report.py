"""The quality report: one pass of SQL for timings, one streamed pass over texts for the rest.

:func:`analyze` is the API the command (and the tests) call; it returns a JSON-ready dict whose keys
the README documents. :func:`compare` adds a before/after period, :func:`write_csv` writes one row
per session and :mod:`.html` renders the report.
"""

from __future__ import annotations

import csv
import functools
import gc
import hashlib
import heapq
import io
import itertools
import math
import re
import time
from collections import Counter, defaultdict
from datetime import datetime
from typing import IO, Any, Callable, Iterator

from ..errors import ChatAuditError
from ..model import zone
from ..store import Archive
from . import nlp, score, sessions as sessions_sql, timing, trends as trends_api
from .config import QualityOptions, read_text
from .scripts import ScriptMatcher
from .topics import TopicFinder, keywords

BATCH = 20_000
COMPLAINT_CATEGORIES = {"legal", "abuse"}


def session_id(conv: int, session_no: int) -> str:
    return f"{conv}-{session_no}"


_zone = functools.lru_cache(maxsize=32)(zone)  # a ZoneInfo per name, not one per call


def _iso(ms: int | None, tz_name: str) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, _zone(tz_name)).isoformat(timespec="seconds")


def analyze(archive: Archive, options: QualityOptions,
            on_progress: Callable[[int, str], None] | None = None) -> dict[str, Any]:
    """Every figure of ``chataudit quality`` for one period (see README for the keys).
    ``on_progress(texts_read, phase)`` is called after the timings and after each batch of texts (a
    web job's progress; it may raise to stop the report)."""
    # one object per session (~700k on a 1M-message archive) and none of them cyclic garbage: the
    # cyclic collector would rescan them all again and again while they are built
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _analyze(archive, options, on_progress or (lambda _n, _phase: None))
    finally:
        if enabled:
            gc.enable()


def _analyze(archive: Archive, options: QualityOptions, on_progress: Callable[[int, str], None]) -> dict[str, Any]:
    db = archive.db
    started = time.perf_counter()
    senders, agents = sessions_sql.classify_senders(db, options.roster, None, options.new_days)
    con = sessions_sql.load_timeline(db, options, senders)
    taken = sessions_sql.take_service_conversations(con, db, options, senders)
    agents, period_start_ms = sessions_sql.with_cohorts(con, options, agents)
    sessions_sql.build(con, options, agents)
    waits = timing.answered(con, int(options.line_s * 1000))
    figures = timing.figures(con, options.sla_s, options.line_s, waits)
    per_agent = timing.agent_figures(con, waits)
    timing_seconds = time.perf_counter() - started
    on_progress(0, "timings")

    hour_sessions, slow_sessions = slow_lists(con)

    # one conversation's sessions at a time (their rows and texts both come in conversation order):
    # each is folded, judged and tallied, then let go — the report keeps what the Spark path keeps
    # (a Tally), plus the rated conversations' sessions, each session's outcome for the trends and,
    # unless options.session_lists is off, its row
    nlp_started = time.perf_counter()
    # (read before the sessions' stream: a DuckDB connection runs one query at a time)
    session_of = dict(con.execute("SELECT id, session_no FROM msgs").fetchall()) if options.nlp else {}
    conversations = _sessions_by_conversation(con)
    first = next(conversations, None)
    texts = None
    nlp_stats: dict[str, Any] = {"messages": 0, "analyzed": 0, "cached": 0, "seconds": 0.0}
    if options.nlp and first is not None:
        cache = nlp.Cache(db, nlp.Analyzer(options.lexicons))
        texts = _TextStream(db, options, session_of, cache, TextFold(options), on_progress)
    rated_conversations = {c for (c,) in db.execute(
        "SELECT DISTINCT conversation FROM quality_ratings WHERE conversation IS NOT NULL")}
    judge, tally = SessionJudge(options), Tally(options, agents)
    row = _session_row_builder(agents, {s.number: s for s in senders}, options) if options.session_lists else None
    rows: list[dict[str, Any]] | None = [] if row is not None else None
    outcomes: list[tuple[int, int, bool]] = []
    kept: dict[tuple[int, int], score.SessionFacts] = {}
    for conv, facts in itertools.chain([first] if first is not None else [], conversations):
        if texts is not None:
            texts.fold(conv, facts)
        for key, f in facts.items():
            judge(f)
            tally.add(f)
            if f.resolution:
                outcomes.append((f.conv, f.session_no, f.resolution == "resolved"))
            if conv in rated_conversations:
                kept[key] = f
            if rows is not None:
                rows.append(row(f))
    if texts is not None:
        texts.drain()  # the texts after the last session's conversation are read (and cached) too
        cache.flush()  # the read is over: the last analyses are written with no snapshot held
        nlp_stats = {"messages": cache.analyzed + cache.cached, "analyzed": cache.analyzed, "cached": cache.cached,
                     "seconds": round(time.perf_counter() - nlp_started, 3)}
        nlp_stats["per_second"] = round(nlp_stats["messages"] / nlp_stats["seconds"], 1) if nlp_stats["seconds"] else None
    topics, session_topic = TopicFinder(options.taxonomy).group(tally.questions, options.top)
    rated = matched_ratings(db, kept)
    trends = trends_api.trends(con, options.tz, outcomes, ((f.conv, f.session_no, rating) for f, rating in rated or ()))
    report = assemble(options, agents, taken, figures, per_agent, tally, hour_sessions, slow_sessions, topics,
                      satisfaction(db, kept, agents, options, rated) if rated is not None else None, trends)
    con.close()
    report["nlp"] = nlp_stats
    report["timing_seconds"] = round(timing_seconds, 3)
    report["seconds"] = round(time.perf_counter() - started, 3)
    if rows is not None:
        for r in rows:
            r["topic"] = session_topic.get(r["session"])
    report["session_rows"] = rows
    return report


def _sessions_by_conversation(con: Any) -> Iterator[tuple[int, dict[tuple[int, int], score.SessionFacts]]]:
    """The sessions' facts (:func:`timing.session_rows_sql`), one conversation at a time, in
    (conversation, session) order."""
    cursor = con.execute(timing.session_rows_sql(con))
    pending: list[tuple] = []
    while rows := cursor.fetchmany(BATCH):
        for r in rows:
            if pending and r[0] != pending[0][0]:
                yield pending[0][0], facts_from_rows(pending)
                pending = []
            pending.append(r)
    if pending:
        yield pending[0][0], facts_from_rows(pending)


class _TextStream:
    """Every counted text message, read once in timeline order (conversation by conversation, as the
    sessions come) and analysed a batch at a time, each folded into its session (:class:`TextFold`).

    Each batch is its own short read (keyset: the rows after the last one read, in the index's
    order), not one statement held open for the whole report: an open read pins the archive's WAL,
    so every write meanwhile (the NLP cache's, another process's import) piled up in it, and every
    page read searched a longer WAL index — at 10M messages a 44 GB WAL and a report slowing down as
    it went. Messages written after the report began are not in its timeline and are skipped."""

    def __init__(self, db: Any, options: QualityOptions, session_of: dict[int, int], cache: Any,
                 fold: "TextFold", on_progress: Callable[[int, str], None]):
        where, self.params = sessions_sql._message_filter(options)
        where += ["w.code >= 0", "m.kind = 'text'"]
        select = ("SELECT m.id, m.conversation, m.sent_at_ms, w.code, w.who, m.text, m.content_hash"
                  " FROM messages m INDEXED BY messages_timing"
                  " CROSS JOIN q_who w ON w.sid = coalesce(m.sender_id, '') AND w.sname = coalesce(m.sender_name, '')"
                  f" WHERE {' AND '.join(where)}")
        order = f" ORDER BY m.conversation, m.sent_at_ms, m.id LIMIT {BATCH}"  # the index's order
        self.first_sql = select + order
        self.next_sql = select + " AND (m.conversation, m.sent_at_ms, m.id) > (?, ?, ?)" + order
        self.db, self.after, self.done = db, None, False
        self.session_of, self.cache, self.fold_text, self.on_progress = session_of, cache, fold, on_progress
        self.rows: list[tuple] = []
        self.at = 0
        self.read = 0
        self.analyses: dict[Any, Any] = {}

    def _batch(self) -> list[tuple]:
        """The next BATCH texts after the last one read (a statement run to its end: no read left open)."""
        if self.done:
            return []
        if self.after is None:
            rows = self.db.execute(self.first_sql, self.params).fetchall()
        else:
            rows = self.db.execute(self.next_sql, [*self.params, *self.after]).fetchall()
        self.done = len(rows) < BATCH
        if rows:
            self.after = (rows[-1][1], rows[-1][2], rows[-1][0])
        return rows

    def _next(self) -> tuple | None:
        if self.at == len(self.rows):
            self.rows, self.at = self._batch(), 0
            if not self.rows:
                return None
            self.read += len(self.rows)
            self.on_progress(self.read, "texts")
            self.analyses = self.cache.analyze_all([(r[6], r[5]) for r in self.rows])
        return self.rows[self.at]

    def fold(self, conv: int, facts: dict[tuple[int, int], score.SessionFacts]) -> None:
        """Fold the texts of conversation ``conv`` (skipping those of conversations before it)."""
        while (r := self._next()) is not None and r[1] <= conv:
            self.at += 1
            if r[1] < conv:
                continue
            message_id, _conv, ms, code, who, text, content_hash = r
            session_no = self.session_of.get(message_id)
            f = None if session_no is None else facts.get((conv, session_no))
            if f is not None:
                self.fold_text(f, ms, code, who, text, self.analyses[content_hash])

    def drain(self) -> None:
        while self._next() is not None:
            self.at = len(self.rows)


def facts_from_rows(rows: Any) -> dict[tuple[int, int], score.SessionFacts]:
    """The per-session facts from :func:`timing.session_rows_sql` (whichever engine ran it), keyed by
    (conversation, session number), in that order."""
    facts: dict[tuple[int, int], score.SessionFacts] = {}
    for (conv, no, start_ms, end_ms, messages, customer_messages, agent_messages, agent_codes, customer,
         waits, responses, unanswered, first_s, mean_s, wait_list, first_message, last_message) in rows:
        facts[(conv, no)] = score.SessionFacts(
            session_id(conv, no), conv, no, start_ms, end_ms, messages, customer_messages, agent_messages,
            list(agent_codes or []), customer, waits, responses, unanswered,
            None if first_s is None else round(first_s, 3), None if mean_s is None else round(mean_s, 3),
            [tuple(w) for w in (wait_list or [])], first_message=first_message, last_message=last_message)
    return facts


# the slowest sessions a report lists: per hour (the suggestions name the worst hour's) and per agent
SLOWEST = 20


def slow_lists(con: Any) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Per hour of their first response the (at most 20) slowest sessions; and per agent the (at
    most 20) sessions where they answered beyond the SLA, slowest first. ``con`` runs the SQL (DuckDB,
    or Spark through :class:`chataudit.spark.quality_job.SparkSQL`, whose window top-N is computed
    per partition before the shuffle); ties go by session."""
    hour_sessions = _slowest_per(con, "hour", "wait_ms", "waits WHERE first_of_session AND reply_ms IS NOT NULL")
    slow_sessions = _slowest_per(con, "agent", "slowest", "(SELECT agent, conv, session_no, max(wait_ms) AS slowest"
                                 " FROM waits WHERE reply_ms IS NOT NULL AND wait_ms > sla_ms GROUP BY agent, conv, session_no)")
    return hour_sessions, slow_sessions


def _slowest_per(con: Any, key: str, wait: str, rows: str) -> dict[int, list[str]]:
    """Per ``key`` the (at most SLOWEST) sessions of ``rows`` with the longest ``wait``, ties by session."""
    found: dict[int, list[str]] = defaultdict(list)
    for value, conv, no in con.execute(
            f"SELECT {key}, conv, session_no FROM ("
            f" SELECT {key}, conv, session_no, row_number() OVER (PARTITION BY {key}"
            f"  ORDER BY {wait} DESC, conv, session_no) AS n FROM {rows}"
            f") WHERE n <= {SLOWEST} ORDER BY {key}, n").fetchall():
        found[value].append(session_id(conv, no))
    return found


class SessionJudge:
    """What is decided of one session once its texts are folded: the scripts used, its resolution
    and its scores. Called per session by the single-machine report and by Spark's executors."""

    def __init__(self, options: QualityOptions):
        self.nlp = options.nlp
        self.matcher = ScriptMatcher(options.scripts)
        self.categories_any = {c.name for c in options.scripts if c.position == "any"}
        required = [c.name for c in options.scripts if c.required]
        self.score = score.Scorer(options.scorecard, required if options.nlp else [])

    def __call__(self, f: score.SessionFacts) -> None:
        if f.agent_text_messages and self.nlp:
            used = self.matcher.used(f.first_agent_text, list(f.last_agent_texts), [])
            for name, value in used.items():
                if name not in self.categories_any:
                    f.scripts_used[name] = value
            for name in self.categories_any:
                f.scripts_used.setdefault(name, False)
        f.resolution = resolve_session(f, nlp.CONFIRM) if self.nlp else None
        self.score(f)


class ExactSum:
    """A sum of floats kept exact (Shewchuk's non-overlapping partials, as :func:`math.fsum` keeps
    them): sums of parts added in any order give the fsum of the whole, so the means of sessions
    tallied on Spark's executors equal the single machine's (:func:`chataudit.quality.score.mean`)."""

    __slots__ = ("partials",)

    def __init__(self) -> None:
        self.partials: list[float] = []

    def add(self, x: float) -> None:
        partials, i = self.partials, 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        partials[i:] = [x]

    def merge(self, other: "ExactSum") -> None:
        for x in other.partials:
            self.add(x)

    def value(self) -> float:
        return math.fsum(self.partials)


class Mean:
    """:func:`chataudit.quality.score.mean` of values given one at a time (None ones skipped)."""

    __slots__ = ("total", "count")

    def __init__(self) -> None:
        self.total, self.count = ExactSum(), 0

    def add(self, value: float | None) -> None:
        if value is not None:
            self.total.add(value)
            self.count += 1

    def merge(self, other: "Mean") -> None:
        self.total.merge(other.total)
        self.count += other.count

    def value(self) -> float | None:
        return round(self.total.value() / self.count, 2) if self.count else None


def _means() -> dict[str, Mean]:
    return {d: Mean() for d in score.DIMENSIONS}


class Listed:
    """Session ids in session order, and how many: all of them, or only the first ``cap`` (a
    report over millions of sessions without its session lists, ``QualityOptions.session_lists``).
    ``len()`` is the count; two runs of sessions merge, the earlier first, as one pass would."""

    __slots__ = ("items", "count", "cap")

    def __init__(self, cap: int | None) -> None:
        self.items: list[str] = []
        self.count = 0
        self.cap = cap

    def append(self, session: str) -> None:
        self.count += 1
        if self.cap is None or len(self.items) < self.cap:
            self.items.append(session)

    def merge(self, other: "Listed") -> None:
        self.count += other.count
        self.items += other.items if self.cap is None else other.items[:max(self.cap - len(self.items), 0)]

    def __len__(self) -> int:
        return self.count


# how many session ids a list keeps when the report leaves its session lists out
LISTED = 20


class _AgentTally:
    """One agent's share of the sessions they wrote in (the report's ``by_agent`` row)."""

    def __init__(self, cap: int | None = None) -> None:
        self.sessions = self.typos = self.sensitive = self.critical_sessions = 0
        self.resolutions = self.resolved = 0
        self.typo_examples: list[dict[str, Any]] = []
        self.typo_sessions = Listed(cap)
        self.score, self.dimensions = Mean(), _means()

    def merge(self, other: "_AgentTally") -> None:
        for name in ("sessions", "typos", "sensitive", "critical_sessions", "resolutions", "resolved"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.typo_examples = (self.typo_examples + other.typo_examples)[:5]
        self.typo_sessions.merge(other.typo_sessions)
        self.score.merge(other.score)
        for d, mean_ in other.dimensions.items():
            self.dimensions[d].merge(mean_)


class Tally:
    """The report's figures over sessions (by agent, scripts, sentiment, typos, sensitive words,
    resolution, scores), folded one judged session at a time in (conversation, session) order.

    Two tallies of consecutive runs of sessions merge (:meth:`merge`, the earlier one first) into the
    tally of the whole run, with the same lists, the same tie orders and the same means: Spark's
    executors tally their ranges of sessions and the driver merges the partial tallies, so it never
    holds a record per session. Lists the report shows whole (missed scripts, sessions whose mood
    changed, sensitive hits, questions) are kept whole; the others only as far as the report shows them."""

    def __init__(self, options: QualityOptions, agents: list[sessions_sql.Agent]):
        self.scripts = [c.name for c in options.scripts] if options.nlp else []
        self.names = {a.code: a.name for a in agents}
        self.cap = None if options.session_lists else LISTED
        self.first_key: tuple[int, int] | None = None
        self.sessions = 0
        self.first_ms: int | None = None
        self.last_ms: int | None = None
        self.agents: dict[int, _AgentTally] = {}
        self.with_agents = 0
        self.missed = {name: Listed(self.cap) for name in self.scripts}
        self.rated, self.start_mean, self.end_mean = 0, Mean(), Mean()
        self.improved, self.worsened = Listed(self.cap), Listed(self.cap)
        self.customer = self.customer_negative = self.customer_positive = 0
        self.agent_tone, self.agent_negative, self.curt = Mean(), 0, 0
        self.typos, self.checked = 0, 0
        self.typo_pairs: Counter = Counter()
        self.typo_agents: Counter = Counter()
        self.typo_examples: list[dict[str, Any]] = []
        self.hits: list[dict[str, Any]] = []
        self.sensitive_sessions = 0
        self.resolutions: Counter = Counter()
        self.complaints = 0
        self.scored, self.score, self.dimensions = 0, Mean(), _means()
        self.critical_sessions = 0
        self.critical: Counter = Counter()
        self.distribution: Counter = Counter()
        self.lowest: list[tuple[float, str, list[str]]] = []
        self.unanswered: list[str] = []
        self.questions: list[tuple[str, str, str | None, list[str] | None]] = []  # TopicFinder.group's input

    def add(self, f: score.SessionFacts) -> None:
        """Tally one judged session (:class:`SessionJudge`), after every session before it."""
        if self.first_key is None:
            self.first_key = (f.conv, f.session_no)
        self.sessions += 1
        if f.start_ms is not None and (self.first_ms is None or f.start_ms < self.first_ms):
            self.first_ms = f.start_ms
        if f.end_ms is not None and (self.last_ms is None or f.end_ms > self.last_ms):
            self.last_ms = f.end_ms
        for code in f.agents:
            a = self.agents.get(code)
            if a is None:
                a = self.agents[code] = _AgentTally(self.cap)
            a.sessions += 1
            typos = [t for t in f.typos if t["agent"] == code]
            if typos:
                a.typos += len(typos)
                if len(a.typo_examples) < 5:
                    a.typo_examples += [{"wrong": t["wrong"], "right": t["right"], "text": t["text"]}
                                        for t in typos[:5 - len(a.typo_examples)]]
                a.typo_sessions.append(f.id)
            a.sensitive += sum(1 for s in f.sensitive if s["agent"] == code)
            a.score.add(f.score)
            for d in score.DIMENSIONS:
                a.dimensions[d].add(f.scores[d])
            a.critical_sessions += bool(f.critical)
            if f.resolution:
                a.resolutions += 1
                a.resolved += f.resolution == "resolved"
        if f.agent_text_messages and self.scripts:
            self.with_agents += 1
            for name in self.scripts:
                if not f.scripts_used.get(name):
                    self.missed[name].append(f.id)
        if f.customer_sentiments:
            self.rated += 1
            start, end = f.sentiment_start, f.sentiment_end
            self.start_mean.add(start)
            self.end_mean.add(end)
            if len(f.customer_sentiments) >= 2 and end - start > 0.1:
                self.improved.append(f.id)
            if len(f.customer_sentiments) >= 2 and end - start < -0.1:
                self.worsened.append(f.id)
            self.customer += len(f.customer_sentiments)
            self.customer_negative += sum(s < -0.2 for s in f.customer_sentiments)
            self.customer_positive += sum(s > 0.2 for s in f.customer_sentiments)
        for s in f.agent_sentiments:
            self.agent_tone.add(s)
            self.agent_negative += s < -0.2
        self.curt += f.curt
        self.checked += f.agent_text_messages
        for t in f.typos:
            self.typos += 1
            self.typo_pairs[f"{t['wrong']}→{t['right']}"] += 1
            self.typo_agents[self.names.get(t["agent"], str(t["agent"]))] += 1
            if len(self.typo_examples) < 50:
                self.typo_examples.append({"wrong": t["wrong"], "right": t["right"], "text": t["text"],
                                           "agent": self.names.get(t["agent"]), "session": t["session"]})
        if f.sensitive:
            self.sensitive_sessions += 1
            self.hits += f.sensitive
            if any(s["role"] == "customer" and s["category"] == "legal" for s in f.sensitive):
                self.complaints += 1
        if f.resolution:
            self.resolutions[f.resolution] += 1
            if f.resolution == "unanswered" and len(self.unanswered) < SLOWEST:
                self.unanswered.append(f.id)
        if f.score is not None:
            self.scored += 1
            self.score.add(f.score)
            for d in score.DIMENSIONS:
                self.dimensions[d].add(f.scores[d])
            self.critical_sessions += bool(f.critical)
            self.critical.update(f.critical)
            self.distribution[min(int(f.score // 10) * 10, 90)] += 1
            entry = (f.score, f.id, f.critical)
            if len(self.lowest) < 20:
                heapq.heappush(self.lowest, _Low(entry))
            elif self.lowest[0] < _Low(entry):
                heapq.heapreplace(self.lowest, _Low(entry))
        self.questions += [(text, f.id, topic, words) for text, topic, words in f.questions]

    def merge(self, other: "Tally") -> None:
        """Add the tally of the sessions right after this one's."""
        if other.first_key is None:
            return
        if self.first_key is None:
            self.first_key = other.first_key
        self.sessions += other.sessions
        self.first_ms = min((v for v in (self.first_ms, other.first_ms) if v is not None), default=None)
        self.last_ms = max((v for v in (self.last_ms, other.last_ms) if v is not None), default=None)
        for code, a in other.agents.items():
            if code in self.agents:
                self.agents[code].merge(a)
            else:
                self.agents[code] = a
        self.with_agents += other.with_agents
        for name in self.scripts:
            self.missed[name].merge(other.missed[name])
        for name in ("rated", "customer", "customer_negative", "customer_positive", "agent_negative", "curt",
                     "typos", "checked", "sensitive_sessions", "complaints", "scored", "critical_sessions"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("start_mean", "end_mean", "agent_tone", "score"):
            getattr(self, name).merge(getattr(other, name))
        for d, mean_ in other.dimensions.items():
            self.dimensions[d].merge(mean_)
        self.improved.merge(other.improved)
        self.worsened.merge(other.worsened)
        # Counter.update keeps the first-seen order of keys: a tie in most_common() goes as in one pass
        for name in ("typo_pairs", "typo_agents", "resolutions", "critical", "distribution"):
            getattr(self, name).update(getattr(other, name))
        self.typo_examples = (self.typo_examples + other.typo_examples)[:50]
        self.hits += other.hits
        self.unanswered = (self.unanswered + other.unanswered)[:SLOWEST]
        for low in other.lowest:
            if len(self.lowest) < 20:
                heapq.heappush(self.lowest, low)
            elif self.lowest[0] < low:
                heapq.heapreplace(self.lowest, low)
        self.questions += other.questions


class _Low:
    """A (score, session id, critical) entry of :attr:`Tally.lowest`, a max-heap of the 20 lowest by
    (score, id): "less" is "higher", so the heap's top is the highest of the kept ones."""

    __slots__ = ("entry",)

    def __init__(self, entry: tuple[float, str, list[str]]):
        self.entry = entry

    def __lt__(self, other: "_Low") -> bool:
        return self.entry[:2] > other.entry[:2]


def assemble(options: QualityOptions, agents, taken, figures, per_agent, tally: Tally, hour_sessions,
             slow_sessions, topics, satisfied, trends) -> dict[str, Any]:
    """The report from the timing figures and the sessions' :class:`Tally`; ``topics`` from
    :meth:`TopicFinder.group` of the tally's questions, ``satisfied`` from :func:`satisfaction`
    (None: no ratings), ``trends`` from :func:`chataudit.quality.trends.trends`. Shared by the
    single-machine and the Spark path."""
    report: dict[str, Any] = {
        "period": {
            "since": _iso(options.since_ms, options.tz), "until": _iso(options.until_ms, options.tz),
            "first_message": _iso(tally.first_ms, options.tz), "last_message": _iso(tally.last_ms, options.tz),
            "tz": options.tz, "session_gap_s": options.session_gap_s, "new_days": options.new_days,
            "hours": _hours_text(options.hours), "platforms": list(options.platforms),
            "agents": list(options.agents), "team": options.team,
        },
        **figures,
    }
    report["conversations"] = taken
    report["_hour_sessions"] = dict(hour_sessions)
    report["by_agent"] = _agents(agents, per_agent, tally, slow_sessions)
    report["scripts"] = _scripts(options, tally) if options.nlp else []
    report["topics"] = topics if tally.cap is None else [{**t, "sessions": t["sessions"][:tally.cap]} for t in topics]
    report["sentiment"] = _sentiment(tally)
    report["typos"] = _typos(tally)
    report["sensitive"] = _sensitive(tally.hits, tally.sensitive_sessions)
    resolutions = tally.resolutions
    with_customer = sum(resolutions.values())
    report["resolution_rate"] = round(resolutions["resolved"] / with_customer, 4) if with_customer else None
    report["resolution"] = {"sessions": with_customer, **{k: resolutions.get(k, 0) for k in
                            ("resolved", "no_confirmation", "repeating", "complaining", "unanswered")}}
    report["complaints"] = tally.complaints
    report["satisfaction"] = satisfied
    report["trends"] = trends
    report["scores"] = _scores(tally, options)
    report["_unanswered_sessions"] = tally.unanswered
    report["suggestions"] = score.suggestions(report, options.sla_s)
    del report["_unanswered_sessions"]
    del report["_hour_sessions"]
    return report


def resolve_session(f: score.SessionFacts, confirm: int) -> str | None:
    return score.resolve(f, confirm, COMPLAINT_CATEGORIES)


def _hours_text(hours: tuple[int, int] | None) -> str | None:
    if not hours:
        return None
    return f"{hours[0] // 60:02d}:{hours[0] % 60:02d}-{hours[1] // 60:02d}:{hours[1] % 60:02d}"


# the SessionFacts fields TextFold fills: what a Spark executor hands back per session
FOLDED = ("first_agent_text", "last_agent_texts", "agent_text_messages", "polite", "curt", "customer_sentiments",
          "agent_sentiments", "typos", "sensitive", "questions", "seen_questions", "repeating", "last_customer",
          "last_agent_ms", "complaint_ms", "scripts_used")


class TextFold:
    """Folds one counted text message (in timeline order) into its session's facts: the one
    definition the single-machine stream and the Spark executors (chataudit.spark) both call."""

    def __init__(self, options: QualityOptions):
        self.matcher = ScriptMatcher(options.scripts)
        self.finder = TopicFinder(options.taxonomy)
        self.any_categories = [c.name for c in options.scripts if c.position == "any"]
        self.sensitive_who = {name: spec.get("who", "any") for name, spec in options.lexicons.sensitive.items()}

    def __call__(self, f: score.SessionFacts, ms: int, code: int, who: int, text: str, a: nlp.Analysis) -> bool:
        """Fold the message in; True when it is a customer's question (the report's topics list it)."""
        role = "agent" if code > 0 else "customer"
        for category, word, offset in a.sensitive:
            if self.sensitive_who.get(category, "any") in ("any", role):
                f.sensitive.append({"category": category, "word": word, "role": role, "who": who,
                                    "agent": code if code > 0 else None, "ms": ms, "text": text,
                                    "session": f.id})
        if code > 0:
            f.agent_text_messages += 1
            if f.first_agent_text is None:
                f.first_agent_text = text
            f.last_agent_texts.append(text)
            if len(f.last_agent_texts) > 2:
                del f.last_agent_texts[0]
            f.last_agent_ms = ms
            for name in self.any_categories:
                if not f.scripts_used.get(name) and self.matcher.matches(name, text):
                    f.scripts_used[name] = True
            if a.flags & nlp.POLITE:
                f.polite += 1
            if a.flags & nlp.CURT:
                f.curt += 1
            f.agent_sentiments.append(a.sentiment)
            for wrong, right, offset in a.typos:
                f.typos.append({"wrong": wrong, "right": right, "offset": offset, "text": text,
                                "agent": code, "ms": ms, "session": f.id})
            return False
        f.customer_sentiments.append(a.sentiment)
        categories = {c for c, _, _ in a.sensitive}
        f.last_customer.append((a.flags, a.sentiment, categories))
        if len(f.last_customer) > 2:
            del f.last_customer[0]
        if categories & COMPLAINT_CATEGORIES:
            f.complaint_ms.append(ms)
        topic = self.finder.classify(text)
        if a.question or topic:
            key = nlp.normalize(text).strip("?？!！。. ")
            if key in f.seen_questions and f.seen_questions[key] < (f.last_agent_ms or 0):
                f.repeating = True
            f.seen_questions.setdefault(key, ms)
            f.questions.append((text, topic, None if topic else keywords(text)))
            return True
        return False


def _agents(agents, per_agent, tally: Tally, slow_sessions) -> list[dict[str, Any]]:
    rows = []
    for agent in agents:
        timing_row = per_agent.get(agent.code)
        mine = tally.agents.get(agent.code)
        if timing_row is None and mine is None:
            continue
        mine = mine or _AgentTally(tally.cap)
        rows.append({
            "agent": agent.key, "name": agent.name, "role": agent.role, "team": agent.team,
            "hired_on": agent.hired_on, "cohort": agent.cohort,
            **(timing_row or {"sessions": mine.sessions, "responses": 0, "mean_response_s": None,
                              "median_response_s": None, "p90_response_s": None, "sla_within_rate": None,
                              "within_3min_rate": None, "first_responses": 0, "first_response_mean_s": None}),
            "typos": mine.typos,
            "typo_examples": mine.typo_examples,
            "typo_sessions": mine.typo_sessions.items,
            "sensitive": mine.sensitive,
            "score": mine.score.value(),
            "dimensions": {d: m.value() for d, m in mine.dimensions.items()},
            "critical_sessions": mine.critical_sessions,
            "resolution_rate": round(mine.resolved / mine.resolutions, 4) if mine.resolutions else None,
            "slow_sessions": slow_sessions.get(agent.code, []),
        })
    return rows


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def _scripts(options: QualityOptions, tally: Tally) -> list[dict[str, Any]]:
    rows = []
    # scripts are judged where an agent wrote text: a session holding only an agent's call record
    # or file cannot have missed a greeting
    with_agents = tally.with_agents
    for category in options.scripts:
        missed = tally.missed[category.name]
        used = with_agents - len(missed)
        rows.append({"category": category.name, "position": category.position, "required": category.required,
                     "example": category.texts[0] if category.texts else "", "sessions": with_agents,
                     "used": used, "missed": len(missed),
                     "rate": round(used / with_agents, 4) if with_agents else None,
                     "missed_sessions": missed.items})
    return rows


def _sentiment(tally: Tally) -> dict[str, Any]:
    return {
        "sessions": tally.rated,
        "customer_start_mean": tally.start_mean.value(),
        "customer_end_mean": tally.end_mean.value(),
        "improved": len(tally.improved), "worsened": len(tally.worsened),
        "unchanged": tally.rated - len(tally.improved) - len(tally.worsened),
        "customer_messages": tally.customer,
        "customer_negative_share": _share(tally.customer_negative, tally.customer),
        "customer_positive_share": _share(tally.customer_positive, tally.customer),
        "agent_tone_mean": tally.agent_tone.value(),
        "agent_negative_share": _share(tally.agent_negative, tally.agent_tone.count),
        "curt_agent_messages": tally.curt,
        "worsened_sessions": tally.worsened.items,
        "improved_sessions": tally.improved.items,
    }


def _typos(tally: Tally) -> dict[str, Any]:
    checked = tally.checked
    return {
        "count": tally.typos, "agent_messages_checked": checked,
        "per_100_agent_messages": round(100 * tally.typos / checked, 3) if checked else None,
        "by_agent": dict(tally.typo_agents.most_common()),
        "top": [{"pair": p, "count": n} for p, n in tally.typo_pairs.most_common(10)],
        "examples": tally.typo_examples,
    }


def _sensitive(hits: list[dict[str, Any]], sessions: int) -> dict[str, Any]:
    by_category = Counter(s["category"] for s in hits)
    by_role = Counter(f"{s['role']}:{s['category']}" for s in hits)
    return {
        "count": len(hits),
        "by_category": dict(by_category.most_common()),
        "by_role": dict(by_role.most_common()),
        "customer_words": dict(Counter(s["word"] for s in hits if s["role"] == "customer").most_common()),
        "agent_words": dict(Counter(s["word"] for s in hits if s["role"] == "agent").most_common()),
        "sessions": sessions,
        "hits": [{"category": s["category"], "word": s["word"], "role": s["role"], "who": s["who"],
                  "agent": s["agent"], "session": s["session"], "text": s["text"], "ms": s["ms"]}
                 for s in sorted(hits, key=lambda s: s["ms"])],
    }


def _scores(tally: Tally, options) -> dict[str, Any]:
    return {
        "sessions": tally.scored,
        "mean": tally.score.value(),
        "dimensions": {d: m.value() for d, m in tally.dimensions.items()},
        "labels": score.DIMENSION_LABELS,
        "weights": options.scorecard["weights"],
        "critical_sessions": tally.critical_sessions,
        "critical": dict(tally.critical),
        "distribution": [{"from": b, "to": b + 10, "count": tally.distribution.get(b, 0)} for b in range(0, 100, 10)],
        "lowest": [{"session": sid, "score": value, "critical": critical}
                   for value, sid, critical in sorted(low.entry for low in tally.lowest)],
    }


CSV_COLUMNS = ["session", "conversation", "start", "end", "customer", "agents", "messages", "customer_messages",
               "agent_messages", "waits", "responses", "unanswered", "first_response_s", "mean_response_s",
               "score", "speed", "professionalism", "resolution", "experience", "emotion", "critical", "topic",
               "resolved", "resolution_reason", "missed_scripts", "sentiment_start", "sentiment_end", "typos",
               "sensitive"]


def _session_row(f: score.SessionFacts, agents, sender_by_number, options) -> dict[str, Any]:
    return _session_row_builder(agents, sender_by_number, options)(f)


def _session_row_builder(agents, sender_by_number, options, labels: dict[int, str] | None = None):
    """The session-row function with what is the same for every row worked out once. ``labels``
    (sender number → label) instead of ``sender_by_number``: a Spark executor passes one dict it
    refills per session with that session's customer (it never holds every sender)."""
    names = {a.code: a.name for a in agents}
    keys = {a.code: a.key for a in agents}
    required = {c.name for c in options.scripts if c.required}
    tz = _zone(options.tz)
    if labels is None:
        labels = {number: s.label for number, s in sender_by_number.items()}
    fromtimestamp = datetime.fromtimestamp

    def iso(ms: int) -> str:
        return fromtimestamp(ms / 1000, tz).isoformat(timespec="seconds")

    def row(f: score.SessionFacts) -> dict[str, Any]:
        start_ms, end_ms = f.start_ms, f.end_ms
        start = None if start_ms is None else iso(start_ms)
        end = start if end_ms == start_ms else (None if end_ms is None else iso(end_ms))  # one-message sessions
        scores = f.scores
        return {
            "session": f.id, "conversation": f.conv, "start": start, "end": end,
            "start_ms": start_ms, "end_ms": end_ms,
            "customer": labels.get(f.customer),
            "agents": [names.get(c, str(c)) for c in f.agents],
            "agent_keys": [keys.get(c, str(c)) for c in f.agents],
            "messages": f.messages, "customer_messages": f.customer_messages, "agent_messages": f.agent_messages,
            "waits": f.waits, "responses": f.responses, "unanswered": f.unanswered,
            "first_response_s": f.first_response_s, "mean_response_s": f.mean_response_s,
            "score": f.score, "speed": scores.get("speed"), "professionalism": scores.get("professionalism"),
            "resolution": scores.get("resolution"), "experience": scores.get("experience"),
            "emotion": scores.get("emotion"), "critical": f.critical, "topic": f.topic,
            "resolved": None if f.resolution is None else f.resolution == "resolved",
            "resolution_reason": f.resolution,
            "missed_scripts": [n for n, used in f.scripts_used.items() if not used and n in required]
            if f.scripts_used else [],
            "sentiment_start": f.sentiment_start if f.customer_sentiments else None,
            "sentiment_end": f.sentiment_end if f.customer_sentiments else None,
            "typos": len(f.typos), "sensitive": len(f.sensitive),
            "first_message": f.first_message, "last_message": f.last_message,
        }

    return row


def write_csv(report: dict[str, Any], out: IO[str]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report["session_rows"]:
        writer.writerow(["" if row.get(c) is None else
                         (";".join(row[c]) if isinstance(row[c], list) else
                          ("true" if row[c] is True else "false" if row[c] is False else row[c]))
                         for c in CSV_COLUMNS])
    return len(report["session_rows"])


# ---- satisfaction ratings --------------------------------------------------------------------

RATING_WORDS = {"非常满意": 1.0, "很满意": 1.0, "满意": 0.75, "一般": 0.5, "不满意": 0.25, "很不满意": 0.0,
                "非常不满意": 0.0, "好评": 1.0, "中评": 0.5, "差评": 0.0}
_COLUMNS = {
    "conversation": ("conversation", "session", "chat", "会话", "会话id", "conversation_id"),
    "customer": ("customer", "customer_id", "user", "客户", "客户id"),
    "time": ("time", "rated_at", "timestamp", "date", "时间", "评价时间"),
    "rating": ("rating", "score", "stars", "评分", "满意度", "评价"),
}


def parse_rating(raw: str) -> float:
    value = raw.strip()
    if value in RATING_WORDS:
        return RATING_WORDS[value]
    number = float(value)
    if 1 <= number <= 5:
        return round((number - 1) / 4, 4)
    if 0 <= number <= 10:
        return round(number / 10, 4)
    if 0 <= number <= 100:
        return round(number / 100, 4)
    raise ValueError(raw)


def import_ratings(archive: Archive, path: str, tz_name: str) -> dict[str, int]:
    """Store a ratings CSV (session/conversation or customer, time, rating); re-imports add nothing."""
    from ..model import parse_user_time, utc_ms

    text = read_text(path)
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    index = {key: next((header.index(n) for n in names if n in header), None) for key, names in _COLUMNS.items()}
    if index["rating"] is None or index["time"] is None or (index["conversation"] is None and index["customer"] is None):
        raise ChatAuditError(f"{path}:1: expected columns conversation (or customer), time, rating")
    added = total = 0
    db = archive.db
    db.execute("BEGIN IMMEDIATE")
    try:
        for number, row in enumerate(reader, start=2):
            if not row or not any(c.strip() for c in row):
                continue
            total += 1
            get = lambda key: row[index[key]].strip() if index[key] is not None and index[key] < len(row) else ""  # noqa: E731
            try:
                rating = parse_rating(get("rating"))
            except ValueError:
                raise ChatAuditError(f"{path}:{number}: rating {get('rating')!r} is not 1-5, 0-10, 0-100 or 满意/不满意") from None
            try:
                moment = utc_ms(parse_user_time(get("time"), zone(tz_name)))
            except ValueError as error:
                raise ChatAuditError(f"{path}:{number}: {error}") from None
            conversation = None
            if get("conversation"):
                ref = get("conversation")
                if re.fullmatch(r"\d+-\d+", ref):  # a session id from this report: its conversation
                    ref = ref.split("-")[0]
                conversation = archive.resolve_conversation(ref)["id"]
            customer = get("customer") or None
            digest = hashlib.sha256(f"{conversation}|{customer}|{moment}|{rating}".encode()).hexdigest()
            cursor = db.execute(
                "INSERT OR IGNORE INTO quality_ratings (row_hash, conversation, customer, rated_at_ms, rating, raw, source)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (digest, conversation, customer, moment, rating, get("rating"), str(path)))
            added += cursor.rowcount
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return {"ratings": total, "new": added}


def matched_ratings(db, facts) -> list[tuple[score.SessionFacts, float]] | None:
    """Ratings matched to sessions: same conversation (or customer), given from the session's start
    to 24 h after its end; the latest such session wins. None when no rating was ever imported."""
    rows = db.execute("SELECT conversation, customer, rated_at_ms, rating FROM quality_ratings").fetchall()
    if not rows:
        return None
    by_conv: dict[int, list[score.SessionFacts]] = defaultdict(list)
    for f in facts.values():
        by_conv[f.conv].append(f)
    matched = []
    for conversation, customer, at, rating in rows:
        candidates = by_conv.get(conversation, []) if conversation is not None else []
        hit = [f for f in candidates if f.start_ms <= at <= f.end_ms + 86_400_000]
        if hit:
            matched.append((max(hit, key=lambda f: f.start_ms), rating))
    return matched


def satisfaction(db, facts, agents, options: QualityOptions,
                 matched: list[tuple[score.SessionFacts, float]] | None = None) -> dict[str, Any] | None:
    """Satisfaction of the matched ratings (:func:`matched_ratings`), overall and per agent."""
    if matched is None:
        matched = matched_ratings(db, facts)
        if matched is None:
            return None
    if not matched:
        return {"ratings": 0, "mean": None, "satisfied_rate": None, "by_agent": {}, "by_agent_mean": {},
                "by_agent_count": {}}
    names = {a.code: a.name for a in agents}
    per_agent: dict[str, list[float]] = defaultdict(list)
    for f, rating in matched:
        for code in f.agents:
            per_agent[names.get(code, str(code))].append(rating)
    return {
        "ratings": len(matched),
        "mean": round(sum(r for _, r in matched) / len(matched), 4),
        "satisfied_rate": round(sum(r >= 0.75 for _, r in matched) / len(matched), 4),
        "by_agent": {a: round(sum(r >= 0.75 for r in v) / len(v), 4) for a, v in sorted(per_agent.items())},
        # the mean rating (0-1) and how many, per agent: the CSAT beside self, peer and automatic scores
        "by_agent_mean": {a: round(sum(v) / len(v), 4) for a, v in sorted(per_agent.items())},
        "by_agent_count": {a: len(v) for a, v in sorted(per_agent.items())},
    }


# ---- comparing periods -----------------------------------------------------------------------

# (key path, label, direction): +1 when higher is better, -1 when lower is better
COMPARED = [
    (("sessions",), "sessions", 0),
    (("responses",), "responses", 0),
    (("mean_response_s",), "mean response (s)", -1),
    (("median_response_s",), "median response (s)", -1),
    (("p90_response_s",), "p90 response (s)", -1),
    (("first_response", "mean_response_s"), "mean first response (s)", -1),
    (("sla_within_rate",), "within SLA", 1),
    (("within_3min_rate",), "within 3 minutes", 1),
    (("unanswered",), "unanswered waits", -1),
    (("resolution_rate",), "resolution rate", 1),
    (("satisfaction", "satisfied_rate"), "satisfaction", 1),
    (("complaints",), "complaint sessions", -1),
    (("scores", "mean"), "mean score", 1),
    (("scores", "dimensions", "speed"), "响应速度", 1),
    (("scores", "dimensions", "professionalism"), "专业度", 1),
    (("scores", "dimensions", "resolution"), "问题解决率", 1),
    (("scores", "dimensions", "experience"), "用户体验", 1),
    (("scores", "dimensions", "emotion"), "情绪管理", 1),
    (("sentiment", "customer_end_mean"), "customer sentiment at the end", 1),
    (("typos", "per_100_agent_messages"), "typos per 100 agent messages", -1),
    (("sensitive", "count"), "sensitive words", -1),
]


def _dig(report: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = report
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def compare(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """Before (the --compare-to period) and after (the main period) for every headline figure.

    ``change`` is (after − before) / before; ``improvement`` turns it so that positive is better
    (for times: before / after − 1, the "response speed +25 %" of a team lead's slide).
    """
    rows = []
    for path, label, direction in COMPARED:
        a, b = _dig(after, path), _dig(before, path)
        change = improvement = None
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b:
            change = round((a - b) / b, 4)
            if direction == -1 and a:
                improvement = round(b / a - 1, 4)
            elif direction == 1:
                improvement = change
        rows.append({"key": ".".join(path), "label": label, "before": b, "after": a, "change": change,
                     "improvement": improvement, "better": None if improvement is None or direction == 0
                     else improvement > 0})
    for script in after.get("scripts", []):
        old = next((s for s in before.get("scripts", []) if s["category"] == script["category"]), None)
        b, a = (old or {}).get("rate"), script["rate"]
        rows.append({"key": f"scripts.{script['category']}", "label": f"script {script['category']} used",
                     "before": b, "after": a, "change": round((a - b) / b, 4) if a is not None and b else None,
                     "improvement": round((a - b) / b, 4) if a is not None and b else None,
                     "better": None if a is None or b is None else a > b})
    return {"period": before["period"], "figures": rows}
