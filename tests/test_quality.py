"""chataudit quality on generated customer-service chats with planted facts.

Every figure is checked against an independent computation in plain Python over the very records
that were imported (``reference`` below), or against what the generator planted.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.model import Kind, utc_ms
from chataudit.quality import config, report, sample
from chataudit.store import Archive, SourceInfo

TZ = ZoneInfo("Asia/Shanghai")
GAP_S = 7200
SLA = {"service": 30.0, "sales": 60.0}


def import_sample(path: Path, truth: sample.Truth) -> Archive:
    archive = Archive(path)
    archive.import_records(SourceInfo("generated.jsonl", "a" * 64, 1, "generic"),
                           [*sample.conversations_of(truth.messages), *truth.messages])
    return archive


# ---- the independent computation ------------------------------------------------------------

def reference(messages, roster_rows, *, since=None, until=None, hours=None):
    """Sessions and waits exactly as the README defines them, in plain Python."""
    roster = {}
    for ident, name, role, hired, team in roster_rows:
        roster[ident] = roster[name] = (ident, role, hired)

    def role_of(m):
        if m.kind in (Kind.SYSTEM, Kind.RECALL) or not (m.sender_id or m.sender_name):
            return None
        if m.sender_id in roster or m.sender_name in roster:
            return "agent"
        if (m.extras or {}).get("side") == "bot":
            return None
        return "customer"

    counted = [(i, m) for i, m in enumerate(messages) if role_of(m)
               and (since is None or m.sent_at >= since) and (until is None or m.sent_at < until)]
    by_conv = defaultdict(list)
    for i, m in counted:
        by_conv[m.conversation_id].append((m.sent_at, i, m))
    sessions, waits = [], []
    for conv, items in sorted(by_conv.items()):
        items.sort(key=lambda x: (x[0], x[1]))
        current = []
        for at, i, m in items:
            if current and (at - current[-1].sent_at).total_seconds() > GAP_S:
                sessions.append((conv, current))
                current = []
            current.append(m)
        if current:
            sessions.append((conv, current))
    for index, (conv, msgs) in enumerate(sessions):
        opened = None
        first = True
        for m in msgs:
            role = role_of(m)
            if role == "customer" and opened is None:
                opened = m
            elif role == "agent" and opened is not None:
                agent = roster[m.sender_id or m.sender_name]
                wait = (utc_ms(m.sent_at) - utc_ms(opened.sent_at)) / 1000  # the archive keeps milliseconds
                if hours:
                    wait = business_seconds(opened.sent_at, m.sent_at, hours)
                waits.append({"session": index, "start": opened.sent_at, "wait": wait, "agent": agent[0],
                              "role": agent[1], "hired": agent[2], "first": first})
                opened, first = None, False
        if opened is not None:
            waits.append({"session": index, "start": opened.sent_at, "wait": None, "first": first})
    return sessions, waits


def business_seconds(start: datetime, end: datetime, hours: tuple[int, int]) -> float:
    """Seconds of [start, end] inside the daily window, walked minute-free day by day."""
    total = 0.0
    day = start.astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= end:
        window_start = day + timedelta(minutes=hours[0])
        window_end = day + timedelta(minutes=hours[1])
        lo, hi = max(start, window_start), min(end, window_end)
        if hi > lo:
            total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return total


def quantile(values, p):
    ordered = sorted(values)
    position = (len(ordered) - 1) * p
    low = int(position)
    if low + 1 >= len(ordered):
        return ordered[low]
    return ordered[low] + (ordered[low + 1] - ordered[low]) * (position - low)


# ---- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quality")
    truth = sample.generate(240, seed=11)
    roster_path = folder / "roster.csv"
    roster_path.write_text(truth.roster_csv, encoding="utf-8")
    archive = import_sample(folder / "archive.db", truth)
    options = config.QualityOptions(roster=config.load_roster(roster_path))
    result = report.analyze(archive, options)
    conv_ids = {native: cid for cid, native in archive.db.execute("SELECT id, native_id FROM conversations")}
    yield {"truth": truth, "archive": archive, "result": result, "roster_path": roster_path, "folder": folder,
           "conv_ids": conv_ids, "options": options}
    archive.close()


def planted_ids(world):
    """Session id in the report of every planted session (conversation id - ordinal in it)."""
    ordinal = defaultdict(int)
    ids = []
    for planted in sorted(world["truth"].sessions, key=lambda s: (s.conversation, s.start)):
        ordinal[planted.conversation] += 1
        ids.append((planted, f"{world['conv_ids'][planted.conversation]}-{ordinal[planted.conversation]}"))
    return ids


# ---- timing figures against the reference -------------------------------------------------------

def test_sessions_waits_and_response_figures_equal_the_reference(world):
    r = world["result"]
    sessions, waits = reference(world["truth"].messages, sample.ROSTER)
    answered = [w["wait"] for w in waits if w["wait"] is not None]
    assert r["sessions"] == len(sessions) == len(world["truth"].sessions)
    assert r["responses"] == len(answered)
    assert r["unanswered"] == sum(1 for w in waits if w["wait"] is None)
    assert r["mean_response_s"] == pytest.approx(statistics.fmean(answered), abs=1e-3)
    assert r["median_response_s"] == pytest.approx(statistics.median(answered), abs=1e-3)
    assert r["p90_response_s"] == pytest.approx(quantile(answered, 0.9), abs=1e-3)
    within = [w for w in waits if w["wait"] is not None and w["wait"] <= SLA[w["role"]]]
    assert r["sla_within_rate"] == pytest.approx(len(within) / len(answered), abs=1e-4)
    for role in ("service", "sales"):
        mine = [w for w in waits if w["wait"] is not None and w["role"] == role]
        assert r["sla"][role]["responses"] == len(mine)
        assert r["sla"][role]["sla_within_rate"] == pytest.approx(
            sum(w["wait"] <= SLA[role] for w in mine) / len(mine), abs=1e-4)
    first = [w["wait"] for w in waits if w["first"] and w["wait"] is not None]
    assert r["first_response"]["responses"] == len(first)
    assert r["first_response"]["mean_response_s"] == pytest.approx(statistics.fmean(first), abs=1e-3)
    assert r["messages"] == sum(len(m) for _, m in sessions)
    bounds = [10, 30, 60, 180, 600, 1800, 3600]
    expected = [0] * (len(bounds) + 1)
    for w in answered:
        expected[next((i for i, b in enumerate(bounds) if w <= b), len(bounds))] += 1
    assert [d["count"] for d in r["distribution"]] == expected


def test_by_hour_weekday_agent_and_cohort_equal_the_reference(world):
    r = world["result"]
    _, waits = reference(world["truth"].messages, sample.ROSTER)
    answered = [w for w in waits if w["wait"] is not None]
    for hour in range(24):
        mine = [w["wait"] for w in answered if w["start"].astimezone(TZ).hour == hour]
        row = r["by_hour"][hour]
        assert row["responses"] == len(mine)
        if mine:
            assert row["mean_response_s"] == pytest.approx(statistics.fmean(mine), abs=1e-3)
        first = [w["wait"] for w in answered if w["first"] and w["start"].astimezone(TZ).hour == hour]
        assert row["first_responses"] == len(first)
    for day in range(7):
        mine = [w["wait"] for w in answered if w["start"].astimezone(TZ).weekday() == day]
        assert r["by_weekday"][day]["responses"] == len(mine)
    for agent in r["by_agent"]:
        mine = [w["wait"] for w in answered if w["agent"] == agent["agent"]]
        assert agent["responses"] == len(mine)
        assert agent["mean_response_s"] == pytest.approx(statistics.fmean(mine), abs=1e-3)
        assert agent["p90_response_s"] == pytest.approx(quantile(mine, 0.9), abs=1e-3)
    start = min(m.sent_at for m in world["truth"].messages if m.kind == Kind.TEXT and m.sender_id != "wb_autoreply")
    cohorts = defaultdict(list)
    for w in answered:
        hired = datetime.combine(date.fromisoformat(w["hired"]), datetime.min.time(), TZ)
        cohorts["new" if hired > start - timedelta(days=90) else "veteran"].append(w["wait"])
    for name, values in cohorts.items():
        assert r["by_cohort"]["groups"][name]["responses"] == len(values)
        assert r["by_cohort"]["groups"][name]["mean_response_s"] == pytest.approx(statistics.fmean(values), abs=1e-3)
    assert r["by_cohort"]["new_to_veteran_ratio"] == pytest.approx(
        statistics.fmean(cohorts["new"]) / statistics.fmean(cohorts["veteran"]), abs=1e-3)


def test_planted_patterns_show(world):
    r = world["result"]
    # new agents were planted 1.6x slower, the 08:00 hour ~55 s slower
    assert r["by_cohort"]["new_to_veteran_ratio"] > 1.25
    hours = [h for h in r["by_hour"] if h["first_responses"] >= 3]
    assert max(hours, key=lambda h: h["first_response_mean_s"])["hour"] == 8
    texts = " ".join(s["text"] for s in r["suggestions"])
    assert "08:00–09:00 mean first response" in texts and "New agents" in texts and "greeting" in texts
    assert set(r["by_cohort"]["groups"]) == {"new", "veteran"}
    for agent in r["by_agent"]:
        assert agent["cohort"] == ("new" if agent["agent"] in sample.NEW_AGENTS else "veteran")


# ---- scripts, topics, sensitive words, typos, resolution against what was planted --------------

def test_script_use_matches_the_planted_greetings_and_closings(world):
    r = world["result"]
    rows = {row["session"]: row for row in r["session_rows"]}
    greeting = {s["category"]: s for s in r["scripts"]}["greeting"]
    closing = {s["category"]: s for s in r["scripts"]}["closing"]
    with_agents = {sid for sid, row in rows.items() if row["agent_messages"]}
    expected_missed_greeting = {sid for planted, sid in planted_ids(world) if sid in with_agents and not planted.greeting}
    expected_missed_closing = {sid for planted, sid in planted_ids(world)
                               if sid in with_agents and (not planted.closing or planted.unanswered)}
    assert set(greeting["missed_sessions"]) == expected_missed_greeting
    assert set(closing["missed_sessions"]) == expected_missed_closing
    assert greeting["sessions"] == len(with_agents)
    assert greeting["rate"] == pytest.approx(1 - len(expected_missed_greeting) / len(with_agents), abs=1e-4)


def test_top_questions_count_the_planted_topics(world):
    r = world["result"]
    topics = {t["topic"]: t for t in r["topics"]}
    planted = defaultdict(int)
    for s in world["truth"].sessions:
        planted[s.topic] += 1
    for name in ("退货退款", "物流快递", "发票", "尺码规格"):
        assert topics[name]["count"] == planted[name], name
        assert topics[name]["source"] == "taxonomy"
    discovered = [t for t in r["topics"] if t["source"] == "discovered" and "直播" in t["topic"]]
    assert len(discovered) == 1 and discovered[0]["count"] == planted["直播抽奖"]
    total = sum(t["count"] for t in r["topics"])
    assert all(t["share"] == pytest.approx(t["count"] / total, abs=1e-4) for t in r["topics"])
    ranked = [t["count"] for t in r["topics"]]
    assert ranked == sorted(ranked, reverse=True)


def test_sensitive_words_and_typos_match_what_was_planted(world):
    r = world["result"]
    ids = planted_ids(world)
    hits = r["sensitive"]["hits"]
    assert {h["session"] for h in hits if h["role"] == "customer" and h["category"] == "legal"} == \
        {sid for p, sid in ids if p.threat}
    assert {h["session"] for h in hits if h["role"] == "customer" and h["category"] == "abuse"} == \
        {sid for p, sid in ids if p.abuse}
    assert {h["session"] for h in hits if h["role"] == "agent" and h["category"] == "promise"} == \
        {sid for p, sid in ids if p.promise}
    assert all(h["word"] in ("12315", "投诉", "骗子", "垃圾服务", "保证没问题", "百分百保证") for h in hits)
    typo_sessions = defaultdict(set)
    for row in r["session_rows"]:
        if row["typos"]:
            typo_sessions[row["session"]] = row["typos"]
    expected = {sid: 1 for p, sid in ids if p.typo and not (p.unanswered and sid not in typo_sessions)}
    assert set(typo_sessions) == set(expected)
    pairs = {t["pair"] for t in r["typos"]["top"]}
    assert pairs == {"以经→已经", "的→得"}
    assert r["complaints"] == len({sid for p, sid in ids if p.threat})


def test_resolution_and_critical_items_match_what_was_planted(world):
    r = world["result"]
    rows = {row["session"]: row for row in r["session_rows"]}
    for planted, sid in planted_ids(world):
        assert rows[sid]["resolved"] == planted.resolved, sid
        if planted.unanswered:
            assert rows[sid]["resolution_reason"] == "unanswered"
        assert ("agent_promise" in rows[sid]["critical"]) == planted.promise
        if rows[sid]["critical"]:
            assert rows[sid]["score"] == 0
    resolved = sum(p.resolved for p in world["truth"].sessions)
    assert r["resolution_rate"] == pytest.approx(resolved / len(world["truth"].sessions), abs=1e-4)


def test_scores_follow_the_scorecard(world):
    r = world["result"]
    weights = config.load_scorecard(None)["weights"]
    for row in r["session_rows"]:
        dims = {d: row[d] for d in weights if row[d] is not None}
        if not dims:
            continue
        expected = sum(weights[d] * v for d, v in dims.items()) / sum(weights[d] for d in dims)
        assert row["score"] == pytest.approx(0 if row["critical"] else expected, abs=0.02)
        assert all(0 <= v <= 100 for v in dims.values())
    # speed: each wait 100 within SLA, linear to 0 at 10x the target, unanswered 0
    _, waits = reference(world["truth"].messages, sample.ROSTER)
    by_session = defaultdict(list)
    for w in waits:
        by_session[w["session"]].append(w)
    sessions, _ = reference(world["truth"].messages, sample.ROSTER)
    speeds = []
    for index, (conv, msgs) in enumerate(sessions):
        points = []
        for w in by_session[index]:
            if w["wait"] is None:
                points.append(0.0)
            else:
                target = SLA[w["role"]]
                points.append(100.0 if w["wait"] <= target else max(0.0, 100 * (1 - (w["wait"] - target) / (9 * target))))
        if points:
            speeds.append(sum(points) / len(points))
    assert r["scores"]["dimensions"]["speed"] == pytest.approx(statistics.fmean(speeds), abs=0.02)
    assert r["scores"]["critical"] == {"agent_promise": sum(p.promise for p in world["truth"].sessions)}


def test_json_keys_csv_rows_and_cache(world):
    r = world["result"]
    for key in ("sessions", "responses", "unanswered", "mean_response_s", "median_response_s", "p90_response_s",
                "sla_within_rate", "by_agent", "by_hour", "by_cohort", "scripts", "topics", "sentiment", "typos",
                "sensitive", "resolution_rate", "scores", "suggestions", "distribution", "heatmap", "by_weekday"):
        assert key in r, key
    out = io.StringIO()
    assert report.write_csv(r, out) == r["sessions"]
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == r["sessions"] and set(report.CSV_COLUMNS) == set(rows[0])
    # second run: every text comes from the cache, and nothing changes
    again = report.analyze(world["archive"], world["options"])
    assert again["nlp"]["analyzed"] == 0 and again["nlp"]["cached"] == r["nlp"]["messages"]
    for key in ("mean_response_s", "topics", "typos", "sensitive", "scores", "resolution_rate", "sentiment"):
        assert again[key] == r[key], key


def _same_but_cut(full, lean, key: str = "") -> int:
    """Equal, except lists of session ids (keys ending in "sessions") cut to their first 20;
    returns how many were cut."""
    if isinstance(full, dict):
        assert set(full) == set(lean), key
        return sum(_same_but_cut(full[k], lean[k], k) for k in full)
    if isinstance(full, list) and key.endswith("sessions") and all(isinstance(x, str) for x in full):
        assert lean == full[:20], key
        return len(full) > 20
    if isinstance(full, list):
        assert len(full) == len(lean), key
        return sum(_same_but_cut(a, b, key) for a, b in zip(full, lean))
    assert full == lean, key
    return 0


def test_no_session_lists_cuts_only_the_lists_of_sessions_and_refuses_the_outputs_made_of_them(world):
    from dataclasses import replace

    full = world["result"]
    lean = report.analyze(world["archive"], replace(world["options"], session_lists=False))
    assert full["session_rows"] and lean["session_rows"] is None
    volatile = {"session_rows", "seconds", "timing_seconds", "nlp"}
    cut = _same_but_cut({k: v for k, v in full.items() if k not in volatile},
                        {k: v for k, v in lean.items() if k not in volatile})
    assert cut >= 3  # e.g. a script's missed sessions, an agent's typo sessions, a topic's sessions
    assert lean["scripts"][0]["missed"] == full["scripts"][0]["missed"]  # the counts stay whole
    db = str(world["folder"] / "archive.db")
    shown = CliRunner().invoke(cli, ["--db", db, "quality", "--no-nlp", "--no-session-lists", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["session_rows"] is None
    csv_path = world["folder"] / "rows.csv"
    refused = CliRunner().invoke(cli, ["--db", db, "quality", "--no-session-lists", "--csv", str(csv_path)])
    assert refused.exit_code == 2 and "--csv" in refused.output and not csv_path.exists()


def test_texts_read_in_short_batches_hold_no_read_open_and_give_the_same_report(world, tmp_path, monkeypatch):
    """The texts are read a batch at a time, each batch its own statement (keyset), and the new
    analyses written sorted every FLUSH_ROWS: between two batches another connection can checkpoint
    and truncate the WAL (a read held open for the whole report pinned it: 44 GB at 10M messages),
    and the report is the one read in a single pass."""
    import sqlite3

    from chataudit.quality import nlp

    copy = tmp_path / "copy.db"
    with sqlite3.connect(copy) as target:
        world["archive"].db.backup(target)
        target.execute("DELETE FROM quality_nlp")
    monkeypatch.setattr(report, "BATCH", 7)
    monkeypatch.setattr(nlp.Cache, "FLUSH_ROWS", 50)
    blocked: list[int] = []
    other = sqlite3.connect(copy, timeout=0, isolation_level=None)

    def checkpoint(_read: int, phase: str) -> None:
        if phase == "texts":
            blocked.append(other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])

    with Archive(copy, create=False) as archive:
        again = report.analyze(archive, world["options"], on_progress=checkpoint)
        written = archive.db.execute("SELECT count(*) FROM quality_nlp").fetchone()[0]
    other.close()
    full = world["result"]
    assert len(blocked) > 50 and not any(blocked)  # every checkpoint between two batches went through
    assert again["nlp"]["analyzed"] == written == full["nlp"]["messages"] > 100
    volatile = {"seconds", "timing_seconds", "nlp"}
    assert {k: v for k, v in again.items() if k not in volatile} == {k: v for k, v in full.items() if k not in volatile}


def test_sentiment_improves_when_customers_confirm(world):
    r = world["result"]
    s = r["sentiment"]
    assert s["sessions"] == sum(1 for row in r["session_rows"] if row["customer_messages"])
    assert s["customer_end_mean"] > s["customer_start_mean"]
    assert s["improved"] + s["worsened"] + s["unchanged"] == s["sessions"]
    rows = {row["session"]: row for row in r["session_rows"]}
    for sid in s["worsened_sessions"]:
        assert rows[sid]["sentiment_end"] - rows[sid]["sentiment_start"] < -0.1


def test_fixed_offset_zone_and_a_conversation_nobody_answered(tmp_path: Path) -> None:
    """--tz +08:00 (accepted by import) works in the timing SQL, and a conversation with no answered
    wait reports its unanswered waits instead of failing on empty percentiles."""
    chat = tmp_path / "unanswered.csv"
    chat.write_text("sent_at,conversation_id,sender_id,sender_name,text\n"
                    "2026-03-12 10:00:00,c1,cust1,客户,你好在吗？\n"
                    "2026-03-12 10:01:00,c1,cust1,客户,有人吗\n", encoding="utf-8")
    db = tmp_path / "q.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(db), "import", str(chat), "--tz", "+08:00"]).exit_code == 0
    # no agent wrote: scored only when named (a conversation nobody answered is not service by itself)
    result = runner.invoke(cli, ["--db", str(db), "quality", "--no-nlp", "--json", "--conversation", "c1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["responses"], report["unanswered"], report["mean_response_s"]) == (0, 1, None)
    assert report["by_hour"][10]["responses"] == 0


def test_redact_hides_customers_personal_data_in_every_quality_output(tmp_path: Path) -> None:
    chat = tmp_path / "cs.csv"
    chat.write_text("sent_at,conversation_id,sender_id,sender_name,text\n"
                    "2026-03-12 10:00:00,c1,13812345678,王建国,我要退货，电话13812345678，身份证11010519491231002X\n"
                    "2026-03-12 10:00:20,c1,agent1,客服小李,您好，很高兴为您服务！已为您登记退货\n"
                    "2026-03-12 10:01:00,c1,13812345678,王建国,好的谢谢\n", encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,role,hired_on\nagent1,客服小李,service,2025-01-01\n", encoding="utf-8")
    db = tmp_path / "q.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(db), "import", str(chat), "--tz", "+08:00"]).exit_code == 0
    html, table = tmp_path / "q.html", tmp_path / "q.csv"
    result = runner.invoke(cli, ["--db", str(db), "quality", "--roster", str(roster), "--redact", "--json",
                                 "--html", str(html), "--csv", str(table)])
    assert result.exit_code == 0, result.output
    for output in (result.output, html.read_text(encoding="utf-8"), table.read_text(encoding="utf-8-sig")):
        for secret in ("13812345678", "11010519491231002X", "王建国"):
            assert secret not in output
    assert "客服小李" in html.read_text(encoding="utf-8")  # agents stay named
