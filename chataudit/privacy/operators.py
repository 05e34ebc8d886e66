"""De-identification operators, as Presidio names them: mask, replace, hash, encrypt, generalize, keep.

Each operator turns one found value into what the redacted text shows:

* ``mask``       138****5678, ***************1234 (``keep_first``, ``keep_last``, ``char``)
* ``replace``    <身份证> (``with`` to choose the text)
* ``hash``       <姓名:kqzvbfxwmp> — a keyed HMAC-SHA256 pseudonym: the same value (normalized, so
                 ``138 0013 8000`` and ``+8613800138000`` are one person) gives the same pseudonym
                 across the whole archive and every export, and cannot be reversed or recomputed
                 without the key
* ``encrypt``    <enc:id_card:…> — AES-256-GCM; :func:`decrypt_text` gives the original back with the key
* ``generalize`` birth date → year, ID → province and birth year, address → city (or province),
                 person → 张某, plate → 粤B*****, IP → its /24 (/48) network, e-mail → its domain
* ``keep``       the value unchanged

Pseudonyms and ciphertexts are written in letters only, so no redacted output can contain a
found number by accident.

Keys live apart from the archive: ``$CHATAUDIT_KEYS``, else ``~/.config/chataudit`` (XDG), as
``pseudonym.key`` and ``encrypt.key`` — 32 random bytes each, created on first use with mode 0600;
a key file others can read is refused. Keep ``encrypt.key`` to be able to decrypt; share
neither with whoever receives the redacted output.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import re
import stat
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import ChatAuditError
from .recognizers import TYPES, mobile_digits
from .regions import generalize_address, province_of

KEYS_ENV = "CHATAUDIT_KEYS"
PSEUDONYM_KEY = "pseudonym.key"
ENCRYPTION_KEY = "encrypt.key"


def default_key_dir() -> Path:
    if os.environ.get(KEYS_ENV):
        return Path(os.environ[KEYS_ENV]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "chataudit"


class KeyRing:
    """The secret keys of the hash and encrypt operators, kept in their own folder."""

    def __init__(self, directory: str | os.PathLike[str] | None = None):
        self.directory = Path(directory).expanduser() if directory else default_key_dir()
        self._cache: dict[str, bytes] = {}

    def pseudonym_key(self) -> bytes:
        return self._key(PSEUDONYM_KEY)

    def encryption_key(self, create: bool = True) -> bytes:
        return self._key(ENCRYPTION_KEY, create)

    def _key(self, name: str, create: bool = True) -> bytes:
        if name in self._cache:
            return self._cache[name]
        path = self.directory / name
        if not path.exists():
            if not create:
                raise ChatAuditError(f"no key {path} (it is created when something is first encrypted)")
            self._create(path)
        mode = path.stat().st_mode
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ChatAuditError(f"key file {path} can be read by others; run: chmod 600 {path}")
        try:
            key = base64.b64decode(path.read_text(encoding="ascii").strip(), validate=True)
        except (ValueError, UnicodeDecodeError):
            key = b""
        if len(key) != 32:
            raise ChatAuditError(f"key file {path} is not a chataudit key (32 bytes, base64)")
        self._cache[name] = key
        return key

    def _create(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return  # another process made it first
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(base64.b64encode(os.urandom(32)).decode() + "\n")


# ---- letters-only encodings ---------------------------------------------------------------------

_B32_TO_LETTERS = str.maketrans("234567", "abcdef")
_LETTERS_TO_B32 = str.maketrans("abcdef", "234567")


def _letters(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").translate(_B32_TO_LETTERS)


def _from_letters(text: str) -> bytes:
    padded = text.translate(_LETTERS_TO_B32)
    return base64.b32decode(padded + "=" * (-len(padded) % 8))


def pseudonym(kind: str, value: str, keys: KeyRing, length: int = 10) -> str:
    """The keyed pseudonym of a value: 10 lowercase letters (about 47 bits)."""
    digest = hmac.new(keys.pseudonym_key(), f"{kind}\x00{normalize(kind, value)}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:12], "big")
    letters = []
    for _ in range(length):
        number, rest = divmod(number, 26)
        letters.append(chr(ord("a") + rest))
    return "".join(letters)


def normalize(kind: str, value: str) -> str:
    """One spelling per value, so that the same number written two ways hashes alike."""
    if kind == "mobile":
        return mobile_digits(value)
    if kind in ("id_card", "id_card_old", "bank_card", "uscc", "passport", "travel_permit", "qq", "landline"):
        return re.sub(r"[\s\-()（）·]", "", value).upper()
    if kind == "plate":
        return re.sub(r"[·•・.\s-]", "", value).upper()
    if kind in ("email", "wechat_id"):
        return value.strip().lower()
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value
    return re.sub(r"\s+", "", value)


# ---- operators ------------------------------------------------------------------------------------

Operator = Callable[[str, str, Mapping[str, Any], KeyRing], str]

_SEPARATORS = set(" -·•・.:()（）@_")
MASK_DEFAULTS = {
    "mobile": (3, 4), "bank_card": (0, 4), "id_card": (1, 1), "id_card_old": (1, 1), "landline": (0, 4),
    "person": (1, 0), "uscc": (2, 0), "plate": (2, 0), "qq": (0, 0),
}


def label(kind: str) -> str:
    return TYPES[kind].label if kind in TYPES else kind


def mask(kind: str, value: str, options: Mapping[str, Any], keys: KeyRing) -> str:
    char = str(options.get("char", "*"))[:1] or "*"
    if kind == "email" and "@" in value and options.get("keep_domain", True):
        local, domain = value.rsplit("@", 1)
        return local[:1] + char * 3 + "@" + domain
    first, last = MASK_DEFAULTS.get(kind, (0, 0))
    first = int(options.get("keep_first", first))
    last = int(options.get("keep_last", last))
    positions = [i for i, c in enumerate(value) if c not in _SEPARATORS and c != "+"]
    if kind == "mobile":
        positions = [i for i, c in enumerate(value) if c.isdigit()][-11:]
    n = len(positions)
    # whatever the policy says, enough of the value is hidden that it cannot be read back
    least = min(4, (n + 1) // 2)
    while n - first - last < least and (first or last):
        if last >= first and last:
            last -= 1
        else:
            first -= 1
    hidden = set(positions[first:n - last] if last else positions[first:])
    return "".join(char if i in hidden else c for i, c in enumerate(value))


def replace(kind: str, value: str, options: Mapping[str, Any], keys: KeyRing) -> str:
    return str(options.get("with", f"<{label(kind)}>"))


def hash_operator(kind: str, value: str, options: Mapping[str, Any], keys: KeyRing) -> str:
    template = str(options.get("format", "<{label}:{pseudonym}>"))
    return template.format(label=label(kind), type=kind, pseudonym=pseudonym(kind, value, keys))


ENCRYPTED = re.compile(r"<enc:([a-z_0-9]+):([a-z2-7A-Z]+)>")


def encrypt(kind: str, value: str, options: Mapping[str, Any], keys: KeyRing) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    sealed = AESGCM(keys.encryption_key()).encrypt(nonce, value.encode(), f"chataudit:{kind}".encode())
    return f"<enc:{kind}:{_letters(nonce + sealed)}>"


def decrypt_text(text: str, keys: KeyRing | None = None) -> str:
    """Every ``<enc:type:…>`` token of ``text`` back to the value it hides (needs ``encrypt.key``)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if "<enc:" not in text:
        return text
    keys = keys or KeyRing()
    cipher = AESGCM(keys.encryption_key(create=False))

    def clear(match: re.Match[str]) -> str:
        kind, token = match.groups()
        try:
            data = _from_letters(token)
            return cipher.decrypt(data[:12], data[12:], f"chataudit:{kind}".encode()).decode()
        except (InvalidTag, ValueError):
            raise ChatAuditError(f"cannot decrypt {match.group()[:40]}…: wrong key or damaged text") from None

    return ENCRYPTED.sub(clear, text)


