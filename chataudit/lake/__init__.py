"""The lake: an open, columnar copy of the archive (Parquet) that Apache Spark, DuckDB, pyarrow or
any other engine reads, so that work too big for one process runs where the data is.

Layout of a lake directory ``DIR`` (the contract every writer and reader here keeps):

- ``DIR/<table>/`` for each exported table. A table's columns are exactly the archive table's
  columns, same names, types mapped INTEGER→int64, TEXT→string, BLOB→binary, REAL→double, NULLs kept.
  Tables: ``messages``, ``conversations``, ``sources``, ``people``, ``person_identities``,
  ``sightings``, ``ledger_leaves``, ``ledger_sightings``.
- ``messages`` is hive-partitioned ``platform=<platform>/month=<YYYY-MM>/part-*.parquet``
  (``month`` from ``sent_at_ms`` in UTC; ``platform`` is also the messages column of that name).
- ``DIR/manifest.json`` lists every file with its row count and SHA-256 and is tied to the
  checkpoint it was exported under; ``DIR/manifest.sig`` signs it under the archive's key.
- Job results (``spark quality`` …) land under ``DIR/results/<job>/``.
"""
