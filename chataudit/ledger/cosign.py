"""Cosignatures from a C2SP tlog-witness (c2sp.org/tlog-witness, c2sp.org/tlog-cosignature).

A witness run by someone else keeps the latest checkpoint it saw of our log and cosigns a new one
only when we prove it consistent with that (RFC 6962 consistency proof). Its cosignature is then
evidence, held outside our control, that our log had this head at that time and never went back.

* request  ``POST <prefix>/add-checkpoint``: ``old <size>\\n``, one base64 proof hash per line, an
  empty line, then the signed checkpoint; 409 answers with the size the witness holds (we retry once
  from it), 404/403/422 are refusals.
* response one or more note signature lines ``— <name> base64(key ID ‖ u64 timestamp ‖ Ed25519 sig)``
  over ``cosignature/v1\\ntime <timestamp>\\n`` + the checkpoint text; the key ID is
  SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4] and the witness key is written as a vkey
  ``<name>+<hex ID>+base64(0x04 ‖ public key)``.
"""

from __future__ import annotations

import base64
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..errors import ChatAuditError
from .note import EM_DASH, NoteError, _b64decode, key_id, parse

ALG_COSIGNATURE_V1 = 0x04
MAX_PROOF_LINES = 63


class CosignError(ChatAuditError):
    """A witness refused, or answered something that is not a valid cosignature."""


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + checkpoint_text.encode()


@dataclass(frozen=True)
class Cosigner:
    """A witness's public key (vkey with algorithm 0x04)."""

    name: str
    key_id: int
    public_key: bytes

    @classmethod
    def from_key(cls, vkey: str) -> "Cosigner":
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]) or not parts[0]:
            raise NoteError("malformed witness key (want <name>+<8 hex>+<base64>)")
        raw = _b64decode(parts[2])
        if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
            raise NoteError("witness key is not an Ed25519 cosignature/v1 key (type 0x04)")
        if key_id(parts[0], raw[1:], ALG_COSIGNATURE_V1) != int(parts[1], 16):
            raise NoteError("witness key ID does not match its key")
        return cls(parts[0], int(parts[1], 16), raw[1:])

    def __str__(self) -> str:
        material = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{material}"

    def verify(self, checkpoint_text: str, line: str) -> int:
        """The timestamp of a valid cosignature line of ours over ``checkpoint_text`` (else NoteError)."""
        prefix = f"{EM_DASH} {self.name} "
        if not line.startswith(prefix):
            raise NoteError("not a cosignature by this witness")
        blob = _b64decode(line[len(prefix):].rstrip("\n"))
        if len(blob) != 4 + 8 + 64 or int.from_bytes(blob[:4], "big") != self.key_id:
            raise NoteError("malformed cosignature or another key")
        timestamp = int.from_bytes(blob[4:12], "big")
        if timestamp >= 1 << 63:
            raise NoteError("cosignature timestamp out of range")
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(blob[12:], cosigned_message(checkpoint_text, timestamp))
        except InvalidSignature:
            raise NoteError("cosignature does not verify") from None
        return timestamp


def cosign(private: Ed25519PrivateKey, name: str, checkpoint_text: str, timestamp: int) -> str:
    """A cosignature line (what a witness returns); the witness side, used by tests and tools."""
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    blob = (key_id(name, public, ALG_COSIGNATURE_V1).to_bytes(4, "big") + timestamp.to_bytes(8, "big")
            + private.sign(cosigned_message(checkpoint_text, timestamp)))
    return f"{EM_DASH} {name} {base64.b64encode(blob).decode()}\n"


def request_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    if len(proof) > MAX_PROOF_LINES:
        raise CosignError(f"a consistency proof of {len(proof)} hashes is longer than a witness accepts")
    lines = [f"old {old_size}\n"] + [base64.b64encode(h).decode() + "\n" for h in proof] + ["\n"]
    return "".join(lines).encode() + note.encode()


def add_checkpoint(url: str, note: str, cosigner: Cosigner, proof_from: Callable[[int], list[bytes]],
                   old_size: int = 0, *, timeout: float = 30.0) -> tuple[str, int]:
    """Submit ``note`` to the witness at ``url`` (its submission prefix) with a consistency proof from
    ``old_size`` (``proof_from(size)`` gives it); returns (its valid cosignature line, its timestamp).
    On 409 the witness says which size it holds: retried once from there."""
    text = parse(note).text
    endpoint = url.rstrip("/") + "/add-checkpoint"
    for attempt in range(2):
        proof = proof_from(old_size) if old_size else []
        http = urllib.request.Request(endpoint, data=request_body(old_size, proof, note), method="POST")
        try:
            with urllib.request.urlopen(http, timeout=timeout) as response:
                body = response.read(1 << 16).decode("utf-8", "replace")
            break
        except urllib.error.HTTPError as error:
            detail = error.read(1 << 10).decode("utf-8", "replace").strip()
            if error.code == 409 and attempt == 0 and re.fullmatch(r"0|[1-9][0-9]*", detail):
                held = int(detail)
                if held == old_size:
                    raise CosignError(f"{endpoint}: the witness holds another head of size {held}: "
                                      "this log forked from what it saw") from None
                old_size = held
                continue
            reason = {404: "does not know this log (its origin)", 403: "does not trust this log's key",
                      422: "found the consistency proof invalid: this log is not an extension of what it saw",
                      409: f"holds a conflicting head ({detail})", 400: "refused the request"}.get(error.code, "")
            raise CosignError(f"{endpoint}: HTTP {error.code} {reason or error.reason}") from None
        except (urllib.error.URLError, OSError) as error:
            raise CosignError(f"{endpoint}: {getattr(error, 'reason', error)}") from None
    for line in body.splitlines(keepends=True):
        try:
            return line if line.endswith("\n") else line + "\n", cosigner.verify(text, line)
        except NoteError:
            continue  # signatures from keys we do not know are ignored
    raise CosignError(f"{endpoint}: no valid cosignature by {cosigner.name} in the response")


__all__ = ["Cosigner", "CosignError", "add_checkpoint", "cosign", "cosigned_message", "request_body"]
