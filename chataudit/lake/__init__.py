"""The lake: an open, columnar copy of the archive (Parquet) that Apache Spark, DuckDB, pyarrow or
any other engine reads, so that work too big for one process runs where the data is.

Layout of a lake directory ``DIR`` (the contract every writer and reader here keeps):

- ``DIR/<table>/`` for each exported table. A table's columns are exactly the archive table's
  columns, same names, types mapped INTEGER→int64, TEXT→string, BLOB→binary, REAL→double, NULLs kept.
  Tables: ``messages``, ``conversations``, ``sources``, ``people``, ``person_identities``,
  ``sightings``, ``ledger_leaves``, ``ledger_sightings``, ``ledger_events`` (purges and redactions:
  a redacted message's leaf is recomputed with the digests recorded there).
- ``messages`` is hive-partitioned ``platform=<platform>/month=<YYYY-MM>/part-*.parquet``
  (``month`` from ``sent_at_ms`` in UTC; ``platform`` is also the messages column of that name and
  stays in the files, so a file alone has every column).
- File names are ``part-<5 digits>.parquet``; ``ledger_leaves``' files, in the manifest's order,
  hold the leaves in ascending ``idx``.
- ``DIR/manifest.json`` lists every file (path relative to ``DIR``, table, rows, bytes, SHA-256) and
  is tied to the checkpoint it was exported under (tree size, root, the signed checkpoint note);
  ``DIR/manifest.sig`` is a C2SP signed note over its SHA-256 under the archive's key.
- **Readers take a table's files from the manifest** (:func:`chataudit.lake.layout.table_files`,
  :func:`chataudit.lake.layout.spark_paths`), never from a folder listing: a file slipped into a
  table's folder is then not read, and ``lake verify`` names it.
- Job results (``spark quality`` …) land under ``DIR/results/<job>/`` (not in the manifest).
"""
