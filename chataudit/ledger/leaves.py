"""The canonical leaf serialization: what each leaf of the archive's Merkle tree commits to.

Every leaf is one JSON object, serialized as UTF-8 with keys in code-point order, no whitespace,
non-ASCII characters unescaped (what ``json.dumps(doc, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` gives), and hashed as an RFC 6962 leaf: SHA-256(0x00 ‖ bytes).

**message** (version 1)::

    {"_sd":{"attachments":[D…],"extras":D|null,"sender_id":D|null,"sender_name":D|null,"text":D},
     "amount":…,"conversation":<native id>,"currency":…,"edited_at_ms":…,"is_me":…,"kind":…,
     "message_id":…,"occurrence":…,"platform":…,"position":…,"reply_to":…,"sent_at_ms":…,
     "source":<sha256 of the source file that brought it>,"type":"message","utc_offset_min":…,"v":1}

Fields in clear are those that identify a message without saying anything personal: platform,
conversation id, instant and its offset, kind, ids, amount/currency, occurrence number, position
in the source file. Text, sender id, sender name, extras and each attachment are committed through
salted digests, as SD-JWT (RFC 9901) does: with a random 16-byte salt per field, kept in the
archive (``ledger_leaves.salts``),

    disclosure = base64url( JSON [salt, field name, value] )        (attachments: [salt, value])
    D          = base64url( SHA-256( ASCII(disclosure) ) )

base64url without padding; the JSON array compact UTF-8 as above; ``salt`` is the lowercase hex
of the 16 random bytes; ``value`` is the stored value exactly (text as stored; extras as the stored
JSON text, byte for byte; an attachment as its ``{name, size, sha256, mime, path}`` object). An
absent field (SQL NULL) is ``null`` in ``_sd`` instead of a digest: that a message has no sender
name is not worth hiding. A field is shown by giving its disclosure (a verifier hashes it and finds
D in the leaf) and withheld by giving nothing: the leaf still hashes to the same value, so every
proof still verifies, and without the salt a short withheld text cannot be guessed from D.

**source**: ``{"format","imported_at","label","messages","new","path","sha256","size","type":"source","v":1}``.

**sightings** (appended right after the messages of each source, ``ledger_leaves.ref`` is the
source's id): ``{"count","digest","source":<sha256 of the source>,"type":"sightings","v":1}``,
where each sighting of that source (``sightings`` row) is the line
``{"edited_at_ms","extras","message":<leaf index of the message>,"message_id","position",
"sender_name","utc_offset_min"}`` (canonical JSON as above; ``extras`` the stored JSON text as a
JSON string, or null), ``count`` the number of sightings and ``digest`` the base64url SHA-256 of
the SHA-256 of each line, concatenated in ascending message leaf order. The per-sighting hashes
are kept (``ledger_sightings``), so a message purged later still verifies from its hash.
A source appended before this leaf kind existed has none: its sightings are not signed.

**conversations** (appended right after the sightings leaf of each source, ``ledger_leaves.ref`` is
the source's id): ``{"count","digest","source":<sha256 of the source>,"type":"conversations","v":1}``,
where each conversation that the source's messages are in is the line ``{"members","native_id",
"platform","title","type"}`` (``members`` the stored JSON text as a JSON string, or null) as the
archive held it after the import, ``digest`` the base64url SHA-256 of the SHA-256 of each line,
concatenated in ascending conversation id order. The per-conversation hashes are kept
(``ledger_conversations``); the latest one of each conversation must match it now.

**purge** / **redaction** (policy events, appended when a message is purged or fields are
redacted): ``{"at","fields","reason","target":<leaf index>,"type":"purge"|"redaction","v":1}``.
A purged message's own leaf hash stays in the tree as its tombstone.

**audit** (an entry of the audit trail, :mod:`chataudit.governance.audit`; ``ledger_leaves.ref`` is
its ``governance_audit.id``): ``{"at","authorizations","command","detail","exit_code","facts","id",
"operator","os_user","outcome","output_sha256","outputs","params","records","type":"audit","v":1}``,
where ``params``, ``authorizations``, ``outputs`` and ``facts`` are the stored JSON texts, byte for byte.

The verification helpers at the end use only the standard library, for standalone checkers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import sys
import zlib
from array import array
from typing import Any, Mapping, Sequence

import orjson

LEAF_VERSION = 1
SALTED_FIELDS = ("text", "sender_id", "sender_name", "extras")  # then one salt per attachment
SALT_BYTES = 16
SALT_CHARS = 32  # a salt is written as the lowercase hex of its 16 random bytes

SOURCE, MESSAGE, EVENT, AUDIT, SIGHTINGS, CONVERSATIONS = 0, 1, 2, 3, 4, 5
KIND_NAMES = {SOURCE: "source", MESSAGE: "message", EVENT: "event", AUDIT: "audit", SIGHTINGS: "sightings",
              CONVERSATIONS: "conversations"}

# Column order of a message row as every leaf function reads it (a prefix of the verify query).
MESSAGE_COLUMNS = (
    "m.id, m.platform, m.conversation, m.message_id, m.sender_id, m.sender_name, m.sent_at_ms,"
    " m.utc_offset_min, m.kind, m.text, m.reply_to, m.edited_at_ms, m.amount, m.currency,"
    " m.attachments, m.is_me, m.extras, m.source, m.position, m.occurrence"
)
(COL_ID, COL_PLATFORM, COL_CONVERSATION, COL_MESSAGE_ID, COL_SENDER_ID, COL_SENDER_NAME, COL_SENT_AT,
 COL_OFFSET, COL_KIND, COL_TEXT, COL_REPLY_TO, COL_EDITED_AT, COL_AMOUNT, COL_CURRENCY,
 COL_ATTACHMENTS, COL_IS_ME, COL_EXTRAS, COL_SOURCE, COL_POSITION, COL_OCCURRENCE) = range(20)

_sha256 = hashlib.sha256
_dumps = orjson.dumps
_b2a = binascii.b2a_base64
_Fragment = orjson.Fragment
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def new_salts(count: int) -> bytes:
    """``count`` random 16-byte salts, concatenated (stored as they are; used as ``salts.hex()``)."""
    return os.urandom(SALT_BYTES * count)


def salt_count(attachments_json: str | None) -> int:
    return len(SALTED_FIELDS) + (len(orjson.loads(attachments_json)) if attachments_json else 0)


def disclosure(salt: str, name: str | None, value: Any) -> bytes:
    """base64url(JSON [salt, name, value]) — or [salt, value] for an attachment (name None)."""
    doc = [salt, value] if name is None else [salt, name, value]
    return _b2a(_dumps(doc), newline=False).rstrip(b"=").translate(_URLSAFE)


def digest(disclosure_bytes: bytes) -> str:
    return _b2a(_sha256(disclosure_bytes).digest(), newline=False)[:43].translate(_URLSAFE).decode()


def _attachments(attachments_json: str | None) -> list[Any]:
    if not attachments_json:
        return []
    items = orjson.loads(attachments_json)
    if not isinstance(items, list) or _dumps(items) != attachments_json.encode():
        raise ValueError("attachments column is not the canonical JSON list")
    return items


def message_disclosures(row: Sequence[Any], salts: str) -> dict[str, Any]:
    """Each salted field's disclosure (None for an absent field), attachments as a list; from a row in
    MESSAGE_COLUMNS order and the leaf's salts as hex."""
    s = salts
    text, sender_id, sender_name, extras = row[COL_TEXT], row[COL_SENDER_ID], row[COL_SENDER_NAME], row[COL_EXTRAS]
    result: dict[str, Any] = {
        "text": None if text is None else disclosure(s[0:32], "text", text).decode(),
        "sender_id": None if sender_id is None else disclosure(s[32:64], "sender_id", sender_id).decode(),
        "sender_name": None if sender_name is None else disclosure(s[64:96], "sender_name", sender_name).decode(),
        "extras": None if extras is None else disclosure(s[96:128], "extras", _Fragment(extras)).decode(),
    }
    result["attachments"] = [
        disclosure(s[128 + 32 * i:160 + 32 * i], None, item).decode()
        for i, item in enumerate(_attachments(row[COL_ATTACHMENTS]))
    ]
    return result


