"""`supervise report`: hits over time by policy/agent/team, false-positive rate per rule from the
dispositions, open/overdue counts and mean time to close; and the queue under enterprise mode."""

from __future__ import annotations

import pytest

from supervision_support import queue_archive, raise_alert
from web_support import cli_json, run_cli


@pytest.fixture()
def db(tmp_path):
    db = queue_archive(tmp_path)
    raise_alert(db, "c-101", "保证收益", rule="保证收益")          # agent_li, 2026-03-10
    raise_alert(db, "c-101", "一定退款", rule="一定退款")          # agent_li, 2026-03-10
    raise_alert(db, "c-102", "赔偿", rule="赔偿", policy="legal", category="legal")  # 周女士 (customer), 03-11
    raise_alert(db, "c-103", "违 约", rule="违约", policy="legal", category="legal",
                raised_at="2026-01-01T00:00:00.000Z")              # 孙先生 (customer), 03-12, long overdue
    run_cli(db, "supervise", "queue")
    return db


def test_hits_by_policy_per_day_and_week(db):
    doc = cli_json(db, "supervise", "report", "--by", "policy", "--period", "day")
    assert doc["hits"] == [{"period": "2026-03-10", "group": "promises", "alerts": 2},
                           {"period": "2026-03-11", "group": "legal", "alerts": 1},
                           {"period": "2026-03-12", "group": "legal", "alerts": 1}]
    weekly = cli_json(db, "supervise", "report", "--period", "week")["hits"]
    assert weekly == [{"period": "2026-03-09", "group": "legal", "alerts": 2},
                      {"period": "2026-03-09", "group": "promises", "alerts": 2}]
    monthly = cli_json(db, "supervise", "report", "--period", "month", "--since", "2026-03-11")["hits"]
    assert monthly == [{"period": "2026-03", "group": "legal", "alerts": 2}]


def test_hits_by_agent_and_team(db):
    agents = cli_json(db, "supervise", "report", "--by", "agent", "--period", "month")["hits"]
    assert agents == [{"period": "2026-03", "group": "(not on roster)", "alerts": 2},
                      {"period": "2026-03", "group": "agent_li", "alerts": 2}]
    teams = cli_json(db, "supervise", "report", "--by", "team", "--period", "month")["hits"]
    assert {"period": "2026-03", "group": "商城客服", "alerts": 2} in teams


def test_false_positive_rate_per_rule_from_dispositions(db):
    cli_json(db, "supervise", "close", "1", "--disposition", "no issue", "--reason", "a fair promise", operator="qa")
    cli_json(db, "supervise", "close", "2", "--disposition", "coaching", "--reason", "tone", operator="qa")
    doc = cli_json(db, "supervise", "report")
    terms = {t["rule"]: t for t in doc["terms"]}
    assert terms["保证收益"] == {"policy": "promises", "rule": "保证收益", "alerts": 1, "closed": 1,
                              "false_positives": 1, "false_positive_rate": 1.0}
    assert terms["赔偿"]["false_positive_rate"] == 0.0
    assert terms["违约"]["closed"] == 0 and terms["违约"]["false_positive_rate"] is None
    assert doc["dispositions"] == {"no issue": 1, "coaching": 1, "escalated": 0, "reported": 0}
    q = doc["queue"]
    assert (q["open_items"], q["overdue_items"], q["closed_items"], q["open_alerts"], q["overdue_alerts"]) == \
        (1, 1, 2, 1, 1)
    assert q["mean_hours_to_close"] is not None and q["mean_hours_to_close"] < 1


def test_report_refuses_unknown_choices(db):
    result = run_cli(db, "supervise", "report", "--by", "weather", ok=False)
    assert result.exit_code == 2


def test_enterprise_mode_checks_show_against_authorizations_and_audits_the_queue(db):
    run_cli(db, "init", "--mode", "enterprise")
    refused = run_cli(db, "supervise", "show", "1", ok=False, operator="qa")
    assert refused.exit_code == 1 and "authoriz" in refused.output
    cli_json(db, "supervise", "queue", operator="qa")
    entries = [(e["command"], e["outcome"]) for e in cli_json(db, "audit")]
    assert ("supervise show", "refused") in entries and ("supervise queue", "ok") in entries


def test_enterprise_mode_lets_an_authorized_reviewer_read_the_item(db):
    from web_support import GOVERNANCE_FIXTURES

    run_cli(db, "init", "--mode", "enterprise")
    run_cli(db, "auth", "add", "--document", str(GOVERNANCE_FIXTURES / "authorization_scan.pdf"), "--purpose",
            "supervision review", "--expires", "2099-12-31", "--granted-by", "compliance head", "--subject",
            "agent_li", "--scope", "conversation:1")
    doc = cli_json(db, "supervise", "show", "1", operator="qa")
    assert doc["alerts"][0]["message"]["sender_name"] == "客服小李"
    done = [e for e in cli_json(db, "audit") if e["command"] == "supervise show" and e["outcome"] == "ok"]
    assert done and done[-1]["authorizations"]
