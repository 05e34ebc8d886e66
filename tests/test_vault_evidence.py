"""An encrypted archive's evidence package is sealed under its key unless asked readable (a court's),
and that choice is in the package's custody log and the archive's audit trail."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.vault import keys

from test_vault import CONVERSATION_ID, PLANTED, export_file


@pytest.fixture(autouse=True)
def no_key_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (keys.PASSPHRASE_ENV, keys.KEY_FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    keys.use(None)
    yield
    keys.use(None)


def run(db: Path, key_file: Path | None, *args: str, ok: bool = True):  # type: ignore[no-untyped-def]
    prefix = ["--db", str(db)] + (["--db-key-file", str(key_file)] if key_file else [])
    result = CliRunner().invoke(cli, [*prefix, *args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_an_encrypted_archives_package_is_sealed_unless_readable_is_asked_and_recorded(tmp_path: Path) -> None:
    key_file = tmp_path / "k.hex"
    keys.new_key_file(key_file)
    db = tmp_path / "archive.db"
    run(db, key_file, "init", "--encrypt")
    run(db, key_file, "import", str(export_file(tmp_path)), "--tz", "Asia/Shanghai")
    export = ["evidence", "export", "--conversation", CONVERSATION_ID, "--no-pdf"]
    result = json.loads(run(db, key_file, *export, "--out", str(tmp_path / "case.zip"), "--json").stdout)
    sealed = tmp_path / "case.zip.sealed"
    assert result["sealed"] and result["path"] == str(sealed) and not (tmp_path / "case.zip").exists()
    data = sealed.read_bytes()
    assert not zipfile.is_zipfile(sealed) and not any(needle.encode() in data for needle in PLANTED)
    assert not list(tmp_path.glob("case.zip*.part"))
    # the archive's key opens it (without the archive), and what comes out is the signed package
    wrong = tmp_path / "wrong.hex"
    keys.new_key_file(wrong)
    refused = run(tmp_path / "none.db", wrong, "evidence", "unseal", str(sealed), "--out", str(tmp_path / "x.zip"),
                  ok=False)
    assert refused.exit_code != 0 and "wrong key" in refused.output and not (tmp_path / "x.zip").exists()
    opened = tmp_path / "opened.zip"
    run(tmp_path / "none.db", key_file, "evidence", "unseal", str(sealed), "--out", str(opened))
    with zipfile.ZipFile(opened) as package:
        custody = json.loads(package.read("custody.json"))
    assert custody["confidentiality"] == {"archive_encrypted": True, "package": "sealed", "readable_requested": False}
    assert json.loads(run(db, None, "evidence", "verify", str(opened), "--json", "--allow-unsigned").stdout)["ok"]
    # for a court: readable, and the choice is on record twice
    court = tmp_path / "court.zip"
    result = json.loads(run(db, key_file, *export, "--readable", "--out", str(court), "--json").stdout)
    assert not result["sealed"] and zipfile.is_zipfile(court)
    with zipfile.ZipFile(court) as package:
        custody = json.loads(package.read("custody.json"))
    assert custody["confidentiality"] == {"archive_encrypted": True, "package": "readable", "readable_requested": True}
    entries = json.loads(run(db, key_file, "audit", "--json").stdout)
    readable = [e for e in entries if e["command"] == "evidence export"]
    assert readable and readable[-1]["facts"]["package"] == "readable"


def test_a_plain_archives_package_stays_a_zip(tmp_path: Path) -> None:
    db = tmp_path / "plain.db"
    run(db, None, "import", str(export_file(tmp_path)), "--tz", "Asia/Shanghai")
    out = tmp_path / "p.zip"
    result = json.loads(run(db, None, "evidence", "export", "--conversation", CONVERSATION_ID, "--no-pdf",
                            "--out", str(out), "--json").stdout)
    assert not result["sealed"] and zipfile.is_zipfile(out)
    with zipfile.ZipFile(out) as package:
        assert json.loads(package.read("custody.json"))["confidentiality"]["package"] == "readable"


def test_the_web_export_of_an_encrypted_archive_downloads_a_sealed_package(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient
    from web_support import TOKEN, app_for, wait_for_job

    key_file = tmp_path / "k.hex"
    keys.new_key_file(key_file)
    db = tmp_path / "archive.db"
    run(db, key_file, "init", "--encrypt")
    run(db, key_file, "import", str(export_file(tmp_path)), "--tz", "Asia/Shanghai")
    monkeypatch.setenv(keys.KEY_FILE_ENV, str(key_file))
    keys.use(None)
    client = TestClient(app_for(db), headers={"Authorization": f"Bearer {TOKEN}"})
    started = client.post("/api/v1/evidence/export", data={"conversation": "1", "pdf": "false"})
    assert started.status_code == 202, started.text
    job = wait_for_job(client, started.json()["id"], 60.0)
    assert job["state"] == "done", job
    assert job["result"]["sealed"] and job["result"]["path"].endswith(".zip.sealed")
    download = client.get(job["result"]["download"])
    assert download.status_code == 200 and download.headers["content-type"] == "application/octet-stream"
    assert not any(needle.encode() in download.content for needle in PLANTED)
    sealed = tmp_path / "web.zip.sealed"
    sealed.write_bytes(download.content)
    run(tmp_path / "none.db", key_file, "evidence", "unseal", str(sealed), "--out", str(tmp_path / "web.zip"))
    assert zipfile.is_zipfile(tmp_path / "web.zip")
