"""What the Spark jobs (quality, pii, supervise) share: reading a lake's tables and placing results,
per the layout contract of :mod:`chataudit.lake`. Paths are strings Spark accepts (local, HDFS, s3a)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ChatAuditError


def lake_path(lake: str | Path, *parts: str) -> str:
    """``lake/part/…`` as Spark takes it (a URL such as ``s3a://bucket/lake`` stays one)."""
    return "/".join([str(lake).rstrip("/"), *parts])


def read_table(spark: Any, lake: str | Path, table: str) -> Any:
    """A lake table as a DataFrame; ``messages`` with its hive partitions (``platform``, ``month``
    as strings). A missing table is one clear error."""
    from pyspark.errors import AnalysisException

    path = lake_path(lake, table)
    try:
        frame = spark.read.option("basePath", path).parquet(path)
    except AnalysisException as error:
        raise ChatAuditError(f"{path}: not a lake table ({str(error).splitlines()[0]})") from None
    if "month" in frame.columns:
        frame = frame.withColumn("month", frame["month"].cast("string"))
    return frame
