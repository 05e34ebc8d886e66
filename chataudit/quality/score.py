"""Session scorecard (five dimensions, critical items) and improvement suggestions from the figures."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

DIMENSIONS = ("speed", "professionalism", "resolution", "experience", "emotion")
DIMENSION_LABELS = {"speed": "响应速度", "professionalism": "专业度", "resolution": "问题解决率",
                    "experience": "用户体验", "emotion": "情绪管理"}


@dataclass(slots=True)
class SessionFacts:
    """What one session's messages showed, gathered while streaming them once."""

    id: str
    conv: int
    session_no: int
    start_ms: int
    end_ms: int
    messages: int
    customer_messages: int
    agent_messages: int
    agents: list[int]
    customer: int | None
    waits: int
    responses: int
    unanswered: int
    first_response_s: float | None
    mean_response_s: float | None
    wait_list: list[tuple[float | None, int | None, int | None]]
    first_agent_text: str | None = None
    last_agent_texts: list[str] = field(default_factory=list)  # the last two (a list: ~700k deques cost ~1 GB)
    agent_text_messages: int = 0
    polite: int = 0
    curt: int = 0
    customer_sentiments: list[float] = field(default_factory=list)
    agent_sentiments: list[float] = field(default_factory=list)
    typos: list[dict[str, Any]] = field(default_factory=list)
    sensitive: list[dict[str, Any]] = field(default_factory=list)
    questions: list[tuple[str, str | None, list[str] | None]] = field(default_factory=list)  # text, topic, key words
    seen_questions: dict[str, int] = field(default_factory=dict)
    repeating: bool = False
    last_customer: list[tuple] = field(default_factory=list)  # the last two (flags, sentiment, categories)
    last_agent_ms: int | None = None
    complaint_ms: list[int] = field(default_factory=list)
    scripts_used: dict[str, bool] = field(default_factory=dict)
    topic: str | None = None
    resolution: str | None = None
    scores: dict[str, float | None] = field(default_factory=dict)
    score: float | None = None
    critical: list[str] = field(default_factory=list)
    first_message: int | None = None  # the session's anchor (chataudit.reviews): first/last message ids
    last_message: int | None = None

    @property
    def sentiment_start(self) -> float | None:
        values = self.customer_sentiments[:2]
        return round(sum(values) / len(values), 4) if values else None

    @property
    def sentiment_end(self) -> float | None:
        values = self.customer_sentiments[-2:]
        return round(sum(values) / len(values), 4) if values else None


def resolve(facts: SessionFacts, confirm_flag: int, complaint_categories: set[str]) -> str | None:
    """resolved | unanswered | complaining | repeating | no_confirmation (None: no customer spoke).

    A closing "好的，谢谢" opens a wait that nobody answers — by the wait definition it is counted as
    unanswered, but for resolution it is exactly the confirmation that matters, so it is read first.
    """
    if facts.customer_messages == 0:
        return None
    last = list(facts.last_customer)
    # the customer's final word decides: a threat answered and followed by "谢谢" is resolved
    complaining = bool(last) and (bool(last[-1][2] & complaint_categories) or last[-1][1] <= -0.5)
    if not complaining and last and last[-1][0] & confirm_flag:
        return "resolved"
    if facts.wait_list and facts.wait_list[-1][0] is None:
        return "unanswered"
    if complaining:
        return "complaining"
    if any(flags & confirm_flag for flags, _, _ in last):
        return "resolved"
    if facts.repeating:
        return "repeating"
    return "no_confirmation"


def score_session(facts: SessionFacts, card: dict[str, Any], required_scripts: list[str]) -> None:
    """Fill facts.scores (0-100 per dimension, None when it does not apply), score and critical."""
    Scorer(card, required_scripts)(facts)


