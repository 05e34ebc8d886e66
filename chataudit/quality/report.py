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
import operator
import re
import time
from collections import Counter, defaultdict
from datetime import datetime
from typing import IO, Any, Callable

from ..errors import ChatAuditError
from ..model import zone
from ..store import Archive
from . import nlp, score, sessions as sessions_sql, timing, trends as trends_api
from .config import QualityOptions, read_text
from .scripts import ScriptMatcher
from .topics import TopicFinder

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
    figures = timing.figures(con, options.sla_s, options.line_s)
    per_agent = timing.agent_figures(con, options.line_s)
    timing_seconds = time.perf_counter() - started
    on_progress(0, "timings")

    facts = facts_from_rows(timing.session_rows(con))
    hour_sessions, slow_sessions = slow_lists(con)

    nlp_stats = {"messages": 0, "analyzed": 0, "cached": 0, "seconds": 0.0}
    questions: list[tuple[str, str]] = []
    if options.nlp and facts:
        nlp_started = time.perf_counter()
        analyzer = nlp.Analyzer(options.lexicons)
        cache = nlp.Cache(db, analyzer)
        session_of = dict(con.execute("SELECT id, session_no FROM msgs").fetchall())
        _stream_texts(db, options, facts, session_of, cache, TextFold(options), questions, on_progress)
        nlp_stats = {"messages": cache.analyzed + cache.cached, "analyzed": cache.analyzed, "cached": cache.cached,
                     "seconds": round(time.perf_counter() - nlp_started, 3)}
        nlp_stats["per_second"] = round(nlp_stats["messages"] / nlp_stats["seconds"], 1) if nlp_stats["seconds"] else None
    report = assemble(options, senders, agents, taken, figures, per_agent, facts, hour_sessions, slow_sessions,
                      questions, db, con)
    con.close()
    report["nlp"] = nlp_stats
    report["timing_seconds"] = round(timing_seconds, 3)
    report["seconds"] = round(time.perf_counter() - started, 3)
    return finish(report, options, agents, senders, facts)


def facts_from_rows(rows: Any) -> dict[tuple[int, int], score.SessionFacts]:
    """The per-session facts from :func:`timing.session_rows` (whichever engine ran it), keyed by
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


def slow_lists(con: Any) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Sessions by hour of their first response, slowest first; and per agent the (at most 20)
    sessions where they answered beyond the SLA, slowest first. ``con`` runs the SQL (DuckDB, or
    Spark through :class:`chataudit.spark.quality_job.SparkSQL`); ties go by session."""
    hour_sessions: dict[int, list[str]] = defaultdict(list)
    for conv, no, hour in con.execute(
            "SELECT conv, session_no, hour FROM waits WHERE first_of_session AND reply_ms IS NOT NULL"
            " ORDER BY wait_ms DESC, conv, session_no").fetchall():
        hour_sessions[hour].append(session_id(conv, no))
    slow_sessions: dict[int, list[str]] = defaultdict(list)
    for agent, conv, no in con.execute(
            "SELECT agent, conv, session_no FROM waits WHERE reply_ms IS NOT NULL AND wait_ms > sla_ms"
            " GROUP BY agent, conv, session_no ORDER BY max(wait_ms) DESC, conv, session_no").fetchall():
        if len(slow_sessions[agent]) < 20:
            slow_sessions[agent].append(session_id(conv, no))
    return hour_sessions, slow_sessions


