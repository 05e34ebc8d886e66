from __future__ import annotations

import os
import signal
import sys

from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/pg_cluster.py

from chataudit.store import Archive

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``make test`` (pytest-xdist, ``--dist loadgroup``) every test that uses the Spark session
    runs on one worker: one JVM for the run, as the session fixture intends, instead of one per worker.
    They are collected first: their group is the run's longest serial stretch, so it starts at once
    while the other workers share the rest (last, it was the run's tail)."""
    spark = [item for item in items if "spark" in getattr(item, "fixturenames", ())]
    for item in spark:
        item.add_marker(pytest.mark.xdist_group("spark"))
    chosen = set(spark)
    items[:] = spark + [item for item in items if item not in chosen]


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def archive(tmp_path: Path):
    with Archive(tmp_path / "archive.db") as opened:
        yield opened


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read or write the user's real keys, zone or operator; a test that needs its own
    sets them again (monkeypatch keeps the last value)."""
    monkeypatch.setenv("CHATAUDIT_KEYS", str(tmp_path_factory.getbasetemp() / "keys"))
    for name in ("CHATAUDIT_DB", "CHATAUDIT_KEY", "CHATAUDIT_TZ", "CHATAUDIT_OPERATOR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def spark():
    """One local[2] SparkSession for the whole run (start-up costs seconds); skipped with the reason
    when PySpark or Java is missing."""
    from chataudit.spark.session import get_session, spark_available

    reason = spark_available()
    if reason:
        pytest.skip(f"spark: {reason}")
    # the tests' jobs are tiny and many: the quick (C1) JIT alone costs ~40 % less CPU than tiered
    # compilation warming up the C2 compiler for work that never comes; without tiers the JVM reserves
    # only 48 MB for compiled code, which a run's many generated query classes fill ("CodeCache is
    # full. Compiler has been disabled."), and the rest of the run is interpreted
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--driver-java-options"
                          " '-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m' pyspark-shell")
    before = signal.getsignal(signal.SIGINT)
    session = get_session("local[2]")
    yield session
    session.stop()
    # PySpark's Ctrl-C handler cancels the jobs of a context that is now gone: a worker's SIGINT at
    # shutdown (pytest-xdist) raised from it in the middle of whatever ran
    signal.signal(signal.SIGINT, before)


# ---- the two stores -------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway PostgreSQL cluster per test run (tests/pg_cluster.py); skipped, with the reason,
    only where the server cannot run here."""
    import pg_cluster as cluster_module

    try:
        cluster = cluster_module.start_cluster()
    except cluster_module.Unavailable as why:
        pytest.skip(f"PostgreSQL store not tested: {why}")
    yield cluster
    cluster.stop()


_databases = iter(range(1, 1 << 30))


@pytest.fixture
def new_archive(request, tmp_path: Path):
    """A factory of empty archive locations in the store under test: ``new_archive("x.db")`` is a
    file path for SQLite, a new database's postgresql:// URL for PostgreSQL."""
    store = getattr(request, "param", "sqlite")

    def make(name: str = "archive.db") -> Any:
        if store == "sqlite":
            return tmp_path / name
        cluster = request.getfixturevalue("pg_cluster")
        return cluster.create_database(f"t{next(_databases)}_{abs(hash(tmp_path)) % 100000}")

    make.store = store  # type: ignore[attr-defined]
    return make


both_stores = pytest.mark.parametrize("new_archive", ["sqlite", "postgresql"], indirect=True)
