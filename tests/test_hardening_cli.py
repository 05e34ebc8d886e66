"""Hardening of the command line and the store (issue #10 items 14, 17, 18; issue #11 mistyped --db).

Hostile option values are tried on every command that takes the option, found by walking the click
tree, so a new command is covered without touching this file.
"""

from __future__ import annotations

from importlib import resources

import os
import pty
import select
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.errors import ChatAuditError
from chataudit.model import Message, parse_user_time, utc_ms, zone
from chataudit.search import parse_query, search_messages
from chataudit.store import Archive, SourceInfo
from chataudit.textindex import CJK_RUN, _expand_run

FIXTURES = Path(__file__).parent / "fixtures"
EXPORT = FIXTURES / "telegram" / "personal_result.json"  # 16 messages, conversation 1 "Alice Schmidt"
HUGE_ID = "99999999999999999999"
LONG_ZONE = "A" * 300


# ---- the click tree -------------------------------------------------------------------------------

def _leaves(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    if not isinstance(command, click.Group):
        return [(path, command)]
    ctx = click.Context(command)
    found = []
    for name in command.list_commands(ctx):
        found += _leaves(command.get_command(ctx, name), path + (name,))
    return found


LEAVES = _leaves(cli)


def _options(command: click.Command) -> set[str]:
    return {o for p in command.params if isinstance(p, click.Option) for o in p.opts}


def taking(option: str) -> list[tuple[str, ...]]:
    return [path for path, command in LEAVES if option in _options(command)]


def _filler(command: click.Command, tested: str | None, tmp: Path) -> list[str]:
    """Plausible values for a command's required parameters (and --conversation, which `messages`
    needs one of), so that the command gets as far as using the option under test."""
    arguments = {"copies": ["1", "1"], "paths": [str(EXPORT)], "identities": ["telegram:x"], "query": ["hi"],
                 "package": [str(EXPORT)], "path": [str(EXPORT)], "source": ["1"],
                 "selector": ["conversation:1"], "keep": ["keep"], "files": [str(EXPORT)], "policy_file": []}
    options = {"statements": str(FIXTURES / "statements" / "bank_statement.csv"), "out": str(tmp / "out"),
               "out_dir": str(tmp / "out_dir"), "document": str(EXPORT), "expires": "2030-01-01",
               "conversation_ref": "1", "tsa_url": "http://127.0.0.1:9/", "role": "agent"}
    args: list[str] = []
    for param in command.params:
        if isinstance(param, click.Option) and tested in param.opts:
            continue
        if isinstance(param, click.Argument):
            args += arguments.get(param.name, ["1"])
        elif isinstance(param, click.Option) and (param.required or param.name == "conversation_ref"):
            args += [param.opts[0], options.get(param.name, "x")]
        elif isinstance(param, click.Option) and param.secondary_opts and param.default is True:
            args.append(param.secondary_opts[0])  # e.g. --no-pdf: no headless browser in these tests
    return args


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args))


def assert_one_error_line(result: click.testing.Result, *expected: str) -> str:
    """Non-zero exit, no traceback, exactly one ``Error:`` line, naming what is wrong."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert all(text in errors[0] for text in expected), errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One archive with the Telegram sample, shared by the read-mostly tests of this module."""
    folder = tmp_path_factory.mktemp("filled")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHATAUDIT_KEYS", str(folder / "keys"))
        result = run("--db", str(folder / "a.db"), "import", str(EXPORT))
    assert result.exit_code == 0, result.output
    return folder / "a.db"


# ---- 17: hostile option values, one line each -----------------------------------------------------

def test_the_tree_walk_finds_the_commands_that_take_each_option() -> None:
    assert {("messages",), ("search",), ("export",), ("evidence", "export"), ("hold", "add")} <= set(taking("--conversation"))
    assert {("messages",), ("search",), ("quality",), ("audit",)} <= set(taking("--until"))
    assert {("import",), ("compare",), ("search",), ("redact",)} <= set(taking("--tz"))