def assemble(options: QualityOptions, senders, agents, taken, figures, per_agent, facts, hour_sessions,
             slow_sessions, questions, db, trends_con) -> dict[str, Any]:
    """The report from the timing figures and the folded session facts: scripts, topics, resolution,
    scores, satisfaction (from ``db``'s ratings; ``db`` None: no ratings) and trends (``trends_con``:
    a DuckDB holding ``sessions`` and ``waits``). Shared by the single-machine and the Spark path."""
    sender_by_number = {s.number: s for s in senders}
    matcher = ScriptMatcher(options.scripts)
    finder = TopicFinder(options.taxonomy)
    topics, session_topic = finder.group(questions, options.top)
    required = [c.name for c in options.scripts if c.required]
    categories_any = {c.name for c in options.scripts if c.position == "any"}
    confirm = nlp.CONFIRM
    score_one = score.Scorer(options.scorecard, required if options.nlp else [])
    for f in facts.values():
        if f.agent_text_messages and options.nlp:
            used = matcher.used(f.first_agent_text, list(f.last_agent_texts), [])
            for name, value in used.items():
                if name not in categories_any:
                    f.scripts_used[name] = value
            for name in categories_any:
                f.scripts_used.setdefault(name, False)
        f.topic = session_topic.get(f.id)
        f.resolution = resolve_session(f, confirm) if options.nlp else None
        score_one(f)

    report: dict[str, Any] = {
        "period": {
            "since": _iso(options.since_ms, options.tz), "until": _iso(options.until_ms, options.tz),
            "first_message": _iso(min((f.start_ms for f in facts.values()), default=None), options.tz),
            "last_message": _iso(max((f.end_ms for f in facts.values()), default=None), options.tz),
            "tz": options.tz, "session_gap_s": options.session_gap_s, "new_days": options.new_days,
            "hours": _hours_text(options.hours), "platforms": list(options.platforms),
            "agents": list(options.agents), "team": options.team,
        },
        **figures,
    }
    report["conversations"] = taken
    report["_hour_sessions"] = dict(hour_sessions)
    report["by_agent"] = _agents(agents, per_agent, facts, slow_sessions)
    report["scripts"] = _scripts(options, facts) if options.nlp else []
    report["topics"] = topics
    report["sentiment"] = _sentiment(facts)
    report["typos"] = _typos(facts, sender_by_number, agents)
    report["sensitive"] = _sensitive(facts)
    resolutions = Counter(f.resolution for f in facts.values() if f.resolution)
    with_customer = sum(resolutions.values())
    report["resolution_rate"] = round(resolutions["resolved"] / with_customer, 4) if with_customer else None
    report["resolution"] = {"sessions": with_customer, **{k: resolutions.get(k, 0) for k in
                            ("resolved", "no_confirmation", "repeating", "complaining", "unanswered")}}
    report["complaints"] = sum(1 for f in facts.values()
                               if any(s["role"] == "customer" and s["category"] == "legal" for s in f.sensitive))
    rated = matched_ratings(db, facts) if db is not None else None
    report["satisfaction"] = satisfaction(db, facts, agents, options, rated) if rated is not None else None
    report["trends"] = trends_api.trends(
        trends_con, options.tz, ((f.conv, f.session_no, f.resolution == "resolved") for f in facts.values() if f.resolution),
        ((f.conv, f.session_no, rating) for f, rating in rated or ()))
    report["scores"] = _scores(facts, agents, options)
    report["_unanswered_sessions"] = [f.id for f in facts.values() if f.resolution == "unanswered"]
    report["suggestions"] = score.suggestions(report, options.sla_s)
    del report["_unanswered_sessions"]
    return report


def finish(report: dict[str, Any], options: QualityOptions, agents, senders, facts) -> dict[str, Any]:
    """The last key, one row per session."""
    sender_by_number = {s.number: s for s in senders}
    row = _session_row_builder(agents, sender_by_number, options)
    report["session_rows"] = [row(f) for f in sorted(facts.values(), key=lambda f: (f.conv, f.session_no))]
    del report["_hour_sessions"]
    return report


def resolve_session(f: score.SessionFacts, confirm: int) -> str | None:
    return score.resolve(f, confirm, COMPLAINT_CATEGORIES)


def _hours_text(hours: tuple[int, int] | None) -> str | None:
    if not hours:
        return None
    return f"{hours[0] // 60:02d}:{hours[0] % 60:02d}-{hours[1] // 60:02d}:{hours[1] % 60:02d}"


def _stream_texts(db, options, facts, session_of, cache, fold: "TextFold", questions, on_progress) -> None:
    """Read every counted text message once, in timeline order, and fold it into its session."""
    where, params = sessions_sql._message_filter(options)
    where += ["w.code >= 0", "m.kind = 'text'"]
    cursor = db.execute(
        "SELECT m.id, m.conversation, m.sent_at_ms, w.code, w.who, m.text, m.content_hash"
        " FROM messages m INDEXED BY messages_timing"
        " CROSS JOIN q_who w ON w.sid = coalesce(m.sender_id, '') AND w.sname = coalesce(m.sender_name, '')"
        f" WHERE {' AND '.join(where)} ORDER BY m.conversation, m.sent_at_ms, m.id",  # the index's order
        params,
    )
    read = 0
    while True:
        rows = cursor.fetchmany(BATCH)
        if not rows:
            break
        read += len(rows)
        on_progress(read, "texts")
        analyses = cache.analyze_all([(r[6], r[5]) for r in rows])
        for message_id, conv, ms, code, who, text, content_hash in rows:
            session_no = session_of.get(message_id)
            if session_no is None:
                continue
            f = facts.get((conv, session_no))
            if f is None:
                continue
            if fold(f, ms, code, who, text, analyses[content_hash]):
                questions.append((text, f.id))


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
        if a.question or self.finder.classify(text):
            key = nlp.normalize(text).strip("?？!！。. ")
            if key in f.seen_questions and f.seen_questions[key] < (f.last_agent_ms or 0):
                f.repeating = True
            f.seen_questions.setdefault(key, ms)
            f.questions.append(text)
            return True
        return False


