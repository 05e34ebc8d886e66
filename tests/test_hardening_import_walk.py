"""What ``import`` does with hostile containers: zip bombs, nested and duplicate zip members, FIFOs
and other special files, empty files."""

from __future__ import annotations

import os
import shutil
import threading
import warnings
import zipfile
from pathlib import Path

import pytest

from chataudit.importer import MAX_ZIP_NESTING, import_paths
from chataudit.store import Archive

FIXTURES = Path(__file__).parent / "fixtures"
LINE = '{"sent_at": "2024-01-01T10:00:00+00:00", "sender_name": "a", "text": "%s"}\n'


def chat(text: str = "hello") -> bytes:
    return (LINE % text).encode()


def run(database: Path, *paths, **options) -> dict:
    """The import in a thread, so that a hang fails the test instead of blocking the suite."""
    result: dict = {}

    def work() -> None:
        with Archive(database) as archive:
            result.update(import_paths(archive, list(paths), **options).as_dict())

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "import hung"
    return result


def zip_of(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are written on purpose
        with zipfile.ZipFile(path, "w", method) as bundle:
            for name, data in members.items() if isinstance(members, dict) else members:
                bundle.writestr(name, data)
    return path


# ---- zips ------------------------------------------------------------------------------------

def test_a_zip_whose_member_expands_a_thousandfold_is_refused_before_extraction(tmp_path: Path) -> None:
    bomb = zip_of(tmp_path / "bomb.zip", {"chat.jsonl": b'{"text": "' + b"a" * (4 << 20) + b'"}\n'})
    assert bomb.stat().st_size < 20_000
    result = run(tmp_path / "a.db", bomb)
    assert result["errors"] and result["errors"][0].startswith(f"{bomb}: member 'chat.jsonl' expands")
    assert "zip bomb" in result["errors"][0] and result["messages"] == 0


def test_many_small_members_cannot_add_up_to_a_bomb(tmp_path: Path) -> None:
    """Each 64 KiB member is under the per-member ratio floor; the zip as a whole is still refused."""
    bomb = zip_of(tmp_path / "many.zip", {f"f{i}.txt": bytes(64 << 10) for i in range(300)})
    result = run(tmp_path / "a.db", bomb)
    assert len(result["errors"]) == 1 and "a ratio over 200:1 (zip bomb?)" in result["errors"][0]
    assert result["sources"][0]["path"] == str(bomb)


def test_a_zip_with_too_many_entries_is_refused(tmp_path: Path) -> None:
    crowded = zip_of(tmp_path / "crowded.zip", {f"{i}.txt": b"" for i in range(10_001)}, zipfile.ZIP_STORED)
    result = run(tmp_path / "a.db", crowded)
    assert result["errors"] == [f"{crowded}: 10,001 entries, more than the limit of 10,000"]


def test_nested_zips_are_read_and_named_by_their_path(tmp_path: Path) -> None:
    inner = zip_of(tmp_path / "inner.zip", {"chat.jsonl": chat("inside")})
    outer = zip_of(tmp_path / "outer.zip", {"inner.zip": inner.read_bytes(), "top.jsonl": chat("top")})
    result = run(tmp_path / "a.db", outer)
    assert result["errors"] == []
    assert {s["path"]: s["messages"] for s in result["sources"]} == {
        f"{outer}!inner.zip!chat.jsonl": 1, f"{outer}!top.jsonl": 1}


def test_zips_nested_too_deep_are_reported_not_opened(tmp_path: Path) -> None:
    data = zip_of(tmp_path / "z0.zip", {"chat.jsonl": chat()}).read_bytes()
    for level in range(1, MAX_ZIP_NESTING + 1):
        data = zip_of(tmp_path / f"z{level}.zip", {f"z{level - 1}.zip": data}).read_bytes()
    result = run(tmp_path / "a.db", tmp_path / f"z{MAX_ZIP_NESTING}.zip")
    deepest = result["sources"][-1]
    assert deepest["path"].count("!") == MAX_ZIP_NESTING and deepest["path"].endswith("z0.zip")
    assert deepest["skipped"] == f"a zip inside {MAX_ZIP_NESTING} other zips: not opened"
    assert result["skipped"] == 1 and result["messages"] == 0


def test_duplicate_member_names_are_refused_not_overwritten(tmp_path: Path) -> None:
    twice = zip_of(tmp_path / "twice.zip", [("chat.jsonl", chat("first")), ("chat.jsonl", chat("second"))])
    result = run(tmp_path / "a.db", twice)
    assert result["errors"] == [f"{twice}: member 'chat.jsonl' appears twice (refused)"]
    assert result["messages"] == 0


def test_a_zip_bomb_inside_a_folder_or_zip_counts_against_one_budget(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "good.jsonl").write_bytes(chat())
    zip_of(folder / "bomb.zip", {"big.txt": bytes(8 << 20)})
    result = run(tmp_path / "a.db", folder)
    assert result["messages"] == 1
    assert len(result["errors"]) == 1 and result["errors"][0].startswith(f"{folder / 'bomb.zip'}: member 'big.txt'")


# ---- special and empty files -------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_in_a_folder_is_skipped_and_counted(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "chat.jsonl").write_bytes(chat())
    os.mkfifo(folder / "pipe.jsonl")
    result = run(tmp_path / "a.db", folder)
    assert result["messages"] == 1 and result["errors"] == []
    skipped = {s["path"]: s["skipped"] for s in result["sources"] if s["skipped"]}
    assert skipped == {str(folder / "pipe.jsonl"): "not a regular file (FIFO): not opened"}
    assert result["skipped"] == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_inside_a_folder_export_is_hidden_from_its_format(tmp_path: Path) -> None:
    """A Slack export reads every day file of a channel by name; a FIFO named like one must not hang it."""
    export = tmp_path / "slack"
    shutil.copytree(FIXTURES / "slack" / "acme_export", export)
    os.mkfifo(export / "general" / "2024-03-09.json")
    result = run(tmp_path / "a.db", export)
    assert result["errors"] == [] and result["files"] == 1 and result["messages"] > 0
    assert [s["path"] for s in result["sources"] if s["skipped"]] == [str(export / "general" / "2024-03-09.json")]
    assert [s["path"] for s in result["sources"] if s["format"]] == [str(export)]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_given_explicitly_is_an_error_not_a_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    result = run(tmp_path / "a.db", tmp_path / "pipe", tmp_path / "missing.txt")
    assert result["errors"] == [f"{tmp_path / 'pipe'}: not a regular file (FIFO): not opened",
                                f"{tmp_path / 'missing.txt'}: no such file or folder"]


def test_an_empty_file_says_so_at_line_one(tmp_path: Path) -> None:
    empty = tmp_path / "chat.jsonl"
    empty.write_bytes(b"")
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "chat.jsonl").write_bytes(chat())
    result = run(tmp_path / "a.db", empty, folder)
    assert result["errors"] == [f"{empty}:1: empty file"]
    assert {s["path"]: s["skipped"] for s in result["sources"] if s["skipped"]} == {str(folder / "empty.txt"): "empty file"}
    assert result["messages"] == 1
    forced = run(tmp_path / "a.db", empty, format_name="telegram-json")
    assert forced["errors"] == [f"{empty}:1: empty file"]


def test_a_file_a_format_reads_whole_is_bounded(tmp_path: Path, monkeypatch) -> None:
    """A Slack day file or an .eml is read whole; over the limit it is refused, not loaded."""
    from chataudit import formats

    monkeypatch.setattr(formats, "MAX_WHOLE_READ", 4096)
    export = tmp_path / "slack"
    shutil.copytree(FIXTURES / "slack" / "acme_export", export)
    day = export / "general" / "2024-03-04.json"
    day.write_bytes(day.read_bytes().replace(b'"text": "', b'"text": "' + b"x" * 5000, 1))
    mail = tmp_path / "big.eml"
    mail.write_bytes((FIXTURES / "email" / "quote_cn.eml").read_bytes() + b"x" * 5000)
    result = run(tmp_path / "a.db", export, mail)
    assert result["errors"] == [f"{day}: over 0 MiB, more than this format reads whole (no real export has a file this big here)",
                                f"{mail}: over 0 MiB, more than this format reads whole (no real export has a file this big here)"]
