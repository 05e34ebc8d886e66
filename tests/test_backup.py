"""Backups: consistent while a writer holds the archive, encrypted, verified end to end, restored to
the same checkpoint; a damaged, cut, foreign or other-key backup is refused with its reason."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from chataudit.backup import api, stream
from chataudit.cli import cli
from chataudit.store import Archive
from chataudit.vault import keys

from test_vault import PLANTED, export_file


@pytest.fixture(autouse=True)
def no_key_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (keys.PASSPHRASE_ENV, keys.KEY_FILE_ENV, "CHATAUDIT_DB_NEW_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHATAUDIT_ARGON2", "1,8192,1")
    keys.use(None)
    yield
    keys.use(None)


def run(db: Path, *args: str, ok: bool = True, key_file: Path | None = None):  # type: ignore[no-untyped-def]
    prefix = ["--db", str(db)] + (["--db-key-file", str(key_file)] if key_file else [])
    result = CliRunner().invoke(cli, [*prefix, *args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def as_json(result) -> object:  # type: ignore[no-untyped-def]
    return json.loads(result.stdout)


@pytest.fixture
def encrypted(tmp_path: Path) -> tuple[Path, Path]:
    """An encrypted, signed archive and its key file."""
    key_file = tmp_path / "archive.hex"
    db = tmp_path / "archive.db"
    run(db, "key", "new", "--out", str(key_file))
    run(db, "init", "--encrypt", key_file=key_file)
    run(db, "import", str(export_file(tmp_path)), "--tz", "Asia/Shanghai", key_file=key_file)
    return db, key_file


def only_backup(dest: Path) -> Path:
    [found] = sorted(dest.glob(f"*{api.SUFFIX}"))
    return found


def test_backup_of_an_encrypted_archive_is_encrypted_verified_and_restores_to_its_checkpoint(
        encrypted: tuple[Path, Path], tmp_path: Path) -> None:
    db, key_file = encrypted
    dest = tmp_path / "backups"
    made = as_json(run(db, "backup", "--to", str(dest), "--json", key_file=key_file))
    assert made["encrypted"] and made["archive_encrypted"] and made["checkpoint"]["tree_size"] > 80
    data = only_backup(dest).read_bytes()
    assert not any(needle.encode() in data for needle in PLANTED)
    manifest = json.loads((dest / f"{made['name']}{api.MANIFEST}").read_text())
    assert set(manifest) >= {"sha256", "checkpoint", "archive_id", "size", "created_at", "snapshot_sha256"}
    assert oct(only_backup(dest).stat().st_mode & 0o777) == "0o600"
    [listed] = as_json(run(db, "backup", "list", str(dest), "--json", key_file=key_file))
    assert listed["status"] == "complete" and listed["root"] == made["checkpoint"]["root"]
    [checked] = as_json(run(db, "backup", "verify", str(dest), "--json", key_file=key_file))
    assert checked["ok"] and checked["reason"] is None
    into = tmp_path / "restored.db"
    restored = as_json(run(db, "backup", "restore", str(dest), made["name"], "--into", str(into), "--json",
                           key_file=key_file))
    assert restored["ok"] and restored["checkpoint"] == {k: made["checkpoint"][k] for k in ("tree_size", "root")}
    assert keys.is_plain_sqlite(into) is False  # restored encrypted, under the archive's key
    assert run(into, "search", "退货", "--json", key_file=key_file).exit_code == 0
    entries = as_json(run(db, "audit", "--json", key_file=key_file))
    backups = [e for e in entries if e["command"] in ("backup", "backup restore")]
    assert [e["command"] for e in backups] == ["backup", "backup restore"]
    assert backups[0]["facts"]["root"] == made["checkpoint"]["root"]


def test_a_plain_archive_is_backed_up_encrypted_under_a_given_key_or_plain_only_when_asked(tmp_path: Path) -> None:
    db = tmp_path / "plain.db"
    run(db, "import", str(export_file(tmp_path)), "--tz", "Asia/Shanghai")
    dest = tmp_path / "b"
    refused = run(db, "backup", "--to", str(dest), ok=False)
    assert refused.exit_code != 0 and "--plain" in refused.output and not list(dest.glob("*"))
    key_file = tmp_path / "backup.hex"
    run(db, "key", "new", "--out", str(key_file))
    made = as_json(run(db, "backup", "--to", str(dest), "--key-file", str(key_file), "--json"))
    assert made["encrypted"] and not made["archive_encrypted"]
    assert not any(needle.encode() in only_backup(dest).read_bytes() for needle in PLANTED)
    assert made["size"] < made["snapshot_size"] / 2  # compressed before it is sealed
    missing = run(db, "backup", "verify", str(dest), ok=False)
    assert missing.exit_code != 0 and "give its key" in missing.output
    assert as_json(run(db, "backup", "verify", str(dest), "--key-file", str(key_file), "--json"))[0]["ok"]
    plain_dest = tmp_path / "plain-b"
    readable = as_json(run(db, "backup", "--to", str(plain_dest), "--plain", "--json"))
    assert not readable["encrypted"]
    assert as_json(run(db, "backup", "verify", str(plain_dest), "--json"))[0]["ok"]


def test_rotation_keeps_the_newest_and_a_backup_without_manifest_is_never_good(encrypted: tuple[Path, Path],
                                                                             tmp_path: Path) -> None:
    db, key_file = encrypted
    dest = tmp_path / "b"
    names = [as_json(run(db, "backup", "--to", str(dest), "--keep", "2", "--json", key_file=key_file))["name"]
             for _ in range(3)]
    listed = as_json(run(db, "backup", "list", str(dest), "--json", key_file=key_file))
    assert [row["name"] for row in listed] == names[1:]
    (dest / f"{names[2]}{api.MANIFEST}").unlink()  # as a crash between the backup and its manifest leaves it
    (dest / f"chataudit-x-1{api.SUFFIX}.partial").write_bytes(b"half")
    listed = as_json(run(db, "backup", "list", str(dest), "--json", key_file=key_file))
    assert {row["name"]: row["status"] for row in listed} == {names[1]: "complete", names[2]: "incomplete",
                                                              "chataudit-x-1": "incomplete"}
    result = run(db, "backup", "restore", str(dest), names[2], "--into", str(tmp_path / "r.db"), ok=False,
                 key_file=key_file)
    assert result.exit_code != 0 and "incomplete" in result.output and not (tmp_path / "r.db").exists()


def _refusal(db: Path, dest: Path, key_file: Path, *extra: str) -> dict:
    result = run(db, "backup", "verify", str(dest), "--json", *extra, ok=False, key_file=key_file)
    assert result.exit_code == 1, result.output
    [row] = as_json(result)
    assert not row["ok"]
    return row


def test_a_flipped_byte_a_cut_file_another_key_and_another_archive_are_each_refused_with_their_reason(
        encrypted: tuple[Path, Path], tmp_path: Path) -> None:
    db, key_file = encrypted
    dest = tmp_path / "b"
    run(db, "backup", "--to", str(dest), key_file=key_file)
    original = only_backup(dest).read_bytes()
    # a flipped byte in the middle of a frame
    flipped = bytearray(original)
    flipped[len(original) // 2] ^= 0x01
    only_backup(dest).write_bytes(bytes(flipped))
    row = _refusal(db, dest, key_file)
    assert row["reason"] == "damaged" and "fails authentication" in row["detail"]
    # cut short (the size differs from the manifest: `list` says so, `verify` names the truncation)
    only_backup(dest).write_bytes(original[: len(original) - 100])
    row = _refusal(db, dest, key_file)
    assert row["reason"] == "damaged" and "size" in row["detail"]
    with open(only_backup(dest), "rb") as cut:  # the stream itself, read on its own, tells the truncation
        header, head = stream.read_header(cut)
        with pytest.raises(stream.BackupRefused) as refused:
            for _ in stream.frames(cut, header, head, keys.key_file(key_file).value):
                pass
    assert refused.value.reason == "truncated"
    only_backup(dest).write_bytes(original)
    # the archive re-keyed since: the backup is under its old key
    other_key = tmp_path / "other.hex"
    run(db, "key", "new", "--out", str(other_key))
    run(db, "key", "change", "--new-key-file", str(other_key), key_file=key_file)
    row = _refusal(db, dest, other_key)
    assert row["reason"] == "wrong_key" and "another key" in row["detail"]
    assert as_json(run(db, "backup", "verify", str(dest), "--key-file", str(key_file), "--json",
                       key_file=other_key))[0]["ok"]  # given the old key, it verifies
    # a backup of another archive put in the same place
    stranger = tmp_path / "stranger.db"
    run(stranger, "import", str(export_file(tmp_path)))
    other_dest = tmp_path / "other-b"
    run(stranger, "backup", "--to", str(other_dest), "--plain")
    for path in other_dest.iterdir():
        path.rename(dest / path.name)
    rows = as_json(run(db, "backup", "verify", str(dest), "--json", "--key-file", str(key_file), ok=False,
                       key_file=other_key))
    assert sorted((row["ok"], row["reason"]) for row in rows) == [(False, "other_archive"), (True, None)]


def test_a_manifest_whose_checkpoint_the_backup_does_not_hold_fails_restore(encrypted: tuple[Path, Path],
                                                                          tmp_path: Path) -> None:
    db, key_file = encrypted
    dest = tmp_path / "b"
    made = as_json(run(db, "backup", "--to", str(dest), "--json", key_file=key_file))
    manifest_path = dest / f"{made['name']}{api.MANIFEST}"
    manifest = json.loads(manifest_path.read_text())
    manifest["checkpoint"]["root"] = "00" * 32
    manifest_path.write_text(json.dumps(manifest))
    into = tmp_path / "r.db"
    result = run(db, "backup", "restore", str(dest), made["name"], "--into", str(into), "--json", ok=False,
                 key_file=key_file)
    assert result.exit_code == 1
    report = as_json(result)
    assert not report["ok"] and report["verify_ok"] and report["checkpoint"]["root"] == made["checkpoint"]["root"]
    assert not into.exists() and not keys.header_path(into).exists()


def test_a_backup_taken_while_a_writer_holds_the_archive_is_the_committed_state(tmp_path: Path) -> None:
    db = tmp_path / "plain.db"
    run(db, "import", str(export_file(tmp_path)), "--tz", "Asia/Shanghai")
    with Archive(db, create=False) as archive:
        committed = archive.stats()["messages"]
    writer = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")  # an import in the middle of its transaction
    writer.execute("UPDATE conversations SET title = 'uncommitted' WHERE id = 1")
    # the snapshot does not wait for it; the backup's audit entry does, until it ends
    threading.Timer(1.0, lambda: writer.execute("ROLLBACK")).start()
    started, wall = time.monotonic(), time.time()
    try:
        with Archive(db, create=False) as archive:
            made = api.create(archive, str(tmp_path / "b"), plain=True, operator="tester")
    finally:
        time.sleep(max(0.0, 1.2 - (time.monotonic() - started)))
        writer.close()
    assert (tmp_path / "b" / f"{made['name']}{api.SUFFIX}").stat().st_mtime < wall + 1.0
    into = tmp_path / "r.db"
    restored = api.restore(str(tmp_path / "b"), made["name"], into, any_archive=True)
    assert restored["ok"]
    with Archive(into, create=False) as copy:
        assert copy.stats()["messages"] == committed
        assert copy.db.execute("SELECT title FROM conversations WHERE id = 1").fetchone()[0] != "uncommitted"


def test_schedule_writes_a_monthly_timer_and_a_cron_line(encrypted: tuple[Path, Path], tmp_path: Path) -> None:
    db, key_file = encrypted
    units = tmp_path / "units"
    result = as_json(run(db, "backup", "schedule", "--monthly", "--to", str(tmp_path / "b"), "--out-dir", str(units),
                         "--json", key_file=key_file))
    timer = (units / "chataudit-backup.timer").read_text()
    service = (units / "chataudit-backup.service").read_text()
    assert "OnCalendar=*-*~01 23:30:00" in timer and "Persistent=true" in timer
    assert f"CHATAUDIT_DB_KEY_FILE={key_file}" in service and "backup --to" in service and "--keep 12" in service
    assert result["cron"].startswith("30 23 28-31 * * ") and str(db) in result["cron"]


def test_reading_backups_of_a_folder_that_does_not_exist_creates_nothing(encrypted: tuple[Path, Path],
                                                                        tmp_path: Path) -> None:
    db, key_file = encrypted
    missing = tmp_path / "no-such-nas"
    for args in (["list", str(missing)], ["verify", str(missing)],
                 ["restore", str(missing), "x", "--into", str(tmp_path / "r.db")]):
        result = run(db, "backup", *args, ok=False, key_file=key_file)
        assert result.exit_code == 1 and "no such folder" in result.output, result.output
    assert not missing.exists() and not (tmp_path / "r.db").exists()