class Scorer:
    """:func:`score_session` with the scorecard read once, for scoring many sessions in a row.

    Every expression (and so every rounding) is the one the scorecard defines; only the look-ups
    that are the same for every session are hoisted out of the per-session call."""

    def __init__(self, card: dict[str, Any], required_scripts: list[str]):
        self.multiple = float(card["speed"]["zero_at_multiple"])
        self.per_typo = card["professionalism"]["per_typo"]
        self.per_missed_script = card["professionalism"]["per_missed_script"]
        self.resolution = card["resolution"]
        self.politeness_weight = card["experience"]["politeness_weight"]
        self.sentiment_weight = card["experience"]["sentiment_weight"]
        self.per_negative = card["emotion"]["per_negative_agent_message"]
        self.per_sensitive = card["emotion"]["per_sensitive_agent_word"]
        weights = card["weights"]
        # (dimension, weight) in DIMENSIONS order, for the dimensions with a weight
        self.weighted = [(i, weights[k]) for i, k in enumerate(DIMENSIONS) if weights.get(k)]
        self.items = set(card.get("critical") or [])
        self.required = list(required_scripts)
        # sessions without any text-analysis facts (every session under --no-nlp) score by their waits
        # and whether an agent spoke alone: such results are remembered per (waits, agent spoke)
        self._plain: dict[tuple, tuple[list[float | None], float | None]] = {}

    def __call__(self, facts: SessionFacts) -> None:
        if (facts.resolution is None and not facts.agent_text_messages and not facts.customer_sentiments
                and not facts.curt and not facts.typos and not facts.sensitive and not facts.complaint_ms
                and not facts.scripts_used):
            key = (tuple([(w[0], w[1]) for w in facts.wait_list]), bool(facts.agent_messages))
            known = self._plain.get(key)
            if known is None:
                self._score(facts)
                if len(self._plain) < 1 << 16:
                    self._plain[key] = (list(facts.scores.values()), facts.score)
            else:
                facts.scores = dict(zip(DIMENSIONS, known[0]))
                facts.critical = []
                facts.score = known[1]
            return
        self._score(facts)

    def _score(self, facts: SessionFacts) -> None:
        multiple = self.multiple
        points = []
        for wait_ms, sla_ms, _ in facts.wait_list:
            if wait_ms is None:
                points.append(0.0)
            elif not sla_ms or wait_ms <= sla_ms:
                points.append(100.0)
            else:
                points.append(max(0.0, 100.0 * (1 - (wait_ms - sla_ms) / (sla_ms * (multiple - 1)))))
        speed = sum(points) / len(points) if points else None
        professionalism = emotion = None
        sensitive = facts.sensitive
        if facts.agent_messages:
            scripts_used = facts.scripts_used
            missed = sum(1 for name in self.required if not scripts_used.get(name, False))
            professionalism = max(0.0, 100.0 - self.per_typo * len(facts.typos) - self.per_missed_script * missed)
            agent_legal = sum(1 for s in sensitive if s["role"] == "agent" and s["category"] == "legal") if sensitive else 0
            emotion = max(0.0, 100.0 - self.per_negative * facts.curt - self.per_sensitive * agent_legal)
        resolution = None if facts.resolution is None else float(self.resolution[facts.resolution])
        parts = []
        if facts.agent_text_messages:
            parts.append((self.politeness_weight, 100.0 * facts.polite / facts.agent_text_messages))
        sentiment_end = facts.sentiment_end if facts.customer_sentiments else None
        if sentiment_end is not None:
            parts.append((self.sentiment_weight, 50.0 * (sentiment_end + 1)))
        experience = sum(w * v for w, v in parts) / sum(w for w, _ in parts) if parts and sum(w for w, _ in parts) else None
        values = [None if v is None else round(v, 2) for v in (speed, professionalism, resolution, experience, emotion)]
        facts.scores = dict(zip(DIMENSIONS, values))
        used = [(w, values[i]) for i, w in self.weighted if values[i] is not None]
        total = sum(w * v for w, v in used) / sum(w for w, _ in used) if used else None
        critical = []
        if sensitive:
            items = self.items
            if "agent_abuse" in items and any(s["role"] == "agent" and s["category"] == "abuse" for s in sensitive):
                critical.append("agent_abuse")
            if "agent_promise" in items and any(s["role"] == "agent" and s["category"] == "promise" for s in sensitive):
                critical.append("agent_promise")
        if (facts.complaint_ms and "ignored_complaint" in self.items and facts.unanswered
                and any(facts.last_agent_ms is None or ms > facts.last_agent_ms for ms in facts.complaint_ms)):
            critical.append("ignored_complaint")
        facts.critical = critical
        facts.score = 0.0 if critical and total is not None else (None if total is None else round(total, 2))


def mean(values: list[float | None]) -> float | None:
    """The mean of the values given (None ones skipped), to 2 decimals. The sum is math.fsum's,
    exact before its one rounding, so it does not depend on the order of the values: Spark's
    partial tallies (chataudit.quality.report.Mean) give the same figure."""
    present = [v for v in values if v is not None]
    return round(math.fsum(present) / len(present), 2) if present else None


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 100:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _sessions(count: int) -> str:
    return f"{count} session" + ("" if count == 1 else "s")


