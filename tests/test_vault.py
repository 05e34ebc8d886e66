"""Encryption at rest: an encrypted archive leaks no message text, name or id from its file, WAL or
shared memory; every command works on it; a wrong key is one error and changes nothing."""

from __future__ import annotations

import hashlib
import os
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.importer import import_paths, temporary_archive
from chataudit.search import search_messages
from chataudit.store import Archive
from chataudit.vault import convert, keys

# planted in the export: each must never be readable from the encrypted files
TEXT, NAME, SENDER_ID, CONVERSATION_ID = "蓝鲸退款暗号Q7", "PlantedSenderNameZ", "planted_sender_id_88", "planted-conv-42"
PLANTED = [TEXT, NAME, SENDER_ID, CONVERSATION_ID, "客户王女士"]
FAST_ARGON2 = "1,8192,1"  # the tests' argon2id cost (the default is 3 passes over 64 MiB)


def export_file(folder: Path) -> Path:
    rows = ["sent_at,platform,conversation_id,conversation_title,sender_id,sender_name,kind,text,amount,currency"]
    for i in range(40):
        rows.append(f"2026-03-12 08:{i:02d}:10,generic,{CONVERSATION_ID},客户王女士,{SENDER_ID},{NAME},text,"
                    f"{TEXT} 第{i}条 想退货,,")
        rows.append(f"2026-03-12 08:{i:02d}:40,generic,{CONVERSATION_ID},客户王女士,agent_li,客服小李,text,"
                    f"您好 {i} 请提供照片,,")
    path = folder / "service.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def no_key_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (keys.PASSPHRASE_ENV, keys.KEY_FILE_ENV, "CHATAUDIT_DB_NEW_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHATAUDIT_ARGON2", FAST_ARGON2)
    keys.use(None)
    yield
    keys.use(None)


