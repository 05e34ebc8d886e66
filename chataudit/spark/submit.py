"""The main file ``spark-submit`` runs: ``spark-submit --master URL [--py-files chataudit.whl]
<this file> spark verify --lake DIR``. The cluster spark-submit was given is the one the commands use
(a script run by spark-submit imports chataudit absolutely: it is not run as part of the package)."""

import os

from pyspark import SparkConf, SparkContext

from chataudit.cli import main

if __name__ == "__main__":
    SparkContext._ensure_initialized()  # connect to spark-submit's JVM, so its --master is in the conf
    master = SparkConf().get("spark.master", None)
    if master:
        os.environ.setdefault("CHATAUDIT_SPARK_MASTER", master)
    main()
