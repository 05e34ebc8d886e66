"""kill -9 during encrypt, key change, backup and restore (a real SIGKILL at a named point, through
$CHATAUDIT_FAULT_KILL): the archive still opens and verifies with nothing lost, and a half-written
backup is never listed as good."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.ledger.verify import verify_archive
from chataudit.search import search_messages
from chataudit.store import Archive
from chataudit.vault import keys
from chataudit.vault.convert import FAULT_ENV

from test_vault import export_file

CHATAUDIT = [sys.executable, "-c", "from chataudit.cli import main; main()"]


def chataudit(db: Path, *args: str, fault: str | None = None, key_file: Path | None = None,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """In this process (CliRunner) unless a fault kills it: then a real child process."""
    if fault is None:
        return in_process(db, *args, key_file=key_file)
    environment = {k: v for k, v in os.environ.items()
                   if k not in (keys.PASSPHRASE_ENV, keys.KEY_FILE_ENV, FAULT_ENV, "CHATAUDIT_DB_NEW_KEY")}
    environment.update({"CHATAUDIT_ARGON2": "1,8192,1", **(env or {})})
    if fault:
        environment[FAULT_ENV] = fault
    prefix = ["--db", str(db)] + (["--db-key-file", str(key_file)] if key_file else [])
    return subprocess.run([*CHATAUDIT, *prefix, *args], env=environment, capture_output=True, text=True,
                          timeout=120)


def in_process(db: Path, *args: str, key_file: Path | None = None) -> subprocess.CompletedProcess:
    prefix = ["--db", str(db)] + (["--db-key-file", str(key_file)] if key_file else [])
    result = CliRunner().invoke(cli, [*prefix, *args])
    keys.use(None)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


@pytest.fixture(autouse=True)
def no_key_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (keys.PASSPHRASE_ENV, keys.KEY_FILE_ENV, FAULT_ENV, "CHATAUDIT_DB_NEW_KEY"):
        monkeypatch.delenv(name, raising=False)
    keys.use(None)


def killed(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == -signal.SIGKILL, (result.returncode, result.stderr)


def state(db: Path, key_file: Path | None = None) -> tuple[int, list]:
    """The archive opens and verifies; its messages found by search, and its conversations."""
    keys.use(keys.key_file(key_file) if key_file else None)
    try:
        with Archive(db, create=False) as archive:
            assert verify_archive(archive).ok
            found = len(search_messages(archive, "退货", limit=500))
            conversations = [dict(row) for row in archive.db.execute("SELECT * FROM conversations ORDER BY id")]
    finally:
        keys.use(None)
    return found, conversations


@pytest.fixture
def plain(tmp_path: Path) -> tuple[Path, Path, tuple[int, list]]:
    db = tmp_path / "archive.db"
    assert chataudit(db, "import", str(export_file(tmp_path)), "--tz", "Asia/Shanghai").returncode == 0
    key_file = tmp_path / "k.hex"
    keys.new_key_file(key_file)
    return db, key_file, state(db)


@pytest.mark.parametrize("point", ["rewrite:exported", "rewrite:header", "rewrite:renamed"])
def test_kill_during_encrypt_leaves_an_archive_that_opens_and_verifies(plain, point: str) -> None:
    db, key_file, before = plain
    killed(chataudit(db, "encrypt", "--key-file", str(key_file), fault=point))
    if point == "rewrite:renamed":  # the new file is in place; its header only as .next
        assert keys.is_plain_sqlite(db) is False and keys.next_header_path(db).exists()
        assert state(db, key_file) == before
    else:  # the plain archive is untouched
        assert keys.is_plain_sqlite(db)
        assert state(db) == before
    # and encrypting again completes from there
    again = chataudit(db, "encrypt", "--key-file", str(key_file), key_file=key_file)
    assert again.returncode == 0 or "already encrypted" in again.stderr, again.stderr
    assert state(db, key_file) == before
    assert not Path(f"{db}.rewriting").exists()


@pytest.mark.parametrize("point", ["rewrite:exported", "rewrite:header", "rewrite:renamed"])
def test_kill_during_key_change_leaves_the_archive_under_one_key_or_the_other(plain, point: str,
                                                                              tmp_path: Path) -> None:
    db, key_file, before = plain
    assert chataudit(db, "encrypt", "--key-file", str(key_file)).returncode == 0
    new_key = tmp_path / "new.hex"
    keys.new_key_file(new_key)
    killed(chataudit(db, "key", "change", "--new-key-file", str(new_key), key_file=key_file, fault=point))
    opener = new_key if point == "rewrite:renamed" else key_file
    other = key_file if opener == new_key else new_key
    assert state(db, opener)[0] == before[0]
    refused = chataudit(db, "conversations", key_file=other)
    assert refused.returncode != 0 and "wrong key" in refused.stderr


@pytest.mark.parametrize("point", ["backup:frame", "backup:written", "backup:committed"])
def test_kill_during_backup_lists_no_good_backup_and_the_archive_verifies(plain, point: str, tmp_path: Path) -> None:
    db, key_file, before = plain
    assert chataudit(db, "encrypt", "--key-file", str(key_file)).returncode == 0
    dest = tmp_path / "backups"
    killed(chataudit(db, "backup", "--to", str(dest), key_file=key_file, fault=point))
    listed = json.loads(chataudit(db, "backup", "list", str(dest), "--json", key_file=key_file).stdout)
    assert listed and all(row["status"] == "incomplete" for row in listed)
    verified = chataudit(db, "backup", "verify", str(dest), "--json", key_file=key_file)
    assert verified.returncode == 1 and not any(row["ok"] for row in json.loads(verified.stdout))
    assert state(db, key_file)[0] == before[0]
    # the next backup is good, and clears what the killed one left beside the archive
    assert chataudit(db, "backup", "--to", str(dest), key_file=key_file).returncode == 0
    assert not list(db.parent.glob(".chataudit-backup-*"))
    verified = json.loads(chataudit(db, "backup", "verify", str(dest), "--json", key_file=key_file).stdout)
    assert [row["ok"] for row in verified].count(True) == 1


def test_kill_during_restore_leaves_no_archive_at_the_target_and_the_source_verifies(plain, tmp_path: Path) -> None:
    db, key_file, before = plain
    assert chataudit(db, "encrypt", "--key-file", str(key_file)).returncode == 0
    dest = tmp_path / "backups"
    made = json.loads(chataudit(db, "backup", "--to", str(dest), "--json", key_file=key_file).stdout)
    into = tmp_path / "restored.db"
    killed(chataudit(db, "backup", "restore", str(dest), made["name"], "--into", str(into), key_file=key_file,
                     fault="restore:written"))
    assert not into.exists() and not keys.header_path(into).exists()
    assert state(db, key_file)[0] == before[0]
    done = chataudit(db, "backup", "restore", str(dest), made["name"], "--into", str(into), "--json",
                     key_file=key_file)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] and not Path(f"{into}.restoring").exists()
    assert state(into, key_file)[0] == before[0]
