"""Editing an archive behind the tool's back, as whoever holds it can, on either store.

SQLite: the attacker holds the file and opens it with sqlite3. PostgreSQL: the attacker holds a DBA
role (here the test cluster's superuser) and edits rows, drops or disables triggers over a plain
connection. The same SQLite statements are given for both; on PostgreSQL each goes through the
store's own translation (pgsql.translate), and ``DROP TRIGGER name`` finds the table the trigger is on.
"""

from __future__ import annotations

import os
import re
import sqlite3
from typing import Any

import psycopg

from chataudit.store import is_postgres
from chataudit.store.pgsql import translate

# path → postgresql:// URL of archives a survey moved to PostgreSQL (tests/pg_survey.py fills it)
SURVEYED: dict[str, str] = {}


def url_of(location: Any) -> str | None:
    """The PostgreSQL URL of an archive location, None for an SQLite file."""
    if is_postgres(location):
        return str(location)
    return SURVEYED.get(os.path.abspath(os.fspath(location)))


def tamper(location: Any, *statements: str, params: tuple = ()) -> None:
    """Run ``statements`` (SQLite's dialect; ``?`` takes ``params``) against the archive directly."""
    url = url_of(location)
    if url is None:
        connection = sqlite3.connect(location)
        for statement in statements:
            connection.execute(statement, params if "?" in statement else ())
        connection.commit()
        connection.close()
        return
    with psycopg.connect(url, autocommit=True, cursor_factory=psycopg.RawCursor) as dba:
        for statement in statements:
            dba.execute(*_postgresql(dba, statement, params if "?" in statement else ()))


def every_trigger_off(location: Any) -> list[str]:
    """Statements that switch off every trigger of the archive: SQLite's are dropped one by one; a
    PostgreSQL superuser turns user triggers off for its session (session_replication_role)."""
    if url_of(location) is not None:
        return ["SET session_replication_role = replica"]
    connection = sqlite3.connect(location)
    try:
        names = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    finally:
        connection.close()
    return [f"DROP TRIGGER {name}" for name in names]


def _postgresql(dba: psycopg.Connection, statement: str, params: tuple) -> tuple[str, tuple]:
    if re.match(r"\s*SET ", statement, re.I):
        return statement, ()
    dropped = re.fullmatch(r"\s*DROP TRIGGER (?:IF EXISTS )?(\w+)\s*", statement, re.I)
    if dropped:
        found = dba.execute("SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = $1 AND tgparentid = 0",
                            (dropped.group(1),)).fetchone()
        if found is None and " IF EXISTS " in statement.upper():
            return "SELECT 1", ()
        return f"DROP TRIGGER {dropped.group(1)} ON {found[0] if found else 'messages'}", ()
    if re.match(r"\s*CREATE TRIGGER (?!IF NOT EXISTS)", statement, re.I):
        statement = re.sub(r"CREATE TRIGGER ", "CREATE TRIGGER IF NOT EXISTS ", statement, count=1, flags=re.I)
    text, _count, _writes = translate(statement)
    return text, params


def copy_archive(location: Any, target: Any) -> Any:
    """A copy of a closed archive with its signing key (a second archive to tamper with); returns the
    copy's location: ``target`` (a file path) for SQLite, a new database made from the original for
    PostgreSQL."""
    from chataudit.ledger.keys import default_key_path

    url = url_of(location)
    if url is None:
        source = sqlite3.connect(location)
        source.execute("VACUUM INTO ?", (str(target),))
        source.close()
        copied: Any = target
    else:
        base, name = url.rsplit("/", 1)
        new_name = f"{name}_copy"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{new_name}" TEMPLATE "{name}"')
        copied = f"{base}/{new_name}"
        if not is_postgres(location):  # a surveyed path: the copy answers to ``target``
            SURVEYED[os.path.abspath(os.fspath(target))] = copied
            copied = target
    key = default_key_path(copied if is_postgres(copied) else target)
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_bytes(default_key_path(location).read_bytes())
    key.chmod(0o600)
    return copied