def run(db: Path, *args: str, ok: bool = True, key_file: Path | None = None) -> object:
    prefix = ["--db", str(db)] + (["--db-key-file", str(key_file)] if key_file else [])
    result = CliRunner().invoke(cli, [*prefix, *args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def raw_bytes(db: Path) -> bytes:
    return b"".join(Path(f"{db}{suffix}").read_bytes() for suffix in ("", "-wal", "-shm", "-journal")
                    if Path(f"{db}{suffix}").exists())


def assert_nothing_readable(db: Path) -> None:
    data = raw_bytes(db)
    assert len(data) > 4096
    for needle in PLANTED:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            assert needle.encode(encoding) not in data, (needle, encoding)
    for sidecar in (keys.header_path(db), keys.next_header_path(db)):
        if sidecar.exists():
            assert not any(needle.encode() in sidecar.read_bytes() for needle in PLANTED)


def test_an_encrypted_archive_leaks_nothing_from_its_file_wal_or_shm_while_open_and_after(tmp_path: Path) -> None:
    key_file = tmp_path / "archive.key.hex"
    run(tmp_path / "x", "key", "new", "--out", str(key_file))
    db = tmp_path / "enc.db"
    run(db, "init", "--encrypt", key_file=key_file)
    assert keys.is_plain_sqlite(db) is False
    keys.use(keys.key_file(key_file))
    with Archive(db, create=False) as archive:  # open: the WAL and shared memory hold the import's pages
        import_paths(archive, [export_file(tmp_path)], tz="Asia/Shanghai")
        assert len(search_messages(archive, TEXT[:4])) == 40  # the index works through SQLCipher
        assert Path(f"{db}-wal").exists() and Path(f"{db}-wal").stat().st_size > 0
        assert_nothing_readable(db)
    assert_nothing_readable(db)
    # the control: the same import into a plain archive shows every planted string
    plain = tmp_path / "plain.db"
    with Archive(plain) as archive:
        import_paths(archive, [export_file(tmp_path)], tz="Asia/Shanghai")
    assert all(needle.encode() in raw_bytes(plain) for needle in PLANTED)


def make_plain(tmp_path: Path) -> Path:
    db = tmp_path / "archive.db"
    run(db, "import", str(export_file(tmp_path)), "--tz", "Asia/Shanghai")
    return db


def test_wrong_or_missing_key_is_one_error_and_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = make_plain(tmp_path)
    monkeypatch.setenv(keys.PASSPHRASE_ENV, "the right passphrase")
    run(db, "encrypt")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    monkeypatch.setenv(keys.PASSPHRASE_ENV, "a wrong passphrase")
    for args in (["search", "退货"], ["verify"], ["conversations", "--json"], ["import", str(export_file(tmp_path))]):
        result = run(db, *args, ok=False)
        assert result.exit_code != 0
        assert "Traceback" not in result.output
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert errors == [f"Error: {db}: wrong key: ${keys.PASSPHRASE_ENV} does not open this encrypted archive"]
    monkeypatch.delenv(keys.PASSPHRASE_ENV)
    result = run(db, "search", "退货", ok=False)
    assert result.exit_code != 0 and "an encrypted archive; give its key" in result.output
    key_file = tmp_path / "k.hex"
    run(db, "key", "new", "--out", str(key_file))
    result = run(db, "search", "退货", ok=False, key_file=key_file)
    assert result.exit_code != 0 and "encrypted with a passphrase" in result.output
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    monkeypatch.setenv(keys.PASSPHRASE_ENV, "the right passphrase")
    assert json.loads(run(db, "verify", "--json").output)["ok"]


def test_the_header_holds_no_secret_and_names_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = make_plain(tmp_path)
    monkeypatch.setenv(keys.PASSPHRASE_ENV, "passphrase in the header?")
    run(db, "encrypt")
    text = keys.header_path(db).read_text()
    header = json.loads(text)
    assert set(header) == {"kdf", "salt", "time_cost", "memory_kib", "parallelism", "check", "file_salt", "format",
                           "cipher"}
    assert header["kdf"] == "argon2id" and header["file_salt"] == db.read_bytes()[:16].hex()
    assert "passphrase" not in text
    key = keys.archive_key(db)
    assert key is not None and key.hex() not in text and key.hex() not in db.read_bytes().hex()
    assert oct(keys.header_path(db).stat().st_mode & 0o777) == "0o600"


def _listing(db: Path, key_file: Path | None = None) -> dict[str, object]:
    """What a reader sees through the commands (JSON), with the archive's own path left out."""
    shown = {}
    for args in (["conversations"], ["search", "退货"], ["search", TEXT[:4]], ["messages", "--conversation", "1"],
                 ["people"], ["sources"], ["checkpoint"]):
        output = json.loads(run(db, *args, "--json", key_file=key_file).output)
        shown[" ".join(args)] = output
    verified = json.loads(run(db, "verify", "--json", key_file=key_file).output)
    shown["verify"] = {k: verified[k] for k in ("ok", "tree_size", "root")}
    return shown


def test_every_reader_sees_the_same_in_the_encrypted_copy_and_decrypt_gives_the_plain_back(tmp_path: Path) -> None:
    plain = make_plain(tmp_path)
    run(plain, "init")
    encrypted = tmp_path / "copy.db"
    shutil.copy(plain, encrypted)
    shutil.copy(f"{plain}.key", f"{encrypted}.key")
    key_file = tmp_path / "k.hex"
    run(plain, "key", "new", "--out", str(key_file))
    result = json.loads(run(encrypted, "encrypt", "--key-file", str(key_file), "--json").output)
    assert result["encrypted"] and result["kdf"] == "keyfile" and result["rows"] > 80
    expected = _listing(plain)
    seen = _listing(encrypted, key_file)
    for listing in (expected, seen):
        for row in listing["sources"]:
            row.pop("path", None)
        listing.pop("checkpoint")  # the encrypted copy's audit entry for `encrypt` signed one more leaf
        listing["verify"].pop("tree_size")
        listing["verify"].pop("root")
    assert seen == expected
    assert json.loads(run(encrypted, "key", "status", "--json", key_file=key_file).output)["encrypted"]
    run(encrypted, "decrypt", "--yes", key_file=key_file)
    assert keys.is_plain_sqlite(encrypted) and not keys.header_path(encrypted).exists()
    again = _listing(encrypted)
    for row in again["sources"]:
        row.pop("path", None)
    again.pop("checkpoint")
    again["verify"].pop("tree_size")
    again["verify"].pop("root")
    assert again == expected
    entries = json.loads(run(encrypted, "audit", "--json").output)
    assert [e["command"] for e in entries][-2:] == ["encrypt", "decrypt"]


def test_key_change_rekeys_every_page_and_only_the_new_key_opens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = make_plain(tmp_path)
    monkeypatch.setenv(keys.PASSPHRASE_ENV, "old passphrase")
    run(db, "encrypt")
    old_salt = db.read_bytes()[:16]
    monkeypatch.setenv("CHATAUDIT_DB_NEW_KEY", "new passphrase")
    run(db, "key", "change")
    assert db.read_bytes()[:16] != old_salt
    assert not keys.next_header_path(db).exists()
    result = run(db, "search", "退货", ok=False)  # $CHATAUDIT_DB_KEY still holds the old one
    assert result.exit_code != 0 and "wrong key" in result.output
    monkeypatch.setenv(keys.PASSPHRASE_ENV, "new passphrase")
    assert json.loads(run(db, "verify", "--json").output)["ok"]
    assert_nothing_readable(db)
    entries = json.loads(run(db, "audit", "--json").output)
    assert [e["command"] for e in entries][-2:] == ["encrypt", "key change"]


def test_the_throwaway_archive_of_compare_is_encrypted_too(tmp_path: Path) -> None:
    key_file = tmp_path / "k.hex"
    keys.use(keys.new_key_file(key_file))
    db = tmp_path / "enc.db"
    convert.encrypt(db, keys.key_file(key_file))
    with Archive(db) as archive:
        with temporary_archive(archive, export_file(tmp_path)) as temporary:
            assert temporary.key is not None and temporary.key != archive.key
            assert temporary.stats()["messages"] == 80
            assert keys.is_plain_sqlite(temporary.path) is False
            assert_nothing_readable(temporary.path)
    result = run(db, "compare", str(export_file(tmp_path)), "1", "--json", ok=False, key_file=key_file)
    assert "Traceback" not in result.output and "encrypted" not in result.output


def test_serve_reads_an_encrypted_archive_through_the_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from web_support import TOKEN, app_for
    from fastapi.testclient import TestClient

    db = make_plain(tmp_path)
    monkeypatch.setenv(keys.PASSPHRASE_ENV, "serve passphrase")
    run(db, "encrypt")
    client = TestClient(app_for(db), headers={"Authorization": f"Bearer {TOKEN}"})
    response = client.get("/api/v1/search", params={"q": TEXT[:4]})
    assert response.status_code == 200, response.text
    assert len(response.json()) == 40
    monkeypatch.setenv(keys.PASSPHRASE_ENV, "not it")
    keys.use(None)  # (the in-process `encrypt` above left its secret chosen, as it would for its own process)
    with pytest.raises(keys.WrongKeyError):  # the app opens the archive when it is made
        app_for(db)
    result = run(db, "serve", "--no-open", ok=False)  # serve opens the archive before it listens
    assert result.exit_code != 0 and "wrong key" in result.output


def test_serve_workers_find_the_key_the_parent_was_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(keys.PASSPHRASE_ENV, "")  # (so that the variables are unset again after the test)
    monkeypatch.setenv(keys.KEY_FILE_ENV, "")
    keys.use(keys.passphrase("typed at the prompt"))
    keys.export_to_environment()
    assert os.environ[keys.PASSPHRASE_ENV] == "typed at the prompt"
    key_file = tmp_path / "k.hex"
    keys.use(keys.new_key_file(key_file))
    keys.export_to_environment()
    assert os.environ[keys.KEY_FILE_ENV] == str(key_file.absolute())
