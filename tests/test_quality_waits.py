"""The wait definition as a property, business hours, and the command line (filters, compare, ratings)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from chataudit.cli import cli
from chataudit.model import Message
from chataudit.quality import config, report, sample, sessions
from chataudit.quality.commands import quality
from chataudit.store import Archive, SourceInfo

if "quality" not in cli.commands:
    cli.add_command(quality)

TZ = ZoneInfo("Asia/Shanghai")


def reference_waits(events, gap_ms):
    """events: (conv, ms, code) in timeline order; code 0 customer, >0 agent. -> sorted waits."""
    out = []
    by_conv = {}
    for conv, ms, code in events:
        by_conv.setdefault(conv, []).append((ms, code))
    for conv, items in by_conv.items():
        opened, last = None, None
        for ms, code in items:
            if last is not None and ms - last > gap_ms:
                if opened is not None:
                    out.append((conv, opened, None, None))
                opened = None
            if code == 0 and opened is None:
                opened = ms
            elif code > 0 and opened is not None:
                out.append((conv, opened, ms, code))
                opened = None
            last = ms
        if opened is not None:
            out.append((conv, opened, None, None))
    return sorted(out, key=lambda w: (w[0], w[1]))


events_strategy = st.lists(
    st.tuples(st.integers(1, 3), st.integers(0, 5000), st.integers(0, 3)), min_size=0, max_size=60)


@settings(max_examples=150, deadline=None)
@given(events_strategy)
def test_waits_equal_the_definition(raw):
    """Random timelines (several conversations, ties, idle gaps, several agents): the SQL finds
    exactly the waits a literal reading of the definition finds."""
    gap_s = 1000
    events, clock = [], {}
    for conv, step, code in raw:
        clock[conv] = clock.get(conv, 0) + step * 1000  # steps of 0 give ties at the same instant
        events.append((conv, clock[conv], code))
    con = duckdb.connect()
    con.execute("CREATE TABLE m (conv BIGINT, ms BIGINT, id BIGINT, who BIGINT, code INTEGER)")
    if events:
        con.executemany("INSERT INTO m VALUES (?, ?, ?, ?, ?)",
                        [(c, ms, i, code, code) for i, (c, ms, code) in enumerate(events)])
    agents = [sessions.Agent(k, f"a{k}", f"a{k}", "service", None, None, "unknown") for k in (1, 2, 3)]
    options = config.QualityOptions(session_gap_s=gap_s, tz="UTC")
    sessions.build(con, options, agents)
    got = sorted(con.execute("SELECT conv, start_ms, reply_ms, agent FROM waits").fetchall(),
                 key=lambda w: (w[0], w[1]))
    # events are in timeline order per conversation already (clock only grows)
    assert got == reference_waits(events, gap_s * 1000)


def _archive(tmp_path, messages):
    archive = Archive(tmp_path / "a.db")
    archive.import_records(SourceInfo("x", "b" * 64, 1, "generic"), messages)
    return archive


def msg(conv, when, sender, text, side=None):
    return Message("wecom", conv, when, text=text, sender_id=sender, sender_name=sender,
                   extras={"side": side} if side else {})


def test_business_hours_count_only_open_time(tmp_path):
    night = datetime(2026, 3, 2, 22, 50, tzinfo=TZ)
    archive = _archive(tmp_path, [
        msg("c1", night, "wo_1", "还在吗？", "external"),
        msg("c1", night + timedelta(hours=9, minutes=15), "agent1", "您好，刚看到", "internal"),  # 08:05 next day
        msg("c2", datetime(2026, 3, 3, 10, 0, tzinfo=TZ), "wo_2", "你好", "external"),
        msg("c2", datetime(2026, 3, 3, 10, 0, 40, tzinfo=TZ), "agent1", "您好", "internal"),
    ])
    options = config.QualityOptions(tz="Asia/Shanghai", session_gap_s=12 * 3600, hours=(8 * 60, 23 * 60), nlp=False)
    result = report.analyze(archive, options)
    waits = sorted(row["first_response_s"] for row in result["session_rows"])
    assert waits == [40.0, 15 * 60.0]  # 22:50-23:00 plus 08:00-08:05
    assert result["waits_outside_hours"] == 0
    plain = report.analyze(archive, config.QualityOptions(tz="Asia/Shanghai", session_gap_s=12 * 3600, nlp=False))
    assert sorted(row["first_response_s"] for row in plain["session_rows"]) == [40.0, 9 * 3600 + 15 * 60.0]
    # without a roster, WeCom internal staff are the agents and external ids the customers
    assert [a["agent"] for a in plain["by_agent"]] == ["agent1"]
    archive.close()


def test_bots_and_system_lines_neither_start_nor_end_a_wait(tmp_path):
    t0 = datetime(2026, 3, 2, 10, 0, tzinfo=TZ)
    archive = _archive(tmp_path, [
        msg("c", t0, "wo_1", "在吗", "external"),
        msg("c", t0 + timedelta(seconds=2), "wb_bot", "自动回复：稍候", "bot"),
        Message("wecom", "c", t0 + timedelta(seconds=3), kind="system", text="转接"),
        msg("c", t0 + timedelta(seconds=20), "wo_1", "人呢", "external"),
        msg("c", t0 + timedelta(seconds=50), "agent1", "您好", "internal"),
    ])
    result = report.analyze(archive, config.QualityOptions(nlp=False))
    assert result["responses"] == 1 and result["mean_response_s"] == 50.0 and result["unanswered"] == 0
    archive.close()


@pytest.fixture(scope="module")
def cli_world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    truth = sample.generate(120, seed=5, days=14)
    (folder / "roster.csv").write_text(truth.roster_csv, encoding="utf-8")
    with Archive(folder / "a.db") as archive:
        archive.import_records(SourceInfo("g", "c" * 64, 1, "generic"),
                               [*sample.conversations_of(truth.messages), *truth.messages])
        conv = archive.db.execute("SELECT native_id FROM conversations ORDER BY id LIMIT 1").fetchone()[0]
    return folder, truth, conv


def run(folder, *args):
    result = CliRunner().invoke(cli, ["--db", str(folder / "a.db"), "quality", "--roster", str(folder / "roster.csv"), *args])
    assert result.exit_code == 0, result.output
    return result


def test_cli_compare_csv_html_and_ratings(cli_world):
    folder, truth, conv = cli_world
    ratings = folder / "ratings.csv"
    ratings.write_text(f"conversation,time,rating\n{conv},2026-03-20T12:00,5\n{conv},2026-03-02T00:00,2\n",
                       encoding="utf-8")
    after = json.loads(run(folder, "--since", "2026-03-09", "--until", "2026-03-15", "--json",
                           "--compare-to", "2026-03-02..2026-03-08", "--ratings", str(ratings),
                           "--csv", str(folder / "s.csv"), "--html", str(folder / "r.html")).stdout)
    before = json.loads(run(folder, "--since", "2026-03-02", "--until", "2026-03-08", "--json").stdout)
    figures = {f["key"]: f for f in after["compare"]["figures"]}
    assert figures["mean_response_s"]["before"] == before["mean_response_s"]
    assert figures["mean_response_s"]["after"] == after["mean_response_s"]
    assert figures["mean_response_s"]["improvement"] == pytest.approx(
        before["mean_response_s"] / after["mean_response_s"] - 1, abs=1e-4)
    assert figures["sessions"]["before"] == before["sessions"]
    assert (folder / "s.csv").read_text(encoding="utf-8-sig").count("\n") == after["sessions"] + 1
    page = (folder / "r.html").read_text(encoding="utf-8")
    assert "Before / after" in page and "<svg" in page and "http" not in page.split("<body>")[1].replace("http://www.w3.org/2000/svg", "")
    # re-importing the same ratings adds nothing
    again = run(folder, "--ratings", str(ratings), "--no-nlp")
    assert "2 ratings, 0 new" in again.stderr


def test_cli_filters_and_summary(cli_world):
    folder, truth, conv = cli_world
    everything = json.loads(run(folder, "--json", "--no-nlp").stdout)
    team_b = json.loads(run(folder, "--json", "--no-nlp", "--team", "B").stdout)
    one = json.loads(run(folder, "--json", "--no-nlp", "--agent", "刘洋").stdout)
    assert 0 < one["sessions"] < team_b["sessions"] < everything["sessions"]
    assert all("刘洋" in row["agents"] for row in one["session_rows"])
    sales = json.loads(run(folder, "--json", "--no-nlp", "--sla", "sales=5", "--session-gap", "30m").stdout)
    assert sales["sla"]["sales"]["target_s"] == 5
    text = run(folder).stdout
    assert "sessions" in text and "Suggestions:" in text
    bad = CliRunner().invoke(cli, ["--db", str(folder / "a.db"), "quality", "--hours", "23-8"])
    assert bad.exit_code == 1 and "08:00-23:00" in bad.output
