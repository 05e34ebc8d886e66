"""The backup file: a header, then the archive snapshot in compressed, AES-256-GCM-sealed frames.

Layout::

    MAGIC  u32 header length  header (canonical JSON)
    frame*: u32 sealed length  sealed = AES-GCM(file key, nonce = frame number, zlib(chunk),
                                             AAD = SHA-256(header) ‖ frame number ‖ last flag)

The file key is HKDF-SHA256 of the master key with the header's random salt, so every backup has its
own key and a frame number is a safe nonce. Every frame is authenticated against the header and its
position, and only the last carries the last flag: a changed byte, a dropped, repeated or reordered
frame, a cut-off file (no last frame) and a header edited to name another archive are each refused,
with the frame where it happens. A backup with no key (``--plain``) is framed the same way under an
all-zero key: that detects damage, not forgery (README, backups).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Iterator

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import ChatAuditError

MAGIC = b"chataudit-backup/1\n"
CHUNK = 1 << 20  # snapshot bytes per frame
MAX_HEADER = 1 << 16
MAX_FRAME = CHUNK + (CHUNK >> 4) + 4096  # zlib's worst case for one chunk, sealed
PLAIN_KEY = bytes(32)
ZLIB_LEVEL = 3  # most of level 6's ratio on SQLite pages, at about twice its speed


class BackupRefused(ChatAuditError):
    """A backup that cannot be trusted, and why (``reason`` is a short stable word for --json)."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


def file_key(master: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"chataudit backup v1").derive(master)


def key_check(master: bytes) -> str:
    return hmac.new(master, b"chataudit backup key check", hashlib.sha256).hexdigest()


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _aad(header_hash: bytes, number: int, last: bool) -> bytes:
    return header_hash + struct.pack(">QB", number, 1 if last else 0)


def _nonce(number: int) -> bytes:
    return struct.pack(">4xQ", number)


@dataclass
class Written:
    size: int
    sha256: str
    snapshot_size: int
    snapshot_sha256: str
    header_sha256: str


def write(out: BinaryIO, header: dict[str, Any], master: bytes, source: BinaryIO,
          on_frame: Callable[[int], None] | None = None, compress: bool = True) -> Written:
    """Write ``source`` (the snapshot) as a backup to ``out``; ``header`` gains salt and key check.
    ``compress=False`` for what is ciphertext already (an encrypted archive's pages do not shrink)."""
    salt = os.urandom(16)
    header = {**header, "salt": salt.hex(), "key_check": key_check(master), "chunk": CHUNK,
              "compression": "zlib" if compress else "none"}
    pack = (lambda chunk: zlib.compress(chunk, ZLIB_LEVEL)) if compress else bytes
    head = canonical(header)
    header_hash = hashlib.sha256(head).digest()
    sealer = AESGCM(file_key(master, salt))
    whole, snapshot = hashlib.sha256(), hashlib.sha256()
    size = snapshot_size = 0

    def put(data: bytes) -> None:
        nonlocal size
        out.write(data)
        whole.update(data)
        size += len(data)

    put(MAGIC + struct.pack(">I", len(head)) + head)
    number = 0
    chunk = source.read(CHUNK)
    while True:
        following = source.read(CHUNK) if chunk else b""
        last = not following
        snapshot.update(chunk)
        snapshot_size += len(chunk)
        sealed = sealer.encrypt(_nonce(number), pack(chunk), _aad(header_hash, number, last))
        put(struct.pack(">I", len(sealed)) + sealed)
        if on_frame is not None:
            on_frame(number)
        number += 1
        if last:
            break
        chunk = following
    return Written(size, whole.hexdigest(), snapshot_size, snapshot.hexdigest(), header_hash.hex())


def read_header(source: BinaryIO) -> tuple[dict[str, Any], bytes]:
    """The header of a backup file, and its bytes (refused when it is not one)."""
    start = source.read(len(MAGIC) + 4)
    if len(start) < len(MAGIC) + 4 or not start.startswith(MAGIC):
        raise BackupRefused("not_a_backup", "not a chataudit backup file")
    (length,) = struct.unpack(">I", start[len(MAGIC):])
    if length > MAX_HEADER:
        raise BackupRefused("damaged", f"header length {length} is not plausible (damaged)")
    head = source.read(length)
    if len(head) < length:
        raise BackupRefused("truncated", "truncated inside its header")
    try:
        header = orjson.loads(head)
    except orjson.JSONDecodeError:
        raise BackupRefused("damaged", "its header is not readable (damaged)") from None
    if not isinstance(header, dict) or not isinstance(header.get("salt"), str):
        raise BackupRefused("damaged", "its header is not readable (damaged)")
    return header, head


def frames(source: BinaryIO, header: dict[str, Any], head: bytes, master: bytes) -> Iterator[bytes]:
    """The snapshot's chunks, each authenticated before it is given; BackupRefused on any fault."""
    if not hmac.compare_digest(key_check(master), str(header.get("key_check", ""))):
        raise BackupRefused("wrong_key", "encrypted under another key (the key given does not open it)")
    header_hash = hashlib.sha256(head).digest()
    opener = AESGCM(file_key(master, bytes.fromhex(header["salt"])))
    unpack = zlib.decompress if header.get("compression", "zlib") == "zlib" else bytes
    number = 0
    while True:
        prefix = source.read(4)
        if len(prefix) < 4:
            raise BackupRefused("truncated", f"truncated: it ends before its last frame (after {number} frames)")
        (length,) = struct.unpack(">I", prefix)
        if length > MAX_FRAME or length < 16:
            raise BackupRefused("damaged", f"frame {number}: length {length} is not plausible (damaged)")
        sealed = source.read(length)
        if len(sealed) < length:
            raise BackupRefused("truncated", f"truncated inside frame {number}")
        plain, last = None, False
        for last in (False, True):
            try:
                plain = opener.decrypt(_nonce(number), sealed, _aad(header_hash, number, last))
                break
            except InvalidTag:
                continue
        if plain is None:
            raise BackupRefused("damaged", f"frame {number} fails authentication (a changed byte, or frames "
                                           "moved or swapped)")
        try:
            yield unpack(plain)
        except zlib.error:
            raise BackupRefused("damaged", f"frame {number} does not decompress") from None
        number += 1
        if last:
            if source.read(1):
                raise BackupRefused("damaged", f"bytes follow its last frame ({number - 1})")
            return
