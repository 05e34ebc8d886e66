"""Rows between the JVM and the Python workers as Arrow batches (``DataFrame.mapInArrow``), not as
pickled rows (``df.rdd``, ``createDataFrame(rdd)``).

Measured on ``spark import``: a pickled crossing costs more CPU than the Python work it feeds (every
row is pickled by the JVM, unpickled into a ``Row``, and back), and the import crossed four times.
An Arrow crossing is a columnar copy. PySpark's ``mapInArrow`` checks that pandas is importable on
the driver (it is built on ``pandas_udf``), so the ``spark`` extra pins pandas; no pandas object is
ever made here.

:func:`rows_in_arrow` turns a row function (tuples in, tuples out, as the executors' code of
:mod:`chataudit.ledger` and :mod:`chataudit.store` works) into a ``mapInArrow`` function.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

BATCH_ROWS = 8192  # rows per Arrow batch sent back to the JVM

_TYPES = {"long": "int64", "bigint": "int64", "string": "string", "binary": "binary", "double": "float64",
          "boolean": "bool_"}


def arrow_schema(ddl: str) -> Any:
    """The pyarrow schema of a flat Spark DDL string (``"idx long, leaf_hash binary"``)."""
    import pyarrow as pa

    fields = []
    for part in ddl.split(","):
        name, kind = part.split()
        fields.append(pa.field(name, getattr(pa, _TYPES[kind.lower()])()))
    return pa.schema(fields)


def to_batch(rows: list[tuple], schema: Any) -> Any:
    """Tuples (in the schema's column order) as one Arrow record batch."""
    import pyarrow as pa

    columns = list(zip(*rows)) if rows else [()] * len(schema)
    return pa.RecordBatch.from_arrays([pa.array(column, type=f.type) for column, f in zip(columns, schema)],
                                      schema=schema)


def batch_rows(batches: Iterable[Any]) -> Iterator[tuple]:
    """The rows of Arrow batches as tuples (binary values as bytes)."""
    for batch in batches:
        yield from zip(*(column.to_pylist() for column in batch.columns))


def rows_in_arrow(run: Callable[[Iterator[tuple]], Iterable[tuple]], ddl: str) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """A ``mapInArrow`` function applying the row function ``run`` to one partition's rows; its
    output rows are the columns of ``ddl`` (pass the same string as mapInArrow's schema)."""

    def apply(batches: Iterator[Any]) -> Iterator[Any]:
        schema = arrow_schema(ddl)
        pending: list[tuple] = []
        for row in run(batch_rows(batches)):
            pending.append(row)
            if len(pending) >= BATCH_ROWS:
                yield to_batch(pending, schema)
                pending = []
        if pending:
            yield to_batch(pending, schema)

    return apply


def map_rows(df: Any, run: Callable[[Iterator[tuple]], Iterable[tuple]], ddl: str) -> Any:
    """``df`` with ``run`` applied to each partition's rows (tuples of ``df``'s columns) → a DataFrame of ``ddl``."""
    return df.mapInArrow(rows_in_arrow(run, ddl), ddl)
