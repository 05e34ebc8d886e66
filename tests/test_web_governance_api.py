"""Governance over HTTP: each endpoint gives the CLI's `--json` for the same request, changes go
through the same governance functions (audit entries as the CLI's, under the logged-in user), and
the role limits and CSRF hold."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from web_support import TOKEN, add_user, app_for, cli_json, enterprise_archive, login, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "governance"
CHATS, ROSTER, SCAN = FIXTURES / "staff_chats.csv", FIXTURES / "roster.csv", FIXTURES / "authorization_scan.pdf"
WECOM = "wecom:cust-001"


@pytest.fixture
def enterprise(tmp_path: Path) -> Path:
    db = enterprise_archive(tmp_path / "g.db")
    return db


def owner(db: Path) -> TestClient:
    return TestClient(app_for(db), headers={"Authorization": f"Bearer {TOKEN}"})


def without_volatile(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k not in ("id", "at", "os_user")}


def test_reads_equal_the_clis_json(enterprise: Path) -> None:
    run_cli(enterprise, "auth", "add", "--document", str(SCAN), "--purpose", "complaint review", "--expires",
            "2099-12-31", "--granted-by", "HR director Zhao", "--subject", "E001", "--scope", f"conversation:{WECOM}")
    run_cli(enterprise, "hold", "add", "--conversation", WECOM, "--reason", "dispute 17")
    run_cli(enterprise, "retention", "set", "default", "2y")
    client = owner(enterprise)
    for path, args in (("/api/v1/mode", ["mode"]), ("/api/v1/roster", ["roster", "show"]),
                       ("/api/v1/auth", ["auth", "list"]), ("/api/v1/auth?active=true", ["auth", "list", "--active"]),
                       ("/api/v1/holds", ["hold", "list"]), ("/api/v1/holds?all=true", ["hold", "list", "--all"]),
                       ("/api/v1/retention", ["retention", "show"])):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
        assert response.json() == cli_json(enterprise, *args), path
    for query, args in (("command=auth%20add", ["--command", "auth add"]), ("operator=owner", ["--operator", "owner"]),
                        ("since=2000-01-01&until=2099-12-31", ["--since", "2000-01-01", "--until", "2099-12-31"])):
        web = client.get(f"/api/v1/audit?{query}").json()
        cli = cli_json(enterprise, "audit", *args)
        assert web and web == cli[:len(web)], query  # the CLI's own `audit` run may add entries after
    document = client.get("/api/v1/auth/1/document")
    assert document.status_code == 200 and document.content == SCAN.read_bytes()
    assert "authorization_scan.pdf" in document.headers["content-disposition"]
    recorded = [e for e in cli_json(enterprise, "audit", "--command", "auth document") if e["operator"] == "owner"]
    assert recorded[-1]["output_sha256"] == hashlib.sha256(SCAN.read_bytes()).hexdigest()


def test_changes_record_the_same_audit_entries_as_the_cli(enterprise: Path, tmp_path: Path) -> None:
    client = owner(enterprise)
    web = client.post("/api/v1/auth", data={"subject": ["E001", "E002"], "purpose": "complaint review",
                                            "expires": "2099-12-31", "granted_by": "HR director Zhao",
                                            "scope": [f"conversation:{WECOM}"]},
                      files={"document": ("authorization_scan.pdf", SCAN.read_bytes())})
    assert web.status_code == 200, web.text
    cli = cli_json(enterprise, "auth", "add", "--document", str(SCAN), "--purpose", "complaint review", "--expires",
                   "2099-12-31", "--granted-by", "HR director Zhao", "--subject", "E001", "--subject", "E002",
                   "--scope", f"conversation:{WECOM}")
    volatile = ("id", "recorded_at")
    assert {k: v for k, v in web.json().items() if k not in volatile} == \
           {k: v for k, v in cli.items() if k not in volatile}
    first, second = cli_json(enterprise, "audit", "--command", "auth add")[-2:]
    first["params"]["document"] = second["params"]["document"] = "scan"  # a bare upload name / the CLI's path
    assert without_volatile(first) | {"facts": None} == without_volatile(second) | {"facts": None}
    assert first["facts"]["document_sha256"] == second["facts"]["document_sha256"]

    revoked = client.post("/api/v1/auth/1/revoke", data={"reason": "matter closed"}).json()
    assert revoked["status"] == "revoked" and revoked == cli_json(enterprise, "auth", "list")[0]
    hold = client.post("/api/v1/holds", data={"conversation": WECOM, "reason": "dispute 17"}).json()
    assert hold == cli_json(enterprise, "hold", "list")[0]
    released = client.post(f"/api/v1/holds/{hold['id']}/release", data={"reason": "settled"}).json()
    assert released["released_at"] and cli_json(enterprise, "hold", "list") == []
    entries = cli_json(enterprise, "audit", "--command", "hold release")
    assert entries[-1]["operator"] == "owner" and entries[-1]["params"] == {"hold_id": hold["id"], "reason": "settled",
                                                                           "as_json": True}
    roster = client.post("/api/v1/roster", files={"file": ("roster.csv", ROSTER.read_bytes())}).json()
    assert roster["members"] == len(cli_json(enterprise, "roster", "show"))
    rules = client.post("/api/v1/retention", data={"selector": "default", "keep": "2y"}).json()
    assert rules == cli_json(enterprise, "retention", "show")
    assert cli_json(enterprise, "verify")["ok"] is True  # every web change is a signed ledger fact


def test_retention_apply_is_a_dry_run_unless_confirmed_by_a_governor(enterprise: Path) -> None:
    run_cli(enterprise, "retention", "set", "default", "30d")
    add_user(enterprise, "auditor-qian", "auditor")
    client = owner(enterprise)
    dry = client.post("/api/v1/retention/apply", data={"as_of": "2026-12-01"}).json()
    cli = cli_json(enterprise, "retention", "apply", "--dry-run", "--as-of", "2026-12-01")
    assert dry["dry_run"] is True and dry["purge"] and dry["purged"] == 0
    assert {k: v for k, v in dry.items() if k != "audit_entry"} == {k: v for k, v in cli.items() if k != "audit_entry"}
    unconfirmed = client.post("/api/v1/retention/apply", data={"dry_run": "false"})
    assert unconfirmed.status_code == 400 and "confirm=purge" in unconfirmed.json()["detail"]
    auditor = TestClient(app_for(enterprise))
    csrf = login(auditor, "auditor-qian")
    assert auditor.post("/api/v1/retention/apply", data={"as_of": "2026-12-01"},
                        headers={"X-CSRF-Token": csrf}).json()["dry_run"] is True
    refused = auditor.post("/api/v1/retention/apply", data={"dry_run": "false", "confirm": "purge"},
                           headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 403
    assert cli_json(enterprise, "retention", "apply", "--dry-run", "--as-of", "2026-12-01")["purge"] == dry["purge"]
    done = client.post("/api/v1/retention/apply", data={"dry_run": "false", "confirm": "purge"}).json()
    assert done["purged"] == len(done["purge"]) > 0
    assert cli_json(enterprise, "audit", "--command", "retention apply")[-1]["operator"] == "owner"


def test_role_limits_and_csrf(enterprise: Path) -> None:
    add_user(enterprise, "lead-lee", "lead")
    add_user(enterprise, "auditor-qian", "auditor")
    lead = TestClient(app_for(enterprise))
    csrf = login(lead, "lead-lee")
    for path in ("/api/v1/audit", "/api/v1/roster", "/api/v1/auth", "/api/v1/holds", "/api/v1/auth/1/document"):
        assert lead.get(path).status_code == 403, path
    assert lead.get("/api/v1/mode").status_code == 200
    assert lead.post("/api/v1/holds", data={"conversation": WECOM, "reason": "x"},
                     headers={"X-CSRF-Token": csrf}).status_code == 403
    auditor = TestClient(app_for(enterprise))
    csrf = login(auditor, "auditor-qian")
    assert auditor.get("/api/v1/audit").json() == cli_json(enterprise, "audit")[:len(auditor.get("/api/v1/audit").json())]
    for path, data in (("/api/v1/holds", {"conversation": WECOM, "reason": "x"}), ("/api/v1/auth/1/revoke", {"reason": "x"}),
                       ("/api/v1/retention", {"selector": "default", "keep": "1y"})):
        assert auditor.post(path, data=data, headers={"X-CSRF-Token": csrf}).status_code == 403, path
    admin = TestClient(app_for(enterprise))
    add_user(enterprise, "admin-zhao", "admin")
    login(admin, "admin-zhao")
    for path, data in (("/api/v1/holds", {"conversation": WECOM, "reason": "x"}),
                       ("/api/v1/retention", {"selector": "default", "keep": "1y"}),
                       ("/api/v1/retention/apply", {})):
        refused = admin.post(path, data=data)  # no CSRF token
        assert refused.status_code == 403 and "CSRF" in refused.json()["detail"], path
    assert cli_json(enterprise, "hold", "list") == [] and cli_json(enterprise, "retention", "show") == []


def test_hostile_uploads_are_refused(enterprise: Path) -> None:
    client = owner(enterprise)
    response = client.post("/api/v1/roster", files={"file": ("../../roster.csv", ROSTER.read_bytes())})
    assert response.status_code == 200  # named by its bare name, saved in a private folder
    assert cli_json(enterprise, "audit", "--command", "roster set")[-1]["params"]["path"] == "roster.csv"
    assert not (enterprise.parent.parent / "roster.csv").exists()
    bad = client.post("/api/v1/roster", files={"file": ("..", b"id,name\n")})
    assert bad.status_code == 400 and "not a file name" in bad.json()["detail"]
    assert not list((enterprise.parent / "jobs").glob("upload-*"))


def test_only_the_archives_admin_leaves_enterprise_mode_as_on_the_cli(enterprise: Path) -> None:
    add_user(enterprise, "admin-zhao", "admin")
    admin = TestClient(app_for(enterprise))
    csrf = login(admin, "admin-zhao")
    refused = admin.post("/api/v1/mode", data={"mode": "personal", "reason": "done"}, headers={"X-CSRF-Token": csrf})
    cli = run_cli(enterprise, "init", "--mode", "personal", "--reason", "done", ok=False, operator="admin-zhao")
    assert refused.status_code == 403 and f"Error: {refused.json()['detail']}" in cli.output
    assert "only the archive's admin, owner" in refused.json()["detail"]
    entries = [e for e in cli_json(enterprise, "audit", "--command", "init") if e["operator"] == "admin-zhao"]
    assert [e["outcome"] for e in entries] == ["refused", "refused"]
    client = owner(enterprise)
    assert client.post("/api/v1/mode", data={"mode": "personal"}).status_code == 403  # a reason is required
    done = client.post("/api/v1/mode", data={"mode": "personal", "reason": "pilot over"}).json()
    assert done["mode"] == "personal" and done["previous"] == "enterprise"
    assert cli_json(enterprise, "mode")["mode"] == "personal"


def test_a_tampered_authorization_scan_is_not_served(enterprise: Path) -> None:
    import sqlite3

    run_cli(enterprise, "auth", "add", "--document", str(SCAN), "--purpose", "review", "--expires", "2099-12-31",
            "--granted-by", "HR", "--subject", "E001")
    with sqlite3.connect(enterprise) as db:  # the attacker holds the file: drops the trigger, edits the row
        db.execute("DROP TRIGGER governance_authorizations_no_update")
        db.execute("UPDATE governance_authorizations SET document = ? WHERE id = 1", (b"forged scan",))
    response = owner(enterprise).get("/api/v1/auth/1/document")
    cli = run_cli(enterprise, "auth", "document", "1", "--out", str(enterprise.parent / "scan.pdf"), ok=False)
    assert response.status_code == 400 and b"forged" not in response.content
    assert f"Error: {response.json()['detail']}" in cli.output and "no longer matches its SHA-256" in cli.output


def test_an_evidence_build_without_an_authorization_is_refused_and_recorded(enterprise: Path) -> None:
    import time

    add_user(enterprise, "lead-lee", "lead")
    lead = TestClient(app_for(enterprise))
    csrf = login(lead, "lead-lee")
    job = lead.post("/api/v1/evidence/export", data={"conversation": WECOM}, headers={"X-CSRF-Token": csrf}).json()
    deadline = time.monotonic() + 20
    while (job := lead.get(f"/api/v1/jobs/{job['id']}").json())["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cli = run_cli(enterprise, "evidence", "export", "--conversation", WECOM, "--no-pdf", "--out",
                  str(enterprise.parent / "x.zip"), ok=False, operator="lead-lee")
    assert job["state"] == "failed" and f"Error: {job['error']}" in cli.output and "missing: subject" in job["error"]
    refused = [e for e in cli_json(enterprise, "audit", "--command", "evidence export") if e["outcome"] == "refused"]
    assert [e["operator"] for e in refused] == ["lead-lee", "lead-lee"]
    assert not list((enterprise.parent / "jobs" / "downloads").glob("*/*.zip")) if \
        (enterprise.parent / "jobs" / "downloads").exists() else True


def test_the_openapi_schema_lists_the_governance_and_evidence_endpoints(enterprise: Path) -> None:
    paths = owner(enterprise).get("/api/v1/openapi.json").json()["paths"]
    for path, method in (("/api/v1/audit", "get"), ("/api/v1/auth", "post"), ("/api/v1/retention/apply", "post"),
                         ("/api/v1/evidence/export", "post"), ("/api/v1/evidence/verify", "post"),
                         ("/api/v1/jobs/{job_id}/download/{name}", "get"), ("/api/v1/holds/{hold_id}/release", "post")):
        assert method in paths[path], path
    assert not [p for p in paths if p.startswith("/governance") or p.startswith("/evidence")]  # pages stay out
