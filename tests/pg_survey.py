"""A measuring tool, not a test: run any test file with its archives on PostgreSQL.

    PYTHONPATH=tests .venv/bin/python -m pytest -p pg_survey tests/test_facts.py -q

Every archive a test opens by file path is opened instead in a PostgreSQL database of the session's
throwaway cluster (one database per path), and the command line's refusal of commands not yet
enabled on PostgreSQL is lifted. What passes this way is what the SQL translation already carries;
a failure is either a capability's SQLite-only SQL or a test that looks at the archive file itself
(its size, its ``.key`` beside it). Used to decide which commands cli.POSTGRES_COMMANDS enables.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest

from chataudit.ledger import keys
from chataudit.store import postgres, sqlite

_numbers = itertools.count(1)
_databases: dict[str, str] = {}


@pytest.fixture(autouse=True, scope="session")
def _archives_on_postgresql(pg_cluster):
    """Session-wide, so that module-scoped fixtures' archives are on PostgreSQL too."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _redirect(monkeypatch, pg_cluster)
        yield


def _redirect(monkeypatch: pytest.MonkeyPatch, pg_cluster) -> None:
    original_init = postgres.PostgresArchive.__init__

    def url_of(path) -> str:
        key = os.path.abspath(os.fspath(path))
        if key not in _databases:
            _databases[key] = pg_cluster.create_database(f"survey{next(_numbers)}")
        return _databases[key]

    def new(cls, path=None, *args, **kwargs):
        return object.__new__(postgres.PostgresArchive if cls is sqlite.Archive else cls)

    def init(self, path=None, *args, **kwargs):
        location = path if path is not None else sqlite.default_db_path()
        if not sqlite.is_postgres(location) and str(location) != ":memory:":
            location = url_of(location)
        original_init(self, location, *args, **{k: v for k, v in kwargs.items() if k != "key"})

    monkeypatch.setattr(sqlite.Archive, "__new__", new)
    monkeypatch.setattr(postgres.PostgresArchive, "__init__", init)
    monkeypatch.setattr(postgres, "opening_check", None)
    # a copy of an archive file (shutil.copy) is a copy of its database
    copy = shutil.copy

    def copy_archive(source, target, *args, **kwargs):
        key = os.path.abspath(os.fspath(source))
        if key not in _databases:
            return copy(source, target, *args, **kwargs)
        target_key = os.path.abspath(os.fspath(target))
        _databases[target_key] = pg_cluster.create_database(f"survey{next(_numbers)}",
                                                            template=_databases[key].rsplit("/", 1)[1])
        return target

    monkeypatch.setattr(shutil, "copy", copy_archive)
    # the signing key where the test looks for it: beside the archive path it named
    default_key_path = keys.default_key_path
    paths = lambda: {url: path for path, url in _databases.items()}  # noqa: E731
    monkeypatch.setattr(keys, "default_key_path", lambda db: Path(paths()[str(db)] + ".key")
                        if str(db) in paths() else default_key_path(db))
    monkeypatch.setattr(sqlite, "archive_exists", lambda location: True)
    # a test's edits behind the tool's back go to the database too
    import store_tamper

    monkeypatch.setattr(store_tamper, "SURVEYED", _databases)
    # the CLI checks the file before opening: on PostgreSQL there is none
    monkeypatch.setattr(Path, "exists", _exists_or_archive(Path.exists))


def _exists_or_archive(exists):
    def patched(self: Path, *args, **kwargs) -> bool:
        return exists(self, *args, **kwargs) or os.path.abspath(os.fspath(self)) in _databases
    return patched


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(f"pg_survey: {len(_databases)} archives opened on PostgreSQL")
