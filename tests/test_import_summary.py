"""The import summary counts the files that failed, after their errors (issue #11)."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from chataudit.cli import cli


def _run(tmp_path: Path, *args: str):
    runner = CliRunner()
    return runner.invoke(cli, ["--db", str(tmp_path / "a.db"), "import", *args])


def test_failed_file_is_counted_after_its_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("just some notes\nnothing chat-like\n", encoding="utf-8")
    result = _run(tmp_path, str(bad))
    assert result.exit_code == 1
    output = result.output
    assert "Error: " in output and "unknown format" in output
    summary = output.strip().splitlines()[-1]
    assert summary.startswith("0 files, 1 failed, 0 messages"), summary
    assert output.index("Error: ") < output.index("1 failed")


def test_json_lists_failed_files_with_their_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("just some notes\n", encoding="utf-8")
    result = _run(tmp_path, "--json", str(bad))
    assert result.exit_code == 1
    doc = orjson.loads(result.stdout)
    assert doc["failed"] == [{"path": str(bad), "error": doc["errors"][0]}]
    assert "unknown format" in doc["failed"][0]["error"]