def _quoted_digest(salt: str, name: str, value: Any) -> bytes:
    if value is None:
        return b"null"
    # base64 pads only at its end: deleting "=" is the rstrip, in the same C call as the translation
    b2a, tr = _b2a, _URLSAFE
    return b'"%b"' % b2a(_sha256(b2a(_dumps([salt, name, value]), newline=False).translate(tr, b"=")).digest(),
                         newline=False).translate(tr, b"=")


def message_leaf(row: Sequence[Any], conversation_native_id: str, source_sha256: str, salts: str,
                 redacted: Mapping[str, Any] | None = None) -> bytes:
    """The leaf bytes of a stored message.

    ``redacted`` maps a field whose value was removed by policy to the digest recorded when it was
    (``"attachments"`` maps to the whole digest list), so a redacted message still hashes as signed.
    """
    if redacted or row[COL_ATTACHMENTS]:
        sd: Any = message_sd_object(row, salts)
        if redacted:
            sd.update(redacted)
    else:
        # the common case, inlined: `verify` runs it a million times
        s, q, extras = salts, _quoted_digest, row[COL_EXTRAS]
        sd = _Fragment(b'{"attachments":[],"extras":%s,"sender_id":%s,"sender_name":%s,"text":%s}' % (
            b"null" if extras is None else q(s[96:128], "extras", _Fragment(extras)),
            q(s[32:64], "sender_id", row[COL_SENDER_ID]),
            q(s[64:96], "sender_name", row[COL_SENDER_NAME]),
            q(s[0:32], "text", row[COL_TEXT]),
        ))
    is_me = row[COL_IS_ME]
    return _dumps({
        "_sd": sd,
        "amount": row[COL_AMOUNT],
        "conversation": conversation_native_id,
        "currency": row[COL_CURRENCY],
        "edited_at_ms": row[COL_EDITED_AT],
        "is_me": None if is_me is None else bool(is_me),
        "kind": row[COL_KIND],
        "message_id": row[COL_MESSAGE_ID],
        "occurrence": row[COL_OCCURRENCE],
        "platform": row[COL_PLATFORM],
        "position": row[COL_POSITION],
        "reply_to": row[COL_REPLY_TO],
        "sent_at_ms": row[COL_SENT_AT],
        "source": source_sha256,
        "type": "message",
        "utc_offset_min": row[COL_OFFSET],
        "v": LEAF_VERSION,
    })


