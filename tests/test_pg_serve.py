"""Issue 15: `serve --workers 2` over a PostgreSQL archive (--db postgresql://…): both worker processes
answer the API, readers are not blocked while a writer holds the archive's write lock (as an import
does for its whole transaction), and an import job run by the server lands in the archive."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from typing import Iterator

import httpx
import pytest

from chataudit.store.pgsql import PgConnection
from web_support import TOKEN, demo_archive, run_cli, serving_workers


@pytest.fixture(scope="module")
def server(pg_cluster, tmp_path_factory) -> Iterator[tuple[str, str]]:
    keys = tmp_path_factory.getbasetemp() / "keys"
    with pytest.MonkeyPatch.context() as monkeypatch:  # the signing key where the tests' environment has it
        monkeypatch.setenv("CHATAUDIT_KEYS", str(keys))
        db = demo_archive(tmp_path_factory.mktemp("pgserve"), pg_cluster.create_database("serve_workers"))
    environment = {**__import__("os").environ, "CHATAUDIT_KEYS": str(keys),
                   "XDG_DATA_HOME": str(tmp_path_factory.mktemp("data"))}  # the job uploads' folder
    with serving_workers(db, env=environment) as base:
        yield base, db


def client(base: str) -> httpx.Client:
    """The owner's API client, a new connection per request (so requests spread over both workers)."""
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10,
                        limits=httpx.Limits(max_keepalive_connections=0))


def test_serve_names_the_database_without_its_password(pg_cluster) -> None:
    """`serve` prints where it serves from; a password in the connection string is not printed."""
    url = pg_cluster.create_database("serve_shown").replace("chataudit@", "chataudit:s3cret-pw@")
    run_cli(url, "init")
    with socket.socket() as taken:  # a port in use: serve prints its lines, then cannot listen and stops
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = subprocess.run(
            [sys.executable, "-c", "from chataudit.cli import cli; cli()", "--db", url, "serve", "--port",
             str(taken.getsockname()[1]), "--no-open"], capture_output=True, text=True, timeout=60)
    assert f"chataudit serving {url.replace(':s3cret-pw', '')} at" in process.stderr
    assert "s3cret-pw" not in process.stdout + process.stderr


def test_the_workers_answer_what_the_cli_prints(server: tuple[str, str]) -> None:
    base, db = server
    expected = json.loads(run_cli(db, "search", "退货", "--json").stdout)
    with client(base) as api:
        answers = [api.get("/api/v1/search", params={"q": "退货"}) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 6
    assert all(a.json() == expected for a in answers) and expected


def test_readers_are_not_blocked_while_a_writer_holds_the_write_lock(server: tuple[str, str]) -> None:
    base, db = server
    writer = PgConnection(db)
    try:
        writer.execute("BEGIN IMMEDIATE")  # the archive's write lock, as an import holds it
        writer.execute("UPDATE settings SET value = value WHERE key = 'nothing'")
        with client(base) as api:
            started = time.monotonic()
            for path in ("/api/v1/conversations", "/api/v1/search?q=退货", "/api/v1/sources", "/api/v1/checkpoint"):
                assert api.get(path).status_code == 200, path
            assert time.monotonic() - started < 5  # answered while the lock is held, not after it
    finally:
        writer.rollback()
        writer.close()


def test_an_import_job_lands_in_the_archive(server: tuple[str, str]) -> None:
    base, db = server
    chat = "[12/03/2026, 09:15:00] Alice: 我要退货 pgserve\n".encode()
    with client(base) as api:
        job_id = api.post("/api/v1/import", files={"files": ("chat.txt", chat)}).json()["id"]
        deadline = time.monotonic() + 60
        while (job := api.get(f"/api/v1/jobs/{job_id}").json())["state"] not in ("done", "failed", "cancelled"):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        assert job["state"] == "done", job
        hits = api.get("/api/v1/search", params={"q": "pgserve"}).json()
    assert [h["text"] for h in hits] == ["我要退货 pgserve"]
    assert re.search(r"\bok\b", run_cli(db, "verify").output.lower())


def test_a_server_thread_keeps_its_connection_to_a_postgresql_archive(pg_cluster, tmp_path) -> None:
    """The kept connection is handed to the thread's next request (there is no file to be replaced);
    the server's own files go under $XDG_DATA_HOME, named after the database."""
    from chataudit.store.postgres import key_name
    from chataudit.web.config import ServerConfig

    url = pg_cluster.create_database("serve_kept")
    config = ServerConfig(db=url, token=TOKEN, owner="owner")
    with config.open_archive() as first:
        with config.open_archive() as nested:
            assert nested is not first
    with config.open_archive() as again:
        assert again is first
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
        assert config.uploads == tmp_path / "chataudit" / (key_name(url) + ".jobs")
    first.db.close()
