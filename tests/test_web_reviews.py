"""Peer review over HTTP and in the pages (issue 13): the API gives the CLI's JSON, roles limit who
assigns and settles, the rules (own session, blind review, one contest) hold through the web too,
and the scoring page escapes message text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from reviews_support import run, run_json, scores, service_archive
from web_support import add_user, app_for, login, owner_client

DIMS = {"speed": 8, "professionalism": 7, "resolution": 9, "experience": 8, "emotion": 9}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = service_archive(tmp_path)
    for name, role in (("LiNa", "reviewer"), ("agent_li", "agent"), ("ZhangWei", "lead"), ("auditor1", "auditor")):
        add_user(path, name, role)
    return path


def client_as(db: Path, name: str) -> tuple[TestClient, str]:
    client = TestClient(app_for(db))
    return client, login(client, name)


def test_the_api_gives_the_clis_json(db: Path) -> None:
    task = run_json(db, "review", "assign", "--week", "2026-W11", "--per-agent", "1", "--rule", "lowest",
                    "--reviewer", "LiNa", "--self-scoring")["reviews"][0]
    run(db, "review", "score", str(task["id"]), *scores(6), operator="LiNa")
    made = run_json(db, "review", "calibrate", "2-1", "--reviewer", "LiNa", "--reviewer", "ZhangWei")
    client = owner_client(db)
    for path, args in (("/api/v1/reviews", ["review", "list"]), ("/api/v1/reviews?status=assigned&kind=self",
                                                                 ["review", "list", "--status", "assigned", "--kind", "self"]),
                       (f"/api/v1/reviews/{task['id']}", ["review", "show", str(task["id"])]),
                       ("/api/v1/reviews/1/1-4", ["review", "show", "1/1-4"]),
                       ("/api/v1/reviews/calibration", ["review", "calibration"]),
                       ("/api/v1/reviews/report?since=2026-03-09&until=2026-03-15",
                        ["review", "report", "--since", "2026-03-09", "--until", "2026-03-15"])):
        response = client.get(path)
        assert response.status_code == 200, response.text
        assert response.json() == run_json(db, *args, operator="owner"), path
    assert made["reviews"][0]["kind"] == "calibration"


def test_roles_limit_assigning_settling_and_the_report(db: Path) -> None:
    agent, _ = client_as(db, "agent_li")
    body = {"week": "2026-W11", "per_agent": 1, "reviewers": ["LiNa"]}
    assert agent.post("/api/v1/reviews/assign", json=body, headers={"X-CSRF-Token": _csrf(agent)}).status_code == 403
    assert agent.get("/api/v1/reviews/report").status_code == 403
    assert agent.get("/reviews/report").status_code == 403
    auditor, _ = client_as(db, "auditor1")
    assert auditor.get("/api/v1/reviews").status_code == 403
    lead, csrf = client_as(db, "ZhangWei")
    made = lead.post("/api/v1/reviews/assign", json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 200 and made.json()["reviews"][0]["created_by"] == "ZhangWei"
    # without review_manage the listing is the user's own only
    mine = agent.get("/api/v1/reviews").json()
    assert mine and all("agent_li" in r["agents"] or r["reviewer"] == "agent_li" for r in mine)
    assert len(mine) < len(lead.get("/api/v1/reviews").json())
    other = next(r for r in lead.get("/api/v1/reviews").json() if "agent_li" not in r["agents"])
    assert agent.get(f"/api/v1/reviews/{other['id']}").status_code == 403


def _csrf(client: TestClient) -> str:
    return re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/reviews").text).group(1)


def test_self_review_refusal_blind_mode_and_one_contest_through_the_api(db: Path) -> None:
    agent, agent_csrf = client_as(db, "agent_li")
    refused = agent.post("/api/v1/reviews/score", json={"session": "1-1", "scores": DIMS},
                         headers={"X-CSRF-Token": agent_csrf})
    assert refused.status_code == 400 and "nobody peer-reviews their own session" in refused.json()["detail"]
    own = agent.post("/api/v1/reviews/score", json={"session": "1-1", "self": True, "scores": DIMS},
                     headers={"X-CSRF-Token": agent_csrf})
    assert own.status_code == 200 and own.json()["kind"] == "self"
    made = run_json(db, "review", "calibrate", "1-1", "--reviewer", "LiNa", "--reviewer", "ZhangWei")
    reviewer, reviewer_csrf = client_as(db, "LiNa")
    first = made["reviews"][0]["id"]
    blind = reviewer.get(f"/api/v1/reviews/{first}").json()
    assert blind["hidden"] and blind["session"]["auto"] is None and all(r["hidden"] for r in blind["reviews"])
    done = reviewer.post("/api/v1/reviews/score", json={"review": first, "scores": DIMS,
                                                        "comments": [{"message": 2, "text": "好"}]},
                         headers={"X-CSRF-Token": reviewer_csrf})
    assert done.status_code == 200 and done.json()["comments"] == [{"message": 2, "text": "好"}]
    after = reviewer.get(f"/api/v1/reviews/{first}").json()
    assert not after["hidden"] and after["session"]["auto"]["score"] is not None
    assert after["transcript"][0]["sender_name"] != "顾客00"  # a reviewer's role reads de-identified data
    contest = agent.post(f"/api/v1/reviews/{first}/contest", json={"reason": "客户确认了"},
                         headers={"X-CSRF-Token": agent_csrf})
    assert contest.status_code == 200 and contest.json()["status"] == "contested"
    again = agent.post(f"/api/v1/reviews/{first}/contest", json={"reason": "再次"}, headers={"X-CSRF-Token": agent_csrf})
    assert again.status_code == 400 and "contested once" in again.json()["detail"]
    assert agent.post(f"/api/v1/reviews/{first}/settle", json={"outcome": "upheld", "reason": "x"},
                      headers={"X-CSRF-Token": agent_csrf}).status_code == 403
    owner = owner_client(db)
    settled = owner.post(f"/api/v1/reviews/{first}/settle", json={"outcome": "amended", "reason": "ok",
                                                                  "scores": {**DIMS, "speed": 10}})
    assert settled.status_code == 200 and settled.json()["final_scores"]["speed"] == 10.0


def test_the_pages_score_contest_and_settle_with_forms(db: Path) -> None:
    task = run_json(db, "review", "assign", "--week", "2026-W11", "--per-agent", "1", "--rule", "lowest",
                    "--reviewer", "ZhangWei", "--blind")["reviews"]
    task = next(t for t in task if "agent_li" in t["agents"])
    lead, csrf = client_as(db, "ZhangWei")
    listing = lead.get("/reviews")
    assert listing.status_code == 200 and f"/reviews/{task['id']}" in listing.text
    page = lead.get(f"/reviews/{task['id']}")
    assert page.status_code == 200 and 'id="auto-hidden"' in page.text and 'name="speed"' in page.text
    assert 'value="agent_promise"> the agent made a forbidden promise' in page.text  # a label, not the key
    form = {**{k: str(v) for k, v in DIMS.items()}, "csrf_token": csrf, "comment_9": "没有及时回复", "note": "慢"}
    done = lead.post(f"/reviews/{task['id']}/score", data=form, follow_redirects=False)
    assert done.status_code == 303
    shown = lead.get(f"/reviews/{task['id']}").text
    assert "没有及时回复" in shown and 'id="auto-hidden"' not in shown
    bad = lead.post(f"/reviews/{task['id']}/score", data=form)
    assert bad.status_code == 400 and "already submitted" in bad.text
    agent, agent_csrf = client_as(db, "agent_li")
    assert "Contest this review" in agent.get(f"/reviews/{task['id']}").text
    contested = agent.post(f"/reviews/{task['id']}/contest", data={"reason": "客户说了谢谢", "csrf_token": agent_csrf},
                           follow_redirects=False)
    assert contested.status_code == 303
    owner = owner_client(db)
    assert owner.get("/reviews/report").status_code == 200
    report = owner.get("/reviews/report").text
    assert f"/reviews/{task['id']}" in report and "客户说了谢谢" in report
    assert [e["command"] for e in run_json(db, "audit") if e["command"].startswith("review ")][-3:] == \
        ["review assign", "review score", "review contest"]


def test_the_scoring_page_escapes_message_text(db: Path) -> None:
    owner = owner_client(db)
    page = owner.get("/reviews/report")
    assert page.status_code == 200
    task = run_json(db, "review", "assign", "--week", "2026-W11", "--per-agent", "4", "--reviewer", "LiNa",
                    "--seed", "3")["reviews"]
    polite = next(t for t in task if t["session"].startswith("4/"))
    html = owner.get(f"/reviews/{polite['id']}").text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_quality_page_and_api_carry_the_four_scores(db: Path) -> None:
    run(db, "review", "score", "--session", "1-1", *scores(6), operator="LiNa")
    owner = owner_client(db)
    value = owner.get("/api/v1/quality").json()
    li = next(a for a in value["review_scores"] if a["agent"] == "agent_li")
    assert li["peer"] == 6.0
