"""The supervision review queue: intake, assignment (named, round robin, by team), the self-review
refusal, close and escalation, SLA, the audit trail, and `verify` catching a tampered item."""

from __future__ import annotations

import json
import sqlite3

import pytest

from chataudit.governance import integrity
from chataudit.store import Archive
from chataudit.supervision import queue

from supervision_support import queue_archive, raise_alert, sample_alert
from web_support import cli_json, run_cli


@pytest.fixture()
def db(tmp_path):
    db = queue_archive(tmp_path)
    raise_alert(db, "c-101", "保证收益")
    raise_alert(db, "c-101", "加我微信", policy="off_platform", category="off_platform")
    raise_alert(db, "c-102", "私下转账", policy="off_platform", category="off_platform")
    run_cli(db, "supervise", "queue")  # each alert was taken in as raised: items 1 (c-101) and 2 (c-102)
    return db


def audit_commands(db):
    return [e["command"] for e in cli_json(db, "audit") if e["command"].startswith("supervise")]


def test_alerts_of_a_conversation_form_one_item_and_new_ones_join_it_until_it_is_closed(db):
    rows = cli_json(db, "supervise", "queue")
    assert [(r["conversation_title"], r["alerts"], r["status"]) for r in rows] == [("客户陈先生", 2, "open"),
                                                                                    ("客户周女士", 1, "open")]
    raise_alert(db, "c-101", "一定退款")
    assert cli_json(db, "supervise", "queue")[0]["alerts"] == 3  # joined the open item
    cli_json(db, "supervise", "close", "1", "--disposition", "coaching", "--reason", "promised a refund",
             operator="qa_chen")
    raise_alert(db, "c-101", "违约", policy="legal", category="legal")
    rows = cli_json(db, "supervise", "queue", "--status", "all")
    by_id = {r["id"]: r for r in rows}
    assert by_id[1]["status"] == "closed" and by_id[1]["alerts"] == 3  # the closed item stays closed
    assert by_id[3]["conversation_title"] == "客户陈先生" and by_id[3]["alerts"] == 1 and by_id[3]["status"] == "open"
    history = cli_json(db, "supervise", "show", "1")["history"]
    assert [s["action"] for s in history] == ["opened", "joined", "joined", "assigned", "closed"]
    assert audit_commands(db).count("supervise intake") == 5  # one per raising, as `supervise run` does


def test_a_reviewer_never_reviews_their_own_messages(db):
    # agent_li (roster id) and 客服小李 (roster name) sent messages of c-101
    for reviewer in ("agent_li", "客服小李"):
        result = run_cli(db, "supervise", "assign", "1", "--to", reviewer, ok=False)
        assert result.exit_code == 1 and "never reviews their own messages" in result.output
    result = run_cli(db, "supervise", "close", "1", "--disposition", "no issue", "--reason", "fine", ok=False,
                     operator="agent_li")
    assert result.exit_code == 1 and "never reviews their own messages" in result.output
    assert cli_json(db, "supervise", "queue")[0]["reviewer"] is None  # nothing changed
    # round robin skips them: item 1 (agent_li's chat) goes past agent_li to ZhangWei, item 2 (ZhangWei's) to agent_li
    result = cli_json(db, "supervise", "assign", "--round-robin", "agent_li,ZhangWei")
    assert [(a["item"], a["reviewer"]) for a in result["assigned"]] == [(1, "ZhangWei"), (2, "agent_li")]


def test_round_robin_skips_an_item_nobody_in_the_list_may_take(db):
    result = cli_json(db, "supervise", "assign", "--round-robin", "客服小李")
    assert [(a["item"], a["reviewer"]) for a in result["assigned"]] == [(2, "客服小李")]
    assert [s["item"] for s in result["skipped"]] == [1]
    assert "客服小李 sent 2 message(s)" in result["skipped"][0]["why"]


