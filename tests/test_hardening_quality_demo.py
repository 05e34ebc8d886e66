"""The quality report of the shipped samples tells the truth: who is an agent, which chats are
service, which scripts were used, and over which period."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from chataudit.importer import import_paths
from chataudit.quality import config, report
from chataudit.store import Archive

SAMPLES = Path(__file__).parent.parent / "samples"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    path = tmp_path_factory.mktemp("samples") / "a.db"
    with Archive(path) as opened:
        assert not import_paths(opened, [SAMPLES], tz="Asia/Shanghai").errors
    with Archive(path) as opened:
        yield opened


def _by_title(result: dict) -> dict[str, dict]:
    return {c["title"]: c for c in result["conversations"]}


def test_without_a_roster_chats_between_friends_are_not_service_sessions(archive) -> None:
    result = report.analyze(archive, config.QualityOptions(tz="Asia/Shanghai"))
    taken = _by_title(result)
    for friends in ("梅梅", "Alice"):  # WeChat and WhatsApp chats of your own (is_me)
        assert taken[friends]["service"] is False and taken[friends]["reason"] == "private"
        assert "--roster" in taken[friends]["why"]
    wecom = [c for c in result["conversations"] if c["platform"] == "wecom"]
    assert wecom and all(c["service"] and c["reason"] == "staff" for c in wecom)
    assert {a["agent"] for a in result["by_agent"]} == {"ZhangWei", "LiNa"}
    service = {c["conversation"] for c in result["conversations"] if c["service"]}
    assert {row["conversation"] for row in result["session_rows"]} <= service


def test_with_the_samples_roster_and_scripts_the_report_is_right(archive) -> None:
    options = config.QualityOptions(tz="Asia/Shanghai", roster=config.load_roster(SAMPLES / "roster.csv"),
                                    scripts=config.load_scripts(SAMPLES / "scripts.yaml"))
    result = report.analyze(archive, options)
    agents = {a["agent"]: a for a in result["by_agent"]}
    assert {"agent_li", "agent_zhao", "ZhangWei", "LiNa"} == set(agents)
    assert agents["agent_li"]["name"] == "客服小李" and agents["agent_li"]["responses"] >= 1
    taken = _by_title(result)
    assert taken["客户王女士"]["service"] and taken["客户王女士"]["reason"] == "roster"
    assert not taken["梅梅"]["service"] and not taken["Alice"]["service"]
    greeting = next(s for s in result["scripts"] if s["category"] == "greeting")
    rows = {r["session"]: r for r in result["session_rows"]}
    wang = next(sid for sid, r in rows.items() if r["customer"] == "王女士")
    assert wang not in greeting["missed_sessions"] and greeting["rate"] > 0.5
    # one week of March 2026, not two years
    first = datetime.fromisoformat(result["period"]["first_message"])
    last = datetime.fromisoformat(result["period"]["last_message"])
    assert (last - first).days < 7 and first.year == last.year == 2026


def test_a_session_without_agent_text_is_not_said_to_miss_a_script(archive) -> None:
    options = config.QualityOptions(tz="Asia/Shanghai", roster=config.load_roster(SAMPLES / "roster.csv"),
                                    scripts=config.load_scripts(SAMPLES / "scripts.yaml"))
    result = report.analyze(archive, options)
    greeting = next(s for s in result["scripts"] if s["category"] == "greeting")
    rows = {r["session"]: r for r in result["session_rows"]}
    call_only = [sid for sid, r in rows.items() if r["customer_messages"] == 0]
    assert call_only  # the WeCom sample ends with an agent's call record, alone in its session
    assert not set(call_only) & set(greeting["missed_sessions"])
    assert greeting["sessions"] == len(rows) - len(call_only)
