"""The logged-in user is the operator: enterprise mode's authorization check and the audit trail
apply to API calls and pages exactly as to the CLI (one rule: governance.access.admit/conclude)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from web_support import add_user, app_for, cli_json, enterprise_archive, login, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "governance"
CHATS, ROSTER, SCAN = FIXTURES / "staff_chats.csv", FIXTURES / "roster.csv", FIXTURES / "authorization_scan.pdf"
WECOM = "wecom:cust-001"


@pytest.fixture
def enterprise(tmp_path: Path) -> Path:
    db = enterprise_archive(tmp_path / "g.db")
    add_user(db, "compliance-li", "lead")
    return db


def audit(db: Path, command: str) -> list[dict]:
    return [e for e in cli_json(db, "audit") if e["command"] == command]


def test_an_unauthorized_read_is_refused_with_the_cli_wording_and_recorded(enterprise: Path) -> None:
    client = TestClient(app_for(enterprise))
    login(client, "compliance-li")
    cli_refusal = run_cli(enterprise, "messages", "--conversation", WECOM, ok=False, operator="compliance-li").output
    response = client.get(f"/api/v1/conversations/{WECOM}/messages")
    assert response.status_code == 403 and response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert "missing: subject" in detail and "operator compliance-li" in detail
    assert f"Error: {detail}" in cli_refusal  # the same words, from the same function
    refused = [e for e in audit(enterprise, "messages") if e["outcome"] == "refused"]
    assert len(refused) == 2 and {e["operator"] for e in refused} == {"compliance-li"}
    page = client.get(f"/conversations/{WECOM}", headers={"Accept": "text/html"})
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert "missing: subject" in page.text and "class=\"bubble" not in page.text


def test_an_authorized_read_is_audited_under_the_user_with_the_body_hash(enterprise: Path) -> None:
    run_cli(enterprise, "auth", "add", "--document", str(SCAN), "--purpose", "complaint 2026-017 review",
            "--expires", "2099-12-31", "--granted-by", "HR director Zhao", "--subject", "E001", "--subject", "E002",
            "--scope", f"conversation:{WECOM}")
    client = TestClient(app_for(enterprise))
    login(client, "compliance-li")
    response = client.get(f"/api/v1/conversations/{WECOM}/messages")
    assert response.status_code == 200
    assert response.json() == cli_json(enterprise, "messages", "--conversation", WECOM, operator="compliance-li")
    started, done = [e for e in audit(enterprise, "messages") if e["operator"] == "compliance-li"][:2]
    assert started["outcome"] == "started" and done["outcome"] == "ok" and done["facts"]["started"] == started["id"]
    assert done["records"] == len(response.json()) and done["authorizations"]
    assert done["output_sha256"] == hashlib.sha256(response.content).hexdigest()
    assert done["facts"]["via"] == "web"
    listing = client.get("/api/v1/conversations")
    assert audit(enterprise, "conversations")[-1]["output_sha256"] == hashlib.sha256(listing.content).hexdigest()
    assert cli_json(enterprise, "verify")["ok"] is True  # the web's entries are signed like the CLI's


def test_user_changes_are_on_the_audit_trail_in_enterprise_mode(enterprise: Path) -> None:
    run_cli(enterprise, "user", "disable", "compliance-li", operator="admin-wu")
    added = audit(enterprise, "user add")[-1]
    assert added["params"]["name"] == "compliance-li" and added["params"]["role"] == "lead"
    assert "password" not in str(added["params"])
    disabled = audit(enterprise, "user disable")
    assert [e["outcome"] for e in disabled] == ["started", "ok"] and disabled[0]["operator"] == "admin-wu"
