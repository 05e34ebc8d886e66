"""``chataudit lake …``: export the archive as a signed Parquet lake, and verify one."""

from __future__ import annotations

import click


@click.group("lake")
def lake() -> None:
    """An open columnar (Parquet) copy of the archive for Spark, DuckDB and other engines."""