def generalize(kind: str, value: str, options: Mapping[str, Any], keys: KeyRing) -> str:
    out = _generalized(kind, value, options)
    return out if out is not None else replace(kind, value, {}, keys)


def _generalized(kind: str, value: str, options: Mapping[str, Any]) -> str | None:
    compact = re.sub(r"[\s-]", "", value)
    if kind == "birth_date":
        year = re.match(r"\d{4}", value)
        return f"{year.group()}年" if year else None
    if kind in ("id_card", "id_card_old"):
        province = province_of(compact[:6]) or ""
        year = compact[6:10] if len(compact) == 18 else "19" + compact[6:8]
        return f"<{label(kind)}:{province}{year}年生>"
    if kind == "address":
        place = generalize_address(value, str(options.get("level", "city")))
        return place
    if kind == "person":
        from .names import COMPOUND_SURNAMES

        surname = value[:2] if value[:2] in COMPOUND_SURNAMES else value[:1]
        return surname + "某"
    if kind == "plate":
        return value[:2] + "*****"
    if kind == "ip":
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return None
        prefix = int(options.get("prefix", 24 if address.version == 4 else 48))
        return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    if kind == "email" and "@" in value:
        return "<邮箱@" + value.rsplit("@", 1)[1] + ">"
    if kind == "location":
        decimals = int(options.get("decimals", 2))
        parts = re.split(r"\s?[,，]\s?", value)
        try:
            return ",".join(f"{float(p):.{decimals}f}" for p in parts)
        except ValueError:
            return None
    if kind == "landline":
        area = re.match(r"\(?0\d{2,3}\)?", value)
        return (area.group() + "-********") if area else None
    return None


def keep(kind: str, value: str, options: Mapping[str, Any], keys: KeyRing) -> str:
    return value


OPERATORS: dict[str, Operator] = {
    "mask": mask,
    "replace": replace,
    "hash": hash_operator,
    "encrypt": encrypt,
    "generalize": generalize,
    "keep": keep,
}