def message_sd_object(row: Sequence[Any], salts: str) -> dict[str, Any]:
    """The ``_sd`` object of a message's leaf: field → digest (None when absent), attachments → digests."""
    disclosures = message_disclosures(row, salts)
    return {
        "attachments": [digest(v.encode()) for v in disclosures["attachments"]],
        "extras": None if disclosures["extras"] is None else digest(disclosures["extras"].encode()),
        "sender_id": None if disclosures["sender_id"] is None else digest(disclosures["sender_id"].encode()),
        "sender_name": None if disclosures["sender_name"] is None else digest(disclosures["sender_name"].encode()),
        "text": None if disclosures["text"] is None else digest(disclosures["text"].encode()),
    }


message_field_digests = message_sd_object


SOURCE_COLUMNS = "id, sha256, path, size, format, label, imported_at, message_count, new_count"


def source_leaf(row: Sequence[Any]) -> bytes:
    """The leaf bytes of a source row in SOURCE_COLUMNS order."""
    return _dumps({
        "format": row[4],
        "imported_at": row[6],
        "label": row[5],
        "messages": row[7],
        "new": row[8],
        "path": row[2],
        "sha256": row[1],
        "size": row[3],
        "type": "source",
        "v": LEAF_VERSION,
    })


# a source's sightings with the live leaf of each message (None: the message is not in the ledger)
SIGHTINGS_QUERY = (
    "SELECT (SELECT max(l.idx) FROM ledger_leaves l WHERE l.kind = 1 AND l.ref = si.message"
    "  AND l.idx NOT IN (SELECT target FROM ledger_events WHERE action = 'purge')),"
    " si.message, si.position, si.sender_name, si.utc_offset_min, si.edited_at_ms, si.message_id, si.extras"
    " FROM sightings si WHERE si.source = ?"
)


def sighting_hash(row: Sequence[Any], salt: bytes) -> bytes:
    """SHA-256 of one sighting's line, from a row in SIGHTINGS_QUERY order and its random salt
    (salted like the message fields, so a purged sighting's kept hash confirms no guess)."""
    return _sha256(_dumps({
        "edited_at_ms": row[5],
        "extras": row[7],
        "message": row[0],
        "message_id": row[6],
        "position": row[2],
        "salt": salt.hex(),
        "sender_name": row[3],
        "utc_offset_min": row[4],
    })).digest()


def sightings_leaf(source_sha256: str, hashes: Sequence[tuple[int, bytes]]) -> bytes:
    """The leaf bytes of a source's sightings, from (message leaf index, sighting hash) pairs."""
    digest = _sha256()
    for _, value in sorted(hashes, key=lambda pair: pair[0]):
        digest.update(value)
    return sightings_leaf_of(source_sha256, len(hashes), digest.digest())


def sightings_leaf_of(source_sha256: str, count: int, digest: bytes) -> bytes:
    """The leaf bytes from the count and the SHA-256 of the sighting hashes in leaf order (streamed)."""
    return _dumps({
        "count": count,
        "digest": _b2a(digest, newline=False)[:43].translate(_URLSAFE).decode(),
        "source": source_sha256,
        "type": "sightings",
        "v": LEAF_VERSION,
    })


CONVERSATION_COLUMNS = "id, platform, native_id, title, type, members"


def conversation_line(row: Sequence[Any]) -> bytes:
    """The canonical line of a conversation row in CONVERSATION_COLUMNS order."""
    return _dumps({"members": row[5], "native_id": row[2], "platform": row[1], "title": row[3], "type": row[4]})


