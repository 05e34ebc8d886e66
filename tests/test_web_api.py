"""The REST API returns what the CLI's --json prints for the same request, over the same archive."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import both_stores
from web_support import app_for, cli_json, demo_archive, owner_client, run_cli

from fastapi.testclient import TestClient


@pytest.fixture
def db(tmp_path: Path, new_archive) -> Path:
    """The samples archive, in the store under test (SQLite unless a test is marked both_stores)."""
    return demo_archive(tmp_path, new_archive("web.db"))


@pytest.fixture
def client(db: Path) -> TestClient:
    return owner_client(db)


def conversation_of(db: Path, platform: str) -> int:
    return next(c["id"] for c in cli_json(db, "conversations") if c["platform"] == platform)


@both_stores
def test_listings_equal_the_cli_json(db: Path, client: TestClient) -> None:
    for path, args in (("/api/v1/conversations", ["conversations"]), ("/api/v1/sources", ["sources"]),
                       ("/api/v1/checkpoint", ["checkpoint"])):
        response = client.get(path)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json() == cli_json(db, *args), path


@both_stores
def test_users_equal_user_list_json_for_an_admin_only(db: Path, client: TestClient) -> None:
    from web_support import add_user, login

    add_user(db, "lee", "lead")
    assert client.get("/api/v1/users").json() == cli_json(db, "user", "list")
    lead = TestClient(app_for(db))
    login(lead, "lee")
    assert lead.get("/api/v1/users").status_code == 403


@both_stores
def test_search_equals_the_cli_json_with_filters(db: Path, client: TestClient) -> None:
    for query, extra in (("退货", {}), ("退货", {"platform": "generic"}), ("refund OR 退款", {"limit": "3"}),
                         ("-快递 退货", {"since": "2026-03-12", "until": "2026-03-31"})):
        args = [f"--{k}={v}" for k, v in extra.items()]
        expected = cli_json(db, "search", query, *args)
        got = client.get("/api/v1/search", params={"q": query, **extra})
        assert got.status_code == 200, got.text
        assert got.json() == expected, (query, extra)
    assert client.get("/api/v1/search", params={"q": "退货"}).json()[0]["snippet"].count("<mark>") >= 1


@both_stores
def test_messages_pages_join_into_the_cli_timeline(db: Path, client: TestClient) -> None:
    conversation = conversation_of(db, "telegram")
    expected = cli_json(db, "messages", "--conversation", str(conversation))
    assert len(expected) > 5
    pages, url = [], f"/api/v1/conversations/{conversation}/messages?limit=5"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(response.json())
        link = response.headers.get("link")
        url = link[1:link.index(">")] if link else None
        assert len(pages) < 20
    assert [len(p) for p in pages[:-1]] == [5] * (len(pages) - 1)
    assert [row for page in pages for row in page] == expected


def test_messages_since_until_and_redact_match_the_cli(db: Path, client: TestClient) -> None:
    conversation = str(conversation_of(db, "telegram"))
    args = ["--since", "2026-03-20", "--until", "2026-03-29", "--tz", "Asia/Shanghai"]
    expected = cli_json(db, "messages", "--conversation", conversation, *args)
    got = client.get(f"/api/v1/conversations/{conversation}/messages",
                     params={"since": "2026-03-20", "until": "2026-03-29", "tz": "Asia/Shanghai"}).json()
    assert got == expected and 0 < len(got)
    redacted = client.get(f"/api/v1/conversations/{conversation}/messages", params={"redact": "true"}).json()
    assert redacted == cli_json(db, "messages", "--conversation", conversation, "--redact")
    plain_names = {row["sender_name"] for row in cli_json(db, "messages", "--conversation", conversation)} - {None}
    assert plain_names and not plain_names & {row["sender_name"] for row in redacted}


def test_verify_equals_the_cli_json(db: Path, client: TestClient) -> None:
    expected = cli_json(db, "verify")
    got = client.get("/api/v1/verify").json()
    assert got["ok"] is True
    assert {**got, "seconds": 0} == {**expected, "seconds": 0}


def test_proof_equals_the_cli_json(db: Path, client: TestClient) -> None:
    assert client.get("/api/v1/messages/3/proof").json() == cli_json(db, "proof", "3")


def test_errors_are_problem_documents_in_the_cli_wording(db: Path, client: TestClient) -> None:
    refused = run_cli(db, "messages", "--conversation", "999", ok=False)
    response = client.get("/api/v1/conversations/999/messages")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 404 and problem["title"] == "Not Found"
    assert f"Error: {problem['detail']}" in refused.output
    bad = client.get("/api/v1/search", params={"q": "-快递"})
    assert bad.status_code == 400 and bad.json()["detail"] in run_cli(db, "search", "-快递", ok=False).output
    invalid = client.get("/api/v1/search", params={"q": "x", "limit": "0"})
    assert invalid.status_code == 422 and "limit" in invalid.json()["detail"]


def test_openapi_schema_lists_the_endpoints_behind_the_login(db: Path, client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/conversations", "/api/v1/conversations/{conversation}/messages", "/api/v1/search",
                 "/api/v1/sources", "/api/v1/verify", "/api/v1/checkpoint", "/api/v1/import", "/api/v1/jobs/{job_id}"):
        assert path in schema["paths"], path
    assert TestClient(app_for(db)).get("/api/v1/openapi.json").status_code == 401


def test_the_api_docs_page_loads_nothing_from_elsewhere(db: Path, client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "http" not in page.text.replace("http-equiv", "")
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
