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
    """A lake table as a DataFrame; ``messages`` with ``month`` (UTC ``YYYY-MM``, a string). A lake
    with a manifest (``lake export``, ``spark import``) is read from exactly the files its manifest
    lists, as ``spark verify`` reads it, so a file slipped into the folders is never counted; a bare
    folder of Parquet (another tool's) is read with its hive partitions. A missing table is one error."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    path = lake_path(lake, table)
    manifest = _manifest(str(lake))
    try:
        if manifest is not None:
            from .verify import read_table as read_listed

            frame = read_listed(spark, str(lake), manifest, table)
        else:
            frame = spark.read.option("basePath", path).parquet(path)
    except AnalysisException as error:
        raise ChatAuditError(f"{path}: not a lake table ({str(error).splitlines()[0]})") from None
    if "month" in frame.columns:
        frame = frame.withColumn("month", frame["month"].cast("string"))
    elif table == "messages":  # the session time zone is UTC (session.py)
        frame = frame.withColumn("month", F.date_format(F.timestamp_millis("sent_at_ms"), "yyyy-MM"))
    return frame


def _manifest(lake: str) -> dict[str, Any] | None:
    """The lake's manifest, or None when it has none (a folder of Parquet written by another tool)."""
    from ..lake import layout

    try:
        return layout.load_manifest(lake)[2]
    except (ChatAuditError, OSError, FileNotFoundError):
        return None


def sender_rows(spark: Any) -> list[tuple]:
    """The lake's senders grouped as the archive's ``quality_senders`` cache is (platform, sender_id,
    sender_name, max is_me, comma-joined distinct sides), in its order (codes are given in it), for
    :func:`chataudit.quality.sessions.classify`. Reads view ``lake_messages``; one row per sender."""
    return [tuple(r) for r in spark.sql(
        "SELECT platform, sender_id, sender_name, max(is_me), concat_ws(',', sort_array(collect_set(side)))"
        " FROM (SELECT DISTINCT platform, coalesce(sender_id, '') AS sender_id,"
        "  coalesce(sender_name, '') AS sender_name, coalesce(is_me, 0) AS is_me,"
        "  CASE WHEN extras IS NULL THEN '' ELSE coalesce(get_json_object(extras, '$.side'), '') END AS side"
        "  FROM lake_messages)"
        " GROUP BY platform, sender_id, sender_name ORDER BY platform, sender_id, sender_name").collect()]


def check_lake(lake: str | Path) -> None:
    """A local lake without its messages table fails here, in one line, before Spark starts (a URL
    such as hdfs:// or s3a:// is left to Spark, which says the same when it reads)."""
    if "://" not in str(lake) and not Path(lake, "messages").is_dir():
        raise ChatAuditError(f"{lake_path(lake, 'messages')}: not a lake table (no such directory)")
