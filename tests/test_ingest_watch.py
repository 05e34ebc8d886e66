"""`chataudit watch`: new and grown export files are imported once complete, what was seen survives a
restart, a bad file never stops the watcher, and one watcher at a time holds an archive."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.errors import ChatAuditError
from chataudit.store import Archive
from chataudit.store import is_postgres
from chataudit.watch import WATCH_LOCK, Watcher, WatchLock, parse_duration, watch
from conftest import both_stores

FIXTURES = Path(__file__).parent / "fixtures"
ALICE = FIXTURES / "whatsapp" / "WhatsApp Chat with Alice.txt"  # 14 messages
MEIMEI = FIXTURES / "wechat" / "memotrace" / "梅梅_utf8.csv"
MBOX = FIXTURES / "email" / "thread_en.mbox"


def _count(db: Path, sql: str = "SELECT count(*) FROM messages") -> int:
    with Archive(db) as archive:
        return archive.db.execute(sql).fetchone()[0]


def _look(db: Path, folder: Path, settle: float = 0.05) -> list:
    with Archive(db) as archive:
        return Watcher(archive, [folder], tz="Asia/Shanghai", settle=settle).look()


def _wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _touch_later(path: Path) -> None:
    """A modification time visibly later than the last one (coarse file system clocks)."""
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 2_000_000_000))


def test_durations():
    assert parse_duration("60s") == 60 and parse_duration("5m") == 300 and parse_duration("1h") == 3600
    assert parse_duration("90") == 90 and parse_duration("250ms") == 0.25
    for bad in ("", "soon", "-1s", "0"):
        with pytest.raises(ChatAuditError):
            parse_duration(bad)


def test_files_dropped_while_the_watcher_runs_are_imported(tmp_path):
    folder, db = tmp_path / "drop", tmp_path / "a.db"
    folder.mkdir()
    Archive(db).close()
    events: list = []
    stop = threading.Event()
    runner = threading.Thread(target=watch, args=(db, [folder]), kwargs=dict(
        interval=0.1, settle=0.05, tz="Asia/Shanghai", on_event=events.append, stop=stop), daemon=True)
    runner.start()
    try:
        time.sleep(0.2)
        shutil.copyfile(ALICE, folder / "alice.txt")
        _wait_for(lambda: any(e.status == "imported" for e in events))
        (folder / "sub").mkdir()
        shutil.copyfile(MBOX, folder / "sub" / "thread.mbox")
        (folder / ".hidden.txt").write_text("not looked at")
        _wait_for(lambda: sum(e.status == "imported" for e in events) == 2)
        time.sleep(0.3)  # more looks: nothing is imported twice, nothing else is logged
    finally:
        stop.set()
        runner.join(10)
    assert not runner.is_alive()
    imported = [e for e in events if e.status == "imported"]
    assert [Path(e.path).name for e in imported] == ["alice.txt", "thread.mbox"]
    assert imported[0].new == imported[0].messages == 14 and imported[1].format == "email"
    # a look may catch a copy half-done: it then waits (logged), never imports the half
    assert {e.status for e in events if e.status != "imported"} <= {"waiting"}
    assert _count(db) == 14 + imported[1].new
    assert _count(db, "SELECT count(*) FROM sources") == 2


def test_a_partially_written_file_waits_until_complete(tmp_path):
    folder, db = tmp_path / "drop", tmp_path / "a.db"
    folder.mkdir()
    data = ALICE.read_bytes()
    target = folder / "alice.txt"
    target.write_bytes(data[: len(data) // 3])

    class ExporterWritesWhileWeSettle(threading.Event):
        """The exporter appends between the two looks, whatever the machine's load: in the settle wait."""

        def wait(self, timeout: float | None = None) -> bool:
            with open(target, "ab") as out:
                out.write(data[len(data) // 3: len(data) * 2 // 3])
            return super().wait(0)

    with Archive(db) as archive:
        events = Watcher(archive, [folder], tz="Asia/Shanghai", settle=0.4, stop=ExporterWritesWhileWeSettle()).look()
    assert [(e.status, e.reason) for e in events] == [
        ("waiting", "still being written (size or time changed since the last look)")]
    assert _count(db) == 0  # nothing of the partial file was imported
    with open(target, "ab") as out:
        out.write(data[len(data) * 2 // 3:])
    events = _look(db, folder)  # changed since the last look, then unchanged after the settle time
    assert [(e.status, e.new) for e in events] == [("imported", 14)]
    assert _count(db, "SELECT count(*) FROM sources") == 1
    assert _look(db, folder) == []  # unchanged since: not looked at again


def test_a_zip_is_imported_once_its_central_directory_reads(tmp_path):
    folder, db = tmp_path / "drop", tmp_path / "a.db"
    folder.mkdir()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.write(ALICE, "WhatsApp Chat with Alice.txt")
    data = buffer.getvalue()
    target = folder / "export.zip"
    target.write_bytes(data[:-30])  # the end of central directory is not there yet
    events = _look(db, folder, settle=0.0)
    # unchanged across two looks but still no zip: imported as what it is, refused with its reason
    assert [e.status for e in events] in (["refused"], ["waiting"])
    target.write_bytes(data)
    _touch_later(target)
    with Archive(db) as archive:
        events = Watcher(archive, [folder], tz="Asia/Shanghai", settle=30).look()  # no second look needed
    assert [e.status for e in events] == ["imported"] and events[0].new == 14


def test_a_restart_in_the_middle_goes_on_where_it_stopped(tmp_path):
    folder, db = tmp_path / "drop", tmp_path / "a.db"
    folder.mkdir()
    Archive(db).close()
    shutil.copyfile(ALICE, folder / "alice.txt")
    env = {**os.environ, "CHATAUDIT_DB": str(db), "CHATAUDIT_TZ": "Asia/Shanghai"}
    command = [str(Path(sys.executable).with_name("chataudit")), "watch", str(folder), "--interval", "0.2s", "--settle",
               "0.05s", "--json"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = json.loads(first.stdout.readline())
        assert (line["status"], line["new"]) == ("imported", 14)
    finally:
        first.send_signal(signal.SIGKILL)  # a crash: no clean exit, the lock goes with the process
        first.wait(10)
    # while it was down: the chat grew, a new export arrived, a half-written file appeared
    lines = MEIMEI.read_bytes().splitlines(keepends=True)
    (folder / "meimei.csv").write_bytes(b"".join(lines[:68]))
    shutil.copyfile(ALICE, folder / "alice-copy.txt")
    second = subprocess.run(command[:-3] + ["--once", "--settle", "0.05s", "--json"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert second.returncode == 0, second.stderr
    seen = {Path(e["path"]).name: e for e in map(json.loads, second.stdout.splitlines())}
    assert "alice.txt" not in seen  # unchanged since the first watcher imported it: not read again
    assert seen["alice-copy.txt"]["status"] == "already_imported"
    assert seen["meimei.csv"]["status"] == "imported" and seen["meimei.csv"]["new"] == 12
    third = subprocess.run(command[:-3] + ["--once", "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert third.stdout == ""  # nothing new: a silent look


def test_a_bad_file_is_refused_and_never_stops_the_watcher(tmp_path):
    folder, db = tmp_path / "drop", tmp_path / "a.db"
    folder.mkdir()
    (folder / "a-broken.json").write_text('{"messages": [', encoding="utf-8")
    (folder / "notes.txt").write_text("shopping list: milk\n", encoding="utf-8")
    shutil.copyfile(ALICE, folder / "z-alice.txt")
    events = {Path(e.path).name: e for e in _look(db, folder)}
    assert events["a-broken.json"].status == "refused" and "a-broken.json" in events["a-broken.json"].reason
    assert events["notes.txt"].status == "refused" and "unknown format" in events["notes.txt"].reason
    assert events["z-alice.txt"].status == "imported"
    assert _look(db, folder) == []  # refused files are not tried again until they change
    shutil.copyfile(ALICE, folder / "notes.txt")
    _touch_later(folder / "notes.txt")
    assert [(Path(e.path).name, e.status) for e in _look(db, folder)] == [("notes.txt", "already_imported")]


def test_a_mistyped_archive_is_refused_not_created(tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "typo.db"), "watch", str(folder), "--once"])
    assert result.exit_code == 1 and "no such archive" in result.output
    assert not (tmp_path / "typo.db").exists()


def _watched(db) -> bool:
    """Whether a watcher holds the archive (its lock file names it; on PostgreSQL, its session's lock)."""
    if is_postgres(db):
        with psycopg.connect(str(db)) as connection:
            return connection.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                                      " AND objid = %s AND objsubid = 2", (WATCH_LOCK,)).fetchone()[0] == 1
    lock = Path(str(db) + ".watch.lock")
    return "pid" in (lock.read_text() if lock.exists() else "")


@both_stores
def test_two_watchers_on_one_archive_the_second_refuses(tmp_path, new_archive):
    folder, db = tmp_path / "drop", new_archive("a.db")
    folder.mkdir()
    Archive(db).close()
    stop = threading.Event()
    runner = threading.Thread(target=watch, args=(db, [folder]), kwargs=dict(interval=0.1, stop=stop), daemon=True)
    runner.start()
    try:
        _wait_for(lambda: _watched(db))
        with pytest.raises(ChatAuditError, match="another watcher .*pid"):
            watch(db, [folder], once=True)
        result = CliRunner().invoke(cli, ["--db", str(db), "watch", str(folder), "--once"])
        assert result.exit_code == 1 and "another watcher" in result.output
    finally:
        stop.set()
        runner.join(10)
    with WatchLock(db):  # free again once the first stopped
        pass


@pytest.mark.parametrize("fixture, cut, early_new", [
    (ALICE, 12, 8),  # WhatsApp: the export made before the last messages were sent
    (MEIMEI, 68, 12),  # WeChat CSV (MemoTrace): rows cut at a record boundary
    (MBOX, 98, 3),  # mbox: the first three mails of the thread
])
def test_grown_re_exports_add_only_their_new_messages(tmp_path, fixture, cut, early_new):
    folder, db = tmp_path / "drop", tmp_path / "a.db"
    folder.mkdir()
    target = folder / fixture.name
    lines = fixture.read_bytes().splitlines(keepends=True)
    target.write_bytes(b"".join(lines[:cut]))
    (early,) = _look(db, folder)
    assert (early.status, early.new) == ("imported", early_new)
    shutil.copyfile(fixture, target)  # the re-export replaces it, grown
    _touch_later(target)
    (grown,) = _look(db, folder)
    with Archive(tmp_path / "whole.db") as whole:
        from chataudit.importer import import_paths

        total = import_paths(whole, [fixture], tz="Asia/Shanghai").as_dict()["new"]
    assert grown.status == "imported" and grown.messages == total
    assert grown.new == total - early_new > 0
    assert _count(db) == total
    # both copies are witnesses: every message of the early copy is seen by two sources
    assert _count(db, "SELECT count(*) FROM sightings") == total + early_new


def test_sigterm_stops_the_watcher_cleanly(tmp_path):
    folder, db = tmp_path / "drop", tmp_path / "a.db"
    folder.mkdir()
    shutil.copyfile(ALICE, folder / "alice.txt")
    Archive(db).close()
    env = {**os.environ, "CHATAUDIT_DB": str(db), "CHATAUDIT_TZ": "Asia/Shanghai"}
    process = subprocess.Popen([str(Path(sys.executable).with_name("chataudit")), "watch", str(folder),
                                "--interval", "30s", "--settle", "0.05s"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert "imported 14 new of 14 messages" in process.stdout.readline()
        process.send_signal(signal.SIGTERM)  # while it sleeps until the next look
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    with WatchLock(db):  # released
        pass


def test_the_archive_in_a_watched_folder_is_not_imported_into_itself(tmp_path):
    db = tmp_path / "archive.db"
    shutil.copyfile(ALICE, tmp_path / "alice.txt")
    events = _look(db, tmp_path)  # the folder holds archive.db, its -wal and -shm, its key and witness
    assert [(Path(e.path).name, e.status) for e in events] == [("alice.txt", "imported")]
    assert _look(db, tmp_path) == []
