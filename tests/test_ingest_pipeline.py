"""A large file is parsed in a second process: its errors read as in-process ones, nothing of a bad
file is imported, the archive it builds verifies, and the process is gone afterwards."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from chataudit import importer
from chataudit.importer import import_paths
from chataudit.ledger.verify import verify_archive
from chataudit.store import Archive

FIXTURES = Path(__file__).parent / "fixtures"


def _import(tmp_path: Path, name: str, paths: list[Path], second_process: bool, monkeypatch) -> tuple[dict, int]:
    monkeypatch.setattr(importer, "PIPELINE_MIN_BYTES", 0 if second_process else 1 << 60)
    with Archive(tmp_path / f"{name}.db") as archive:
        summary = import_paths(archive, paths, tz="Asia/Shanghai", base=tmp_path)
        return summary.as_dict(), archive.db.execute("SELECT count(*) FROM messages").fetchone()[0]


@pytest.mark.parametrize("bad, where", [
    ("corrupted.jsonl", "corrupted.jsonl:4: invalid JSON"),  # invalid JSON on a line
    ("truncated.json", "truncated.json"),  # a JSON array cut short
])
def test_a_bad_file_reads_the_same_and_imports_nothing_in_either_process(tmp_path, monkeypatch, bad, where):
    shutil.copyfile(FIXTURES / "wecom" / bad, tmp_path / bad)
    shutil.copyfile(FIXTURES / "wecom" / "archive.jsonl", tmp_path / "good.jsonl")
    paths = [tmp_path / bad, tmp_path / "good.jsonl"]
    inline, inline_count = _import(tmp_path, "inline", paths, False, monkeypatch)
    child, child_count = _import(tmp_path, "child", paths, True, monkeypatch)
    assert child["errors"] == inline["errors"] and len(child["errors"]) == 1
    assert child["errors"][0].startswith(where)
    assert child_count == inline_count == child["new"] > 0  # the bad file added nothing, the good one all


def test_an_instant_the_archive_cannot_hold_is_refused_at_its_line(tmp_path, monkeypatch):
    path = tmp_path / "far.jsonl"
    path.write_text('{"sent_at": "2024-01-01T10:00:00+08:00", "text": "ok", "sender_name": "A"}\n'
                    '{"sent_at": "2150-01-01T10:00:00+08:00", "text": "later", "sender_name": "A"}\n',
                    encoding="utf-8")
    child, count = _import(tmp_path, "child", [path], True, monkeypatch)
    inline, _ = _import(tmp_path, "inline", [path], False, monkeypatch)
    assert child["errors"] == inline["errors"] and child["errors"][0].startswith("far.jsonl:2: ")
    assert count == 0


def test_an_archive_built_through_the_second_process_verifies(tmp_path, monkeypatch):
    names = ["whatsapp/WhatsApp Chat with Alice.txt", "wecom/archive.jsonl", "generic/family.jsonl",
             "email/thread_en.mbox"]
    paths = []
    for name in names:
        paths.append(tmp_path / Path(name).name)
        shutil.copyfile(FIXTURES / name, paths[-1])
    monkeypatch.setattr(importer, "PIPELINE_MIN_BYTES", 0)
    with Archive(tmp_path / "a.db") as archive:
        summary = import_paths(archive, paths, tz="Asia/Shanghai")
        assert not summary.errors
        report = verify_archive(archive)
    assert report.ok, report.as_dict()


def _children() -> set[int]:
    """This process's child processes (from /proc: each process's parent id)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            found.add(int(stat.parent.name))
    return found


def test_the_parsing_process_is_stopped_when_the_import_fails(tmp_path, monkeypatch):
    shutil.copyfile(FIXTURES / "wecom" / "archive.jsonl", tmp_path / "good.jsonl")
    monkeypatch.setattr(importer, "PIPELINE_MIN_BYTES", 0)
    before = _children()
    with Archive(tmp_path / "a.db") as archive:
        def fail(*_args):
            raise RuntimeError("the signing hook failed")

        archive.after_batch.append(fail)  # fails after the first batch, while the child may still parse
        summary = import_paths(archive, [tmp_path / "good.jsonl"], tz="Asia/Shanghai")
        assert "the signing hook failed" in summary.as_dict()["errors"][0]
        assert archive.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    assert _children() == before


def test_a_rolled_back_import_leaves_nothing_for_the_next_one(tmp_path, monkeypatch):
    """The leaves of a failed import's batches went with its transaction: the next import (which
    may get the same source id) signs only its own."""
    shutil.copyfile(FIXTURES / "wecom" / "archive.jsonl", tmp_path / "good.jsonl")
    (tmp_path / "conversations-only.jsonl").write_text("", encoding="utf-8")
    with Archive(tmp_path / "a.db") as archive:
        calls = []

        def fail_once(archive_, source_id):
            calls.append(source_id)
            if len(calls) == 1:
                raise RuntimeError("failed after its batches were stored")

        archive.after_import.insert(0, fail_once)
        first = import_paths(archive, [tmp_path / "good.jsonl"], tz="Asia/Shanghai")
        assert "failed after its batches" in first.as_dict()["errors"][0]
        second = import_paths(archive, [tmp_path / "good.jsonl"], tz="Asia/Shanghai")
        assert not second.errors and second.as_dict()["new"] > 0
        assert calls[0] == calls[1]  # the same source id, reused after the rollback
        report = verify_archive(archive)
    assert report.ok, report.as_dict()