def test_round_robin_over_eligible_reviewers_and_by_team(db):
    result = cli_json(db, "supervise", "assign", "--round-robin", "qa_a,qa_b")
    assert [(a["item"], a["reviewer"]) for a in result["assigned"]] == [(1, "qa_a"), (2, "qa_b")]
    assert cli_json(db, "supervise", "assign", "--round-robin", "qa_a")["assigned"] == []  # all assigned already


def test_assign_by_team_uses_the_roster_team_that_sent_most_messages(tmp_path):
    db = queue_archive(tmp_path)
    raise_alert(db, "c-101", "保证收益")  # agent_li: 商城客服
    raise_alert(db, "c-102", "私下转账")  # ZhangWei: 售后
    result = cli_json(db, "supervise", "assign", "--team-reviewers", "商城客服=agent_zhao",
                      "--team-reviewers", "售后=LiNa,qa_x")
    assert sorted((a["item"], a["reviewer"]) for a in result["assigned"]) == [(1, "agent_zhao"), (2, "LiNa")]
    with Archive(db, create=False) as archive:
        assert queue.team_of(archive, 1) == "商城客服"


def test_close_needs_a_known_disposition_and_a_reason_and_only_the_reviewer_closes(db):
    cli_json(db, "supervise", "assign", "1", "--to", "qa_a")
    result = run_cli(db, "supervise", "close", "1", "--disposition", "no issue", "--reason", "  ", ok=False,
                     operator="qa_a")
    assert result.exit_code == 1 and "needs its --reason" in result.output
    result = run_cli(db, "supervise", "close", "1", "--disposition", "fine", "--reason", "x", ok=False,
                     operator="qa_a")
    assert result.exit_code == 1 and "--disposition must be one of 'no issue', 'coaching'" in result.output
    result = run_cli(db, "supervise", "close", "1", "--disposition", "no issue", "--reason", "x", ok=False,
                     operator="qa_b")
    assert result.exit_code == 1 and "assigned to qa_a, not qa_b" in result.output
    closed = cli_json(db, "supervise", "close", "1", "--disposition", "reported", "--reason", "sent to legal",
                      operator="qa_a")
    assert (closed["status"], closed["disposition"], closed["closed_by"]) == ("closed", "reported", "qa_a")
    result = run_cli(db, "supervise", "close", "1", "--disposition", "no issue", "--reason", "x", ok=False,
                     operator="qa_a")
    assert result.exit_code == 1 and "it is final" in result.output


def test_escalation_goes_to_a_second_reviewer_who_closes_it_for_good(db):
    cli_json(db, "supervise", "assign", "1", "--to", "qa_a")
    result = run_cli(db, "supervise", "escalate", "1", "--reason", "r", "--to", "qa_a", ok=False, operator="qa_a")
    assert result.exit_code == 1 and "never the first one" in result.output
    result = run_cli(db, "supervise", "escalate", "1", "--reason", "r", "--to", "agent_li", ok=False, operator="qa_a")
    assert result.exit_code == 1 and "own messages" in result.output
    escalated = cli_json(db, "supervise", "close", "1", "--disposition", "escalated", "--reason", "looks like fraud",
                         operator="qa_a")
    assert (escalated["status"], escalated["first_reviewer"], escalated["reviewer"]) == ("escalated", "qa_a", None)
    result = run_cli(db, "supervise", "assign", "1", "--to", "qa_a", ok=False)
    assert result.exit_code == 1 and "never the first one" in result.output
    result = run_cli(db, "supervise", "close", "1", "--disposition", "no issue", "--reason", "x", ok=False,
                     operator="qa_a")
    assert result.exit_code == 1 and "never the first one" in result.output
    cli_json(db, "supervise", "assign", "1", "--to", "lead_wu")
    result = run_cli(db, "supervise", "close", "1", "--disposition", "escalated", "--reason", "x", ok=False,
                     operator="lead_wu")
    assert result.exit_code == 1 and "closes it for good" in result.output
    final = cli_json(db, "supervise", "close", "1", "--disposition", "coaching", "--reason", "coach her",
                     operator="lead_wu")
    assert (final["status"], final["disposition"], final["closed_by"], final["first_reviewer"]) == \
        ("closed", "coaching", "lead_wu", "qa_a")
    assert [s["action"] for s in cli_json(db, "supervise", "show", "1")["history"]] == \
        ["opened", "joined", "assigned", "escalated", "assigned", "closed"]


