"""The local SparkSession's driver heap (chataudit/spark/session.py): in local mode the executors are
threads of the driver's JVM, and Spark's 1 GiB default ran out of heap in a 1M-message `spark import`.
A local run gets a share of the machine's memory unless the user set it in Spark's own ways."""

from __future__ import annotations

import pytest

from chataudit.spark import session as S


def test_a_local_run_gets_a_share_of_the_machine_within_bounds() -> None:
    heap = S.local_driver_memory({})
    assert heap is not None and heap.endswith("m")
    low, high = S.LOCAL_HEAP_MIB
    assert low <= int(heap[:-1]) <= high


@pytest.mark.parametrize("environ", [
    {"SPARK_DRIVER_MEMORY": "2g"},
    {"PYSPARK_SUBMIT_ARGS": "--driver-memory 3g pyspark-shell"},
    {"PYSPARK_SUBMIT_ARGS": "--conf spark.driver.memory=3g pyspark-shell"},
])
def test_the_users_own_setting_wins(environ) -> None:
    assert S.local_driver_memory(environ) is None


def test_spark_defaults_conf_setting_wins(tmp_path) -> None:
    (tmp_path / "spark-defaults.conf").write_text("# mine\nspark.driver.memory   12g\n", encoding="utf-8")
    assert S.local_driver_memory({"SPARK_CONF_DIR": str(tmp_path)}) is None
    (tmp_path / "spark-defaults.conf").write_text("spark.executor.memory 12g\n", encoding="utf-8")
    assert S.local_driver_memory({"SPARK_CONF_DIR": str(tmp_path)}) is not None


def test_the_session_jvm_has_that_heap(spark) -> None:
    """The setting reaches the JVM's -Xmx (spark.driver.memory set after the JVM starts is ignored)."""
    wanted = S.local_driver_memory()
    if wanted is None:
        pytest.skip("the driver's memory is set by this environment")
    assert spark.sparkContext.getConf().get("spark.driver.memory") == wanted
    max_heap = spark.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory()
    assert max_heap >= int(wanted[:-1]) * 2**20 * 0.9  # the JVM reports a little less than -Xmx


def test_spark_import_drops_the_parsed_records_before_the_leaves_and_leaks_no_cache(spark, tmp_path, monkeypatch) -> None:
    """The 1M-message run that ran out of heap still held the parsed records' caches while it made the
    leaves; they are dropped once the sightings are written, and nothing stays cached after the run."""
    from chataudit.spark import ingest

    chat = tmp_path / "WhatsApp Chat with Bob.txt"
    chat.write_text("12/03/2026, 09:15 - Alice: Morning!\n12/03/2026, 09:16 - Bob: ok\n", encoding="utf-8")
    cached = lambda: spark.sparkContext._jsc.getPersistentRDDs().size()  # noqa: E731
    before, seen = cached(), []
    real = ingest.tree_root

    def spy(*args, **kwargs):
        seen.append(cached() - before)
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "tree_root", spy)
    result = ingest.import_on_spark(spark, [str(chat)], str(tmp_path / "lake"), key_path=str(tmp_path / "k"), tz="UTC")
    assert result["new"] == 2
    assert seen == [3]  # the numbered messages, the ledger sightings and the leaves; not the parsed records
    assert cached() == before
