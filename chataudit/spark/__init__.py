"""The heavy, set-based work on Apache Spark (PySpark) over a lake (see :mod:`chataudit.lake`).

Spark is optional: ``pip install 'chataudit[spark]'`` and a Java 17 runtime. Everything here must
compute exactly what the single-machine path computes; tests compare the two key by key.
"""