def test_sla_marks_open_items_overdue(db, tmp_path):
    raise_alert(db, "c-103", "违 约", policy="legal", category="legal", raised_at="2026-01-01T00:00:00.000Z")
    rows = cli_json(db, "supervise", "queue", "--overdue")
    assert [r["conversation_title"] for r in rows] == ["客户孙先生"]
    assert rows[0]["due_at"] == "2026-01-03T00:00:00.000Z"
    assert cli_json(db, "supervise", "queue", "--overdue", "--sla", "100000d") == []
    result = run_cli(db, "supervise", "queue", "--sla", "soon", ok=False)
    assert result.exit_code == 1 and "not a duration" in result.output


def test_mine_and_reviewer_filters(db):
    cli_json(db, "supervise", "assign", "2", "--to", "qa_a")
    assert [r["id"] for r in cli_json(db, "supervise", "queue", "--mine", operator="qa_a")] == [2]
    assert [r["id"] for r in cli_json(db, "supervise", "queue", "--reviewer", "qa_a")] == [2]
    assert cli_json(db, "supervise", "queue", "--mine", operator="qa_b") == []


def test_show_gives_each_hit_in_context_and_redacts_on_request(db):
    cli_json(db, "supervise", "queue")
    doc = cli_json(db, "supervise", "show", "1", "--context", "1")
    alert = doc["alerts"][0]
    assert alert["message"]["hit"] == {"start": 6, "end": 10, "before": "您放心，我们", "matched": "保证收益",
                                       "after": "，一定退款"}
    assert [m["id"] for m in alert["context"]] == [1, 2, 3]
    assert alert["message"]["sender_name"] == "客服小李"
    redacted = cli_json(db, "supervise", "show", "1", "--redact")
    text = json.dumps(redacted, ensure_ascii=False)
    assert "客服小李" not in text and "陈先生" not in text
    assert redacted["alerts"][0]["message"]["hit"]["matched"] == "保证收益"


def test_sampled_conversation_shows_its_first_messages(db):
    sample_alert(db, "c-103")
    cli_json(db, "supervise", "queue")
    alert = cli_json(db, "supervise", "show", "3", "--context", "1")["alerts"][0]
    assert alert["kind"] == "sample" and alert["message"] is None
    assert [m["text"] for m in alert["context"]] == ["你们违 约了", "非常抱歉，我来核实", "好"]


def test_every_state_change_is_an_audit_entry(db):
    cli_json(db, "supervise", "queue")
    cli_json(db, "supervise", "assign", "1", "--to", "qa_a")
    cli_json(db, "supervise", "escalate", "1", "--reason", "r", "--to", "qa_b", operator="qa_a")
    cli_json(db, "supervise", "close", "1", "--disposition", "no issue", "--reason", "r2", operator="qa_b")
    assert audit_commands(db) == ["supervise intake"] * 3 + ["supervise assign", "supervise escalate", "supervise close"]
    closing = [e for e in cli_json(db, "audit") if e["command"] == "supervise close"][0]
    assert closing["operator"] == "qa_b" and closing["facts"]["items"][0]["reason"] == "r2"


def _tamper(db, sql, params=()):
    raw = sqlite3.connect(db)
    try:
        raw.execute(sql, params)
        raw.commit()
    finally:
        raw.close()


