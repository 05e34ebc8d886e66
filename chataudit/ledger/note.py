"""C2SP signed notes (c2sp.org/signed-note) and tlog checkpoints (c2sp.org/tlog-checkpoint), to the byte.

A signed note is its text (ending in a newline), a blank line, then one line per signature::

    — <key name> <base64(4-byte key ID ‖ Ed25519 signature over the text)>

An Ed25519 key ID is the first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key).
Keys are written the way golang.org/x/mod/sumdb/note writes them, so Go tools read ours:

    verifier key  <name>+<8 hex key ID>+<base64(0x01 ‖ public key)>
    signer key    PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 ‖ 32-byte seed)>

A checkpoint's note text is ``<origin>\\n<tree size>\\n<base64 root hash>\\n`` (plus optional extension lines).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
EM_DASH = "\u2014"
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """A malformed note or key, or a signature that does not verify."""


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"invalid key name {name!r}: must be non-empty, without spaces or '+'")


def key_id(name: str, public_key: bytes, alg: int = ALG_ED25519) -> int:
    """uint32 key ID: SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4], big-endian."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _b64decode(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise NoteError("invalid base64") from None
    if base64.b64encode(raw).decode() != text:  # only the canonical encoding is accepted
        raise NoteError("non-canonical base64")
    return raw


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: int
    public_key: bytes  # 32 raw Ed25519 bytes

    @classmethod
    def from_key(cls, vkey: str) -> "Verifier":
        """Parse ``<name>+<hex id>+<base64(0x01 ‖ key)>``; the ID must match the key."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("malformed verifier key")
        name, hex_id, material = parts
        _check_name(name)
        if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise NoteError("malformed verifier key ID")
        raw = _b64decode(material)
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("verifier key is not an Ed25519 note key")
        if key_id(name, raw[1:]) != int(hex_id, 16):
            raise NoteError("verifier key ID does not match its key")
        return cls(name, int(hex_id, 16), raw[1:])

    def __str__(self) -> str:
        material = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{material}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
            return True
        except (InvalidSignature, ValueError):
            return False


@dataclass(frozen=True)
class Signer:
    name: str
    seed: bytes  # 32-byte Ed25519 private seed

    @classmethod
    def generate(cls, name: str) -> "Signer":
        _check_name(name)
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        private = Ed25519PrivateKey.generate()
        return cls(name, private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))

    @classmethod
    def from_key(cls, skey: str) -> "Signer":
        """Parse ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>``."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise NoteError("malformed signer key")
        name, hex_id, material = parts[2:]
        _check_name(name)
        if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise NoteError("malformed signer key ID")
        raw = _b64decode(material)
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("signer key is not an Ed25519 note key")
        signer = cls(name, raw[1:])
        if signer.key_id != int(hex_id, 16):
            raise NoteError("signer key ID does not match its key")
        return signer

    @property
    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def public_key(self) -> bytes:
        return self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> int:
        return key_id(self.name, self.public_key)

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, self.public_key)

    def __str__(self) -> str:
        material = base64.b64encode(bytes([ALG_ED25519]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{material}"

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: int
    signature: bytes  # without the 4-byte key ID

    def line(self) -> str:
        blob = base64.b64encode(self.key_id.to_bytes(4, "big") + self.signature).decode()
        return f"{EM_DASH} {self.name} {blob}\n"


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[Signature, ...] = field(default=())

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note text must not contain control characters")


def sign(text: str, *signers: Signer) -> str:
    """The signed note of ``text`` (which must end in a newline)."""
    _check_text(text)
    if not signers:
        raise NoteError("at least one signer is needed")
    message = text.encode()
    sigs = tuple(Signature(s.name, s.key_id, s.sign(message)) for s in signers)
    return Note(text, sigs).render()


def parse(note: str) -> Note:
    """Split a signed note into text and signature lines, without verifying anything."""
    _check_text(note)
    if len(note.encode()) > 1 << 20:
        raise NoteError("note too large")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, sig_block = note[:split + 1], note[split + 2:]
    lines = sig_block.split("\n")
    if lines[-1] != "":
        raise NoteError("malformed note: must end with a newline")
    signatures = []
    for line in lines[:-1]:
        if not line.startswith(EM_DASH + " "):
            raise NoteError("malformed signature line")
        parts = line[2:].split(" ")
        if len(parts) != 2:
            raise NoteError("malformed signature line")
        name, blob = parts
        _check_name(name)
        raw = _b64decode(blob)
        if len(raw) < 5:
            raise NoteError("signature too short")
        signatures.append(Signature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    if not signatures:
        raise NoteError("malformed note: no signatures")
    if len(signatures) > MAX_SIGNATURES:
        raise NoteError("malformed note: too many signatures")
    return Note(text, tuple(signatures))


def open_note(note: str, *verifiers: Verifier) -> Note:
    """Parse and verify: returns the note with only the verified signatures, else raises NoteError.

    As the spec requires, signatures of unknown keys are ignored, a known key's bad signature
    rejects the note, and at least one known signature must verify.
    """
    parsed = parse(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = []
    message = parsed.text.encode()
    for sig in parsed.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if not verifier.verify(message, sig.signature):
            raise NoteError(f"invalid signature for key {sig.name}+{sig.key_id:08x}")
        verified.append(sig)
    if not verified:
        raise NoteError("note has no verifiable signatures")
    return Note(parsed.text, tuple(verified))


# ---- checkpoints -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        if not self.origin or "\n" in self.origin:
            raise NoteError("invalid checkpoint origin")
        if any(not line or "\n" in line for line in self.extensions):
            raise NoteError("checkpoint extension lines must be non-empty single lines")
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str) -> "Checkpoint":
        if not text.endswith("\n"):
            raise NoteError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):
            raise NoteError("a checkpoint is at least three non-empty lines")
        origin, size_text, root_text = lines[:3]
        if not re.fullmatch(r"0|[1-9][0-9]*", size_text):
            raise NoteError("malformed checkpoint tree size")
        root = _b64decode(root_text)
        if len(root) != 32:
            raise NoteError("checkpoint root hash must be 32 bytes")
        return cls(origin, int(size_text), root, tuple(lines[3:]))
