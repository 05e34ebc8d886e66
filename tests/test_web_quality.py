"""/api/v1/quality and the quality dashboard: the same JSON as `chataudit quality --json` for the same
request (files uploaded or stored), as a background job too, role limits, and the page."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from web_support import SAMPLES, add_user, app_for, cli_json, demo_archive, login, owner_client, run_cli

VOLATILE = ("nlp", "timing_seconds", "seconds")  # run times and the text cache's counters


def stable(value: dict) -> dict:
    return {k: v for k, v in value.items() if k not in VOLATILE}


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return demo_archive(tmp_path_factory.mktemp("quality"))


def test_get_equals_the_cli_with_filters(db: Path) -> None:
    client = owner_client(db)
    answer = client.get("/api/v1/quality", params=[
        ("since", "2026-03-01"), ("until", "2026-03-31"), ("compare_to", "2026-02-01..2026-02-28"),
        ("platform", "generic"), ("platform", "wecom"), ("session_gap", "30m"), ("sla", "service=60"),
        ("hours", "08:00-23:00"), ("top", "3"), ("new_days", "30"), ("tz", "Asia/Shanghai")])
    assert answer.status_code == 200, answer.text
    expected = cli_json(db, "quality", "--since", "2026-03-01", "--until", "2026-03-31", "--compare-to",
                        "2026-02-01..2026-02-28", "--platform", "generic", "--platform", "wecom", "--session-gap", "30m",
                        "--sla", "service=60", "--hours", "08:00-23:00", "--top", "3", "--new-days", "30",
                        "--tz", "Asia/Shanghai")
    assert stable(answer.json()) == stable(expected)
    assert expected["sessions"] > 0 and expected["compare"] is not None


def test_no_nlp_conversation_agent_and_redact_equal_the_cli(db: Path) -> None:
    client = owner_client(db)
    answer = client.get("/api/v1/quality", params={"no_nlp": "true", "redact": "true"})
    assert stable(answer.json()) == stable(cli_json(db, "quality", "--no-nlp", "--redact"))
    conversation = str(answer.json()["session_rows"][0]["conversation"])
    agent = answer.json()["by_agent"][0]["agent"]
    answer = client.get("/api/v1/quality", params={"conversation": conversation, "agent": agent})
    assert stable(answer.json()) == stable(cli_json(db, "quality", "--conversation", conversation, "--agent", agent))


def test_uploaded_files_equal_the_cli_and_stored_files_too(db: Path) -> None:
    client = owner_client(db)
    roster, scripts = SAMPLES / "roster.csv", SAMPLES / "scripts.yaml"
    expected = stable(cli_json(db, "quality", "--roster", str(roster), "--scripts", str(scripts), "--team", "售后"))
    with open(roster, "rb") as r, open(scripts, "rb") as s:
        answer = client.post("/api/v1/quality", params={"team": "售后"},
                             files={"roster": ("roster.csv", r), "scripts": ("scripts.yaml", s)})
    assert answer.status_code == 200, answer.text
    assert stable(answer.json()) == expected
    with open(roster, "rb") as r, open(scripts, "rb") as s:
        stored = client.post("/api/v1/quality/files", files=[("files", ("roster.csv", r)), ("files", ("scripts.yaml", s))])
    assert stored.status_code == 200 and {f["name"] for f in stored.json()} == {"roster.csv", "scripts.yaml"}
    answer = client.get("/api/v1/quality", params={"roster": "roster.csv", "scripts": "scripts.yaml", "team": "售后"})
    assert stable(answer.json()) == expected


def test_a_missing_stored_file_and_a_bad_option_are_problems_in_the_clis_words(db: Path) -> None:
    client = owner_client(db)
    answer = client.get("/api/v1/quality", params={"roster": "nope.csv"})
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
    assert "no stored file 'nope.csv'" in answer.json()["detail"]
    answer = client.get("/api/v1/quality", params={"roster": "../web.db"})
    assert answer.status_code in (400, 404)  # a bare name only: never a path out of the folder
    bad = client.get("/api/v1/quality", params={"compare_to": "2026-02-01"})
    cli = run_cli(db, "quality", "--compare-to", "2026-02-01", ok=False)
    assert bad.status_code == 400 and bad.json()["detail"] in cli.output
    assert client.get("/api/v1/quality", params={"ratings": "r.csv"}).status_code == 400  # writes: POST only


def test_the_background_job_gives_the_same_json_and_can_be_cancelled(db: Path) -> None:
    client = owner_client(db)
    started = client.post("/api/v1/quality/jobs", params={"since": "2026-03-01", "top": "5"})
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    deadline = time.monotonic() + 20
    while (job := client.get(location).json())["state"] not in ("done", "failed", "cancelled"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert job["state"] == "done", job
    assert job["kind"] == "quality-report"
    assert stable(job["result"]) == stable(cli_json(db, "quality", "--since", "2026-03-01", "--top", "5"))
    cancelled = client.post(f"{location}/cancel").json()
    assert cancelled["state"] == "done"  # a finished job stays as it was


def test_a_reviewer_gets_de_identified_data_only_and_an_auditor_none(tmp_path: Path) -> None:
    db = demo_archive(tmp_path)
    add_user(db, "rita", "reviewer")
    add_user(db, "abe", "auditor")
    client = app_for(db)
    from fastapi.testclient import TestClient

    with TestClient(client) as browser:
        login(browser, "rita")
        answer = browser.get("/api/v1/quality")
        assert answer.status_code == 200
        assert stable(answer.json()) == stable(cli_json(db, "quality", "--redact"))
        plain = cli_json(db, "quality")
        customers = {row["customer"] for row in plain["session_rows"] if row["customer"]}
        assert customers and not any(c in answer.text for c in customers)
    with TestClient(app_for(db)) as browser:
        login(browser, "abe")
        assert browser.get("/api/v1/quality").status_code == 403
        assert browser.get("/quality").status_code == 403


def _finished(client, job_id: int) -> dict:
    deadline = time.monotonic() + 20
    while (job := client.get(f"/api/v1/jobs/{job_id}").json())["state"] not in ("done", "failed", "cancelled"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return job


def test_the_dashboard_runs_the_report_as_a_job_and_drills_down_to_transcripts(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    db = demo_archive(tmp_path)
    add_user(db, "lee", "lead")
    with TestClient(app_for(db)) as browser:
        csrf = login(browser, "lee")
        page = browser.get("/quality")
        assert page.status_code == 200 and 'action="/quality"' in page.text
        with open(SAMPLES / "roster.csv", "rb") as roster:
            started = browser.post("/quality", data={"csrf_token": csrf, "compare_to": "2026-03-01..2026-03-15",
                                                     "sla": "service=60"},
                                   files={"roster": ("roster.csv", roster)}, follow_redirects=False)
        assert started.status_code == 303, started.text
        job_id = int(started.headers["location"].split("job=")[1])
        job = _finished(browser, job_id)
        assert job["state"] == "done", job
        expected = cli_json(db, "quality", "--roster", str(SAMPLES / "roster.csv"), "--compare-to",
                            "2026-03-01..2026-03-15", "--sla", "service=60")
        assert stable(job["result"]) == stable(expected)
        page = browser.get(f"/quality?job={job_id}")
        assert page.status_code == 200
        assert 'data-charts="' in page.text and "/static/quality.js" in page.text and "<script>" not in page.text
        assert f">{expected['sessions']}</a>" in page.text  # the sessions tile, a drill-down link
        drilled = browser.get(f"/quality/jobs/{job_id}/sessions", params={"sort": "first_response_s"},
                              headers={"HX-Request": "true"})
        assert drilled.status_code == 200 and "<html" not in drilled.text
        first = expected["session_rows"][0]
        link = f"/quality/open?conversation={first['conversation']}&amp;start_ms={first['start_ms']}"
        assert link in drilled.text
        opened = browser.get(link.replace("&amp;", "&"), follow_redirects=False)
        assert opened.status_code == 303
        target = opened.headers["location"]
        message_id = int(target.split("at=")[1].split("#")[0])
        found = browser.get(f"/api/v1/conversations/{first['conversation']}/messages", params={"limit": 5000}).json()
        first_of_session = min((m for m in found if m["id"] == message_id), key=lambda m: m["id"])
        assert first_of_session["sent_at"][:19] == first["start"][:19]
        hour = browser.get(f"/quality/jobs/{job_id}/sessions", params={"hour": first["start"][11:13]})
        assert first["session"] in hour.text and "<html" in hour.text  # without htmx: a whole page


def test_the_dashboard_escapes_text_and_shows_another_users_job_to_nobody(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    db = demo_archive(tmp_path)
    add_user(db, "lee", "lead")
    add_user(db, "kim", "lead")
    with TestClient(app_for(db)) as browser:
        csrf = login(browser, "lee")
        started = browser.post("/quality", data={"csrf_token": csrf, "team": "<script>alert(1)</script>"},
                               follow_redirects=False)
        job_id = int(started.headers["location"].split("job=")[1])
        _finished(browser, job_id)
        page = browser.get(f"/quality?job={job_id}")
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        refused = browser.post("/quality", data={"team": "x"}, follow_redirects=False)
        assert refused.status_code == 403  # no CSRF token
    with TestClient(app_for(db)) as other:
        login(other, "kim")
        assert other.get(f"/quality?job={job_id}").status_code == 404


def test_the_report_reports_progress_per_batch_of_texts_and_stops_when_told(db: Path) -> None:
    """A job's cancel is an exception raised from its progress call: the report stops in its text pass."""
    from chataudit.quality import build as quality_build
    from chataudit.store import Archive
    from chataudit.web.jobs import JobCancelled

    seen: list[tuple[int, str]] = []

    def progress(count: int, note: str) -> None:
        seen.append((count, note))
        if note == "texts":
            raise JobCancelled("job 1 was cancelled")

    with Archive(db) as archive:
        with pytest.raises(JobCancelled):
            quality_build.build(archive, on_step=progress)
    assert [note for _, note in seen] == ["files read", "timings", "texts"]
    assert seen[-1][0] > 0  # texts read in the first batch


