"""The Policies page and /api/v1/supervision/policies|runs: the CLI's JSON, the `policies`
permission, validation errors shown (never a 500), a run as a background job, and the page in a
browser at 1280 and 390 px."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from web_support import (ARGS, CHROMIUM, PASSWORD, add_user, app_for, axe_violations, cli_json, demo_archive, login, owner_client,
                         run_cli, serving, wait_for_job)

POLICY = "policies:\n  - name: legal\n    category: legal\n    rules:\n      - lexicon: {terms: [退货, 违约]}\n"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return demo_archive(tmp_path)


def test_api_json_is_the_clis(db: Path, tmp_path: Path) -> None:
    client = owner_client(db)
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    run_cli(db, "supervise", "policy", "set", str(policy))
    job = client.post("/api/v1/supervision/runs")
    assert job.status_code == 202 and job.headers["Location"] == f"/api/v1/jobs/{job.json()['id']}"
    done = wait_for_job(client, job.json()["id"], 20)
    assert done["state"] == "done" and done["result"]["alerts"] >= 1
    assert client.get("/api/v1/supervision/runs").json() == cli_json(db, "supervise", "runs") != []
    assert client.get("/api/v1/supervision/policies").json() == cli_json(db, "supervise", "policy", "list")
    assert client.get("/api/v1/supervision/policies/1").json() == cli_json(db, "supervise", "policy", "show",
                                                                            "--version", "1")
    assert client.get("/api/v1/supervision/policies/current").json() == cli_json(db, "supervise", "policy", "show")
    assert client.get("/api/v1/supervision/policies/9").status_code == 404
    # the run's audit entry names the web user and the job
    entry = cli_json(db, "audit", "--command", "supervise run")[-1]
    assert entry["operator"] == "owner" and entry["params"]["job"] == done["id"]


def test_api_sets_a_version_and_refuses_a_bad_file_with_its_line(db: Path) -> None:
    client = owner_client(db)
    created = client.post("/api/v1/supervision/policies", data={"text": POLICY, "name": "p.yaml"})
    assert created.status_code == 200 and created.json()["version"] == 1 and created.json()["created"]
    again = client.post("/api/v1/supervision/policies", data={"text": POLICY, "name": "p.yaml"}).json()
    assert again["version"] == 1 and not again["created"]
    bad = client.post("/api/v1/supervision/policies", data={"text": POLICY + "      - regex: '(['\n", "name": "p.yaml"})
    assert bad.status_code == 400 and "p.yaml:6" in bad.text and "does not compile" in bad.text
    toml = client.post("/api/v1/supervision/policies",
                       data={"text": '[[policies]]\nname = "t"\n[[policies.rules]]\nregex = "回扣"\n', "name": "p.toml"})
    assert toml.json()["version"] == 2


@pytest.mark.parametrize("role, allowed", [("admin", True), ("lead", True), ("reviewer", False), ("agent", False),
                                           ("auditor", False)])
def test_only_roles_with_the_policies_permission(db: Path, role: str, allowed: bool) -> None:
    from fastapi.testclient import TestClient

    add_user(db, "u", role)
    client = TestClient(app_for(db))
    csrf = login(client, "u")
    expected = 200 if allowed else 403
    assert client.get("/supervision/policies").status_code == expected
    assert client.get("/api/v1/supervision/policies").status_code == expected
    assert client.get("/api/v1/supervision/runs").status_code == expected
    posted = client.post("/api/v1/supervision/runs", headers={"X-CSRF-Token": csrf})
    assert posted.status_code == (202 if allowed else 403)
    assert ('href="/supervision/policies"' in client.get("/conversations").text) == allowed


def test_page_saves_a_version_and_shows_a_bad_file_again_with_its_error(db: Path) -> None:
    from fastapi.testclient import TestClient

    add_user(db, "lee", "lead")
    client = TestClient(app_for(db))
    csrf = login(client, "lee")
    page = client.get("/supervision/policies")
    assert page.status_code == 200 and "legal_risk" in page.text  # the shipped default, to start from
    bad = client.post("/supervision/policies", data={"text": "policies:\n  - name: x\n    severity: urgent\n"
                                                             "    rules: [{regex: '<b>'}]\n",
                                                     "name": "mine.yaml", "csrf_token": csrf})
    assert bad.status_code == 422 and "mine.yaml:2" in bad.text and "severity" in bad.text
    assert "&lt;b&gt;" in bad.text and "<b>" not in bad.text  # the draft is shown again, escaped
    saved = client.post("/supervision/policies", data={"text": POLICY, "name": "mine.yaml", "csrf_token": csrf})
    assert saved.status_code == 200 and 'id="policy-saved"' in saved.text
    assert cli_json(db, "supervise", "policy", "list")[0]["loaded_by"] == "lee"
    started = client.post("/supervision/run", data={"csrf_token": csrf}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"].startswith("/jobs/")


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium (/usr/bin/chromium) is not installed")
def test_the_policies_page_in_a_browser_on_desktop_and_phone(db: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")

    add_user(db, "lee", "lead")
    problems: list[str] = []
    with serving(db) as base:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                for width, height, name in ((1280, 900, "desktop"), (390, 844, "phone")):
                    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
                    page = context.new_page()
                    page.goto(base + "/login")
                    page.fill("#name", "lee")
                    page.fill("#password", PASSWORD)
                    page.click("button[type=submit]")
                    page.wait_for_url(base + "/search")
                    page.goto(base + "/supervision/policies")
                    assert page.evaluate("document.documentElement.scrollWidth") <= width
                    problems += [f"{name} policies: {v}" for v in axe_violations(page)]
                    page.fill("#policy-text", "policies:\n  - name: x\n    rules: []\n")
                    page.click("#save-policy")
                    page.wait_for_selector("#policy-error")
                    assert "rules" in page.inner_text("#policy-error")
                    page.fill("#policy-text", POLICY.replace("legal", f"legal_{name}"))
                    page.click("#save-policy")
                    page.wait_for_selector("#policy-saved")
                    assert f"legal_{name}" in page.inner_text("table.summary")
                    assert page.evaluate("document.documentElement.scrollWidth") <= width
                    if name == "desktop":
                        page.click("#run-now")
                        page.wait_for_selector('[data-state="done"]', timeout=20000)
                    context.close()
            finally:
                browser.close()
    assert problems == []
