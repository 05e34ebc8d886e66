"""One SparkSession per process, configured for chataudit: UTC session time zone (instants are UTC
milliseconds everywhere), no UI, no network beyond the cluster, few shuffle partitions in local mode.

A user points at a cluster with ``--master spark://host:7077`` (or ``$CHATAUDIT_SPARK_MASTER``);
the default is ``local[2]``. Missing PySpark or Java is one clear error line, not a traceback.

In local mode the executors are threads of the driver's JVM, so its heap holds the cache, the
shuffles and every task: Spark's 1 GiB default is too small for a million-message ``spark import``
on a laptop. A local run gets a quarter of the machine's memory (1–8 GiB) unless the user set the
driver's memory in Spark's own ways (``spark.driver.memory`` in ``spark-defaults.conf`` or
``PYSPARK_SUBMIT_ARGS``, ``--driver-memory``, ``$SPARK_DRIVER_MEMORY``).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from ..errors import ChatAuditError

DEFAULT_MASTER = "local[2]"
LOCAL_HEAP_SHARE = 4  # a local run's driver heap: this fraction of the machine's memory…
LOCAL_HEAP_MIB = (1024, 8192)  # …kept within these bounds


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
        heap = local_driver_memory()
        if heap:
            builder = builder.config("spark.driver.memory", heap)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def local_driver_memory(environ: dict[str, str] | None = None) -> str | None:
    """``spark.driver.memory`` for a local run (a share of the machine's memory), or None when the
    user set it in Spark's own ways (they win) or the machine's memory cannot be read."""
    environ = os.environ if environ is None else environ
    if environ.get("SPARK_DRIVER_MEMORY") or any(
            word in environ.get("PYSPARK_SUBMIT_ARGS", "") for word in ("--driver-memory", "spark.driver.memory")):
        return None
    for folder in (environ.get("SPARK_CONF_DIR"), environ.get("SPARK_HOME") and os.path.join(environ["SPARK_HOME"], "conf")):
        try:
            with open(os.path.join(folder, "spark-defaults.conf"), encoding="utf-8") as handle:
                if any(line.split()[:1] == ["spark.driver.memory"] for line in handle):
                    return None
        except (OSError, TypeError):
            continue
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    try:  # a container's limit (cgroup v2) is the machine a JVM can use
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as handle:
            limit = handle.read().strip()
        if limit.isdigit():
            total = min(total, int(limit))
    except OSError:
        pass
    low, high = LOCAL_HEAP_MIB
    return f"{min(high, max(low, total // LOCAL_HEAP_SHARE // 2**20))}m"
