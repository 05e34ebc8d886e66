"""Sealed files: an output of an encrypted archive (an evidence package) kept encrypted under a key
derived from the archive's key, in the backup stream's authenticated frames (:mod:`chataudit.backup.stream`).

The seal's header carries the archive's vault header (KDF, salt, key check), so the passphrase or key
file that opens the archive opens the seal, with or without the archive at hand.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ChatAuditError
from . import keys

FORMAT = "chataudit-sealed/1"
SUFFIX = ".sealed"


def seal(source: Path, out: Path, archive: Any, content: str) -> dict[str, Any]:
    """Write ``source`` sealed under ``archive``'s key to ``out`` (atomically); returns the header facts."""
    from ..backup import stream

    header = keys.read_header(archive.path)
    if archive.key is None or header is None:
        raise ChatAuditError(f"{archive.path}: not encrypted; nothing to seal under")
    from ..ledger.log import Ledger

    facts = {"format": FORMAT, "content": content, "archive_id": Ledger(archive).origin, "encrypted": True,
             "key": header.as_dict()}
    partial = out.with_name(out.name + ".part")
    try:
        with open(source, "rb") as src, os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                                                  "wb") as dst:
            written = stream.write(dst, facts, archive.key, src)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return {"sealed": True, "sha256": written.sha256, "size": written.size}


def unseal(source: Path, out: Path, secret: keys.Secret | None, archive: Any = None) -> dict[str, Any]:
    """The sealed file's content, written to ``out`` (a new file) once every frame authenticates."""
    from ..backup import stream

    if out.exists():
        raise ChatAuditError(f"{out}: exists; unseal writes a new file")
    with open(source, "rb") as src:
        header, head = stream.read_header(src)
        if header.get("format") != FORMAT:
            raise ChatAuditError(f"{source}: not a sealed chataudit file")
        vault_header = keys.Header.from_dict(header.get("key") or {})
        if archive is not None and archive.key is not None and keys.key_check(archive.key) == vault_header.check:
            key = archive.key
        elif secret is not None:
            key = keys.derive(vault_header, secret)
        else:
            raise ChatAuditError(f"{source}: give the key of the archive it was sealed under (--db-key-file, "
                                 f"${keys.KEY_FILE_ENV} or the passphrase in ${keys.PASSPHRASE_ENV})")
        partial = out.with_name(out.name + ".part")
        try:
            with open(partial, "wb") as dst:
                for chunk in stream.frames(src, header, head, key):
                    dst.write(chunk)
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
    return {"content": header.get("content"), "archive_id": header.get("archive_id"), "out": str(out)}