def conversations_leaf_of(source_sha256: str, count: int, digest: bytes) -> bytes:
    """The leaf bytes from the count and the SHA-256 of the conversation hashes in id order."""
    return _dumps({
        "count": count,
        "digest": _b2a(digest, newline=False)[:43].translate(_URLSAFE).decode(),
        "source": source_sha256,
        "type": "conversations",
        "v": LEAF_VERSION,
    })


EVENT_COLUMNS = "leaf, action, target, fields, reason, at"


def event_leaf(row: Sequence[Any]) -> bytes:
    """The leaf bytes of a policy event (purge or redaction) in EVENT_COLUMNS order."""
    return _dumps({
        "at": row[5],
        "fields": orjson.loads(row[3]) if row[3] else None,
        "reason": row[4],
        "target": row[2],
        "type": row[1],
        "v": LEAF_VERSION,
    })


AUDIT_COLUMNS = ("id, at, operator, os_user, command, params, authorizations, records, outputs, output_sha256,"
                 " outcome, exit_code, facts, detail")


def audit_leaf(row: Sequence[Any]) -> bytes:
    """The leaf bytes of an audit entry (a ``governance_audit`` row in AUDIT_COLUMNS order)."""
    return _dumps({
        "at": row[1],
        "authorizations": _Fragment(row[6]),
        "command": row[4],
        "detail": row[13],
        "exit_code": row[11],
        "facts": _Fragment(row[12]),
        "id": row[0],
        "operator": row[2],
        "os_user": row[3],
        "outcome": row[10],
        "output_sha256": row[9],
        "outputs": _Fragment(row[8]),
        "params": _Fragment(row[5]),
        "records": row[7],
        "type": "audit",
        "v": LEAF_VERSION,
    })


# ---- naming the field that changed ----------------------------------------------------------------
# A canonical leaf splits on `,"` into one piece per field (inside a JSON string a quote is always
# escaped, so `,"` only ever starts a key; an attachment digest after the first is a piece of its own).

_SPLIT = b',"'
_crc32 = zlib.crc32


def field_fingerprints(leaf: bytes) -> bytes:
    """One byte per piece of the leaf: the low byte of its CRC-32 (C-speed: the import runs it per message)."""
    return array("I", map(_crc32, leaf.split(_SPLIT))).tobytes()[::4] if sys.byteorder == "little" \
        else bytes(_crc32(piece) & 0xFF for piece in leaf.split(_SPLIT))


def _piece_names(leaf: bytes) -> list[str]:
    names, last = [], "attachments"
    for piece in leaf.split(_SPLIT):
        if piece.startswith(b'{"_sd":{"'):
            piece = piece[9:]
        elif piece.startswith(b'{"'):
            piece = piece[2:]
        key, quote, rest = piece.partition(b'":')
        if quote and key and b'"' not in key:
            last = key.decode("utf-8", "replace")
        names.append(last)  # a piece without a key is the next attachment digest
    return names


def differing_fields(fingerprints: bytes | None, leaf: bytes) -> list[str]:
    """The fields of ``leaf`` whose fingerprint is not the one kept when it was signed ([] unknown)."""
    if not fingerprints:
        return []
    now, names = field_fingerprints(leaf), _piece_names(leaf)
    differ: list[str] = []
    if len(now) != len(fingerprints):  # the number of attachments changed; the fields after them align
        differ.append("attachments")
        tail = min(len(now), len(fingerprints)) - 1 - names.index("text") if "text" in names else 0
        pairs = [(names[-i], now[-i], fingerprints[-i]) for i in range(1, tail + 1)]
    else:
        pairs = list(zip(names, now, fingerprints))
    for name, a, b in pairs:
        if a != b and name not in differ:
            differ.append(name)
    return sorted(differ)


# ---- standard-library verification (what a standalone checker needs) ---------------------------

def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_disclosure(disclosure_text: str, expected_digest: str) -> tuple[str | None, Any]:
    """Check one disclosure against the digest in a leaf; returns (field name or None, value)."""
    actual = base64.urlsafe_b64encode(hashlib.sha256(disclosure_text.encode("ascii")).digest()).decode().rstrip("=")
    if actual != expected_digest:
        raise ValueError("disclosure does not match the digest in the leaf")
    doc = json.loads(_b64url_decode(disclosure_text))
    if not isinstance(doc, list) or len(doc) not in (2, 3) or not isinstance(doc[0], str):
        raise ValueError("malformed disclosure")
    return (doc[1], doc[2]) if len(doc) == 3 else (None, doc[1])


def leaf_hash_of(leaf_bytes: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf_bytes).digest()