def _agents(agents, per_agent, facts, slow_sessions) -> list[dict[str, Any]]:
    sessions_by_agent: dict[int, list[score.SessionFacts]] = defaultdict(list)
    for f in facts.values():
        for code in f.agents:
            sessions_by_agent[code].append(f)
    rows = []
    for agent in agents:
        timing_row = per_agent.get(agent.code)
        mine = sessions_by_agent.get(agent.code, [])
        if timing_row is None and not mine:
            continue
        typos = [t for f in mine for t in f.typos if t["agent"] == agent.code]
        sensitive = [s for f in mine for s in f.sensitive if s["agent"] == agent.code]
        rows.append({
            "agent": agent.key, "name": agent.name, "role": agent.role, "team": agent.team,
            "hired_on": agent.hired_on, "cohort": agent.cohort,
            **(timing_row or {"sessions": len(mine), "responses": 0, "mean_response_s": None,
                              "median_response_s": None, "p90_response_s": None, "sla_within_rate": None,
                              "within_3min_rate": None, "first_responses": 0, "first_response_mean_s": None}),
            "typos": len(typos),
            "typo_examples": [{"wrong": t["wrong"], "right": t["right"], "text": t["text"]} for t in typos[:5]],
            "typo_sessions": list(dict.fromkeys(t["session"] for t in typos)),
            "sensitive": len(sensitive),
            "score": score.mean([f.score for f in mine]),
            "dimensions": _dimension_means(mine),
            "critical_sessions": sum(1 for f in mine if f.critical),
            "resolution_rate": _rate([f.resolution == "resolved" for f in mine if f.resolution]),
            "slow_sessions": slow_sessions.get(agent.code, []),
        })
    return rows


_DIMENSION_VALUES = operator.itemgetter(*score.DIMENSIONS)


def _dimension_means(facts_list) -> dict[str, float | None]:
    """score.mean of each dimension over the sessions, in one pass (same values, same order)."""
    columns = list(zip(*(_DIMENSION_VALUES(f.scores) for f in facts_list))) or [()] * len(score.DIMENSIONS)
    return {d: score.mean(list(column)) for d, column in zip(score.DIMENSIONS, columns)}


