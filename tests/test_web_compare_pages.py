"""The Compare, Check, People and Person pages: content, role limits, CSRF, and message text shown inert."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from web_support import TOKEN, add_user, app_for, cli_json, csrf_of, demo_archive, login, run_cli

COMPARE = Path(__file__).parent / "fixtures" / "compare"
HOSTILE = '<script>alert(1)</script> <a href="javascript:alert(2)">退货</a> <img src=x onerror=alert(3)>'


@pytest.fixture
def db(tmp_path: Path) -> Path:
    db = demo_archive(tmp_path)
    run_cli(db, "import", str(COMPARE / "wang_phone.csv"), "--tz", "Asia/Shanghai", "--label", "phone")
    run_cli(db, "import", str(COMPARE / "shop_console.jsonl"), "--label", "shop")
    return db


def owner_browser(db: Path) -> TestClient:
    client = TestClient(app_for(db))
    client.get(f"/?token={TOKEN}")
    return client


def hostile_lines(text: str) -> bytes:
    rows = [{"conversation": "x", "sender": "mallory", "sent_at": "2026-03-01T10:00:00+08:00", "text": "你好"},
            {"conversation": "x", "sender": "mallory", "sent_at": "2026-03-01T10:01:00+08:00", "text": text}]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def assert_inert(page: str, where: str) -> None:
    assert "<script>alert" not in page and '<a href="javascript' not in page and "<img src=x" not in page, where
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, where


def test_compare_page_shows_the_verdict_side_by_side_with_the_differences_marked(db: Path) -> None:
    client = owner_browser(db)
    page = client.get("/compare", params={"copy": ["phone", "shop"]})
    assert page.status_code == 200
    report = json.loads(run_cli(db, "compare", "phone", "shop", "--json", ok=False).stdout)
    assert 'class="verdict different"' in page.text and report["verdict"] in page.text
    assert page.text.count('class="st-matched"') == report["summary"]["matched"]
    assert page.text.count('class="st-altered"') == report["summary"]["altered"] == 1
    assert "<del>" in page.text and "<ins>" in page.text  # the altered characters
    assert 'id="only-diff"' in page.text and 'data-report="&lt;!' in page.text.replace("&lt;!doctype", "&lt;!")
    matrix = client.get("/compare", params={"copy": ["phone", "shop", "phone"]}).text
    assert 'class="cmp matrix"' in matrix and "st-differs" in matrix
    missing = client.get("/compare", params={"copy": ["phone", "/etc/passwd"]})
    assert missing.status_code == 200 and "upload an export file" in missing.text


def test_an_uploaded_copy_is_read_not_imported_and_its_text_shown_inert(db: Path) -> None:
    run_cli(db, "import", "--format", "generic", "--label", "mine", str(_write(db.parent / "mine.jsonl", hostile_lines("原话"))))
    client = owner_browser(db)
    sources = cli_json(db, "sources")
    page = client.post("/compare", data={"copy": "mine", "csrf_token": csrf_of(client)},
                       files={"files": ("theirs.jsonl", hostile_lines(HOSTILE))})
    assert page.status_code == 200, page.text
    assert 'class="verdict different"' in page.text and "theirs.jsonl" in page.text
    assert_inert(page.text, "compare")
    assert cli_json(db, "sources") == sources
    refused = client.post("/compare", data={"copy": "mine"}, files={"files": ("theirs.jsonl", hostile_lines("x"))})
    assert refused.status_code == 403  # no CSRF token


def test_person_check_and_people_pages_escape_message_text(db: Path) -> None:
    run_cli(db, "import", "--format", "generic", str(_write(db.parent / "h.jsonl", hostile_lines(HOSTILE))))
    client = owner_browser(db)
    identity = next(i["identity"] for i in cli_json(db, "people")["identities"] if "mallory" in i["identity"])
    person = client.get("/person", params={"p": identity})
    assert person.status_code == 200 and person.text.count('class="bubble') == 2
    assert_inert(person.text, "person")
    source = max(s["id"] for s in cli_json(db, "sources"))
    check = client.get("/check", params={"source": f"source:{source}"})
    assert check.status_code == 200 and ("未发现异常" in check.text or "No anomaly found" in check.text)
    assert client.get("/check", params={"source": str(COMPARE / "alice_result.json")}).status_code == 404  # not read
    people = client.get("/people")
    assert people.status_code == 200 and identity in people.text


def test_linking_from_the_people_page_needs_the_role_and_the_csrf_token(db: Path) -> None:
    add_user(db, "lee", "lead")
    add_user(db, "amy", "agent")
    identities = [i["identity"] for i in cli_json(db, "people")["identities"][:2]]
    lead = TestClient(app_for(db))
    csrf = login(lead, "lee")
    assert 'name="identity"' in lead.get("/people").text
    assert lead.post("/people/link", data={"identity": identities}).status_code == 403
    done = lead.post("/people/link", data={"identity": identities, "name": "王女士", "csrf_token": csrf},
                     follow_redirects=False)
    assert done.status_code == 303
    person = cli_json(db, "people")["people"][0]
    assert done.headers["location"] == f"/person?p={person['id']}" and person["name"] == "王女士"
    timeline = lead.get(done.headers["location"])
    assert timeline.status_code == 200 and timeline.text.count('class="bubble') == len(
        cli_json(db, "messages", "--person", "王女士"))
    agent = TestClient(app_for(db))
    agent_csrf = login(agent, "amy")
    assert 'name="identity"' not in agent.get("/people").text
    assert agent.post("/people/unlink", data={"identity": identities, "csrf_token": agent_csrf}).status_code == 403
    assert agent.post("/compare", data={"copy": ["phone", "shop"], "keep": "true", "csrf_token": agent_csrf}
                      ).status_code == 403  # keeping imports: not the agent's to do
    assert lead.post("/people/unlink", data={"identity": identities, "csrf_token": csrf}).status_code == 200
    assert cli_json(db, "people")["people"] == []


def test_an_auditor_cannot_open_them_and_a_reviewer_sees_no_names(db: Path) -> None:
    add_user(db, "ada", "auditor")
    add_user(db, "rex", "reviewer")
    auditor = TestClient(app_for(db))
    login(auditor, "ada")
    for path in ("/compare", "/check", "/person?p=1"):
        assert auditor.get(path, headers={"Accept": "text/html"}).status_code == 403, path
    run_cli(db, "people", "link", "wechat:wxid_hanmeimei01", "--name", "梅梅")
    person = cli_json(db, "people")["people"][0]["id"]
    reviewer = TestClient(app_for(db))
    login(reviewer, "rex")
    assert f'href="/person?p={person}&redact=true"' in reviewer.get("/people").text.replace("&amp;", "&")
    plain = json.loads(run_cli(db, "compare", "phone", "shop", "--json", ok=False).stdout)
    names = {plain["altered"][0]["a"]["sender"], plain["altered"][0]["b"]["sender"], "梅梅"}
    for path, params in (("/compare", {"copy": ["phone", "shop"]}), ("/people", {}),
                         ("/person", {"p": str(person)}), ("/check", {"source": "phone"})):
        page = reviewer.get(path, params=params)
        assert page.status_code == 200, path
        assert not any(name in page.text for name in names), path
        assert "wxid_hanmeimei01" not in page.text, path
    assert reviewer.get("/person", params={"p": str(person)}).text.count('class="bubble') == len(
        cli_json(db, "messages", "--person", str(person)))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_in_enterprise_mode_the_empty_forms_are_listings_and_a_comparison_needs_an_authorization(tmp_path: Path) -> None:
    fixtures = Path(__file__).parent / "fixtures" / "governance"
    db = tmp_path / "g.db"
    run_cli(db, "import", str(fixtures / "staff_chats.csv"), "--tz", "Asia/Shanghai", "--label", "hr")
    run_cli(db, "roster", "set", str(fixtures / "roster.csv"))
    run_cli(db, "init", "--mode", "enterprise")
    add_user(db, "li", "lead")
    client = TestClient(app_for(db))
    login(client, "li")
    for path in ("/compare", "/check"):
        assert client.get(path).status_code == 200, path
    refused = client.get("/compare", params={"copy": ["hr", "hr"]}, headers={"Accept": "text/html"})
    assert refused.status_code == 403 and "missing: subject" in refused.text
    entries = [(e["command"], e["outcome"]) for e in cli_json(db, "audit") if e["operator"] == "li"]
    assert ("sources", "ok") in entries and ("compare", "refused") in entries
