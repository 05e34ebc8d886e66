"""One SparkSession per process, configured for chataudit: UTC session time zone (instants are UTC
milliseconds everywhere), no UI, no network beyond the cluster, few shuffle partitions in local mode.

A user points at a cluster with ``--master spark://host:7077`` (or ``$CHATAUDIT_SPARK_MASTER``);
the default is ``local[2]``. Missing PySpark or Java is one clear error line, not a traceback.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from ..errors import ChatAuditError

DEFAULT_MASTER = "local[2]"


def spark_available() -> str | None:
    """Why Spark cannot start here (a sentence), or None when it can."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark is not installed (pip install 'chataudit[spark]')"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "no Java runtime found (install Java 17, e.g. Debian's openjdk-17-jre-headless, or set JAVA_HOME)"
    return None


def get_session(master: str | None = None, app_name: str = "chataudit") -> Any:
    """The process's SparkSession (created on first use; later calls return the same one)."""
    reason = spark_available()
    if reason:
        raise ChatAuditError(f"spark: {reason}")
    from pyspark.sql import SparkSession

    master = master or os.environ.get("CHATAUDIT_SPARK_MASTER") or DEFAULT_MASTER
    builder = (
        SparkSession.builder.master(master).appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", os.environ.get("CHATAUDIT_SPARK_DRIVER_HOST", "127.0.0.1"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    if master.startswith("local"):
        # local executors run this very interpreter (its packages: chataudit, ahocorasick…); a
        # cluster's workers take theirs from $PYSPARK_PYTHON or spark-submit's environment
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.config("spark.sql.shuffle.partitions", "4").config("spark.default.parallelism", "4")
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
