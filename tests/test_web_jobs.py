"""Background jobs: an uploaded import runs as a job with progress, survives a reload, can be
cancelled; hostile uploads (zip bombs, path traversal, odd names) are refused."""

from __future__ import annotations

import io
import sqlite3
import time
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chataudit.web import jobs
from chataudit.web.accounts import User
from web_support import SAMPLES, TOKEN, app_for, cli_json, dead_pid, demo_archive, run_cli, wait_for_job


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    db = tmp_path / "empty.db"
    run_cli(db, "init")
    return db


def client_for(db: Path) -> TestClient:
    return TestClient(app_for(db), headers={"Authorization": f"Bearer {TOKEN}"})


def wait(client: TestClient, job_id: int, timeout: float = 20.0) -> dict:
    return wait_for_job(client, job_id, timeout)


def samples_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(SAMPLES.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(SAMPLES).as_posix())
    return buffer.getvalue()


def test_an_uploaded_zip_is_imported_by_a_job_as_the_cli_imports_it(empty: Path, tmp_path: Path) -> None:
    client = client_for(empty)
    response = client.post("/api/v1/import", files={"files": ("samples.zip", samples_zip(), "application/zip")},
                           data={"tz": "Asia/Shanghai", "label": "demo"})
    assert response.status_code == 202 and response.headers["location"] == f"/api/v1/jobs/{response.json()['id']}"
    job = wait(client, response.json()["id"])
    assert job["state"] == "done" and job["error"] is None, job
    by_cli = demo_archive(tmp_path)
    expected = run_cli(by_cli, "sources", "--json")
    result = job["result"]
    assert set(result) == set(cli_json(tmp_path / "again.db", "import", str(SAMPLES), "--tz", "Asia/Shanghai"))
    assert result["messages"] == sum(s["message_count"] for s in cli_json(by_cli, "sources")) and result["new"] > 0
    assert job["progress"] == result["messages"]
    assert client.get("/api/v1/conversations").json() == cli_json(by_cli, "conversations")
    assert expected.exit_code == 0
    # a new server over the same archive (a page reload after a restart) still shows the job
    assert client_for(empty).get(f"/api/v1/jobs/{job['id']}").json()["result"] == result
    assert not any((empty.parent / "jobs").iterdir())  # the upload is not kept


def zip_with(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("upload, says", [
    (zip_with("../../escaped.txt", b"[12/03/2026, 09:15:00] Alice: hi\n"), "path traversal refused"),
    (zip_with("chat.txt", b"\0" * (8 << 20)), "zip bomb?"),
])
def test_hostile_zips_are_refused_and_nothing_escapes(empty: Path, upload: bytes, says: str) -> None:
    client = client_for(empty)
    job = wait(client, client.post("/api/v1/import", files={"files": ("../../up.zip", upload)}).json()["id"])
    assert job["state"] == "failed" and says in job["error"], job
    assert job["result"]["failed"][0]["path"] == "up.zip"  # the upload's bare name, as `import --json` names it
    assert not (empty.parent / "escaped.txt").exists() and not (empty.parent.parent / "escaped.txt").exists()
    assert not (empty.parent / "up.zip").exists()
    assert client.get("/api/v1/conversations").json() == []


def test_upload_names_and_sizes_are_checked(empty: Path) -> None:
    client = client_for(empty)
    for name in (".hidden", "..", ""):
        response = client.post("/api/v1/import", files={"files": (name, b"x")})
        assert response.status_code in (400, 422), name
    small = TestClient(app_for(empty, max_upload_bytes=10), headers={"Authorization": f"Bearer {TOKEN}"})
    too_big = small.post("/api/v1/import", files={"files": ("a.txt", b"x" * 11)})
    assert too_big.status_code == 400 and "larger than 10 bytes" in too_big.json()["detail"]


@jobs.job_kind("test-wait")
def _wait_until_cancelled(job: jobs.Job) -> dict:
    for step in range(500):  # at most ~5 s
        job.progress(step, "waiting")
        time.sleep(0.01)
    return {"finished": True}


def test_a_running_job_is_cancelled_and_a_job_of_a_stopped_server_is_failed(empty: Path) -> None:
    client = client_for(empty)
    runner = client.app.state.jobs
    owner = User(None, "owner", "admin", "owner")  # the Bearer token's user
    job_id = runner.submit("test-wait", owner)
    deadline = time.monotonic() + 5
    while client.get(f"/api/v1/jobs/{job_id}").json()["progress"] < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    running = client.get(f"/api/v1/jobs/{job_id}").json()
    assert running["state"] == "running" and running["note"] == "waiting"
    assert client.post(f"/api/v1/jobs/{job_id}/cancel").json()["cancel_requested"] is True
    assert wait(client, job_id)["state"] == "cancelled"
    # a job left running by a server that stopped (its process is gone) is failed when the next one starts
    stuck = runner.create("test-wait", owner)
    with sqlite3.connect(empty) as db:
        db.execute("UPDATE web_jobs SET state = 'running', owner_pid = ? WHERE id = ?", (dead_pid(), stuck))
    assert client_for(empty).get(f"/api/v1/jobs/{stuck}").json()["error"] == "the server stopped while it ran"


def test_the_import_page_uploads_and_its_job_page_polls(empty: Path) -> None:
    import re

    browser = TestClient(app_for(empty))
    browser.get(f"/?token={TOKEN}")
    page = browser.get("/import")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    done = browser.post("/import", files={"files": ("samples.zip", samples_zip())},
                        data={"csrf_token": csrf, "tz": "Asia/Shanghai"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/jobs/")
    job_id = int(done.headers["location"].rsplit("/", 1)[1])
    assert wait(browser, job_id)["state"] == "done"
    status = browser.get(f"/jobs/{job_id}/status").text
    assert 'data-state="done"' in status and "hx-trigger" not in status  # finished: polling stops
    assert "<td>samples.zip!service_chat.csv</td><td>generic</td>" in status  # the per-file summary
    assert browser.post("/import", files={"files": ("a.txt", b"x")}, data={"csrf_token": "forged"}).status_code == 403


def test_job_progress_streams_as_server_sent_events_until_it_finishes(empty: Path) -> None:
    import json

    client = client_for(empty)
    job_id = client.post("/api/v1/import", files={"files": ("samples.zip", samples_zip())}).json()["id"]
    with client.stream("GET", f"/api/v1/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[len("data: "):]) for line in stream.iter_lines() if line.startswith("data: ")]
    assert events[-1]["state"] == "done" and events[-1]["result"]["new"] > 0
    assert all(e["id"] == job_id for e in events)
    assert client.get("/api/v1/jobs/999/events").status_code == 404