@pytest.mark.parametrize("path", taking("--conversation"), ids=" ".join)
def test_a_huge_conversation_id_is_no_such_conversation(filled: Path, tmp_path: Path, path: tuple[str, ...]) -> None:
    command = dict(LEAVES)[path]
    result = run("--db", str(filled), *path, "--conversation", HUGE_ID, *_filler(command, "--conversation", tmp_path))
    assert_one_error_line(result, f"no conversation '{HUGE_ID}'")


@pytest.mark.parametrize("path", taking("--tz"), ids=" ".join)
def test_a_300_character_zone_is_an_unknown_zone(filled: Path, tmp_path: Path, path: tuple[str, ...]) -> None:
    command = dict(LEAVES)[path]
    result = run("--db", str(filled), *path, "--tz", LONG_ZONE, *_filler(command, "--tz", tmp_path))
    assert_one_error_line(result, "unknown time zone")


TIME_OPTIONS = [(path, option) for option in ("--since", "--until") for path in taking(option)]


@pytest.mark.parametrize("path, option", TIME_OPTIONS, ids=lambda v: " ".join(v) if isinstance(v, tuple) else v)
def test_the_last_day_a_date_can_name_is_a_bound_not_a_crash(filled: Path, tmp_path: Path, path: tuple[str, ...],
                                                             option: str) -> None:
    command = dict(LEAVES)[path]
    result = run("--db", str(filled), *path, option, "9999-12-31", *_filler(command, option, tmp_path))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code != 0:  # e.g. "no messages in that period": a verdict, in one line
        assert_one_error_line(result)


@pytest.mark.parametrize("path, option", TIME_OPTIONS, ids=lambda v: " ".join(v) if isinstance(v, tuple) else v)
def test_a_date_that_is_no_date_is_one_line(filled: Path, tmp_path: Path, path: tuple[str, ...], option: str) -> None:
    command = dict(LEAVES)[path]
    result = run("--db", str(filled), *path, option, "2026-13-45", *_filler(command, option, tmp_path))
    assert_one_error_line(result, "2026-13-45")


def test_the_end_of_the_last_day_is_representable() -> None:
    moment = parse_user_time("9999-12-31", zone("-05:00"), end_of_day=True)
    assert utc_ms(moment) > utc_ms(parse_user_time("9999-12-31T23:59", zone("-05:00")))


@pytest.mark.parametrize("name", [LONG_ZONE, "+99:00", "+ab:cd", "+08:00:00", "../../etc/passwd", "America", ".", "\x00"])
def test_every_hostile_zone_is_one_error(name: str) -> None:
    with pytest.raises(ChatAuditError, match="unknown time zone"):
        zone(name)


@pytest.mark.parametrize("ref", [HUGE_ID, "²", "١٢", " "])
def test_conversation_refs_that_are_no_ids(archive: Archive, ref: str) -> None:
    with pytest.raises(ChatAuditError, match="no conversation|names no conversation"):
        archive.resolve_conversation(ref)


def test_search_since_the_year_9999_finds_nothing_instead_of_overflowing(filled: Path) -> None:
    result = run("--db", str(filled), "search", "Morning", "--since", "9999-01-01", "--json")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "[]"


# ---- 17 and #11: --db ------------------------------------------------------------------------------

ARCHIVE_FREE = {("formats",), ("pii", "types"), ("pii", "policy"), ("pii", "decrypt"), ("redact",), ("key", "new"), ("evidence", "unseal"),
                ("evidence", "verify"), ("evidence", "verifier"),
                ("migrate",),  # migrate names its archives as arguments, not with --db
                # a lake is read (or written) where --lake / DIR says, never the archive --db names
                ("lake", "verify"), ("spark", "verify"), ("spark", "import")}
CREATING = {("import",), ("init",)}


