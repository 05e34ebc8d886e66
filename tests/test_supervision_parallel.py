"""`supervise run` in worker processes raises exactly the alerts of the plain, one-process path:
same rows, same order (so the same alert ids), same run figures — on the labelled fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chataudit.governance import roster as roster_api
from chataudit.importer import import_paths
from chataudit.store import Archive
from chataudit.supervision import engine

FIXTURES = Path(__file__).parent / "fixtures"
COLUMNS = "id, conversation, message, kind, policy, category, rule, matched, start, \"end\", version, run"


@pytest.fixture(scope="module")
def archive_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("parallel") / "base.db"
    with Archive(db) as archive:
        summary = import_paths(archive, [FIXTURES / "supervision" / "chats.jsonl",
                                         FIXTURES / "supervision_holdout" / "holdout.jsonl"], tz="Asia/Shanghai")
        assert not summary.errors
        roster_api.set_roster(archive, FIXTURES / "supervision" / "roster.csv", operator="tester", params={})
    return db


def _run(source: Path, target: Path, **options: object) -> tuple[dict, list[tuple]]:
    for suffix in ("", "-wal", "-shm", ".key"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")
    with Archive(target, create=False) as archive:
        result = engine.run(archive, operator="tester", params={}, **options)  # type: ignore[arg-type]
        rows = archive.db.execute(f"SELECT {COLUMNS} FROM supervision_alerts ORDER BY id").fetchall()
    figures = {k: result[k] for k in ("messages", "alerts", "first_message", "last_message")}
    return figures, [tuple(row) for row in rows]


@pytest.mark.parametrize("since_ms", [None, 1_780_000_000_000])
def test_worker_processes_raise_the_same_alerts_as_the_plain_path(archive_file: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   since_ms: int | None) -> None:
    plain_figures, plain = _run(archive_file, tmp_path / "plain.db", workers=1, batch=7, since_ms=since_ms)
    monkeypatch.setattr(engine, "SLICE", 23)  # many slices, each of several batches, so order matters
    fast_figures, fast = _run(archive_file, tmp_path / "fast.db", workers=2, batch=5, since_ms=since_ms)
    assert plain_figures["alerts"] > 50 and plain
    assert fast_figures == plain_figures
    assert fast == plain


def test_small_runs_stay_in_one_process() -> None:
    assert engine.default_workers(engine.PARALLEL_FROM - 1) == 1
    assert engine.default_workers(10 * engine.PARALLEL_FROM) >= 1
