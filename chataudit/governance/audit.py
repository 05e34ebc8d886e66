"""The audit trail: who ran what, under which authorization, and what went out.

Each entry is a row of ``governance_audit`` and a leaf of the ledger (kind ``audit``) signed by a
checkpoint in the same transaction, so `chataudit verify` names an entry that was edited or
deleted behind the tool's back.

Governance changes (mode, roster, authorizations, holds, retention rules and runs) record their own
entry in the transaction that makes the change. Reads, listings, verifications and redactions are
recorded twice (:mod:`.access`): a ``started`` entry committed before the command runs (or it does
not run), and its outcome after, which a :class:`Session` around the whole command gathers (see
:func:`audited`): it counts the records the shared output functions write and hashes every byte
that goes to standard output or to the command's output files.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

import click
import orjson

from .. import exitcodes
from ..errors import ChatAuditError
from ..render import output
from ..store import Archive, archive_exists
from . import clock

SESSION_KEY = "chataudit.governance.session"
GOVERNED = "__chataudit_governed__"

# Commands that read employees' messages. In enterprise mode each is checked against the
# authorizations before it runs (chataudit.governance.scope says what each one reads); in an archive
# that is or ever was in enterprise mode each is audited (chataudit.governance.access).
READS = frozenset({"messages", "search", "export", "facts", "quality", "check", "match", "pii scan", "compare",
                   "proof", "evidence export",
                   # peer review: transcripts, and the quality pipeline that finds and scores sessions
                   "review show", "review score", "review assign", "review calibrate", "review report",
                   "supervise show"})
# Audited in enterprise mode, without an authorization check. The listings name employees and count
# their messages (who talked with whom, how much) without reading them: audited, not checked.
OTHER_AUDITED = {"verify": "verification", "redact": "redaction", "pii decrypt": "redaction",
                 "auth document": "document", "conversations": "listing", "people": "listing", "sources": "listing",
                 "people link": "change", "people unlink": "change",
                 # the supervision queue and its report name conversations, reviewers and rules, not message text
                 "supervise queue": "listing", "supervise report": "listing",
                 # the web app's accounts: who may read through `serve` (no password or token is a parameter)
                 "user add": "change", "user disable": "change", "user reset": "change", "user token": "change",
                 "review list": "listing", "review calibration": "listing"}
# Audited when --db names an archive, but they run without one (they read only the files they are given).
NEEDS_NO_ARCHIVE = {"redact", "pii decrypt"}
# Parameters that name a file or folder a command writes: hashed into the entry after it ran.
OUTPUT_PARAMS = ("out", "out_dir", "output", "out_path", "html_path", "csv_path", "trends_path")


def operator_of(ctx: click.Context | None) -> str:
    """Who asks: the root --operator, else the OS user."""
    obj = (ctx.find_root().obj if ctx is not None else None) or {}
    return obj.get("operator") or os_user()


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def canonical_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str).decode()


def command_name(ctx: click.Context) -> str:
    """The command path without the program name: 'search', 'pii scan', 'auth add'."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names))


AUDIT_WAIT_S = 10.0  # how long an audit entry waits for another writer (an import) before its command is refused


