"""compare, check, facts, match, people and pii scan over HTTP: each endpoint returns what the CLI's
``--json`` prints for the same request (built by the same function), within its role's limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from web_support import TOKEN, add_user, app_for, cli_json, demo_archive, login, owner_client, run_cli

FIXTURES = Path(__file__).parent / "fixtures"
COMPARE, STATEMENTS, FACTS = FIXTURES / "compare", FIXTURES / "statements", FIXTURES / "facts"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    db = demo_archive(tmp_path)
    run_cli(db, "import", str(COMPARE / "wang_phone.csv"), "--tz", "Asia/Shanghai", "--label", "phone")
    return db


@pytest.fixture
def client(db: Path) -> TestClient:
    return owner_client(db)


def cli_compare(db: Path, *copies: str) -> dict:
    return cli_json_any_exit(db, "compare", *copies)


def cli_json_any_exit(db: Path, *args: str) -> dict:
    import json

    result = run_cli(db, *args, "--json", ok=False)
    assert result.exit_code in (0, 1), result.output  # 1: different / anomalies, as diff
    return json.loads(result.stdout)


def test_compare_of_archive_copies_equals_the_cli_and_different_is_200(db: Path, client: TestClient) -> None:
    run_cli(db, "import", str(COMPARE / "shop_console.jsonl"), "--label", "shop")
    expected = cli_compare(db, "phone", "shop")
    response = client.get("/api/v1/compare", params={"copy": ["phone", "shop"]})
    assert response.status_code == 200, response.text
    assert response.json() == expected
    assert expected["verdict"].startswith("DIFFERENT") and expected["different"] is True
    assert response.headers["x-chataudit-different"] == "true"
    assert len(expected["altered"]) == 1 and len(expected["missing_in_a"]) == 1
    same = client.get("/api/v1/compare", params={"copy": ["phone", "phone"]})
    assert same.status_code == 200 and same.headers["x-chataudit-different"] == "false"
    assert same.json()["different"] is False
    assert same.json() == cli_compare(db, "phone", "phone")


def test_an_uploaded_file_is_compared_as_the_cli_reads_it_and_kept_only_when_asked(
        db: Path, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(COMPARE)  # the CLI names the file as given: the bare name, as the upload is named
    expected = cli_compare(db, "phone", "shop_console.jsonl")
    sources = cli_json(db, "sources")
    upload = {"files": ("shop_console.jsonl", (COMPARE / "shop_console.jsonl").read_bytes())}
    response = client.post("/api/v1/compare", data={"copy": "phone"}, files=upload)
    assert response.status_code == 200, response.text
    assert response.json() == expected
    assert cli_json(db, "sources") == sources  # read for this comparison only
    assert not list((db.parent / "jobs").glob("compare-*"))  # the upload's folder is gone
    kept = client.post("/api/v1/compare", data={"copy": "phone", "keep": "true"}, files=upload)
    assert kept.status_code == 200 and kept.json()["verdict"] == expected["verdict"]
    new = [s for s in cli_json(db, "sources") if s not in sources]
    assert [(s["label"], s["path"]) for s in new] == [("shop_console.jsonl", "shop_console.jsonl")]


def test_compare_never_reads_a_path_on_the_server(db: Path, client: TestClient) -> None:
    for ref in (str(COMPARE / "shop_console.jsonl"), "/etc/passwd", f"{COMPARE / 'shop_console.jsonl'}@1", "."):
        response = client.get("/api/v1/compare", params={"copy": ["phone", ref]})
        assert response.status_code == 404, ref
        assert response.headers["content-type"] == "application/problem+json"
        assert "upload an export file" in response.json()["detail"]
    one = client.get("/api/v1/compare", params={"copy": ["phone"]})
    assert one.status_code == 400 and one.json()["detail"] == "give at least two copies to compare"
    check = client.get("/api/v1/check", params={"source": str(COMPARE / "shop_console.jsonl")})
    assert check.status_code == 404 and "in the archive" in check.json()["detail"]


def test_check_facts_people_person_timeline_equal_the_cli(db: Path, client: TestClient) -> None:
    run_cli(db, "import", str(FACTS / "renovation_wechat.jsonl"), "--tz", "Asia/Shanghai")
    for source in ("phone", "1", "conversation:1"):
        assert client.get("/api/v1/check", params={"source": source}).json() == \
            cli_json_any_exit(db, "check", source), source
    facts = client.get("/api/v1/facts")
    assert facts.status_code == 200 and facts.json() == cli_json(db, "facts") and len(facts.json()) > 5
    assert client.get("/api/v1/facts", params={"type": ["amount", "date"], "since": "2026-03-01"}).json() == \
        cli_json(db, "facts", "--type", "amount", "--type", "date", "--since", "2026-03-01")
    assert client.get("/api/v1/facts", params={"type": "nonsense"}).status_code == 400
    people = client.get("/api/v1/people").json()
    assert people == cli_json(db, "people")
    identity = people["identities"][0]["identity"]
    assert client.get("/api/v1/messages", params={"person": identity}).json() == \
        cli_json(db, "messages", "--person", identity)
    missing = client.get("/api/v1/messages", params={"person": "nobody"})
    assert missing.status_code == 404 and missing.json()["detail"].startswith("no person 'nobody'")


def test_match_of_uploaded_statements_equals_the_cli(db: Path, client: TestClient,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    run_cli(db, "import", str(STATEMENTS / "chat_zhang_wang.jsonl"), "--tz", "Asia/Shanghai")
    monkeypatch.chdir(STATEMENTS)
    expected = cli_json(db, "match", "--statement", "wechat_pay.csv", "--statement", "bank_statement.csv")
    files = [("files", (name, (STATEMENTS / name).read_bytes())) for name in ("wechat_pay.csv", "bank_statement.csv")]
    response = client.post("/api/v1/match", files=files)
    assert response.status_code == 200, response.text
    got = response.json()
    assert got["summary"] == expected["summary"] and got["summary"]["matched"] > 0
    assert got["matched"] == expected["matched"] and got["unmatched_claims"] == expected["unmatched_claims"]
    assert got["unmatched_transactions"] == expected["unmatched_transactions"]
    both = client.post("/api/v1/match", data={"conversation": "1", "person": "x"}, files=files[:1])
    assert both.status_code == 400 and both.json()["detail"] == "give at most one of --conversation or --person"


def test_pii_scan_equals_the_cli(db: Path, client: TestClient) -> None:
    got = client.get("/api/v1/pii/scan").json()
    expected = cli_json(db, "pii", "scan")
    assert got["findings"] == expected["findings"] and got["counts"] == expected["counts"] and got["findings"]
    assert got["scanned"] > 0 and expected["scanned"] == 0  # incremental: the API's call scanned them
    typed = client.get("/api/v1/pii/scan", params={"types": "mobile"}).json()
    assert typed["findings"] == cli_json(db, "pii", "scan", "--types", "mobile")["findings"]


def test_people_link_and_unlink_are_posts_for_a_lead_with_csrf(db: Path) -> None:
    add_user(db, "lee", "lead")
    add_user(db, "amy", "agent")
    identities = [i["identity"] for i in cli_json(db, "people")["identities"][:2]]
    lead = TestClient(app_for(db))
    csrf = login(lead, "lee")
    refused = lead.post("/api/v1/people/link", json={"identities": identities})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    linked = lead.post("/api/v1/people/link", json={"identities": identities, "name": "王女士"},
                       headers={"X-CSRF-Token": csrf})
    assert linked.status_code == 200, linked.text
    assert linked.json() in cli_json(db, "people")["people"] and linked.json()["name"] == "王女士"
    assert sorted(linked.json()["identities"]) == sorted(identities)
    assert lead.get("/api/v1/messages", params={"person": "王女士"}).json() == \
        cli_json(db, "messages", "--person", "王女士")
    agent = TestClient(app_for(db))
    agent_csrf = login(agent, "amy")
    assert agent.post("/api/v1/people/unlink", json={"identities": identities},
                      headers={"X-CSRF-Token": agent_csrf}).status_code == 403
    assert lead.post("/api/v1/people/unlink", json={"identities": identities},
                     headers={"X-CSRF-Token": csrf}).status_code == 200
    assert cli_json(db, "people")["people"] == []


def test_role_limits_and_a_reviewer_never_receives_plain_text(db: Path) -> None:
    run_cli(db, "import", str(COMPARE / "shop_console.jsonl"), "--label", "shop")
    add_user(db, "ada", "auditor")
    add_user(db, "rex", "reviewer")
    auditor = TestClient(app_for(db))
    login(auditor, "ada")
    for path, params in (("/api/v1/compare", {"copy": ["phone", "shop"]}), ("/api/v1/check", {"source": "phone"}),
                         ("/api/v1/facts", {}), ("/api/v1/pii/scan", {}), ("/api/v1/messages", {"person": "x:y"})):
        assert auditor.get(path, params=params).status_code == 403, path
    assert auditor.get("/api/v1/people").status_code == 200  # a listing, as `conversations`
    reviewer = TestClient(app_for(db))
    login(reviewer, "rex")
    compared = reviewer.get("/api/v1/compare", params={"copy": ["phone", "shop"]})
    assert compared.json() == cli_compare(db, "phone", "shop", "--redact")
    plain = cli_compare(db, "phone", "shop")
    names = {plain["altered"][0]["a"]["sender"], plain["altered"][0]["b"]["sender"]}
    for path, params in (("/api/v1/compare", {"copy": ["phone", "shop"]}), ("/api/v1/check", {"source": "phone"}),
                         ("/api/v1/facts", {}), ("/api/v1/pii/scan", {}), ("/api/v1/people", {})):
        body = reviewer.get(path, params=params).text
        assert not any(name in body for name in names), path
        assert "梅梅" not in body and "13812345678" not in body and "wxid_hanmeimei01" not in body, path
    findings = reviewer.get("/api/v1/pii/scan").json()["findings"]
    plain_values = {f["value"] for f in cli_json(db, "pii", "scan")["findings"]}
    assert findings and not plain_values & {f["value"] for f in findings}


def test_an_enterprise_read_is_checked_and_audited_as_the_cli_command(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    run_cli(db, "import", str(FIXTURES / "governance" / "staff_chats.csv"), "--tz", "Asia/Shanghai", "--label", "hr")
    run_cli(db, "roster", "set", str(FIXTURES / "governance" / "roster.csv"))
    run_cli(db, "init", "--mode", "enterprise")
    add_user(db, "li", "lead")
    client = TestClient(app_for(db))
    login(client, "li")
    cli_refusal = run_cli(db, "facts", ok=False, operator="li").output
    refused = client.get("/api/v1/facts")
    assert refused.status_code == 403 and f"Error: {refused.json()['detail']}" in cli_refusal
    entries = [e for e in cli_json(db, "audit") if e["command"] == "facts" and e["operator"] == "li"]
    assert [e["outcome"] for e in entries] == ["refused", "refused"]
    assert client.get("/api/v1/compare", params={"copy": ["hr", "hr"]}).status_code == 403
    assert [e["outcome"] for e in cli_json(db, "audit") if e["command"] == "compare"] == ["refused"]


def test_only_a_role_that_may_import_keeps_an_uploaded_copy(db: Path) -> None:
    add_user(db, "amy", "agent")
    agent = TestClient(app_for(db))
    csrf = login(agent, "amy")
    sources = cli_json(db, "sources")
    upload = {"files": ("shop_console.jsonl", (COMPARE / "shop_console.jsonl").read_bytes())}
    kept = agent.post("/api/v1/compare", data={"copy": "phone", "keep": "true"}, files=upload,
                      headers={"X-CSRF-Token": csrf})
    assert kept.status_code == 403 and "may not import" in kept.json()["detail"]
    read = agent.post("/api/v1/compare", data={"copy": "phone"}, files=upload, headers={"X-CSRF-Token": csrf})
    assert read.status_code == 200 and read.json()["verdict"].startswith("DIFFERENT")
    assert cli_json(db, "sources") == sources
