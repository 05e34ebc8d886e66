"""The per-session scorer and session rows, restructured for speed, against their original form."""

from __future__ import annotations

import copy
import random

from hypothesis import given, strategies as st

from chataudit.quality import config, report, score
from chataudit.quality.sessions import Agent, Sender


def reference_score_session(facts, card, required_scripts):
    """score.score_session as it was written before the scorecard look-ups were hoisted (verbatim)."""
    multiple = float(card["speed"]["zero_at_multiple"])
    points = []
    for wait_ms, sla_ms, _ in facts.wait_list:
        if wait_ms is None:
            points.append(0.0)
        elif not sla_ms or wait_ms <= sla_ms:
            points.append(100.0)
        else:
            points.append(max(0.0, 100.0 * (1 - (wait_ms - sla_ms) / (sla_ms * (multiple - 1)))))
    speed = sum(points) / len(points) if points else None
    professionalism = None
    if facts.agent_messages:
        missed = sum(1 for name in required_scripts if not facts.scripts_used.get(name, False))
        professionalism = max(0.0, 100.0 - card["professionalism"]["per_typo"] * len(facts.typos)
                              - card["professionalism"]["per_missed_script"] * missed)
    resolution = None if facts.resolution is None else float(card["resolution"][facts.resolution])
    parts = []
    if facts.agent_text_messages:
        parts.append((card["experience"]["politeness_weight"], 100.0 * facts.polite / facts.agent_text_messages))
    if facts.sentiment_end is not None:
        parts.append((card["experience"]["sentiment_weight"], 50.0 * (facts.sentiment_end + 1)))
    experience = sum(w * v for w, v in parts) / sum(w for w, _ in parts) if parts and sum(w for w, _ in parts) else None
    emotion = None
    if facts.agent_messages:
        agent_legal = sum(1 for s in facts.sensitive if s["role"] == "agent" and s["category"] == "legal")
        emotion = max(0.0, 100.0 - card["emotion"]["per_negative_agent_message"] * facts.curt
                      - card["emotion"]["per_sensitive_agent_word"] * agent_legal)
    facts.scores = {k: (None if v is None else round(v, 2)) for k, v in zip(
        score.DIMENSIONS, (speed, professionalism, resolution, experience, emotion))}
    weights = card["weights"]
    used = [(weights[k], v) for k, v in facts.scores.items() if v is not None and weights.get(k)]
    total = sum(w * v for w, v in used) / sum(w for w, _ in used) if used else None
    critical = []
    items = set(card.get("critical") or [])
    if "agent_abuse" in items and any(s["role"] == "agent" and s["category"] == "abuse" for s in facts.sensitive):
        critical.append("agent_abuse")
    if "agent_promise" in items and any(s["role"] == "agent" and s["category"] == "promise" for s in facts.sensitive):
        critical.append("agent_promise")
    if ("ignored_complaint" in items and facts.unanswered and facts.complaint_ms
            and any(facts.last_agent_ms is None or ms > facts.last_agent_ms for ms in facts.complaint_ms)):
        critical.append("ignored_complaint")
    facts.critical = critical
    facts.score = 0.0 if critical and total is not None else (None if total is None else round(total, 2))


def reference_session_row(f, agents, sender_by_number, options):
    """report._session_row as it was before the per-row constants were hoisted (verbatim)."""
    names = {a.code: a.name for a in agents}
    customer = sender_by_number.get(f.customer)
    return {
        "session": f.id, "conversation": f.conv, "start": report._iso(f.start_ms, options.tz),
        "end": report._iso(f.end_ms, options.tz),
        "start_ms": f.start_ms, "end_ms": f.end_ms,
        "customer": customer.label if customer else None,
        "agents": [names.get(c, str(c)) for c in f.agents],
        "agent_keys": [{a.code: a.key for a in agents}.get(c, str(c)) for c in f.agents],  # added for reviews
        "messages": f.messages, "customer_messages": f.customer_messages, "agent_messages": f.agent_messages,
        "waits": f.waits, "responses": f.responses, "unanswered": f.unanswered,
        "first_response_s": f.first_response_s, "mean_response_s": f.mean_response_s,
        "score": f.score, **f.scores, "critical": f.critical, "topic": f.topic,
        "resolved": None if f.resolution is None else f.resolution == "resolved",
        "resolution_reason": f.resolution,
        "missed_scripts": [n for n, used in f.scripts_used.items() if not used
                           and any(c.name == n and c.required for c in options.scripts)],
        "sentiment_start": f.sentiment_start, "sentiment_end": f.sentiment_end,
        "typos": len(f.typos), "sensitive": len(f.sensitive),
        "first_message": f.first_message, "last_message": f.last_message,  # added for reviews (the anchor)
    }