@contextmanager
def transaction(db) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, or nothing when the caller already holds a transaction."""
    if db.in_transaction:
        yield
        return
    limit = getattr(db, "wait_limit_s", None)
    if hasattr(db, "wait_limit_s") and limit is None:
        db.wait_limit_s = AUDIT_WAIT_S  # an audited read waits its turn, but not forever
    try:
        db.execute("BEGIN IMMEDIATE")
    finally:
        if hasattr(db, "wait_limit_s"):
            db.wait_limit_s = limit
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


# ---- writing and reading entries ------------------------------------------------------------------

def record(archive: Archive, *, operator: str, command: str, params: dict[str, Any],
           authorizations: Iterable[int] = (), records: int = 0, outputs: list[dict[str, Any]] | None = None,
           outcome: str = "ok", exit_code: int = 0, facts: dict[str, Any] | None = None,
           detail: str | None = None) -> int:
    """Append one entry and its signed ledger leaf (in the caller's transaction if any); returns its id."""
    from ..ledger import leaves as L
    from ..ledger.log import Ledger

    outputs = outputs or []
    moment = clock.now()
    at, at_ms = clock.iso(moment), int(moment.timestamp() * 1000)
    values = (at, operator, os_user(), command, canonical_json(params), canonical_json(sorted(set(authorizations))),
              records, canonical_json(outputs), output_digest(outputs), outcome, exit_code,
              canonical_json(facts or {}), detail)
    db = archive.db
    with transaction(db):
        # never reuse the id of an entry deleted behind the tool's back: its signed leaf still names it
        entry_id = db.execute("SELECT max(coalesce((SELECT max(id) FROM governance_audit), 0),"
                              f" coalesce((SELECT max(ref) FROM ledger_leaves WHERE kind = {L.AUDIT}), 0)) + 1"
                              ).fetchone()[0]
        db.execute(
            "INSERT INTO governance_audit (id, at, operator, os_user, command, params, authorizations, records, outputs,"
            " output_sha256, outcome, exit_code, facts, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry_id, *values))
        row = db.execute(f"SELECT {L.AUDIT_COLUMNS} FROM governance_audit WHERE id = ?", (entry_id,)).fetchone()
        Ledger(archive).append_entry(L.AUDIT, entry_id, L.audit_leaf(tuple(row)), at_ms=at_ms, who=operator)
    return entry_id


def output_digest(outputs: list[dict[str, Any]]) -> str | None:
    """The SHA-256 of the one output; of several, the SHA-256 of their manifest
    (``<sha256> <bytes> <to>`` lines, as sha256sum writes them)."""
    if not outputs:
        return None
    if len(outputs) == 1:
        return outputs[0]["sha256"]
    manifest = "".join(f"{o['sha256']} {o['bytes']} {o['to']}\n" for o in outputs)
    return hashlib.sha256(manifest.encode()).hexdigest()


ENTRY_KEYS = ("id", "at", "operator", "os_user", "command", "params", "authorizations", "records", "outputs",
              "output_sha256", "outcome", "exit_code", "facts", "detail")


def entry_dict(row: Iterable[Any]) -> dict[str, Any]:
    entry = dict(zip(ENTRY_KEYS, row))
    for key in ("params", "authorizations", "outputs", "facts"):
        try:
            entry[key] = orjson.loads(entry[key])
        except (orjson.JSONDecodeError, TypeError):
            pass  # shown as stored; `verify` reports the damage
    return entry


def entries(archive: Archive, *, since: str | None = None, until: str | None = None, operator: str | None = None,
            command: str | None = None) -> list[dict[str, Any]]:
    """Entries oldest first; ``since``/``until`` are ISO 8601 UTC instants (compared as text)."""
    from ..ledger.leaves import AUDIT_COLUMNS

    sql = f"SELECT {AUDIT_COLUMNS} FROM governance_audit WHERE 1"
    params: list[Any] = []
    for clause, value in (("at >= ?", since), ("at < ?", until), ("operator = ?", operator), ("command = ?", command)):
        if value is not None:
            sql += f" AND {clause}"
            params.append(value)
    return [entry_dict(row) for row in archive.db.execute(sql + " ORDER BY id", params)]


def filtered(archive: Archive, *, since: str | None = None, until: str | None = None, operator: str | None = None,
             command: str | None = None) -> list[dict[str, Any]]:
    """`audit --json` with its filters: ``since``/``until`` as a user types them (naive times in the
    archive's zone, a bare ``until`` date includes that day)."""
    return entries(archive, since=_utc_bound(archive, since, False), until=_utc_bound(archive, until, True),
                   operator=operator, command=command)


def _utc_bound(archive: Archive, text: str | None, end: bool) -> str | None:
    """A since/until value as the ISO UTC text entries are stored with."""
    if not text:
        return None
    from ..model import parse_user_time
    from .auth import archive_zone

    return clock.iso(parse_user_time(text, archive_zone(archive), end_of_day=end))


def latest_facts(archive: Archive, command: str, key: str, value: Any = None) -> tuple[int, dict[str, Any]] | None:
    """The newest entry of ``command`` whose facts hold ``key`` (equal to ``value`` when given)."""
    sql = ("SELECT id, facts FROM governance_audit WHERE command = ? AND json_valid(facts)"
           " AND json_extract(facts, ?) IS NOT NULL")
    params: list[Any] = [command, f"$.{key}"]
    if value is not None:
        sql += " AND json_extract(facts, ?) = ?"
        params += [f"$.{key}", value]
    row = archive.db.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchone()
    return (row[0], orjson.loads(row[1])) if row else None


# ---- the session around one command ---------------------------------------------------------------

class HashingWriter:
    """Standard output as the command sees it: every byte written is counted and hashed on its way."""

    def __init__(self, stream: IO[str]):
        self._stream = stream
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        self.errors = getattr(stream, "errors", None) or "strict"
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError("write() argument must be str")  # so that click sees a text stream
        data = text.encode(self.encoding, self.errors)
        self.sha256.update(data)
        self.bytes += len(data)
        return self._stream.write(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    @property
    def buffer(self) -> "_HashingBuffer":
        return _HashingBuffer(self, self._stream.buffer)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, …
        return getattr(self._stream, name)


class _HashingBuffer:
    def __init__(self, owner: HashingWriter, buffer: IO[bytes]):
        self._owner, self._buffer = owner, buffer

    def write(self, data: bytes) -> int:
        self._owner._stream.flush()
        self._owner.sha256.update(data)
        self._owner.bytes += len(data)
        return self._buffer.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._buffer, name)


class NotAuthorized(click.ClickException):
    """Enterprise mode refused a read; the message says what is missing."""


@dataclass
class Session:
    """What one command invocation did, gathered while it runs and recorded when it ends. The rules
    (what is checked and audited, the entry written before the command runs) are
    :func:`.access.admit` and :func:`.access.conclude`; this only adapts them to click."""

    root: click.Context
    started: float = field(default_factory=lambda: clock.now().timestamp())
    command: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    admission: Any = None  # the .access.Admission of an admitted command
    facts: dict[str, Any] = field(default_factory=dict)
    records: int = 0
    stdout: HashingWriter | None = None

    @property
    def db_path(self) -> Path | str:
        from ..store import db_location, default_db_path

        db = (self.root.obj or {}).get("db")
        return db_location(db) if db else default_db_path()

    def count(self, records: int) -> None:
        self.records += records

    def begin(self, ctx: click.Context) -> None:
        """The command is about to run: check it, and put an audited one on the record first."""
        from . import access

        self.command = command_name(ctx)
        self.params = dict(ctx.params)
        if access.audited_kind(self.command) is None or not archive_exists(self.db_path):
            return
        try:
            opened = Archive(self.db_path, create=False)
        except ChatAuditError as error:
            if self.command in NEEDS_NO_ARCHIVE:  # it runs without one; there is no trail to write to
                return
            raise click.ClickException(str(error)) from None
        try:
            with opened as archive:
                self.admission = access.admit(archive, operator=operator_of(ctx), command=self.command,
                                              params=self.params)
        except access.NotAuthorizedError as error:
            raise NotAuthorized(str(error)) from None
        except ChatAuditError as error:
            raise click.ClickException(str(error)) from None

    def outputs(self) -> list[dict[str, Any]]:
        found = []
        if self.stdout is not None and self.stdout.bytes:
            found.append({"to": "stdout", "bytes": self.stdout.bytes, "sha256": self.stdout.sha256.hexdigest()})
        for name in OUTPUT_PARAMS:
            value = self.params.get(name)
            if not value or value == "-":
                continue
            path = Path(value)
            files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
            for file in files:
                if file.is_file() and file.stat().st_mtime >= self.started - 1:
                    found.append({"to": str(file), "bytes": file.stat().st_size, "sha256": _file_sha256(file)})
        return found

    def finish(self, outcome: str, exit_code: int, detail: str | None) -> None:
        from . import access

        if self.admission is None or self.admission.entry is None:
            return
        try:
            with Archive(self.db_path, create=False) as archive:
                access.conclude(archive, self.admission, records=self.records, outputs=self.outputs(),
                                outcome=outcome, exit_code=exit_code, detail=detail, facts=self.facts)
        except Exception as error:  # the command's `started` entry is on the record; say what is missing
            click.echo(f"warning: the outcome of `{self.command}` was not recorded (its `started` entry "
                       f"{self.admission.entry} is): {error}", err=True)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _outcome(error: BaseException) -> tuple[str, int, str | None]:
    if isinstance(error, NotAuthorized):
        return "refused", 1, error.message
    if isinstance(error, click.exceptions.Exit):
        return ("ok" if error.exit_code == 0 else "error"), error.exit_code, None
    if isinstance(error, click.ClickException):
        return "error", error.exit_code, error.message
    if isinstance(error, SystemExit):
        code = error.code if isinstance(error.code, int) else (0 if error.code is None else 1)
        return ("ok" if code == 0 else "error"), code, None
    return "error", 1, f"{type(error).__name__}: {error}"


def _is_diff_style(ctx: click.Context, command: str | None) -> bool:
    """Whether ``command`` exits as diff(1) does (1: differences found, 2: error)."""
    found: Any = ctx.command
    for name in (command or "").split():
        found = found.get_command(ctx, name) if isinstance(found, click.Group) else None
    return isinstance(found, exitcodes.DiffStyleCommand)


@contextmanager
def audited(ctx: click.Context) -> Iterator[Session]:
    """Run one command as an audited session (the CLI's group wraps every invocation in this)."""
    ctx.ensure_object(dict)
    session = Session(ctx)
    ctx.meta[SESSION_KEY] = session
    original = sys.stdout
    session.stdout = HashingWriter(original)
    sys.stdout = session.stdout
    result: tuple[str, int, str | None] = ("ok", 0, None)
    try:
        with output.listening_for_records(session.count):
            yield session
    except BaseException as error:
        result = _outcome(error)
        if result[1] == exitcodes.DIFFERENT and _is_diff_style(ctx, session.command):
            result = ("ok", result[1], "differences or anomalies found")  # a finding, not a failure
        raise
    finally:
        sys.stdout = original
        session.finish(*result)


def govern(command: click.Command) -> click.Command:
    """Make a command (every command of a group) tell the running session when it starts, so that
    a read is checked against the authorizations before it reads anything. Idempotent."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            govern(sub)
    if command.callback is not None and not getattr(command.callback, GOVERNED, False):
        command.callback = _governed(command.callback)
    return command


def _governed(callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context(silent=True)
        session = ctx.meta.get(SESSION_KEY) if ctx is not None else None
        # a group's own callback begins the session only when the group runs alone (`people`, not `people link`)
        if session is not None and session.command is None and (
                not isinstance(ctx.command, click.Group) or ctx.invoked_subcommand is None):
            session.begin(ctx)
        return callback(*args, **kwargs)

    setattr(run, GOVERNED, True)
    return run


def note(ctx: click.Context | None, **facts: Any) -> None:
    """Add facts to the running session's entry (e.g. a read command's own summary)."""
    session = ctx.meta.get(SESSION_KEY) if ctx is not None else None
    if session is not None:
        session.facts.update(facts)
