from __future__ import annotations

import os
from pathlib import Path

import pytest

from chataudit.store import Archive

FIXTURES = Path(__file__).parent / "fixtures"


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
    # compilation warming up the C2 compiler for work that never comes
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--driver-java-options -XX:TieredStopAtLevel=1 pyspark-shell")
    session = get_session("local[2]")
    yield session
    session.stop()