def _bad_db(kind: str, tmp: Path, filled: Path) -> tuple[str, str]:
    """(--db value, what the one line must say) for each way --db can name no archive."""
    if kind == "mistyped":
        return str(tmp / "nope.db"), "no such archive"
    if kind == "text file":
        (tmp / "notes.txt").write_text("not a database\n" * 100, encoding="utf-8")
        return str(tmp / "notes.txt"), "not an archive file"
    if kind == "truncated":
        (tmp / "cut.db").write_bytes(filled.read_bytes()[:8192])
        return str(tmp / "cut.db"), "damaged"
    if kind == "missing folder":
        return str(tmp / "no-such-folder" / "a.db"), ""
    # nothing listens on port 1: "cannot connect to PostgreSQL", or the command does not run on PostgreSQL yet
    return "postgresql://auditor:secret@127.0.0.1:1/chats", "PostgreSQL"


@pytest.mark.parametrize("kind", ["mistyped", "text file", "truncated", "missing folder", "postgresql"])
@pytest.mark.parametrize("path", [path for path, _ in LEAVES], ids=" ".join)
def test_a_db_that_is_no_archive_is_one_line_and_creates_nothing(filled: Path, tmp_path: Path, kind: str,
                                                               path: tuple[str, ...]) -> None:
    db, says = _bad_db(kind, tmp_path, filled)
    before = sorted(p.name for p in tmp_path.iterdir())
    command = dict(LEAVES)[path]
    result = CliRunner().invoke(cli, ["--db", db, *path, *_filler(command, None, tmp_path)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "secret" not in result.output  # a URL's password is never echoed
    if path in ARCHIVE_FREE:  # they never open it, so what --db names does not matter to them
        assert "no such archive" not in result.output and not (says and says in result.output), result.output
        return
    if path in CREATING and kind == "mistyped":
        assert result.exit_code == 0 and Path(db).exists(), result.output
        return
    if path in CREATING and kind == "missing folder":
        says = "does not exist"
    elif kind == "missing folder":
        says = "no such archive"
    assert_one_error_line(result, says)
    if kind in ("mistyped", "missing folder"):
        assert sorted(p.name for p in tmp_path.iterdir()) == before  # no archive, no folder, nothing beside


def test_mistyped_db_is_refused_by_the_api_only_when_asked(tmp_path: Path) -> None:
    with pytest.raises(ChatAuditError, match="no such archive"):
        Archive(tmp_path / "nope.db", create=False)
    assert not (tmp_path / "nope.db").exists()
    with Archive(tmp_path / "new.db") as created:  # the API's default still creates (tests, import)
        assert created.schema_version >= 1


def test_another_programs_database_gets_no_chataudit_tables(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("PRAGMA user_version = 7")
    db.close()
    result = run("--db", str(other), "conversations")
    assert_one_error_line(result, "another program")
    with sqlite3.connect(other) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["notes"]
    db.close()


# ---- 18: compare '' and search syntax --------------------------------------------------------------

def test_compare_refuses_an_empty_copy_reference(filled: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cwd"
    folder.mkdir()
    shutil.copy(EXPORT, folder / "an-export.json")  # what `compare ''` used to import: the whole folder
    before = sqlite3.connect(filled).execute("SELECT count(*) FROM sources").fetchone()[0]
    old = os.getcwd()
    os.chdir(folder)
    try:
        result = run("--db", str(filled), "compare", "", "1")
    finally:
        os.chdir(old)
    assert_one_error_line(result, "empty copy reference")
    assert sqlite3.connect(filled).execute("SELECT count(*) FROM sources").fetchone()[0] == before


@pytest.mark.parametrize("args", [["search", "-Morning"], ["search", "--", "-Morning"]])
def test_a_query_that_only_excludes_says_so(filled: Path, args: list[str]) -> None:
    assert_one_error_line(run("--db", str(filled), *args), "only excludes")


def test_a_query_starting_with_minus_is_a_query_not_an_option(filled: Path) -> None:
    result = run("--db", str(filled), "search", "-hike", "--json")  # still one line, not "no such option"
    assert "No such option" not in result.output
    found = run("--db", str(filled), "search", "--json", "--", "Morning -hike")
    assert found.exit_code == 0 and found.output.strip() == "[]", found.output


CST = timezone(timedelta(hours=8))


@pytest.fixture
def symbols(archive: Archive) -> Archive:
    texts = ["Good morning 😀", "morning call at 9", "收到👍", "好的👍🏽谢谢", "价格¥100", "Mornings are for C++",
             "no emoji here", "家人🇨🇳团聚"]
    records = [Message(platform="t", conversation_id="c", sender_id="s", text=t,
                       sent_at=datetime(2026, 3, 1, 9, i, tzinfo=CST)) for i, t in enumerate(texts)]
    archive.import_records(SourceInfo("s", "2" * 64, 1, "test"), records)
    return archive


def found(archive: Archive, query: str) -> set[str]:
    return {row["text"] for row in search_messages(archive, query)}


@pytest.mark.parametrize("query, expected", [
    ("morn*", {"Good morning 😀", "morning call at 9", "Mornings are for C++"}),
    ("morn", set()),  # without the star a latin word is whole
    ('"good morn*"', {"Good morning 😀"}),
    ("😀", {"Good morning 😀"}),
    ("👍", {"收到👍", "好的👍🏽谢谢"}),
    ("👍🏽", {"好的👍🏽谢谢"}),
    ("的👍🏽谢", {"好的👍🏽谢谢"}),
    ("到👍", {"收到👍"}),
    ("¥100", {"价格¥100"}),
    ("C++", {"Mornings are for C++"}),
    ("🇨🇳", {"家人🇨🇳团聚"}),
    ("morning -😀", {"morning call at 9"}),
])
def test_prefix_and_symbol_queries(symbols: Archive, query: str, expected: set[str]) -> None:
    assert found(symbols, query) == expected


def test_prefix_highlights_the_prefix() -> None:
    assert parse_query("morn*").terms == ("morn",)


def test_the_migration_rebuilds_an_index_made_before_symbols_were_tokens(tmp_path: Path) -> None:
    """An archive indexed by the old tokenizer finds 😀 once the new migration ran, and its index
    stays consistent (a later delete with the new index_body must not corrupt it)."""
    path = tmp_path / "old.db"
    with Archive(path) as archive:
        archive.import_records(SourceInfo("s", "3" * 64, 1, "test"), [
            Message(platform="t", conversation_id="c", sender_id="s", text=text,
                    sent_at=datetime(2026, 3, 1, 9, i, tzinfo=CST)) for i, text in enumerate(["早安😀", "晚安"])])
        number = next(int(name.split("_", 1)[0]) for name in
                      (entry.name for entry in (resources.files("chataudit.store") / "migrations").iterdir())
                      if name.endswith("_fts_symbols.sql"))
        old_body = lambda text: CJK_RUN.sub(_expand_run, unicodedata.normalize("NFKC", text or ""))  # noqa: E731
        archive.db.create_function("old_body", 1, old_body)
        archive.db.executescript(
            "DROP TABLE message_fts;"
            "CREATE VIRTUAL TABLE message_fts USING fts5(body, content='', prefix='1',"
            " tokenize='unicode61 remove_diacritics 2');"
            "INSERT INTO message_fts (rowid, body) SELECT (sent_at_ms / 1000) * 2147483648 + id, old_body(text)"
            " FROM messages;"
            f"DELETE FROM schema_migrations WHERE number = {number};")
        assert found(archive, "😀") == set()
    with Archive(path) as archive:
        assert found(archive, "😀") == {"早安😀"}
        assert found(archive, "安") == {"早安😀", "晚安"}
        archive.db.execute("BEGIN")
        archive.delete_messages([1])
        archive.db.execute("COMMIT")
        archive.db.execute("INSERT INTO message_fts (message_fts) VALUES ('integrity-check')")
        assert found(archive, "安") == {"晚安"}


# ---- 14: concurrency, with real processes on a real file ------------------------------------------

HOLD_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("INSERT INTO settings (key, value) VALUES ('held', 'yes')")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
"""


class LockHolder:
    """Another process holding the archive's write lock until released."""

    def __init__(self, db: Path):
        self.process = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write("\n")
            self.process.stdin.flush()
            self.process.wait(timeout=30)


class Chataudit:
    """``chataudit`` in its own process, its stderr a terminal (where the waiting note is shown)."""

    def __init__(self, *args: str):
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen([sys.executable, "-m", "chataudit.cli", *args], stdout=subprocess.PIPE,
                                        stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        self.terminal = b""

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.terminal.replace(b"\r\n", b" ").replace(b"\n", b" "):
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} on the terminal: {self.terminal!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.terminal += os.read(self.master, 4096)
                except OSError:  # the process ended and closed the terminal
                    break
        assert text.encode() in self.terminal.replace(b"\r\n", b" ").replace(b"\n", b" "), self.terminal

    def finish(self) -> tuple[int, str]:
        out, _ = self.process.communicate(timeout=60)
        os.close(self.master)
        return self.process.returncode, out.decode()


@pytest.fixture
def empty_archive(tmp_path: Path) -> Path:
    with Archive(tmp_path / "shared.db"):
        pass
    return tmp_path / "shared.db"


def test_a_writer_waits_its_turn_beyond_sqlites_busy_timeout(empty_archive: Path) -> None:
    holder = LockHolder(empty_archive)
    waits: list[float] = []

    def on_wait() -> None:  # release the other process a second later: many busy timeouts later
        waits.append(time.monotonic())
        threading.Timer(1.0, holder.release).start()

    try:
        with Archive(empty_archive, on_wait=on_wait) as archive:
            started = time.monotonic()
            result = archive.import_records(SourceInfo("s", "4" * 64, 1, "test"), [
                Message(platform="t", conversation_id="c", sender_id="s", text="hi",
                        sent_at=datetime(2026, 3, 1, tzinfo=CST))])
            waited = time.monotonic() - started
    finally:
        holder.release()
    assert len(waits) == 1 and waited >= 1.0
    assert result.new == 1 and not result.already_imported


def test_an_import_tells_the_terminal_it_waits_then_imports(empty_archive: Path) -> None:
    holder = LockHolder(empty_archive)
    try:
        importing = Chataudit("--db", str(empty_archive), "import", str(EXPORT), "--json")
        importing.wait_for("waiting for another process")
    finally:
        holder.release()
    code, out = importing.finish()
    assert code == 0, out
    assert '"new":16' in out.replace(" ", "")


def test_two_imports_of_one_file_at_once_add_it_once(empty_archive: Path) -> None:
    holder = LockHolder(empty_archive)
    try:  # both have checked the file is new and wait for the lock: the race of the issue
        first = Chataudit("--db", str(empty_archive), "import", str(EXPORT), "--json")
        second = Chataudit("--db", str(empty_archive), "import", str(EXPORT), "--json")
        first.wait_for("waiting for another process")
        second.wait_for("waiting for another process")
    finally:
        holder.release()
    outcomes = [first.finish(), second.finish()]
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    compact = [out.replace(" ", "") for _, out in outcomes]
    assert sorted('"already_imported":1' in out for out in compact) == [False, True], compact
    with Archive(empty_archive) as archive:
        assert archive.stats() == {"sources": 1, "conversations": 1, "messages": 16}


def test_readers_are_not_blocked_by_a_writer(filled: Path) -> None:
    holder = LockHolder(filled)
    try:
        started = time.monotonic()
        reading = subprocess.run([sys.executable, "-m", "chataudit.cli", "--db", str(filled), "conversations",
                                  "--json"], capture_output=True, text=True, timeout=60)
        took = time.monotonic() - started
    finally:
        holder.release()
    assert reading.returncode == 0, reading.stderr
    assert '"message_count": 16' in reading.stdout or '"message_count":16' in reading.stdout
    assert "waiting" not in reading.stderr and took < 30


def test_an_empty_conversation_is_refused_not_read_as_every_conversation(filled: Path) -> None:
    assert_one_error_line(run("--db", str(filled), "search", "Morning", "--conversation", ""), "empty conversation")