def test_verify_catches_an_item_changed_behind_the_tools_back(db):
    cli_json(db, "supervise", "assign", "1", "--to", "qa_a")
    cli_json(db, "supervise", "close", "2", "--disposition", "no issue", "--reason", "fine", operator="qa_b")
    assert run_cli(db, "verify").exit_code == 0
    _tamper(db, "UPDATE supervision_items SET reviewer = 'someone_else' WHERE id = 1")
    result = run_cli(db, "verify", ok=False)
    assert result.exit_code != 0 and "supervision item 1" in result.output and "reviewer" in result.output
    row = cli_json(db, "supervise", "queue")[0]
    assert "reviewer" in row["tampered"]
    refused = run_cli(db, "supervise", "close", "1", "--disposition", "no issue", "--reason", "x", ok=False,
                      operator="someone_else")
    assert refused.exit_code == 1 and "cannot be changed" in refused.output


def test_a_closed_item_cannot_be_rewritten_by_one_update(db):
    cli_json(db, "supervise", "close", "2", "--disposition", "reported", "--reason", "fraud", operator="qa_b")
    with pytest.raises(sqlite3.IntegrityError, match="final"):
        _tamper(db, "UPDATE supervision_items SET disposition = 'no issue' WHERE id = 2")
    with pytest.raises(sqlite3.IntegrityError, match="cannot be removed"):
        _tamper(db, "DELETE FROM supervision_item_alerts WHERE item = 2")
    with pytest.raises(sqlite3.IntegrityError, match="only by `chataudit supervise close`"):
        _tamper(db, "UPDATE supervision_items SET status = 'closed', disposition = 'no issue', reason = 'x',"
                    " closed_by = 'x', closed_at = '2026-01-01T00:00:00.000Z' WHERE id = 1")


def test_verify_catches_a_closed_item_rewritten_with_the_triggers_dropped(db):
    cli_json(db, "supervise", "close", "2", "--disposition", "reported", "--reason", "fraud", operator="qa_b")
    _tamper(db, "DROP TRIGGER supervision_items_closed_final")
    _tamper(db, "UPDATE supervision_items SET disposition = 'no issue' WHERE id = 2")
    with Archive(db, create=False) as archive:
        problems = integrity.problems(archive)
    assert problems == ["supervision item 2: its disposition differ from what the audit trail records: changed "
                        "behind the tool's back"]


def test_verify_catches_an_item_added_behind_the_tools_back(db):
    cli_json(db, "supervise", "queue")
    _tamper(db, "INSERT INTO supervision_items (conversation, status, opened_at) VALUES (3, 'open', 'x')")
    with Archive(db, create=False) as archive:
        assert any("supervision item 3: it is in the queue, but no `supervise intake`" in p
                   for p in integrity.problems(archive))


def test_verify_catches_a_forged_close_entry_that_satisfies_the_trigger(db):
    """A close written behind the tool's back with a hand-made audit entry passes the trigger, but the
    entry is not in the signed ledger: `verify` names it."""
    _tamper(db, "INSERT INTO governance_audit (at, operator, os_user, command, params, authorizations, records,"
                " outputs, outcome, exit_code, facts) VALUES ('2026-01-01T00:00:00.000Z', 'x', 'x', 'supervise close',"
                " '{}', '[]', 0, '[]', 'ok', 0, json('{\"items\": [{\"item\": 1, \"disposition\": \"no issue\","
                " \"reason\": \"x\", \"closed_by\": \"x\", \"closed_at\": \"2026-01-01T00:00:00.000Z\"}]}'))")
    _tamper(db, "UPDATE supervision_items SET status = 'closed', disposition = 'no issue', reason = 'x',"
                " closed_by = 'x', closed_at = '2026-01-01T00:00:00.000Z' WHERE id = 1")
    result = run_cli(db, "verify", ok=False)
    assert result.exit_code != 0
    assert "ran `supervise close` at 2026-01-01T00:00:00.000Z) is not in the ledger" in result.output