def random_facts(rng: random.Random, n: int, script_names: list[str]) -> list[score.SessionFacts]:
    out = []
    for i in range(n):
        conv, no = rng.randint(1, 50), i + 1
        start = rng.randint(1_600_000_000_000, 1_800_000_000_000)
        end = start if rng.random() < 0.4 else start + rng.randint(0, 10_000_000)
        agent_messages = rng.choice([0, 0, 1, 2, 7])
        waits = []
        for _ in range(rng.choice([0, 1, 1, 2, 5])):
            if rng.random() < 0.25:
                waits.append((None, None, None))
            else:
                sla = rng.choice([None, 0, 30_000, 60_000, 45_500])
                waits.append((rng.choice([0, 1, 29_999, 30_000, rng.randint(0, 900_000)]), sla, rng.randint(1, 4)))
        f = score.SessionFacts(report.session_id(conv, no), conv, no, start, end, rng.randint(1, 9),
                               rng.randint(0, 5), agent_messages, sorted(rng.sample(range(1, 6), rng.randint(0, 3))),
                               rng.choice([None, 1, 2, 3, 99]), len(waits), sum(w[0] is not None for w in waits),
                               sum(w[0] is None for w in waits), rng.choice([None, 12.5, 0.001]),
                               rng.choice([None, 3.333, 100.0]), waits)
        f.agent_text_messages = rng.choice([0, 0, 1, 3, 10])
        f.polite = rng.randint(0, f.agent_text_messages)
        f.curt = rng.choice([0, 0, 1, 4])
        f.customer_sentiments = [rng.uniform(-1, 1) for _ in range(rng.choice([0, 1, 2, 3]))]
        f.typos = [{"agent": 1}] * rng.choice([0, 0, 1, 8])
        f.sensitive = [{"role": rng.choice(["agent", "customer"]), "category": rng.choice(["legal", "abuse", "promise"])}
                       for _ in range(rng.choice([0, 0, 0, 1, 3]))]
        f.complaint_ms = [start + rng.randint(0, 9_000_000) for _ in range(rng.choice([0, 0, 1, 2]))]
        f.last_agent_ms = rng.choice([None, start + rng.randint(0, 9_000_000)])
        f.scripts_used = {name: rng.random() < 0.5 for name in script_names if rng.random() < 0.7}
        f.resolution = rng.choice([None, "resolved", "no_confirmation", "repeating", "complaining", "unanswered"])
        f.topic = rng.choice([None, "退款"])
        out.append(f)
    return out


def test_scorer_matches_the_original_score_session_on_a_generated_sample():
    options = config.QualityOptions()
    card = copy.deepcopy(options.scorecard)
    names = [c.name for c in options.scripts]
    required = [c.name for c in options.scripts if c.required]
    rng = random.Random(20261126)
    cards = [card, {**card, "weights": {**card["weights"], "experience": 0}}, {**card, "critical": []}]
    for card_ in cards:
        for required_ in (required, []):
            sample_ = random_facts(rng, 3000, names)
            expected = copy.deepcopy(sample_)
            scorer = score.Scorer(card_, required_)
            for new, old in zip(sample_, expected):
                scorer(new)
                reference_score_session(old, card_, required_)
                assert (new.scores, new.score, new.critical) == (old.scores, old.score, old.critical)
                assert list(new.scores) == list(old.scores)
            one = copy.deepcopy(expected[0])
            score.score_session(one, card_, required_)
            assert (one.scores, one.score, one.critical) == (expected[0].scores, expected[0].score, expected[0].critical)


def test_scorer_remembers_plain_sessions_exactly():
    """Sessions without text-analysis facts (all of them under --no-nlp) take the remembered path."""
    options = config.QualityOptions()
    rng = random.Random(11)
    for required in ([c.name for c in options.scripts if c.required], []):
        scorer = score.Scorer(options.scorecard, required)
        sample_ = random_facts(rng, 4000, [])
        for f in sample_:
            f.agent_text_messages = f.polite = f.curt = 0
            f.customer_sentiments, f.typos, f.sensitive, f.complaint_ms = [], [], [], []
            f.scripts_used, f.resolution = {}, None
            if rng.random() < 0.5:  # few distinct waits, so most sessions repeat one seen before
                f.wait_list = rng.choice([[], [(None, None, None)], [(40_000, 30_000, 1)], [(40_000, 30_000, 2), (None, None, None)]])
        expected = copy.deepcopy(sample_)
        for new, old in zip(sample_, expected):
            scorer(new)
            reference_score_session(old, options.scorecard, required)
            assert (new.scores, new.score, new.critical) == (old.scores, old.score, old.critical)
            assert list(new.scores) == list(old.scores)
        assert len(scorer._plain) < len(sample_)
        assert len({id(f.scores) for f in sample_}) == len(sample_)  # each session its own dict


def test_session_rows_match_the_original_builder():
    rng = random.Random(7)
    for tz in ("Asia/Shanghai", "America/New_York", "+05:30", "UTC"):
        options = config.QualityOptions(tz=tz)
        agents = [Agent(c, f"agent{c}", f"客服{c}", "service", None, None, "unknown") for c in (1, 2, 3)]
        senders = {n: Sender(n, f"id{n}", "" if n == 2 else f"name{n}", 0) for n in (1, 2, 3)}
        sample_ = random_facts(rng, 2000, [c.name for c in options.scripts])
        scorer = score.Scorer(options.scorecard, [c.name for c in options.scripts if c.required])
        row = report._session_row_builder(agents, senders, options)
        for f in sample_:
            scorer(f)
            new, old = row(f), reference_session_row(f, agents, senders, options)
            assert new == old
            assert list(new) == list(old)
            assert report._session_row(f, agents, senders, options) == old


@given(st.lists(st.integers(0, 999), max_size=80), st.lists(st.integers(1, 30), max_size=6),
       st.sampled_from([None, 0, 1, 20]))
def test_listed_runs_merged_in_order_equal_one_pass(ids, cuts, cap) -> None:
    """Spark's tasks list their runs of sessions and the driver merges them: the same ids and count
    as one pass, whole or cut to the first ``cap``."""
    from chataudit.quality.report import Listed

    whole = Listed(cap)
    for i in ids:
        whole.append(str(i))
    merged, start = Listed(cap), 0
    for size in [*cuts, len(ids)]:
        part = Listed(cap)
        for i in ids[start:start + size]:
            part.append(str(i))
        merged.merge(part)
        start += size
    assert (merged.items, len(merged)) == (whole.items, len(whole)) == (
        [str(i) for i in ids][:cap] if cap is not None else [str(i) for i in ids], len(ids))
