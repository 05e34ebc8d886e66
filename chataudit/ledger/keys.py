"""The archive's signing key: created on first use, kept in a 0600 file beside the archive.

Which file: ``--key PATH``, else ``$CHATAUDIT_KEY``, else the path ``chataudit init --key`` recorded
in the archive, else ``<archive>.key``. The file holds one line in golang.org/x/mod/sumdb/note's
signer-key format, so Go's note tools can sign and verify with it too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import ChatAuditError
from .note import NoteError, Signer, Verifier

KEY_ENV = "CHATAUDIT_KEY"
KEY_PATH_SETTING = "ledger.key_path"


def default_key_path(db_path: str | os.PathLike[str]) -> Path:
    """``<archive>.key`` beside an archive file; for a PostgreSQL archive (no file of its own) a file
    named after its host, port and database in $CHATAUDIT_KEYS (default ~/.config/chataudit)."""
    from ..store import is_postgres

    if is_postgres(db_path):
        from ..store.postgres import key_name

        folder = os.environ.get("CHATAUDIT_KEYS") or Path.home() / ".config" / "chataudit"
        return Path(folder).expanduser() / f"{key_name(str(db_path))}.key"
    return Path(str(db_path) + ".key")


def resolve_key_path(db_path: str | os.PathLike[str], given: str | os.PathLike[str] | None = None,
                     recorded: str | None = None) -> Path:
    """--key, else $CHATAUDIT_KEY, else the path recorded by ``init``, else ``<db>.key``."""
    for candidate in (given, os.environ.get(KEY_ENV), recorded):
        if candidate:
            return Path(candidate).expanduser()
    return default_key_path(db_path)


def create_key(path: Path, name: str) -> Signer:
    """A new Ed25519 key named ``name``, written to ``path`` with mode 0600 (never over an existing file)."""
    signer = Signer.generate(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ChatAuditError(f"{path}: a key file already exists; not overwriting it") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(str(signer) + "\n")
    os.chmod(path, 0o600)  # the umask may have narrowed, never widened, but be explicit
    return signer


def load_key(path: Path) -> Signer:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ChatAuditError(f"{path}: no signing key (run `chataudit init` or pass --key)") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ChatAuditError(f"{path}: private key is readable by others; run `chmod 600 {path}`")
    try:
        return Signer.from_key(path.read_text(encoding="ascii"))
    except (NoteError, UnicodeDecodeError) as error:
        raise ChatAuditError(f"{path}: not a chataudit/note signing key ({error})") from None


def load_or_create_key(path: Path, name: str) -> tuple[Signer, bool]:
    """The key at ``path``; created (named ``name``) when there is none. Returns (signer, created)."""
    if path.exists():
        return load_key(path), False
    return create_key(path, name), True


def parse_verifier_key(text: str, *, read_file: bool = True) -> Verifier:
    """A note verifier key given as the string itself or (``read_file``: not for text from the web,
    which must not name a file of the server) as a file holding it."""
    candidate = text.strip()
    if read_file and Path(candidate).is_file():
        candidate = Path(candidate).read_text(encoding="utf-8").strip()
    try:
        return Verifier.from_key(candidate)
    except NoteError as error:
        raise ChatAuditError(f"not a note verifier key: {error}") from None