def _rate(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _scripts(options: QualityOptions, facts) -> list[dict[str, Any]]:
    rows = []
    # scripts are judged where an agent wrote text: a session holding only an agent's call record
    # or file cannot have missed a greeting
    with_agents = [f for f in facts.values() if f.agent_text_messages]
    for category in options.scripts:
        missed = [f.id for f in with_agents if not f.scripts_used.get(category.name)]
        used = len(with_agents) - len(missed)
        rows.append({"category": category.name, "position": category.position, "required": category.required,
                     "example": category.texts[0] if category.texts else "", "sessions": len(with_agents),
                     "used": used, "missed": len(missed),
                     "rate": round(used / len(with_agents), 4) if with_agents else None,
                     "missed_sessions": missed})
    return rows


def _sentiment(facts) -> dict[str, Any]:
    rated = [f for f in facts.values() if len(f.customer_sentiments) >= 1]
    improved = [f for f in rated if len(f.customer_sentiments) >= 2 and f.sentiment_end - f.sentiment_start > 0.1]
    worsened = [f for f in rated if len(f.customer_sentiments) >= 2 and f.sentiment_end - f.sentiment_start < -0.1]
    customer = [s for f in facts.values() for s in f.customer_sentiments]
    agent = [s for f in facts.values() for s in f.agent_sentiments]
    return {
        "sessions": len(rated),
        "customer_start_mean": score.mean([f.sentiment_start for f in rated]),
        "customer_end_mean": score.mean([f.sentiment_end for f in rated]),
        "improved": len(improved), "worsened": len(worsened),
        "unchanged": len(rated) - len(improved) - len(worsened),
        "customer_messages": len(customer),
        "customer_negative_share": _rate([s < -0.2 for s in customer]),
        "customer_positive_share": _rate([s > 0.2 for s in customer]),
        "agent_tone_mean": score.mean(agent),
        "agent_negative_share": _rate([s < -0.2 for s in agent]),
        "curt_agent_messages": sum(f.curt for f in facts.values()),
        "worsened_sessions": [f.id for f in worsened],
        "improved_sessions": [f.id for f in improved],
    }


def _typos(facts, sender_by_number, agents) -> dict[str, Any]:
    names = {a.code: a.name for a in agents}
    hits = [t for f in facts.values() for t in f.typos]
    checked = sum(f.agent_text_messages for f in facts.values())
    pairs = Counter(f"{t['wrong']}→{t['right']}" for t in hits)
    return {
        "count": len(hits), "agent_messages_checked": checked,
        "per_100_agent_messages": round(100 * len(hits) / checked, 3) if checked else None,
        "by_agent": dict(Counter(names.get(t["agent"], str(t["agent"])) for t in hits).most_common()),
        "top": [{"pair": p, "count": n} for p, n in pairs.most_common(10)],
        "examples": [{"wrong": t["wrong"], "right": t["right"], "text": t["text"],
                      "agent": names.get(t["agent"]), "session": t["session"]} for t in hits[:50]],
    }


def _sensitive(facts) -> dict[str, Any]:
    hits = [s for f in facts.values() for s in f.sensitive]
    by_category = Counter(s["category"] for s in hits)
    by_role = Counter(f"{s['role']}:{s['category']}" for s in hits)
    return {
        "count": len(hits),
        "by_category": dict(by_category.most_common()),
        "by_role": dict(by_role.most_common()),
        "customer_words": dict(Counter(s["word"] for s in hits if s["role"] == "customer").most_common()),
        "agent_words": dict(Counter(s["word"] for s in hits if s["role"] == "agent").most_common()),
        "sessions": len({s["session"] for s in hits}),
        "hits": [{"category": s["category"], "word": s["word"], "role": s["role"], "who": s["who"],
                  "agent": s["agent"], "session": s["session"], "text": s["text"], "ms": s["ms"]}
                 for s in sorted(hits, key=lambda s: s["ms"])],
    }


def _scores(facts, agents, options) -> dict[str, Any]:
    scored = [f for f in facts.values() if f.score is not None]
    distribution = Counter(min(int(f.score // 10) * 10, 90) for f in scored)
    return {
        "sessions": len(scored),
        "mean": score.mean([f.score for f in scored]),
        "dimensions": _dimension_means(scored),
        "labels": score.DIMENSION_LABELS,
        "weights": options.scorecard["weights"],
        "critical_sessions": sum(1 for f in scored if f.critical),
        "critical": dict(Counter(c for f in scored for c in f.critical)),
        "distribution": [{"from": b, "to": b + 10, "count": distribution.get(b, 0)} for b in range(0, 100, 10)],
        "lowest": [{"session": f.id, "score": f.score, "critical": f.critical}
                   for f in heapq.nsmallest(20, scored, key=lambda f: (f.score, f.id))],  # = sorted(…)[:20]
    }


CSV_COLUMNS = ["session", "conversation", "start", "end", "customer", "agents", "messages", "customer_messages",
               "agent_messages", "waits", "responses", "unanswered", "first_response_s", "mean_response_s",
               "score", "speed", "professionalism", "resolution", "experience", "emotion", "critical", "topic",
               "resolved", "resolution_reason", "missed_scripts", "sentiment_start", "sentiment_end", "typos",
               "sensitive"]


def _session_row(f: score.SessionFacts, agents, sender_by_number, options) -> dict[str, Any]:
    return _session_row_builder(agents, sender_by_number, options)(f)


def _session_row_builder(agents, sender_by_number, options):
    """The session-row function with what is the same for every row worked out once."""
    names = {a.code: a.name for a in agents}
    keys = {a.code: a.key for a in agents}
    required = {c.name for c in options.scripts if c.required}
    tz = _zone(options.tz)
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