def test_a_quality_job_cancelled_before_it_runs_stays_cancelled(db: Path) -> None:
    from chataudit.web.accounts import User
    from chataudit.web.api.quality import QualityRequest
    from fastapi.testclient import TestClient

    app = app_for(db)
    with TestClient(app, headers={"Authorization": "Bearer owner-token-for-tests-0123456789"}) as client:
        runner = app.state.jobs
        user = User(None, "owner", "admin", "owner")  # the owner, as the Bearer token logs in
        job_id = runner.create("quality-report", user)
        assert client.post(f"/api/v1/jobs/{job_id}/cancel").json()["cancel_requested"] is True
        runner.start(job_id, "quality-report", user, query=QualityRequest(), policy=None, paths={})
        assert _finished(client, job_id)["state"] == "cancelled"


def test_ratings_are_imported_only_by_a_role_that_may_import(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    db = demo_archive(tmp_path)
    add_user(db, "rita", "reviewer")
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("conversation,time,rating\n4,2026-03-16 09:40,5\n", encoding="utf-8")
    with TestClient(app_for(db)) as browser:
        csrf = login(browser, "rita")
        with open(ratings, "rb") as handle:
            refused = browser.post("/api/v1/quality", files={"ratings": ("ratings.csv", handle)},
                                   headers={"X-CSRF-Token": csrf})
        assert refused.status_code == 403
    expected = stable(cli_json(db, "quality", "--ratings", str(ratings)))
    client = owner_client(db)
    with open(ratings, "rb") as handle:
        answer = client.post("/api/v1/quality", files={"ratings": ("ratings.csv", handle)})
    assert answer.status_code == 200, answer.text
    assert stable(answer.json()) == expected  # re-imported ratings add nothing: the same report


def test_a_reviewers_dashboard_report_is_de_identified_whatever_the_form_says(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    db = demo_archive(tmp_path)
    add_user(db, "rita", "reviewer")
    with TestClient(app_for(db)) as browser:
        csrf = login(browser, "rita")
        started = browser.post("/quality", data={"csrf_token": csrf}, follow_redirects=False)  # no redact asked
        job_id = int(started.headers["location"].split("job=")[1])
        job = _finished(browser, job_id)
        assert stable(job["result"]) == stable(cli_json(db, "quality", "--redact"))
        page = browser.get(f"/quality?job={job_id}")
        customers = {row["customer"] for row in cli_json(db, "quality")["session_rows"] if row["customer"]}
        assert customers and not any(c in page.text for c in customers)
        drilled = browser.get(f"/quality/jobs/{job_id}/sessions", params={"sort": "score"})
        assert "redact=true" in drilled.text and not any(c in drilled.text for c in customers)


def test_the_openapi_schema_lists_the_quality_endpoints(db: Path) -> None:
    paths = owner_client(db).get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/quality", "/api/v1/quality/jobs", "/api/v1/quality/files"} <= set(paths)
    names = {p["name"] for p in paths["/api/v1/quality"]["get"]["parameters"]}
    assert {"since", "until", "compare_to", "platform", "conversation", "agent", "team", "tz", "session_gap", "sla",
            "new_days", "hours", "top", "no_nlp", "redact", "roster", "scripts", "taxonomy", "lexicon",
            "scorecard"} <= names


def test_a_quality_jobs_page_links_to_its_dashboard_instead_of_printing_the_report(db: Path) -> None:
    client = owner_client(db)
    job_id = client.post("/api/v1/quality/jobs").json()["id"]
    assert _finished(client, job_id)["state"] == "done"
    page = client.get(f"/jobs/{job_id}")
    assert f'href="/quality?job={job_id}"' in page.text and "session_rows" not in page.text
