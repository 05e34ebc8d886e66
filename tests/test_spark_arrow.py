"""The Arrow adapter the Spark jobs use between the JVM and the Python workers (chataudit/spark/arrow.py):
rows reach a row function as the tuples they were, and its rows leave as batches of the declared
schema. Pure pyarrow: no Spark session needed."""

from __future__ import annotations

import pyarrow as pa
import pytest

from chataudit.spark import arrow
from chataudit.spark.quality_job import _as_rows

DDL = "idx long, name string, digest binary, ok boolean, share double"


def test_rows_survive_the_round_trip_nulls_and_bytes_included(monkeypatch) -> None:
    monkeypatch.setattr(arrow, "BATCH_ROWS", 3)  # several output batches from one partition
    rows = [(i, None if i % 4 == 0 else f"名字{i}", bytes([i]) * 32, i % 2 == 0, i / 7) for i in range(8)]
    schema = arrow.arrow_schema(DDL)
    inputs = [arrow.to_batch(rows[:5], schema), arrow.to_batch(rows[5:], schema)]
    seen: list[tuple] = []

    def run(it):
        for row in it:
            seen.append(row)
            yield (row[0] * 10, *row[1:])

    out = list(arrow.rows_in_arrow(run, DDL)(iter(inputs)))
    assert seen == rows
    assert [b.num_rows for b in out] == [3, 3, 2]
    assert all(b.schema == schema for b in out)
    assert list(arrow.batch_rows(out)) == [(r[0] * 10, *r[1:]) for r in rows]
    assert isinstance(seen[1][2], bytes)


def test_a_row_that_does_not_fit_the_schema_is_an_error_not_a_silent_cast() -> None:
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError, TypeError)):
        list(arrow.rows_in_arrow(lambda it: iter([("not a number", "x", b"", True, 0.0)]), DDL)(iter([])))


def test_an_empty_partition_sends_no_batch() -> None:
    assert list(arrow.rows_in_arrow(lambda it: iter(()), DDL)(iter([]))) == []


def test_structs_fetched_as_arrow_read_as_rows_do() -> None:
    # spark quality's wait_list: array<struct<wait_ms, sla_ms, agent>> is indexed as w[0], w[1]
    value = [{"wait_ms": 5, "sla_ms": 60, "agent": 2}, {"wait_ms": None, "sla_ms": 60, "agent": None}]
    assert _as_rows(value) == [(5, 60, 2), (None, 60, None)]
    assert _as_rows({"a": {"b": 1}}) == ((1,),)
