"""Evidence over HTTP: `evidence export` as a job whose signed package is downloaded (only from the
job's own folder) and verifies as the CLI's; `evidence verify` of an upload gives the CLI's report."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from web_support import TOKEN, add_user, app_for, cli_json, demo_archive, login, run_cli, wait_for_job

STANDALONE = Path(__file__).parent.parent / "chataudit" / "evidence" / "standalone_verify.py"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict, bytes, TestClient]:
    """One package built through the API (module-wide: building takes a moment)."""
    db = demo_archive(tmp_path_factory.mktemp("evidence"))
    client = TestClient(app_for(db), headers={"Authorization": f"Bearer {TOKEN}"})
    conversation = cli_json(db, "conversations")[0]["id"]
    response = client.post("/api/v1/evidence/export", data={"conversation": str(conversation),
                                                             "withhold": ["sender_name:all"], "pdf": "false"},
                           files={"attach": ("agreement.txt", b"signed agreement scan\n")})
    assert response.status_code == 202 and response.headers["location"].startswith("/api/v1/jobs/")
    job = wait(client, response.json()["id"])
    assert job["state"] == "done", job
    package = client.get(job["result"]["download"])
    assert package.status_code == 200 and package.headers["content-type"] == "application/zip"
    return db, job, package.content, client


def wait(client: TestClient, job_id: int, timeout: float = 30.0) -> dict:
    return wait_for_job(client, job_id, timeout)


def test_the_job_result_is_the_clis_json_and_the_package_verifies(built, tmp_path: Path) -> None:
    db, job, data, _ = built
    conversation = str(cli_json(db, "conversations")[0]["id"])
    cli = cli_json(db, "evidence", "export", "--conversation", conversation, "--withhold", "sender_name:all",
                   "--attach", str(write(tmp_path / "agreement.txt", b"signed agreement scan\n")), "--no-pdf",
                   "--out", str(tmp_path / "cli.zip"))
    result = job["result"]
    assert set(cli) <= set(result) and set(result) - set(cli) == {"download", "sha256"}
    assert {k: v for k, v in result.items() if k in cli and k != "path"} == {k: v for k, v in cli.items() if k != "path"}
    assert result["manifest_signed"] is True and result["documents"] == 1
    package = write(tmp_path / result["path"], data)
    report = cli_json(db, "evidence", "verify", str(package))
    assert report["ok"] is True and report["messages"] == result["messages"]
    assert report["withheld"]["fields"] == result["withheld"]["fields"] and "sender_name" in report["withheld"]["fields"]
    with zipfile.ZipFile(package) as z:
        assert "manifest.sig" in z.namelist() and "documents/agreement.txt" in z.namelist()
    standalone = subprocess.run([sys.executable, str(STANDALONE), str(package)], capture_output=True, text=True,
                                timeout=60)
    assert standalone.returncode == 0 and "OK" in standalone.stdout.splitlines()[-1], standalone.stdout
    audit = [e for e in cli_json(db, "audit") if e["command"] == "evidence export" and e["outcome"] == "ok"]
    assert audit == [] or audit[-1]["output_sha256"] == result["sha256"]  # audited only in enterprise mode


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_verify_upload_returns_the_clis_json(built, tmp_path: Path) -> None:
    db, job, data, client = built
    package = write(tmp_path / "p.zip", data)
    response = client.post("/api/v1/evidence/verify", files={"package": ("p.zip", data)})
    assert response.status_code == 200 and response.json() == cli_json(db, "evidence", "verify", str(package))
    key = run_cli(db, "key", "export").stdout.strip()
    trusted = client.post("/api/v1/evidence/verify", files={"package": ("p.zip", data)}, data={"pubkey": key})
    assert trusted.json() == cli_json(db, "evidence", "verify", str(package), "--pubkey", key)
    assert trusted.json()["signer_authenticated"] is True and response.json()["signer_authenticated"] is False
    forged = client.post("/api/v1/evidence/verify", files={"package": ("p.zip", rewritten(data))}).json()
    assert forged["ok"] is False and forged == cli_json_failing(db, write(tmp_path / "f.zip", rewritten(data)))


def rewritten(data: bytes) -> bytes:
    """The package with its attached document forged."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as out:
        for info in source.infolist():
            body = source.read(info)
            out.writestr(info, b"forged agreement scan\n" if info.filename == "documents/agreement.txt" else body)
    return buffer.getvalue()


def cli_json_failing(db: Path, package: Path) -> dict:
    import json

    result = run_cli(db, "evidence", "verify", str(package), "--json", ok=False)
    assert result.exit_code == 1
    return json.loads(result.stdout)


def test_a_pubkey_naming_a_server_file_is_not_read(built, tmp_path: Path) -> None:
    db, job, data, client = built
    key_file = write(tmp_path / "key.txt", run_cli(db, "key", "export").stdout.encode())
    response = client.post("/api/v1/evidence/verify", files={"package": ("p.zip", data)},
                           data={"pubkey": str(key_file)})
    assert response.status_code == 400 and "not a note verifier key" in response.json()["detail"]


