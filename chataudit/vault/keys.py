"""Where an encrypted archive's key comes from, and the header beside it that lets it be derived.

An encrypted archive ``X.db`` is a SQLCipher 4 database (every page AES-256-CBC + HMAC-SHA512, the
WAL too) under a 32-byte raw key. The key is never stored. Beside the archive, ``X.db.vault`` holds
what is needed to derive it again and nothing else: the KDF's name and parameters, its random salt,
and a key check (HMAC-SHA256 of a constant under the key) so that a wrong key is told apart from a
damaged file before SQLite reads a page. The check lets someone with the file test guesses at the
cost of one argon2id each — exactly what the database file itself allows.

Key sources, first found wins: the process's key set by the CLI (``--db-key-file`` or a prompt) or a
caller (:func:`use`), ``$CHATAUDIT_DB_KEY_FILE`` (a file holding 32 random bytes as 64 hex digits),
``$CHATAUDIT_DB_KEY`` (a passphrase, stretched with argon2id). ``$CHATAUDIT_KEY`` keeps its older
meaning (the ledger's signing key file).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import orjson
from argon2.low_level import Type, hash_secret_raw

from ..errors import ChatAuditError

HEADER_SUFFIX = ".vault"
HEADER_FORMAT = "chataudit-vault/1"
CIPHER = "sqlcipher4"
PASSPHRASE_ENV = "CHATAUDIT_DB_KEY"
KEY_FILE_ENV = "CHATAUDIT_DB_KEY_FILE"
# argon2id as RFC 9106's second recommended option (64 MiB, 3 passes): about 0.3 s here
ARGON2 = {"time_cost": 3, "memory_kib": 65536, "parallelism": 4}
KEY_BYTES = 32
SQLITE_MAGIC = b"SQLite format 3\x00"


class WrongKeyError(ChatAuditError):
    """The key given does not open this archive (its header's key check says so)."""


class NoKeyError(ChatAuditError):
    """An encrypted archive and no key source."""


@dataclass(frozen=True)
class Header:
    """The sidecar of one encrypted archive: how to derive its key, and a check of the result."""

    kdf: str  # "argon2id" (a passphrase) or "keyfile" (32 random bytes used as they are)
    salt: str = ""  # base64, argon2id only
    time_cost: int = 0
    memory_kib: int = 0
    parallelism: int = 0
    check: str = ""  # hex HMAC-SHA256(key, "chataudit key check")
    file_salt: str = ""  # hex of the file's first 16 bytes (SQLCipher's salt): which file this header opens
    format: str = HEADER_FORMAT
    cipher: str = CIPHER

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Header":
        if data.get("format") != HEADER_FORMAT or data.get("cipher") != CIPHER or data.get("kdf") not in {"argon2id", "keyfile"}:
            raise ChatAuditError(f"not a chataudit vault header (format {data.get('format')!r})")
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**fields)


@dataclass(frozen=True)
class Secret:
    """What a user gave: a passphrase or a key file's 32 bytes, and where it came from (for errors)."""

    kind: str  # "passphrase" or "keyfile"
    value: bytes
    origin: str
    path: str | None = None  # a key file's


def header_path(db_path: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(db_path)}{HEADER_SUFFIX}")


def next_header_path(db_path: str | os.PathLike[str]) -> Path:
    """Where a rewrite puts the new header before the new file is renamed in (see vault.convert)."""
    return Path(f"{os.fspath(db_path)}{HEADER_SUFFIX}.next")


def file_salt(db_path: str | os.PathLike[str]) -> str:
    with open(db_path, "rb") as handle:
        return handle.read(16).hex()


def is_plain_sqlite(db_path: str | os.PathLike[str]) -> bool | None:
    """True for a plain SQLite file, False for one that is not (encrypted, or not a database at all),
    None when there is no file or it is empty (a new archive)."""
    try:
        with open(db_path, "rb") as handle:
            start = handle.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return None
    if not start:
        return None
    return start == SQLITE_MAGIC


def read_header(db_path: str | os.PathLike[str]) -> Header | None:
    """The header that opens the file at ``db_path`` (the one whose file salt matches it): the
    current one, or the next one when a rewrite was interrupted between its two renames."""
    try:
        salt = file_salt(db_path)
    except FileNotFoundError:
        return None
    for path in (header_path(db_path), next_header_path(db_path)):
        header = _load_header(path)
        if header is not None and header.file_salt == salt:
            return header
    return None


def _load_header(path: Path) -> Header | None:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as error:
        raise ChatAuditError(f"{path}: unreadable vault header ({error})") from None
    try:
        return Header.from_dict(data)
    except ChatAuditError as error:
        raise ChatAuditError(f"{path}: {error}") from None


