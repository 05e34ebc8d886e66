"""A lake for the Spark job tests, written by ``lake export`` itself (the path users take)."""

from __future__ import annotations

from pathlib import Path

from chataudit.lake.export import export_lake
from chataudit.store import Archive


def write_lake(archive_path: str | Path, out_dir: str | Path) -> Path:
    """The archive exported as a lake under ``out_dir`` (which must not exist or be empty)."""
    with Archive(archive_path, create=False) as archive:
        export_lake(archive, str(out_dir))
    return Path(out_dir)
