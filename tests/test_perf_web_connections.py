"""The server keeps one archive connection per thread between requests (opening one costs about
as much as a search), and hands it out only clean."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from chataudit.web.config import ServerConfig
from web_support import TOKEN, demo_archive, owner_client


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_archive(tmp_path_factory.mktemp("pool"))


@pytest.fixture
def db(demo: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "web.db"
    shutil.copy(demo, copy)
    return copy


def config(db: Path) -> ServerConfig:
    return ServerConfig(db=db, token=TOKEN, owner="owner", jobs_dir=db.parent / "jobs")


def test_a_thread_reuses_its_connection_and_a_nested_open_gets_its_own(db: Path) -> None:
    server = config(db)
    with server.open_archive() as first:
        with server.open_archive() as nested:
            assert nested is not first
        connection = first.db
    with server.open_archive() as again:
        assert again is first and again.db is connection
        assert again.db.execute("SELECT count(*) FROM messages").fetchone()[0] > 0
    with pytest.raises(sqlite3.ProgrammingError):  # the nested one was closed
        nested.db.execute("SELECT 1")
    seen = []
    thread = threading.Thread(target=lambda: seen.append(server.open_archive().__enter__()))
    thread.start()
    thread.join()
    assert seen[0] is not first  # another thread, another connection


def test_hooks_run_after_each_request_and_do_not_stay(db: Path) -> None:
    server = config(db)
    calls = []
    with server.open_archive() as archive:
        archive.on_close.append(calls.append)
        archive.after_import.append(lambda *_: None)
    assert calls == [archive] and archive.on_close == [] and archive.after_import == []
    with server.open_archive() as again:
        assert again is archive
    assert calls == [archive]


def test_a_connection_left_in_a_transaction_is_rolled_back_and_not_handed_out(db: Path) -> None:
    server = config(db)
    with server.open_archive() as archive:
        archive.db.execute("BEGIN IMMEDIATE")
        archive.db.execute("INSERT INTO settings (key, value) VALUES ('perf.test', 'x')")
    with server.open_archive() as again:
        assert again is not archive and not again.db.in_transaction
        assert again.setting("perf.test") is None
        again.set_setting("perf.test", "y")  # the write lock is free
    with sqlite3.connect(db) as other:
        assert other.execute("SELECT value FROM settings WHERE key = 'perf.test'").fetchone() == ("y",)


def test_a_replaced_archive_file_is_opened_again(db: Path, demo: Path, tmp_path: Path) -> None:
    server = config(db)
    with server.open_archive() as archive:
        assert archive.setting("perf.which") is None
    replacement = tmp_path / "replacement.db"
    shutil.copy(demo, replacement)
    with sqlite3.connect(replacement) as other:
        other.execute("INSERT INTO settings (key, value) VALUES ('perf.which', 'new')")
    other.close()
    replacement.replace(db)
    with server.open_archive() as again:
        assert again is not archive and again.setting("perf.which") == "new"


def test_requests_answer_the_same_over_a_kept_connection(db: Path) -> None:
    client = owner_client(db)
    first = client.get("/api/v1/search", params={"q": "退货"})
    assert first.status_code == 200 and first.json()
    for _ in range(3):
        assert client.get("/api/v1/search", params={"q": "退货"}).json() == first.json()
    assert client.get("/api/v1/conversations").status_code == 200


def test_every_answer_carries_the_security_headers(db: Path) -> None:
    client = owner_client(db)
    for path in ("/api/v1/search?q=退货", "/search?q=退货", "/static/app.css", "/nowhere"):
        response = client.get(path)
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'"), path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY" and response.headers["Referrer-Policy"] == "no-referrer"
        assert (response.headers.get("Cache-Control") == "no-store") == (not path.startswith("/static/")), path
        assert "Strict-Transport-Security" not in response.headers
    tls = owner_client(db, tls=True)
    assert tls.get("/api/v1/conversations").headers["Strict-Transport-Security"] == "max-age=31536000"


def test_templates_read_dict_fields_as_jinja_does() -> None:
    from jinja2 import Environment

    from chataudit.web.pages import _Environment

    row = {"text": "<b>退货</b>", "items": "a key named like a method", "missing": None, "n": 0}
    source = ("{{ row.text }}|{{ row.items is callable }}|{{ row.missing is none }}|{{ row.absent is defined }}"
              "|{{ row.n }}|{{ row.get('text') }}|{{ row['items'] }}|{{ [1, 2].pop is callable }}")
    expected = Environment(autoescape=True).from_string(source).render(row=row)
    assert _Environment(autoescape=True).from_string(source).render(row=row) == expected
    assert expected.startswith("&lt;b&gt;退货&lt;/b&gt;|True|True|False|0|")


def test_the_server_serves_at_most_its_threads_at_once(db: Path) -> None:
    import anyio.to_thread

    from web_support import app_for

    seen = []
    app = app_for(db, threads=3)

    @app.get("/perf-limit")
    async def limit() -> dict:
        seen.append(anyio.to_thread.current_default_thread_limiter().total_tokens)
        return {}

    from fastapi.testclient import TestClient

    with TestClient(app) as client:  # startup runs
        client.get("/perf-limit")
    assert seen == [3]