def zip_with(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("upload", [zip_with("../../escaped.txt", b"x"), zip_with("/etc/evil", b"x"),
                                    zip_with("messages.jsonl", b"\0" * (8 << 20)),
                                    b"not a zip at all"])
def test_hostile_packages_are_refused_and_nothing_escapes(built, upload: bytes) -> None:
    db, job, data, client = built
    report = client.post("/api/v1/evidence/verify", files={"package": ("../../up.zip", upload)}).json()
    assert report["ok"] is False and [p["kind"] for p in report["problems"]] == ["unsafe_package"], report
    assert not (db.parent / "escaped.txt").exists() and not (db.parent.parent / "escaped.txt").exists()
    assert not list((db.parent / "jobs").glob("verify-*"))  # the upload is not kept


@pytest.mark.parametrize("name", ["..%2Fweb.db", "..%2F..%2Fweb.db", "%2Fetc%2Fpasswd", "%2E%2E", "%2E%2E%2Fweb.db", "sub%2Fx.zip",
                                  "..%5C..%5Cweb.db", "missing.zip"])
def test_downloads_cannot_escape_the_jobs_folder(built, name: str) -> None:
    db, job, data, client = built
    (db.parent / "jobs" / "downloads" / "secret.zip").write_bytes(b"not this job's")
    response = client.get(f"/api/v1/jobs/{job['id']}/download/{name}")
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    other = client.get(f"/api/v1/jobs/{job['id']}/download/..%2Fsecret.zip")
    assert other.status_code == 404


def test_role_limits_and_csrf(built) -> None:
    db, job, data, _ = built
    add_user(db, "agent-wu", "agent")
    add_user(db, "auditor-qian", "auditor")
    add_user(db, "lead-lee", "lead")
    agent = TestClient(app_for(db))
    login(agent, "agent-wu")
    assert agent.post("/api/v1/evidence/export", data={"conversation": "1"}).status_code == 403
    auditor = TestClient(app_for(db))
    csrf = login(auditor, "auditor-qian")
    assert auditor.post("/api/v1/evidence/verify", files={"package": ("p.zip", data)},
                        headers={"X-CSRF-Token": csrf}).json()["ok"] is True
    assert auditor.get(job["result"]["download"]).status_code in (403, 404)  # not the auditor's job
    lead = TestClient(app_for(db))
    csrf = login(lead, "lead-lee")
    refused = lead.post("/api/v1/evidence/export", data={"conversation": "1"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    refused = lead.post("/api/v1/evidence/verify", files={"package": ("p.zip", data)})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    started = lead.post("/api/v1/evidence/export", data={"conversation": "1", "since": "2099-01-01"},
                        headers={"X-CSRF-Token": csrf})
    assert started.status_code == 202
    failed = wait(lead, started.json()["id"])
    assert failed["state"] == "failed" and "has no messages in that period" in failed["error"]


def test_every_evidence_and_governance_endpoint_has_a_curl_line_in_the_readme() -> None:
    import re as _re

    from chataudit.web.api import evidence, governance

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    curls = "\n".join(line for line in readme.splitlines() if "http://127.0.0.1:8787/api/v1" in line)
    for route in [*evidence.router.routes, *governance.router.routes]:
        pattern = _re.sub(r"\\\{[^}]+\\\}", r"[^/ ?']+", _re.escape(route.path))
        assert _re.search(r"/api/v1" + pattern + r"(?=[\s?']|$)", curls), route.path


def test_progress_is_reported_and_a_cancel_writes_nothing(built, tmp_path: Path) -> None:
    from chataudit.evidence.package import export_package
    from chataudit.store import Archive
    from chataudit.web.jobs import JobCancelled

    db, job, data, client = built
    assert job["progress"] == job["result"]["messages"] and job["note"] == "package written"
    seen: list[tuple[int, str]] = []

    def cancel_at_rendering(count: int, phase: str) -> None:
        seen.append((count, phase))
        if phase == "rendering":
            raise JobCancelled("job 1 was cancelled")

    with Archive(db, create=False) as archive, pytest.raises(JobCancelled):
        export_package(archive, tmp_path / "x.zip", conversation="1", pdf=False, on_progress=cancel_at_rendering)
    assert seen[-2][1] == "proofs" and seen[-1][1] == "rendering" and not (tmp_path / "x.zip").exists()


def test_a_mistyped_withhold_is_refused_at_once_in_the_clis_words(built, tmp_path: Path) -> None:
    db, job, data, client = built
    response = client.post("/api/v1/evidence/export", data={"conversation": "1", "withhold": "nope:1"})
    cli = run_cli(db, "evidence", "export", "--conversation", "1", "--withhold", "nope:1", "--out",
                  str(tmp_path / "x.zip"), ok=False)
    assert response.status_code == 400 and f"Error: {response.json()['detail']}" in cli.output
    assert not [j for j in client.get("/api/v1/jobs").json() if j["state"] == "failed" and "nope" in (j["error"] or "")]
