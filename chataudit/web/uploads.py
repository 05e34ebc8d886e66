"""Saving uploaded files into a job's folder: a bare file name only (no path, no dot-names), no
file twice, and a cap on the total bytes. Zip archives are opened later by the importer, which
enforces the zip limits (entries, sizes, ratios, paths)."""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath, PureWindowsPath

from fastapi import UploadFile

from ..errors import ChatAuditError

CHUNK = 1 << 20


def safe_name(given: str | None) -> str:
    """The last component of an uploaded file's name; raises on names that are none at all."""
    name = PureWindowsPath(PurePosixPath(given or "").name).name.strip()
    if not name or name.startswith(".") or any(ord(c) < 32 for c in name):
        raise ChatAuditError(f"upload {given!r}: not a file name (a bare name such as chat.txt or export.zip)")
    return name


def save_uploads(files: list[UploadFile], folder: Path, max_bytes: int) -> list[Path]:
    saved: list[Path] = []
    total = 0
    for upload in files:
        name = safe_name(upload.filename)
        target = folder / name
        if target.exists():
            raise ChatAuditError(f"upload {name!r} given twice")
        with open(target, "xb") as out:
            while chunk := upload.file.read(CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    shutil.rmtree(folder, ignore_errors=True)
                    raise ChatAuditError(f"the upload is larger than {max_bytes:,} bytes (`chataudit import` reads "
                                         "files of any size from the terminal)")
                out.write(chunk)
        saved.append(target)
    if not saved:
        raise ChatAuditError("no file uploaded")
    return saved
