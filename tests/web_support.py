"""Shared setup of the web tests: a small archive made from samples/, an app over it, logged-in clients."""

from __future__ import annotations

import json
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from click.testing import CliRunner
from fastapi.testclient import TestClient

from chataudit.cli import cli
from chataudit.store import is_postgres
from chataudit.web.app import create_app
from chataudit.web.config import ServerConfig

SAMPLES = Path(__file__).parent.parent / "samples"
TOKEN = "owner-token-for-tests-0123456789"
PASSWORD = "correct horse battery"


def run_cli(db: Path, *args: str, input: str | None = None, ok: bool = True, operator: str = "owner"):
    result = CliRunner().invoke(cli, ["--db", str(db), "--operator", operator, *args], input=input,
                                catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def cli_json(db: Path, *args: str, operator: str = "owner"):
    return json.loads(run_cli(db, *args, "--json", operator=operator).stdout)


def demo_archive(folder: Path, db: Path | str | None = None) -> Path:
    """The samples imported into ``db`` (an archive file, or a postgresql:// URL), else folder/web.db."""
    db = db if db is not None else folder / "web.db"
    run_cli(db, "import", str(SAMPLES), "--tz", "Asia/Shanghai", "--label", "demo")
    return db


def app_for(db: Path, **settings):
    if "jobs_dir" not in settings:  # beside an archive file; for a PostgreSQL archive a temporary folder
        settings["jobs_dir"] = (Path(tempfile.mkdtemp(prefix="chataudit-jobs-")) if is_postgres(db)
                                else db.parent / "jobs")
    return create_app(ServerConfig(db=db, token=TOKEN, owner="owner", **settings))


def owner_client(db: Path, **settings) -> TestClient:
    """A client with the owner's Bearer token (scripts' way in)."""
    return TestClient(app_for(db, **settings), headers={"Authorization": f"Bearer {TOKEN}"})


def add_user(db: Path, name: str, role: str) -> None:
    run_cli(db, "user", "add", name, "--role", role, input=f"{PASSWORD}\n{PASSWORD}\n")


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in through the form as a browser does; returns the session's CSRF token."""
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", data={"name": name, "password": password, "csrf_token": csrf, "next": "/search"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client)


def csrf_of(client: TestClient) -> str:
    return re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/conversations").text).group(1)


def dead_pid() -> int:
    """The pid of a process that has ended (a server that stopped)."""
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def wait_for_job(client: TestClient, job_id: int, timeout: float) -> dict:
    """Poll a job through the API until it is finished; fails the test after ``timeout`` seconds."""
    from chataudit.web import jobs

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] in jobs.FINISHED:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


GOVERNANCE_FIXTURES = Path(__file__).parent / "fixtures" / "governance"


def enterprise_archive(db: Path) -> Path:
    """Staff chats, the roster, and enterprise mode switched on (by `owner`, who is then its admin)."""
    run_cli(db, "import", str(GOVERNANCE_FIXTURES / "staff_chats.csv"), "--tz", "Asia/Shanghai")
    run_cli(db, "roster", "set", str(GOVERNANCE_FIXTURES / "roster.csv"))
    run_cli(db, "init", "--mode", "enterprise")
    return db


# ---- the browser tests: one server helper, one axe check, one login ------------------------------------

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).parent / "artifacts"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(db: Path, **settings) -> Iterator[str]:
    """The web app over ``db`` on a free loopback port, in a thread; yields its base URL."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app_for(db, **settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


@contextmanager
def serving_workers(db: Path | str, workers: int = 2, env: dict[str, str] | None = None) -> Iterator[str]:
    """`chataudit serve --workers N` over ``db`` as a real process on a free loopback port; yields its
    base URL once /login answers, and stops it afterwards."""
    import subprocess
    import sys

    import httpx

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from chataudit.cli import cli; cli()", "--db", str(db), "--operator", "owner",
         "serve", "--port", str(port), "--workers", str(workers), "--no-open", "--token", TOKEN],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # the workers import the web app: slow on a loaded 2-core machine
        while True:
            try:
                if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def axe_violations(page) -> list[str]:
    """The serious and critical findings of axe-core (vendored, same origin: the CSP allows it)."""
    page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    found = page.evaluate("async () => (await axe.run(document)).violations"
                          ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))")
    return [f"{v['id']} ({v['impact']}): {v['nodes'][:3]}" for v in found if v["impact"] in ("serious", "critical")]


def log_in_browser(page, server: str, name: str, target: str) -> None:
    """Log in through the login form and land on ``target``."""
    page.goto(server + f"/login?next={target}")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server + target)
