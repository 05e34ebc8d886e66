"""The supervision queue over HTTP and its pages: the same JSON as the CLI, the role limits
(`alerts` works your own items, `policies` assigns and reads the report), the self-review refusal,
escaped message text, and every change on the audit trail under the user's name."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from supervision_support import queue_archive, raise_alert
from web_support import add_user, app_for, cli_json, login, owner_client, run_cli


@pytest.fixture()
def db(tmp_path):
    db = queue_archive(tmp_path)
    raise_alert(db, "c-101", "加我微信", policy="off_platform", category="off_platform")
    raise_alert(db, "c-102", "私下转账", policy="off_platform", category="off_platform")
    run_cli(db, "supervise", "queue")
    for name, role in (("qa_chen", "reviewer"), ("lead_wu", "lead"), ("agent_sun", "agent"), ("agent_li", "lead")):
        add_user(db, name, role)
    return db


def client_for(db, name):
    client = TestClient(app_for(db))
    csrf = login(client, name)
    client.headers["X-CSRF-Token"] = csrf
    return client


def test_api_json_equals_cli_json(db):
    client = owner_client(db)
    cli_json(db, "supervise", "assign", "1", "--to", "qa_chen")
    assert client.get("/api/v1/supervision/queue?status=all").json() == \
        cli_json(db, "supervise", "queue", "--status", "all")
    assert client.get("/api/v1/supervision/queue?reviewer=qa_chen").json() == \
        cli_json(db, "supervise", "queue", "--reviewer", "qa_chen")
    assert client.get("/api/v1/supervision/items/1?context=1").json() == \
        cli_json(db, "supervise", "show", "1", "--context", "1")
    assert client.get("/api/v1/supervision/items/1?redact=true").json() == \
        cli_json(db, "supervise", "show", "1", "--redact")
    assert client.get("/api/v1/supervision/report?by=agent&period=day").json() == \
        cli_json(db, "supervise", "report", "--by", "agent", "--period", "day")
    assert client.get("/api/v1/supervision/items/9").status_code == 404


def test_work_an_item_through_the_api_with_escalation(db):
    lead = client_for(db, "lead_wu")
    assigned = lead.post("/api/v1/supervision/assign", data={"item": [1], "to": "qa_chen"})
    assert assigned.status_code == 200 and assigned.json()["assigned"][0]["reviewer"] == "qa_chen"
    reviewer = client_for(db, "qa_chen")
    escalated = reviewer.post("/api/v1/supervision/items/1/escalate", data={"reason": "off-platform contact", "to": ""})
    assert escalated.status_code == 200 and escalated.json()["status"] == "escalated"
    assert set(escalated.json()) == set(cli_json(db, "supervise", "queue", "--status", "all")[0]) | {"audit_entry"}
    again = lead.post("/api/v1/supervision/assign", data={"item": [1], "to": "qa_chen"})
    assert again.status_code == 400 and "never the first one" in again.json()["detail"]
    lead.post("/api/v1/supervision/assign", data={"item": [1], "to": "lead_wu"})
    closed = lead.post("/api/v1/supervision/items/1/close", data={"disposition": "reported", "reason": "to compliance"})
    assert closed.status_code == 200 and (closed.json()["status"], closed.json()["closed_by"]) == ("closed", "lead_wu")
    steps = [(e["command"], e["operator"]) for e in cli_json(db, "audit") if e["command"].startswith("supervise ")
             and e["command"] not in ("supervise queue",)]
    assert ("supervise escalate", "qa_chen") in steps and ("supervise close", "lead_wu") in steps
    assert run_cli(db, "verify").exit_code == 0


def test_role_limits(db):
    agent = client_for(db, "agent_sun")
    assert agent.get("/api/v1/supervision/queue").status_code == 403
    reviewer = client_for(db, "qa_chen")
    assert reviewer.get("/api/v1/supervision/report").status_code == 403
    assert reviewer.post("/api/v1/supervision/assign", data={"item": [1], "to": "qa_chen"}).status_code == 403
    assert reviewer.get("/api/v1/supervision/queue").json() == []  # nothing assigned to them yet
    assert reviewer.get("/api/v1/supervision/queue?reviewer=lead_wu").json() == []  # alerts only: always their own
    assert reviewer.get("/api/v1/supervision/items/1").status_code == 403
    assert reviewer.post("/api/v1/supervision/items/1/close",
                         data={"disposition": "no issue", "reason": "x"}).status_code == 403
    cli_json(db, "supervise", "assign", "1", "--to", "qa_chen")
    assert [r["id"] for r in reviewer.get("/api/v1/supervision/queue").json()] == [1]
    shown = reviewer.get("/api/v1/supervision/items/1").json()  # a reviewer's role sees de-identified data only
    assert "客服小李" not in json.dumps(shown, ensure_ascii=False)
    assert shown["alerts"][0]["message"]["hit"]["matched"] == "加我微信"


def test_a_reviewer_cannot_close_their_own_conversation_over_the_web(db):
    own = client_for(db, "agent_li")  # the roster id of the agent who wrote in c-101
    refused = own.post("/api/v1/supervision/assign", data={"item": [1], "to": "agent_li"})
    assert refused.status_code == 400 and "never reviews their own messages" in refused.json()["detail"]
    refused = own.post("/api/v1/supervision/items/1/close", data={"disposition": "no issue", "reason": "fine"})
    assert refused.status_code == 400 and "never reviews their own messages" in refused.json()["detail"]
    assert cli_json(db, "supervise", "queue")[0]["status"] == "open"


def test_pages_escape_message_text_and_highlight_the_hit(db):
    client = client_for(db, "lead_wu")
    queue = client.get("/supervision")
    assert queue.status_code == 200 and "客户陈先生" in queue.text and "/supervision/items/1" in queue.text
    item = client.get("/supervision/items/1")
    assert item.status_code == 200
    assert '<mark class="hit">加我微信</mark>' in item.text
    assert "&lt;b&gt;li888&lt;/b&gt;" in item.text and "<b>li888</b>" not in item.text
    assert 'action="/supervision/items/1/assign"' in item.text
    report = client.get("/supervision/report")
    assert report.status_code == 200 and 'data-chart="hits"' in report.text and "off_platform" in report.text
    assert client_for(db, "qa_chen").get("/supervision/report").status_code == 403


def test_page_forms_close_and_escalate(db):
    lead = client_for(db, "lead_wu")
    response = lead.post("/supervision/items/2/assign", data={"to": "qa_chen"}, follow_redirects=False)
    assert response.status_code == 303
    reviewer = client_for(db, "qa_chen")
    page = reviewer.get("/supervision/items/2")
    assert 'id="close-form"' in page.text and 'id="assign-form"' not in page.text
    reviewer.post("/supervision/items/2/close", data={"disposition": "no issue", "reason": "a fair remark"})
    assert cli_json(db, "supervise", "queue", "--status", "closed")[0]["disposition"] == "no issue"
    page = reviewer.get("/supervision/items/2")
    assert 'id="close-form"' not in page.text and "a fair remark" in page.text