def header_bytes(header: Header) -> bytes:
    return orjson.dumps(header.as_dict(), option=orjson.OPT_INDENT_2) + b"\n"


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """``data`` as ``path``: written beside, fsynced, renamed over, folder fsynced."""
    temporary = path.with_name(path.name + ".tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(handle, data)
        os.fsync(handle)
    finally:
        os.close(handle)
    os.replace(temporary, path)
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def key_check(key: bytes) -> str:
    return hmac.new(key, b"chataudit key check", hashlib.sha256).hexdigest()


def derive(header: Header, secret: Secret) -> bytes:
    """The raw key of ``header``'s archive from ``secret``; WrongKeyError when its check differs."""
    if header.kdf == "keyfile":
        if secret.kind != "keyfile":
            raise WrongKeyError(f"this archive is encrypted with a key file, and {secret.origin} is a passphrase "
                                f"(give --db-key-file or ${KEY_FILE_ENV})")
        key = secret.value
    else:
        if secret.kind != "passphrase":
            raise WrongKeyError(f"this archive is encrypted with a passphrase, and {secret.origin} is a key file "
                                f"(give the passphrase: ${PASSPHRASE_ENV}, or type it when asked)")
        key = _argon2(secret.value, base64.b64decode(header.salt), header.time_cost, header.memory_kib,
                      header.parallelism)
    if not hmac.compare_digest(key_check(key), header.check):
        raise WrongKeyError(f"wrong key: {secret.origin} does not open this encrypted archive")
    return key


_derived: dict[tuple[bytes, bytes], bytes] = {}


def _argon2(passphrase: bytes, salt: bytes, time_cost: int, memory_kib: int, parallelism: int) -> bytes:
    """argon2id, remembered per process (one command opens the archive several times)."""
    memo = (hashlib.sha256(passphrase).digest(), hashlib.sha256(salt + f"{time_cost},{memory_kib},{parallelism}".encode()).digest())
    if memo not in _derived:
        _derived[memo] = hash_secret_raw(passphrase, salt, time_cost=time_cost, memory_cost=memory_kib,
                                         parallelism=parallelism, hash_len=KEY_BYTES, type=Type.ID)
    return _derived[memo]


def new_header(secret: Secret, params: dict | None = None) -> tuple[Header, bytes]:
    """A fresh header (new salt) and the key it derives from ``secret``."""
    if secret.kind == "keyfile":
        return Header(kdf="keyfile", check=key_check(secret.value)), secret.value
    chosen = {**ARGON2, **(params or {})}
    salt = secrets.token_bytes(16)
    key = _argon2(secret.value, salt, chosen["time_cost"], chosen["memory_kib"], chosen["parallelism"])
    return Header(kdf="argon2id", salt=base64.b64encode(salt).decode(), check=key_check(key), **chosen), key


# ---- where the secret comes from ---------------------------------------------------------------------

_chosen: Secret | None = None
# asked when an encrypted archive is opened and nothing else gave a key (the CLI sets a prompt on a terminal)
prompt: Callable[[str], str] | None = None


def use(secret: Secret | None) -> None:
    """The secret this process opens encrypted archives with (before the environment's)."""
    global _chosen
    _chosen = secret


def passphrase(text: str, origin: str = "the passphrase") -> Secret:
    if not text:
        raise ChatAuditError(f"{origin} is empty")
    return Secret("passphrase", text.encode("utf-8"), origin)


def key_file(path: str | os.PathLike[str]) -> Secret:
    """A key file: 64 hex digits (what `chataudit key new` writes) or 32 raw bytes."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ChatAuditError(f"{path}: cannot read the key file ({error.strerror or error})") from None
    text = data.strip()
    try:
        value = bytes.fromhex(text.decode("ascii")) if len(text) == 2 * KEY_BYTES else data
    except (UnicodeDecodeError, ValueError):
        value = data
    if len(value) != KEY_BYTES:
        raise ChatAuditError(f"{path}: not a key file (it must hold {KEY_BYTES} random bytes as "
                             f"{2 * KEY_BYTES} hex digits; `chataudit key new --out FILE` writes one)")
    return Secret("keyfile", value, f"key file {path}", str(Path(path).absolute()))


def new_key_file(path: str | os.PathLike[str]) -> Secret:
    """Write a fresh random key file (0600, never over an existing file)."""
    target = Path(path)
    try:
        handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ChatAuditError(f"{target}: exists; a key file is never overwritten") from None
    value = secrets.token_bytes(KEY_BYTES)
    with os.fdopen(handle, "w") as out:
        out.write(value.hex() + "\n")
        out.flush()
        os.fsync(out.fileno())
    return Secret("keyfile", value, f"key file {target}", str(target.absolute()))


def export_to_environment() -> None:
    """Put the process's chosen secret where child processes find it (``serve --workers N``)."""
    if _chosen is None:
        return
    if _chosen.kind == "keyfile" and _chosen.path:
        os.environ[KEY_FILE_ENV] = _chosen.path
    elif _chosen.kind == "passphrase":
        os.environ[PASSPHRASE_ENV] = _chosen.value.decode("utf-8")


def given_secret(what: str = "the archive") -> Secret | None:
    """The secret from the process, the environment, or a prompt; None when there is none."""
    if _chosen is not None:
        return _chosen
    if os.environ.get(KEY_FILE_ENV):
        return key_file(os.environ[KEY_FILE_ENV])
    if os.environ.get(PASSPHRASE_ENV):
        return passphrase(os.environ[PASSPHRASE_ENV], f"${PASSPHRASE_ENV}")
    if prompt is not None:
        text = prompt(f"passphrase for {what}")
        use(passphrase(text))
        return _chosen
    return None


def archive_key(db_path: str | os.PathLike[str]) -> bytes | None:
    """The raw key of the archive at ``db_path``, or None when it is a plain archive.

    The file decides: a plain SQLite header means plain (a vault header left beside it by an
    interrupted ``decrypt`` is stale and ignored); otherwise a vault header means encrypted; a new
    (missing or empty) file is created encrypted when a vault header waits for it.
    """
    plain = is_plain_sqlite(db_path)
    if plain:
        return None
    header = read_header(db_path)
    if header is None:
        return None  # not a database, or an encrypted one whose header is lost: SQLite says which
    secret = given_secret(str(db_path))
    if secret is None:
        raise NoKeyError(f"{db_path}: an encrypted archive; give its key (${PASSPHRASE_ENV} = the passphrase, "
                         f"or ${KEY_FILE_ENV} / --db-key-file = a key file)")
    try:
        return derive(header, secret)
    except WrongKeyError as error:
        raise WrongKeyError(f"{db_path}: {error}") from None
