"""Backups to an S3-compatible bucket: moto's S3 server on loopback (a real HTTP server, boto3 talks
to it as to any S3-compatible store), end to end: backup, list, verify, restore, a cut object."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from moto import server as moto_server

from chataudit.backup.dest import S3_ENDPOINT_ENV
from chataudit.cli import cli
from chataudit.vault import keys

from test_vault import PLANTED, export_file


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), (S3_ENDPOINT_ENV, endpoint)):
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", keys.PASSPHRASE_ENV, keys.KEY_FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket="archive-backups")
    keys.use(None)
    try:
        yield client
    finally:
        server.stop()
        keys.use(None)


def run(db: Path, key_file: Path, *args: str, ok: bool = True):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["--db", str(db), "--db-key-file", str(key_file), *args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_backup_to_an_s3_bucket_lists_verifies_and_restores(bucket, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "k.hex"
    keys.new_key_file(key_file)
    db = tmp_path / "archive.db"
    run(db, key_file, "init", "--encrypt")
    run(db, key_file, "import", str(export_file(tmp_path)), "--tz", "Asia/Shanghai")
    dest = "s3://archive-backups/monthly"
    made = json.loads(run(db, key_file, "backup", "--to", dest, "--keep", "1", "--json").stdout)
    run(db, key_file, "backup", "--to", dest, "--keep", "1")
    objects = sorted(item["Key"] for item in bucket.list_objects_v2(Bucket="archive-backups")["Contents"])
    assert len(objects) == 2 and all(key.startswith("monthly/chataudit-") for key in objects)
    assert made["name"] not in " ".join(objects)  # rotated away
    body = bucket.get_object(Bucket="archive-backups", Key=next(k for k in objects if k.endswith(".cabackup")))
    data = body["Body"].read()
    assert not any(needle.encode() in data for needle in PLANTED)
    [listed] = json.loads(run(db, key_file, "backup", "list", dest, "--json").stdout)
    assert listed["status"] == "complete"
    [checked] = json.loads(run(db, key_file, "backup", "verify", dest, "--json").stdout)
    assert checked["ok"]
    into = tmp_path / "restored.db"
    restored = json.loads(run(db, key_file, "backup", "restore", dest, listed["name"], "--into", str(into),
                              "--json").stdout)
    assert restored["ok"] and restored["checkpoint"]["root"] == listed["root"]
    # an object cut short in the bucket: refused
    key = next(k for k in objects if k.endswith(".cabackup"))
    bucket.put_object(Bucket="archive-backups", Key=key, Body=data[:-64])
    result = run(db, key_file, "backup", "verify", dest, "--json", ok=False)
    assert result.exit_code == 1 and json.loads(result.stdout)[0]["reason"] == "damaged"
