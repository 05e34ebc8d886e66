"""`serve --workers 2`: two real server processes over one archive share what must be shared — the
login rate limit, a job's cancel and its live progress — and a starting worker fails only the jobs
of a process that is gone, never a running sibling's."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from chataudit.web.jobs import process_token
from web_support import TOKEN, dead_pid, demo_archive, serving_workers

NOW = "2026-01-01T00:00:00+00:00"


def fresh(base: str, **settings) -> httpx.Client:
    """A client that opens a new connection per request, so requests spread over the workers."""
    return httpx.Client(base_url=base, limits=httpx.Limits(max_keepalive_connections=0), timeout=10, **settings)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict[str, int]]]:
    db = demo_archive(tmp_path_factory.mktemp("workers"))
    with sqlite3.connect(db) as connection:  # a job of a stopped server, and one of a live process
        insert = ("INSERT INTO web_jobs (kind, operator, state, created_at, updated_at, owner_pid, owner_token)"
                  " VALUES ('import', 'owner', 'running', ?, ?, ?, ?)")
        stale = connection.execute(insert, (NOW, NOW, dead_pid(), None)).lastrowid
        sibling = connection.execute(insert, (NOW, NOW, os.getpid(), process_token(os.getpid()))).lastrowid
    with serving_workers(db) as base:
        yield base, db, {"stale": stale, "sibling": sibling}


def test_a_failed_login_counts_in_every_worker(server: tuple[str, Path, dict[str, int]]) -> None:
    base, _, _ = server
    with fresh(base) as client:
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        statuses = [client.post("/login", data={"name": "nobody", "password": "wrong", "csrf_token": csrf}).status_code
                    for _ in range(12)]
    # 5 tries (the default), then refused: with a count per worker, 2 workers would allow up to 10
    assert statuses == [401] * 5 + [429] * 7


def test_a_job_started_on_one_worker_is_seen_and_cancelled_from_any(server: tuple[str, Path, dict[str, int]]) -> None:
    base, db, _ = server
    rows = "".join(f"2026-03-12 08:{n // 60 % 60:02d}:{n % 60:02d},generic,c{n % 50},t,u{n % 7},U,text,hello {n},,\n"
                   for n in range(200_000))
    big = ("sent_at,platform,conversation_id,conversation_title,sender_id,sender_name,kind,text,amount,currency\n"
           + rows).encode()
    with fresh(base, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        job_id = client.post("/api/v1/import", files={"files": ("big.csv", big)}).json()["id"]
        deadline = time.monotonic() + 60
        while client.get(f"/api/v1/jobs/{job_id}").json()["progress"] == 0:
            assert time.monotonic() < deadline, "the job made no progress"
            time.sleep(0.05)
        seen = [client.get(f"/api/v1/jobs/{job_id}").json() for _ in range(6)]  # spread over both workers
        assert all(job["state"] == "running" and job["progress"] > 0 for job in seen), seen
        assert client.post(f"/api/v1/jobs/{job_id}/cancel").json()["cancel_requested"] is True
        while (job := client.get(f"/api/v1/jobs/{job_id}").json())["state"] == "running":
            assert time.monotonic() < deadline, "the cancel was not heard"
            time.sleep(0.05)
        assert job["state"] == "cancelled", job
        assert all(client.get(f"/api/v1/jobs/{job_id}").json()["state"] == "cancelled" for _ in range(4))
    with sqlite3.connect(db) as connection:  # the cancelled file's messages were rolled back
        assert connection.execute("SELECT COUNT(*) FROM messages WHERE text LIKE 'hello %'").fetchone()[0] == 0


def test_only_jobs_of_a_gone_process_are_failed_at_start(server: tuple[str, Path, dict[str, int]]) -> None:
    _, db, ids = server
    with sqlite3.connect(db) as connection:
        state = dict(connection.execute("SELECT id, state || ':' || COALESCE(error, '') FROM web_jobs"
                                        " WHERE id IN (?, ?)", (ids["stale"], ids["sibling"])))
    assert state[ids["stale"]] == "failed:the server stopped while it ran"
    assert state[ids["sibling"]] == "running:"  # a live process's job (as a sibling worker's) is left alone


def test_small_answers_are_not_held_back_by_a_delayed_ack(server: tuple[str, Path, dict[str, int]]) -> None:
    """The workers' socket is bound here with IPPROTO_TCP, so asyncio sets TCP_NODELAY: on uvicorn's
    own socket every small answer (headers and body sent apart) waited ≈ 40 ms for the client's ACK."""
    base, _, _ = server
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client:
        client.get("/api/v1/search", params={"q": "退货"})  # the connection opened, the worker warm
        times = []
        for _ in range(15):
            started = time.perf_counter()
            assert client.get("/api/v1/search", params={"q": "退货", "limit": 5}).status_code == 200
            times.append(time.perf_counter() - started)
    assert sorted(times)[len(times) // 2] < 0.03, times
