"""The web app's guards: nothing without login, CSRF, role limits, inert message text, cookie flags,
login rate limiting, passwords as argon2id, enterprise mode's check and audit trail per user."""

from __future__ import annotations

import html
import json
import re
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from web_support import (PASSWORD, TOKEN, add_user, app_for, cli_json, demo_archive, login, owner_client,
                         run_cli)

API = ["/api/v1/conversations", "/api/v1/sources", "/api/v1/search?q=x", "/api/v1/conversations/1/messages",
       "/api/v1/verify", "/api/v1/checkpoint", "/api/v1/messages/1/proof", "/api/v1/jobs", "/api/v1/jobs/1",
       "/api/v1/openapi.json"]
PAGES = ["/search", "/search?q=退货", "/search/hits?q=退货", "/conversations", "/conversations/1", "/messages/1",
         "/import", "/jobs/1", "/api/docs"]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return demo_archive(tmp_path)


def test_nothing_without_login(db: Path) -> None:
    client = TestClient(app_for(db))
    for path in API:
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.headers["content-type"] == "application/problem+json"
        assert "退货" not in response.text
    for path in PAGES:
        response = client.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
    for path in ("/api/v1/import", "/api/v1/jobs/1/cancel", "/import", "/logout"):
        assert client.post(path).status_code in (401, 303), path
    back = client.get("/search?q=退货", headers={"Accept": "text/html"}, follow_redirects=False).headers["location"]
    assert back == "/login?next=%2Fsearch%3Fq%3D%25E9%2580%2580%25E8%25B4%25A7"  # where to go after logging in
    wrong = client.get("/api/v1/conversations", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    # the public pieces: the login page, static files, the manifest
    assert client.get("/login").status_code == 200
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/manifest.webmanifest").json()["start_url"] == "/search"


def test_the_token_url_logs_the_browser_in_with_strict_cookie_flags(db: Path) -> None:
    client = TestClient(app_for(db))
    response = client.get(f"/search?q=退货&token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/search?q=%E9%80%80%E8%B4%A7"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback
    assert client.get("/search?q=退货").status_code == 200
    assert "<mark>退货</mark>" in client.get("/search/hits?q=退货").text
    assert client.get("/search?token=wrong", follow_redirects=False).headers["location"] == "/login"
    secure = TestClient(app_for(db, tls=True), base_url="https://testserver")
    assert "Secure" in secure.get(f"/?token={TOKEN}", follow_redirects=False).headers["set-cookie"]


def test_csrf_is_required_on_state_changes_from_a_cookie_session(db: Path) -> None:
    client = TestClient(app_for(db))
    client.get(f"/?token={TOKEN}")
    refused = client.post("/api/v1/jobs/1/cancel")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert client.post("/api/v1/jobs/1/cancel", headers={"X-CSRF-Token": "forged"}).status_code == 403
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/conversations").text).group(1)
    assert client.post("/api/v1/jobs/1/cancel", headers={"X-CSRF-Token": csrf}).status_code == 404  # passed the guard
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    # the login form is double-submit: a cross-site form has neither the cookie nor its value
    fresh = TestClient(app_for(db))
    assert fresh.post("/login", data={"token": TOKEN, "csrf_token": "x"}).status_code == 403
    # a Bearer call carries no cookie, so it needs no CSRF token
    assert owner_client(db).post("/api/v1/jobs/1/cancel").status_code == 404


def test_message_text_with_markup_is_shown_inert(db: Path, tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_text(json.dumps({"conversation": "x", "sender": "mallory", "sent_at": "2026-03-01T10:00:00+08:00",
                                   "text": '<script>alert(1)</script> <a href="javascript:alert(2)">退货</a> <img src=x onerror=alert(3)>'},
                                  ensure_ascii=False) + "\n", encoding="utf-8")
    run_cli(db, "import", str(hostile), "--format", "generic")
    client = TestClient(app_for(db))
    client.get(f"/?token={TOKEN}")
    conversation = next(c["id"] for c in cli_json(db, "conversations") if c["native_id"] == "x")
    message = cli_json(db, "messages", "--conversation", str(conversation))[0]["id"]
    for path in (f"/conversations/{conversation}", f"/messages/{message}", "/search?q=退货", "/search/hits?q=alert"):
        page = client.get(path).text
        assert "<script>alert" not in page and "<a href=\"javascript" not in page and "<img src=x" not in page, path
        assert "&lt;" in page and "onerror=alert(3)" not in page.replace("&lt;img src=x onerror=alert(3)&gt;", ""), path
        csp = client.get(path).headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_roles_are_enforced_and_a_reviewer_only_receives_redacted_data(db: Path) -> None:
    for name, role in (("ada", "auditor"), ("rex", "reviewer"), ("amy", "agent"), ("lee", "lead")):
        add_user(db, name, role)
    auditor = TestClient(app_for(db))
    login(auditor, "ada")
    assert auditor.get("/api/v1/search", params={"q": "退货"}).status_code == 403
    assert auditor.get("/api/v1/conversations/1/messages").status_code == 403
    assert auditor.get("/api/v1/verify").json()["ok"] is True
    reviewer = TestClient(app_for(db))
    login(reviewer, "rex")
    telegram = next(c["id"] for c in cli_json(db, "conversations") if c["platform"] == "telegram")
    plain = cli_json(db, "messages", "--conversation", str(telegram))
    shown = reviewer.get(f"/api/v1/conversations/{telegram}/messages").json()
    assert shown == cli_json(db, "messages", "--conversation", str(telegram), "--redact")
    assert shown != plain
    hits = reviewer.get("/api/v1/search", params={"q": "退货"}).json()
    assert hits == cli_json(db, "search", "退货", "--redact")
    page = reviewer.get(f"/conversations/{telegram}").text
    assert "Alice Schmidt" not in page and "Bob Jones" not in page
    message = plain[0]["id"]
    proof = reviewer.get(f"/api/v1/messages/{message}/proof").json()
    full = cli_json(db, "proof", str(message))
    assert proof["leaf"] is None and set(proof["disclosures"]) == set(full["disclosures"])
    assert not any(proof["disclosures"].values()) and proof["leaf_hash"] == full["leaf_hash"]
    partial = reviewer.get(f"/messages/{message}/proof").text
    assert full["leaf_hash"] in partial and "disclosures" not in partial and full["leaf"][:20] not in partial
    detail = reviewer.get(f"/messages/{message}").text
    assert plain[0]["sender_name"] not in detail and html.escape(shown[0]["sender_name"]) in detail  # as `messages --redact`
    assert reviewer.post("/api/v1/import", files={"files": ("a.txt", b"x")},
                         headers={"X-CSRF-Token": "irrelevant"}).status_code == 403
    agent = TestClient(app_for(db))
    login(agent, "amy")
    assert agent.get("/import", headers={"Accept": "text/html"}).status_code == 403
    assert agent.get("/api/v1/search", params={"q": "退货"}).json() == cli_json(db, "search", "退货")


def test_login_is_rate_limited_and_passwords_are_argon2id(db: Path) -> None:
    add_user(db, "lee", "lead")
    stored = sqlite3.connect(db).execute("SELECT password_hash FROM web_users WHERE name = 'lee'").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    client = TestClient(app_for(db, login_attempts=3))
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    codes = [client.post("/login", data={"name": "lee", "password": "wrong password", "csrf_token": csrf}).status_code
             for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    # even the right password waits now
    assert client.post("/login", data={"name": "lee", "password": PASSWORD, "csrf_token": csrf}).status_code == 429


def test_user_commands_disable_and_reset_revoke_sessions_and_tokens(db: Path) -> None:
    made = run_cli(db, "user", "add", "lee", "--role", "lead", "--token", input=f"{PASSWORD}\n{PASSWORD}\n")
    token = made.output.strip().split()[-1]
    boss = run_cli(db, "user", "add", "x", "--role", "boss", input="a\na\n", ok=False)
    assert boss.exit_code == 1 and "unknown role 'boss' (one of: admin, lead, reviewer, agent, auditor)" in boss.output
    short = run_cli(db, "user", "add", "y", "--role", "agent", input="short\nshort\n", ok=False)
    assert "too short" in short.output and "Traceback" not in short.output
    listed = cli_json(db, "user", "list")
    assert [(u["name"], u["role"], u["tokens"], u["disabled_at"]) for u in listed] == [("lee", "lead", 1, None)]
    api = TestClient(app_for(db), headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/v1/conversations").status_code == 200
    browser = TestClient(app_for(db))
    login(browser, "lee")
    run_cli(db, "user", "disable", "lee")
    assert api.get("/api/v1/conversations").status_code == 401
    assert browser.get("/api/v1/conversations").status_code == 401
    assert cli_json(db, "user", "list")[0]["disabled_at"] is not None
    run_cli(db, "user", "reset", "lee", input="another password\nanother password\n")
    login(browser, "lee", "another password")
    assert browser.get("/api/v1/conversations").status_code == 200
    assert "no user 'nobody'" in run_cli(db, "user", "disable", "nobody", ok=False).output


def test_serve_refuses_a_public_address_without_tls(db: Path) -> None:
    refused = run_cli(db, "serve", "--host", "0.0.0.0", ok=False)
    assert refused.exit_code == 1 and "--cert PEM --key PEM" in refused.output and "--insecure" in refused.output
    from chataudit.web.commands import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and not is_loopback("10.0.0.1")


def test_a_loopback_server_answers_loopback_names_only(db: Path) -> None:
    """DNS rebinding: a page at evil.example rebound to 127.0.0.1 sends Host: evil.example."""
    client = TestClient(app_for(db, allowed_hosts=["127.0.0.1", "localhost"]), base_url="http://127.0.0.1:8787")
    assert client.get("/login").status_code == 200
    assert client.get("/login", headers={"Host": "evil.example:8787"}).status_code == 400
    tls = TestClient(app_for(db, tls=True), base_url="https://testserver")
    assert tls.get("/login").headers["strict-transport-security"].startswith("max-age=")