def suggestions(report: dict[str, Any], sla_s: dict[str, float], limit: int = 8) -> list[dict[str, Any]]:
    """Concrete, figure-backed advice; each names the figure and the sessions behind it."""
    out: list[dict[str, Any]] = []
    target = sla_s.get("service", 30.0)
    hours = [h for h in report["by_hour"] if h["first_responses"] >= 3 and h["first_response_mean_s"] is not None]
    if hours:
        worst = max(hours, key=lambda h: h["first_response_mean_s"])
        if worst["first_response_mean_s"] > target:
            out.append({
                "figure": "by_hour", "hour": worst["hour"],
                "text": f"{worst['hour']:02d}:00–{(worst['hour'] + 1) % 24:02d}:00 mean first response "
                        f"{fmt_s(worst['first_response_mean_s'])} against a {fmt_s(target)} target: "
                        "add staff in that hour or route it to a backup group.",
                "sessions": report.get("_hour_sessions", {}).get(worst["hour"], [])[:20],
            })
    cohorts = report["by_cohort"]["groups"]
    ratio = report["by_cohort"]["new_to_veteran_ratio"]
    if ratio and ratio > 1.15:
        new, old = cohorts["new"], cohorts["veteran"]
        out.append({
            "figure": "by_cohort",
            "text": f"New agents (hired less than {report['period']['new_days']} days before the period) answer "
                    f"{(ratio - 1) * 100:.0f}% slower than veterans (mean {fmt_s(new['mean_response_s'])} vs "
                    f"{fmt_s(old['mean_response_s'])}): pair them with a veteran and drill the quick replies.",
            "sessions": [],
        })
    for script in report["scripts"]:
        if script["required"] and script["sessions"] and script["missed"] / script["sessions"] > 0.05:
            out.append({
                "figure": "scripts", "category": script["category"],
                "text": f"{script['missed'] / script['sessions']:.0%} of sessions ({script['missed']} of "
                        f"{script['sessions']}) miss the standard {script['category']} "
                        f"(“{script['example']}”): add it to the quick replies and check it in QA.",
                "sessions": script["missed_sessions"][:20],
            })
    team_mean = report["mean_response_s"]
    for agent in report["by_agent"]:
        if (team_mean and agent["responses"] >= 5 and agent["mean_response_s"]
                and agent["mean_response_s"] > 1.5 * team_mean):
            out.append({
                "figure": "by_agent", "agent": agent["agent"],
                "text": f"{agent['name']}: mean response {fmt_s(agent['mean_response_s'])} against the team's "
                        f"{fmt_s(team_mean)}, SLA met in {agent['sla_within_rate'] or 0:.0%}: review their load "
                        "and concurrent chats.",
                "sessions": agent.get("slow_sessions", [])[:20],
            })
    typo_agents = sorted((a for a in report["by_agent"] if a["typos"] >= 3), key=lambda a: -a["typos"])
    for agent in typo_agents[:2]:
        examples = ", ".join(dict.fromkeys(f"{t['wrong']}→{t['right']}" for t in agent.get("typo_examples", [])))
        out.append({
            "figure": "typos", "agent": agent["agent"],
            "text": f"{agent['name']} wrote {agent['typos']} typos ({examples}): review the 的/地/得 rule and "
                    "the team's quick-reply texts.",
            "sessions": agent.get("typo_sessions", [])[:20],
        })
    sensitive = report["sensitive"]
    forbidden = [h for h in sensitive["hits"] if h["role"] == "agent" and h["category"] in ("promise", "abuse")]
    if forbidden:
        words = ", ".join(sorted({h["word"] for h in forbidden})[:4])
        out.append({
            "figure": "sensitive",
            "text": f"Agents used forbidden words {len(forbidden)} times ({words}): these sessions score 0; "
                    "go through them with the agents concerned.",
            "sessions": list(dict.fromkeys(h["session"] for h in forbidden))[:20],
        })
    threats = [h for h in sensitive["hits"] if h["role"] == "customer" and h["category"] == "legal"]
    if threats:
        sessions_ = list(dict.fromkeys(h["session"] for h in threats))
        counted: dict[str, int] = {}
        for h in threats:
            counted[h["word"]] = counted.get(h["word"], 0) + 1
        words = ", ".join(w for w, _ in sorted(counted.items(), key=lambda x: -x[1])[:4])
        out.append({
            "figure": "sensitive",
            "text": f"Legal-risk words from customers ({words}) in {_sessions(len(sessions_))}: hand them to "
                    "a senior agent the same day.",
            "sessions": sessions_[:20],
        })
    left = report["resolution"]["unanswered"]
    if report["resolution"]["sessions"] and left / report["resolution"]["sessions"] > 0.03:
        out.append({
            "figure": "resolution",
            "text": f"{_sessions(left)} ({left / report['resolution']['sessions']:.0%}) ended with the customer's question "
                    "unanswered: add an auto-reply with opening hours and a call-back queue.",
            "sessions": report.get("_unanswered_sessions", [])[:20],
        })
    if report["topics"]:
        top = report["topics"][0]
        out.append({
            "figure": "topics", "topic": top["topic"],
            "text": f"“{top['topic']}” is the top question ({top['share']:.0%} of questions, {top['count']}): "
                    "publish a quick reply and an FAQ entry for it.",
            "sessions": top["sessions"][:20],
        })
    sentiment = report["sentiment"]
    if sentiment["sessions"] and sentiment["worsened"] / sentiment["sessions"] > 0.15:
        out.append({
            "figure": "sentiment",
            "text": f"In {_sessions(sentiment['worsened'])} ({sentiment['worsened'] / sentiment['sessions']:.0%}) the "
                    "customer ended in a worse mood than they started: review them for tone and hand-offs.",
            "sessions": sentiment.get("worsened_sessions", [])[:20],
        })
    return out[:limit]
