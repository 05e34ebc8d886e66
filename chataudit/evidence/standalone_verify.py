#!/usr/bin/env python3
"""Check a chataudit evidence package with nothing but Python (3.8 or later).

    python verify.py PACKAGE.zip [--pubkey VERIFIER_KEY_OR_FILE] [--allow-unsigned] [--json]

A copy of this file inside a package cannot vouch for itself (a forged package carries a forged
verify.py): run one obtained independently — ``python -m chataudit.evidence.standalone_verify`` from
an installed chataudit, or the file ``chataudit evidence verifier`` names with its SHA-256.

What is checked, offline:
  * the zip is read defensively: no absolute or ``..`` paths, no symlinks, no encrypted or oddly
    compressed members, limits on entries, sizes and compression ratio (zip bombs);
  * every file's size, SHA-256 and MD5 against manifest.json, and the manifest's own digest;
  * each message: its shown fields against their salted disclosures, the digests of withheld
    fields, the leaf recomputed from all of that (RFC 6962: SHA-256(0x00 || leaf)), and its
    inclusion proof up to the root of the signed checkpoint (RFC 9162 audit path);
  * the checkpoint's and the manifest's Ed25519 signatures (C2SP signed notes) against the verifier
    key — this needs the ``cryptography`` package; without it the script says the signatures were
    NOT checked and exits with status 2;
  * that an RFC 3161 timestamp token, if present, carries the checkpoint's SHA-256 (its CMS
    signature needs OpenSSL: ``openssl ts -verify -data checkpoint.txt -in checkpoint.tsr -CAfile tsa-ca.pem``);
  * the chain-of-custody log against the checkpoint and the messages;
  * that the manifest is signed: without manifest.sig the package is NOT verified (exit 1) unless
    --allow-unsigned accepts it, and then every file no signature covers is listed as unverified.

Exit status: 0 everything verified, 1 a problem was found, 2 nothing wrong found but the
signatures could not be checked. Without --pubkey the signer is not authenticated (the key is the
package's own pubkey.txt), and the verdict says so. The leaf format is documented in chataudit's README
("Tamper-evident ledger"); the package layout in its section "Evidence packages".
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import json
import os
import re
import stat
import sys
import zipfile
import zlib
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

PYTHON_REQUIRES = (3, 8)  # the one requirement both READMEs state (a test runs this file with it)
PACKAGE_FORMAT = "chataudit-evidence"
PACKAGE_VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_SIGNATURE = "manifest.sig"
MANIFEST_NOTE_HEADER = "chataudit-evidence-manifest/v1"
SALTED = ("text", "sender_id", "sender_name", "extras")
CLEAR = ("amount", "conversation", "currency", "edited_at_ms", "is_me", "kind", "message_id", "occurrence",
         "platform", "position", "reply_to", "sent_at_ms", "source", "utc_offset_min")
EM_DASH = "\u2014"
CLOCK_SKEW = timedelta(minutes=10)  # the archive may have been signed on another computer


MAX_JSON_DEPTH = 100  # a message line nests 4 or 5 levels; 100 stays far below any recursion limit
MAX_JSON_BYTES = 64 << 20  # per JSON document or JSON Lines line: what one parse may hold in memory


class Limits:
    """What a package may be: checked on the zip's central directory before anything is read, and on
    each JSON document (or JSON Lines line) before it is parsed."""

    def __init__(self, max_entries=10_000, max_member_bytes=1 << 30, max_total_bytes=4 << 30,
                 max_ratio=200, ratio_floor_bytes=1 << 20, max_json_bytes=MAX_JSON_BYTES,
                 max_json_depth=MAX_JSON_DEPTH):
        self.max_entries = max_entries
        self.max_member_bytes = max_member_bytes
        self.max_total_bytes = max_total_bytes
        self.max_ratio = max_ratio  # uncompressed / compressed, for members above ratio_floor_bytes
        self.ratio_floor_bytes = ratio_floor_bytes
        self.max_json_bytes = max_json_bytes
        self.max_json_depth = max_json_depth


class PackageError(Exception):
    """The file is no package that may be read safely; nothing in it is trusted."""


class MemberError(Exception):
    """One member cannot be read (bad CRC, truncated): names the member."""

    def __init__(self, name, detail):
        super().__init__(f"{name}: {detail}")
        self.name = name
        self.detail = detail


class JsonLimitError(ValueError):
    """A JSON text over a limit (size or nesting depth); refused before it is parsed."""


def _mib(n):
    return f"{n:,} bytes" if n < 1 << 20 else f"{n / (1 << 20):,.1f} MiB"


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def load_json(data, max_bytes=MAX_JSON_BYTES, max_depth=MAX_JSON_DEPTH):
    """Parse UTF-8 JSON bytes within a size and a nesting-depth limit (JsonLimitError, a ValueError).

    The depth is measured before parsing: a deeply nested text would otherwise make the parser (or a
    later comparison) exceed the interpreter's recursion limit."""
    if len(data) > max_bytes:
        raise JsonLimitError(f"{_mib(len(data))} of JSON, over the limit of {_mib(max_bytes)}")
    depth = 0
    for bracket in _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS):
        depth += 1 if bracket in b"[{" else -1
        if depth > max_depth:
            raise JsonLimitError(f"JSON nested deeper than {max_depth} levels (the limit)")
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:  # not reached with the depth limit above; kept so no traceback can escape
        raise JsonLimitError(f"JSON nested deeper than {max_depth} levels (the limit)") from None


def unsafe_name(name):
    """Why a member name may not be used (None when it is fine)."""
    if not name or "\x00" in name or any(ord(c) < 0x20 for c in name):
        return "empty name or control characters"
    if "\\" in name:
        return "backslash in path"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    parts = name.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "'..', '.' or empty path component"
    return None


class SafeZip:
    """A zip opened for reading only after its directory passed every check (see :class:`Limits`)."""

    def __init__(self, path, limits=None):
        self.path = str(path)
        limits = self.limits = limits or Limits()
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError) as error:
            raise PackageError(f"{self.path}: not a readable zip file ({error})") from None
        try:
            self.members = self._check(limits)
        except PackageError:
            self.zip.close()
            raise

    def _check(self, limits):
        infos = self.zip.infolist()
        if len(infos) > limits.max_entries:
            raise PackageError(f"{self.path}: {len(infos):,} entries, more than the limit of {limits.max_entries:,}")
        members, seen, total = {}, set(), 0
        for info in infos:
            name = info.filename
            why = unsafe_name(name)
            if why:
                raise PackageError(f"{self.path}: unsafe member name {name!r}: {why} (path traversal refused)")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise PackageError(f"{self.path}: member {name!r} is a symbolic link (refused)")
            if info.flag_bits & 0x1:
                raise PackageError(f"{self.path}: member {name!r} is encrypted (refused)")
            key = name.rstrip("/").casefold()
            if key in seen:
                raise PackageError(f"{self.path}: member {name!r} appears twice (refused)")
            seen.add(key)
            if info.is_dir():
                if info.file_size:  # data no reader shows and no manifest lists
                    raise PackageError(f"{self.path}: directory entry {name!r} carries {info.file_size} bytes (refused)")
                continue
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise PackageError(f"{self.path}: member {name!r} uses compression method {info.compress_type} "
                                   "(only stored and deflate are accepted)")
            if info.file_size > limits.max_member_bytes:
                raise PackageError(f"{self.path}: member {name!r} is {_mib(info.file_size)} uncompressed, over the "
                                   f"limit of {_mib(limits.max_member_bytes)} per file")
            total += info.file_size
            if total > limits.max_total_bytes:
                raise PackageError(f"{self.path}: more than {_mib(limits.max_total_bytes)} uncompressed in total "
                                   "(zip bomb?)")
            if info.file_size > limits.ratio_floor_bytes:
                if info.compress_size <= 0 or info.file_size / info.compress_size > limits.max_ratio:
                    raise PackageError(f"{self.path}: member {name!r} expands {_mib(info.compress_size)} to "
                                       f"{_mib(info.file_size)}, a ratio over {limits.max_ratio}:1 (zip bomb?)")
            members[name] = info
        # the per-member ratio spares members under ratio_floor_bytes: a thousand 1 MiB members of
        # zeros would still make a 1 MB zip expand to 1 GiB, so the whole zip's ratio is checked too
        try:
            packed = max(os.path.getsize(self.path), 1)
        except OSError:
            packed = 1
        if total > limits.ratio_floor_bytes and total / packed > limits.max_ratio:
            raise PackageError(f"{self.path}: {packed:,} bytes would expand to {total:,}, a ratio over "
                               f"{limits.max_ratio}:1 (zip bomb?)")
        return members

    def close(self):
        self.zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def names(self):
        return list(self.members)

    def read(self, name, max_bytes=None):
        """The whole member (sizes were checked); MemberError when it is damaged or over ``max_bytes``."""
        info = self.members.get(name)
        if info is not None and max_bytes is not None and info.file_size > max_bytes:
            raise MemberError(name, f"{_mib(info.file_size)}, over the limit of {_mib(max_bytes)} for this file")
        try:
            with self.zip.open(self.members[name]) as handle:
                return handle.read()
        except KeyError:
            raise MemberError(name, "not in the package") from None
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as error:
            raise MemberError(name, f"cannot be read from the zip ({error})") from None

    def load_json(self, name):
        """A JSON member, within the JSON limits (JsonLimitError) — MemberError when it is damaged."""
        limits = self.limits
        return load_json(self.read(name, limits.max_json_bytes), limits.max_json_bytes, limits.max_json_depth)

    def digests(self, name):
        """(size, sha256 hex, md5 hex) of a member, streamed."""
        sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
        try:
            with self.zip.open(self.members[name]) as handle:
                while True:
                    chunk = handle.read(1 << 20)
                    if not chunk:
                        break
                    sha.update(chunk)
                    md5.update(chunk)
                    size += len(chunk)
        except KeyError:
            raise MemberError(name, "not in the package") from None
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as error:
            raise MemberError(name, f"cannot be read from the zip ({error})") from None
        return size, sha.hexdigest(), md5.hexdigest()


# ---- the report -----------------------------------------------------------------------------------

class Report:
    """Problems (each makes the verdict FAILED) and notices, in the shape both verifiers print."""

    def __init__(self):
        self.problems = []
        self.notices = []
        self.checked = {"files": 0, "messages": 0, "disclosures": 0, "proofs": 0, "attachments": 0, "signatures": 0}
        self.messages = 0
        self.withheld = {"messages": 0, "fields": {}}
        self.checkpoint = None
        self.timestamp = None
        self.signature_checked = False
        self.key = None
        self.manifest_signed = False  # manifest.sig verified: every listed file is vouched for by the signer
        self.signer_authenticated = False  # checked with a key the user gave (--pubkey), not the package's own
        self.unverified = []  # files nothing signed vouches for (an unsigned package accepted with --allow-unsigned)
        self.proven = set()  # files proven without the manifest's signature (attachments by their committed hash)
        self.verify_py = None

    def add(self, kind, detail, file=None, message=None):
        entry = {"kind": kind}
        if file is not None:
            entry["file"] = file
        if message is not None:
            entry["message"] = message
        entry["detail"] = detail
        self.problems.append(entry)

    def notice(self, detail):
        self.notices.append(detail)

    @property
    def ok(self):
        return not self.problems

    def as_dict(self):
        return {"ok": self.ok, "checked": self.checked, "problems": self.problems, "messages": self.messages,
                "withheld": self.withheld, "checkpoint": self.checkpoint, "timestamp": self.timestamp,
                "signature_checked": self.signature_checked, "key": self.key,
                "signer_authenticated": self.signer_authenticated, "manifest_signed": self.manifest_signed,
                "unverified": self.unverified, "verify_py": self.verify_py, "notices": self.notices}


# ---- JSON helpers -----------------------------------------------------------------------------------

def canonical_manifest(doc):
    """The exact bytes a manifest is written as (so a changed byte is always noticed)."""
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def manifest_digest(doc):
    rest = {k: v for k, v in doc.items() if k != "self_digest"}
    return hashlib.sha256(canonical_manifest(rest)).hexdigest()


def read_json(z, name, report, required=True):
    if name not in z.members:
        if required:
            report.add("missing_file", "the package has no " + name, file=name)
        return None
    try:
        return z.load_json(name)
    except MemberError as error:
        report.add("unreadable", error.detail, file=name)
    except JsonLimitError as error:
        report.add("unreadable", str(error), file=name)
    except (UnicodeDecodeError, ValueError) as error:
        report.add("unreadable", f"not valid UTF-8 JSON ({error})", file=name)
    return None


def read_text(z, name, report, required=True):
    if name not in z.members:
        if required:
            report.add("missing_file", "the package has no " + name, file=name)
        return None
    try:
        return z.read(name, z.limits.max_json_bytes).decode("utf-8")
    except MemberError as error:
        report.add("unreadable", error.detail, file=name)
    except UnicodeDecodeError as error:
        report.add("unreadable", f"not valid UTF-8 ({error})", file=name)
    return None


def iter_jsonl(z, name, report):
    """(line number, object) of a JSON Lines member, streamed line by line within the JSON limits;
    damage is reported, not raised."""
    if name not in z.members:
        report.add("missing_file", "the package has no " + name, file=name)
        return
    limit = z.limits.max_json_bytes
    number = 0
    try:
        with z.zip.open(z.members[name]) as handle:
            while True:
                raw = handle.readline(limit + 1)
                if not raw:
                    break
                number += 1
                if len(raw) > limit:
                    while raw and not raw.endswith(b"\n"):  # skip the rest of the line, a chunk at a time
                        raw = handle.readline(1 << 20)
                    report.add("unreadable", f"line {number} is longer than {_mib(limit)} (the limit of a line)",
                               file=name)
                    continue
                if not raw.strip():
                    continue
                try:
                    doc = load_json(raw, limit, z.limits.max_json_depth)
                except JsonLimitError as error:
                    report.add("unreadable", f"line {number}: {error}", file=name)
                    continue
                except (UnicodeDecodeError, ValueError) as error:
                    report.add("unreadable", f"line {number} is not valid UTF-8 JSON ({error})", file=name)
                    continue
                if not isinstance(doc, dict):
                    report.add("unreadable", f"line {number} is not a JSON object", file=name)
                    continue
                yield number, doc
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
        report.add("unreadable", f"cannot be read from the zip after line {number} ({error})", file=name)


# ---- manifest: every file's size and hashes ----------------------------------------------------------

def check_manifest(z, report):
    """Check manifest.json (form, own digest) and every file against it; returns (manifest, digests)."""
    digests = {}
    manifest = None
    raw = None
    if MANIFEST not in z.members:
        report.add("missing_file", "the package has no manifest.json", file=MANIFEST)
    else:
        try:
            raw = z.read(MANIFEST, z.limits.max_json_bytes)
            manifest = load_json(raw, z.limits.max_json_bytes, z.limits.max_json_depth)
            if not isinstance(manifest, dict):
                raise ValueError("not a JSON object")
        except MemberError as error:
            report.add("unreadable", error.detail, file=MANIFEST)
        except JsonLimitError as error:
            report.add("manifest", str(error), file=MANIFEST)
            manifest = None
        except (UnicodeDecodeError, ValueError) as error:
            report.add("manifest", f"not valid JSON ({error})", file=MANIFEST)
            manifest = None
    if manifest is not None:
        if manifest.get("format") != PACKAGE_FORMAT or manifest.get("version") != PACKAGE_VERSION:
            report.add("manifest", f"not a {PACKAGE_FORMAT} manifest of version {PACKAGE_VERSION}", file=MANIFEST)
        if manifest.get("self_digest") != manifest_digest(manifest):
            report.add("manifest", "its content does not match its own digest (self_digest): the manifest was edited",
                       file=MANIFEST)
        elif canonical_manifest(manifest) != raw:
            report.add("manifest", "it is not byte for byte in its canonical form: the manifest was edited",
                       file=MANIFEST)
    listed = {}
    entries = (manifest or {}).get("files") or []
    if not isinstance(entries, list):
        report.add("manifest", "its files entry is not a list", file=MANIFEST)
        entries = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            report.add("manifest", "a files entry has no path", file=MANIFEST)
            continue
        listed[entry["path"]] = entry
    for name in z.names():
        if name in (MANIFEST, MANIFEST_SIGNATURE):
            continue
        try:
            digests[name] = z.digests(name)
        except MemberError as error:
            report.add("unreadable", error.detail, file=name)
            continue
        if manifest is None:
            continue
        entry = listed.get(name)
        if entry is None:
            report.add("unlisted_file", "the file is not in the manifest (added to the package?)", file=name)
            continue
        report.checked["files"] += 1
        size, sha256, md5 = digests[name]
        wrong = []
        if entry.get("sha256") != sha256:
            wrong.append(f"SHA-256 is {sha256}, the manifest says {entry.get('sha256')}")
        if entry.get("md5") != md5:
            wrong.append(f"MD5 is {md5}, the manifest says {entry.get('md5')}")
        if entry.get("size") != size:
            wrong.append(f"size is {size} bytes, the manifest says {entry.get('size')}")
        if wrong:
            report.add("file_hash", "; ".join(wrong), file=name)
    for name in listed:
        if name not in z.members and not any(p.get("file") == name for p in report.problems):
            report.add("missing_file", "listed in the manifest but not in the package", file=name)
    return manifest, digests


def manifest_note_text(manifest_bytes):
    return f"{MANIFEST_NOTE_HEADER}\n{hashlib.sha256(manifest_bytes).hexdigest()}\n"


# ---- what the signatures cover -------------------------------------------------------------------------

# files proven without the manifest's signature: the checkpoint is signed, and each message line and its
# proof are checked against it (but not that none was left out: only the signed manifest commits to that)
PROVEN_BY_CHECKPOINT = ("checkpoint.txt", "messages.jsonl", "proofs.jsonl")
UNAUTHENTICATED = ("the signer is NOT authenticated: the signatures were checked with the package's own pubkey.txt, "
                   "which whoever re-signs a forged package replaces too; pass --pubkey with the archive owner's key "
                   "obtained independently (`chataudit key export` on their side)")


def check_unsigned(report, allow_unsigned):
    """A package without manifest.sig: refused, unless the user accepts an unsigned package."""
    if not allow_unsigned:
        report.add("unsigned", "the package has no manifest.sig, so it is NOT verified: nothing signed vouches for "
                   "its rendering, custody log, documents and verify.py, nor that no message was left out (to check "
                   "only what the signed checkpoint proves, accept an unsigned package with --allow-unsigned)",
                   file=MANIFEST_SIGNATURE)
    else:
        report.notice("UNSIGNED package accepted (--allow-unsigned): each message in messages.jsonl is proven "
                      "against the signed checkpoint, but nothing proves that none was removed, and the files listed "
                      "in 'unverified' (the rendering, custody log, documents, verify.py ...) are not vouched for by "
                      "any signature")


def account_unverified(z, report):
    """After every check: the files of a package without a verified manifest signature that no signature covers."""
    if report.manifest_signed:
        report.unverified = []
        return
    report.unverified = sorted(n for n in z.names() if n not in PROVEN_BY_CHECKPOINT and n not in report.proven)


def check_verify_py(digests, own_sha256, report):
    """Is the package's verify.py the verifier now running? It cannot vouch for itself: a forged package
    carries a forged verify.py."""
    if "verify.py" not in digests or own_sha256 is None:
        return
    theirs = digests["verify.py"][1]
    report.verify_py = {"sha256": theirs, "same_as_this_verifier": theirs == own_sha256}
    if theirs != own_sha256:
        report.notice(f"the package's verify.py (SHA-256 {theirs}) is not this verifier ({own_sha256}): do not run "
                      "it; a verify.py inside a package cannot vouch for itself (use `python -m "
                      "chataudit.evidence.standalone_verify PKG.zip` from an installed chataudit)")


def check_selection(manifest, messages, report):
    """messages.jsonl against what the (signed) manifest commits to: the conversation, the number of
    messages and the exported range — a message removed with its proof is caught here."""
    if not isinstance(manifest, dict):
        return
    count = manifest.get("messages")
    if count != len(messages):
        report.add("manifest", f"the manifest says {count} messages were exported, messages.jsonl holds "
                               f"{len(messages)}", file=MANIFEST)
    conversation = manifest.get("conversation") or {}
    wanted = (conversation.get("platform"), conversation.get("native_id")) if isinstance(conversation, dict) else None
    strangers = [m[0] for m in messages if (m[1], m[2]) != wanted]
    if strangers:
        report.add("manifest", f"message {strangers[0]} is not of the conversation the manifest names", file=MANIFEST)
    selection = manifest.get("selection")
    if not isinstance(selection, dict):
        return  # packages made before chataudit committed the range
    ids = [m[0] for m in messages]
    first, last = selection.get("first_id"), selection.get("last_id")
    if ids and (ids[0] != first or ids[-1] != last):
        report.add("manifest", f"the manifest says the export runs from message {first} to {last}, messages.jsonl "
                               f"from {ids[0]} to {ids[-1]}", file=MANIFEST)
    since, until = selection.get("since_ms"), selection.get("until_ms")
    for mid, _platform, _native, sent_ms in messages:
        if isinstance(sent_ms, int) and ((isinstance(since, int) and sent_ms < since) or
                                         (isinstance(until, int) and sent_ms >= until)):
            report.add("manifest", f"message {mid} lies outside the period the manifest commits to", file=MANIFEST)
            break


def verdict(report):
    """The last line's verdict: FAILED, or OK with what it does not cover (report as a dict)."""
    if report["problems"]:
        return f"FAILED ({len(report['problems'])} problems)"
    words = "OK" if report.get("signature_checked", True) else "INCOMPLETE (signatures not checked)"
    if not report["manifest_signed"]:
        words += f" — UNSIGNED: {len(report['unverified'])} files unverified ({', '.join(report['unverified'][:6])}" \
                 + (", …" if len(report["unverified"]) > 6 else "") + ")"
    if not report["signer_authenticated"]:
        words += " — signer NOT authenticated (no --pubkey)"
    return words


# ---- chain of custody ----------------------------------------------------------------------------------

def check_custody(custody, manifest, checkpoint, messages, withheld, verifier_key, report):
    """The custody log must agree with the checkpoint, the messages and the manifest.

    ``checkpoint``: dict origin/tree_size/root (hex) or None; ``messages``: list of (id, platform,
    conversation, sent_at_ms); ``withheld``: the report's withheld counts.
    """
    if custody is None:
        return
    try:
        _check_custody(custody, manifest, checkpoint, messages, withheld, verifier_key, report)
    except (AttributeError, TypeError, KeyError, ValueError) as error:
        report.add("custody", f"the log is malformed ({type(error).__name__}: {error})", file="custody.json")


def _check_custody(custody, manifest, checkpoint, messages, withheld, verifier_key, report):
    name = "custody.json"
    if not isinstance(custody, dict):
        report.add("custody", "not a JSON object", file=name)
        return

    def bad(detail):
        report.add("custody", detail, file=name)

    archive = custody.get("archive") or {}
    if checkpoint is not None:
        for key in ("origin", "tree_size", "root"):
            if archive.get(key) != checkpoint.get(key):
                bad(f"the archive's {key} in the custody log ({archive.get(key)}) is not the checkpoint's "
                    f"({checkpoint.get(key)}): the checkpoint was replaced or the log edited")
    if verifier_key is not None and archive.get("verifier_key") not in (None, verifier_key):
        bad(f"the custody log names signing key {archive.get('verifier_key')}, the package is checked with {verifier_key}")
    selection = custody.get("selection") or {}
    ids = [m[0] for m in messages]
    if selection.get("messages") != len(ids):
        bad(f"the log says {selection.get('messages')} messages were exported, messages.jsonl holds {len(ids)}")
    if "message_ids" in selection and selection.get("message_ids") != ids:
        bad("the exported message ids in the log are not those of messages.jsonl")
    conversation = selection.get("conversation") or {}
    for mid, platform, native, sent_ms in messages:
        if (platform, native) != (conversation.get("platform"), conversation.get("native_id")):
            bad(f"message {mid} belongs to {platform}:{native}, not to the exported conversation "
                f"{conversation.get('platform')}:{conversation.get('native_id')}")
            break
    since, until = selection.get("since_ms"), selection.get("until_ms")
    for mid, _platform, _native, sent_ms in messages:
        if isinstance(sent_ms, int) and ((since is not None and sent_ms < since) or (until is not None and sent_ms >= until)):
            bad(f"message {mid} lies outside the exported period")
            break
    logged = custody.get("withheld") or {}
    if (logged.get("fields") or {}) != withheld["fields"] or logged.get("messages", 0) != withheld["messages"]:
        bad(f"the log says {logged.get('fields') or {}} fields of {logged.get('messages', 0)} messages were withheld; "
            f"the package withholds {withheld['fields']} of {withheld['messages']}")
    events = custody.get("events") or []
    if not events or not all(isinstance(e, dict) and e.get("at") and e.get("action") for e in events):
        bad("the log has no events (who exported the package, and when)")
    else:
        first = events[0]
        signed_at = archive.get("checkpoint_signed_at")
        exported, signed = _instant(first["at"]), _instant(signed_at) if signed_at else None
        if exported is not None and signed is not None and exported < signed - CLOCK_SKEW:
            bad(f"the export ({first['at']}) is dated before the checkpoint it proves against ({signed_at})")
        if manifest is not None and manifest.get("created_at") != first.get("at"):
            bad("the export time in the log is not the manifest's created_at")
        tool = first.get("tool") or {}
        if not tool.get("name") or not tool.get("version"):
            bad("the log does not say which tool (and version) made the package")
    if manifest is not None:
        files = manifest.get("files") or []
        attachments = [f for f in files if isinstance(f, dict) and f.get("role") == "attachment"]
        documents = sorted((f.get("path"), f.get("sha256")) for f in files
                           if isinstance(f, dict) and f.get("role") == "document")
        if (custody.get("attachments") or {}).get("included", 0) != len(attachments):
            bad(f"the log says {(custody.get('attachments') or {}).get('included', 0)} attachments were included, "
                f"the manifest lists {len(attachments)}")
        logged_docs = sorted((d.get("path"), d.get("sha256")) for d in custody.get("documents") or []
                             if isinstance(d, dict))
        if logged_docs != documents:
            bad("the attached documents in the log are not those of the manifest")


def _instant(text):
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except (ValueError, TypeError, OverflowError):
        return None


def iso_from_ms(ms, offset_min):
    """An instant as chataudit prints it: ISO 8601 in the export's offset."""
    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)
    shown = moment.astimezone(timezone(timedelta(minutes=offset_min or 0)))
    return shown.isoformat(timespec="milliseconds" if ms % 1000 else "seconds")


def shown_instant_matches(text, ms, offset_min):
    """Does an ISO instant shown to a reader say the same as the committed ms and offset?"""
    if text is None or ms is None:
        return text is None and ms is None
    moment = _instant(text)
    if moment is None or moment.utcoffset() is None:
        return False
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    as_ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    try:
        return as_ms == ms and moment.utcoffset() == timedelta(minutes=offset_min or 0)
    except (TypeError, OverflowError):
        return False


# ---- everything below is only the standalone check (chataudit's own verifier uses its library) ------

def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def disclosure_digest(disclosure):
    return base64.urlsafe_b64encode(hashlib.sha256(disclosure.encode("ascii")).digest()).decode().rstrip("=")


def open_disclosure(disclosure):
    """[salt, name, value] (or [salt, value] for an attachment) of a disclosure string."""
    doc = load_json(b64url_decode(disclosure))
    if not isinstance(doc, list) or len(doc) not in (2, 3) or not isinstance(doc[0], str):
        raise ValueError("malformed disclosure")
    return doc


def leaf_bytes(message, sd):
    doc = {key: message.get(key) for key in CLEAR}
    doc.update({"_sd": sd, "type": "message", "v": message.get("v")})
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion_proof(index, size, leaf, proof):
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    if len(leaf) != 32 or any(len(p) != 32 for p in proof):
        raise ValueError("hashes must be 32 bytes")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("the proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("the proof is too short")
    return r


def b64_canonical(text):
    """Standard base64, accepted only in its one canonical spelling (as the signed-note spec requires)."""
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode() != text:
        raise ValueError("non-canonical base64")
    return raw


def parse_verifier_key(text):
    """(name, key id, 32-byte Ed25519 public key) of ``<name>+<hex id>+<base64(0x01 || key)>``."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not parts[0] or len(parts[1]) != 8:
        raise ValueError("malformed verifier key")
    name, hex_id, material = parts
    try:
        raw = b64_canonical(material)
        key_id = int(hex_id, 16)
    except (binascii.Error, ValueError):
        raise ValueError("malformed verifier key") from None
    if len(raw) != 33 or raw[0] != 1:
        raise ValueError("not an Ed25519 note verifier key")
    expected = int.from_bytes(hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4], "big")
    if expected != key_id:
        raise ValueError("the key ID does not match the key")
    return name, key_id, raw[1:]


def parse_note(note):
    """(text, [(name, key id, signature)]) of a C2SP signed note."""
    if not note.endswith("\n") or "\n\n" not in note:
        raise ValueError("malformed signed note")
    split = note.rfind("\n\n")
    text, block = note[:split + 1], note[split + 2:]
    signatures = []
    for line in block.split("\n")[:-1]:
        if not line.startswith(EM_DASH + " ") or line.count(" ") != 2:
            raise ValueError("malformed signature line")
        _, name, blob = line.split(" ")
        raw = b64_canonical(blob)
        if len(raw) < 5:
            raise ValueError("signature too short")
        signatures.append((name, int.from_bytes(raw[:4], "big"), raw[4:]))
    if not signatures:
        raise ValueError("the note has no signature")
    return text, signatures


def have_cryptography():
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: F401
    except ImportError:
        return False
    return True


def ed25519_verify(public_key, signature, message):
    """True/False, or None when the ``cryptography`` package is not installed."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return None
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def check_note(note, key, report, file, kind):
    """Verify a signed note with the key (name, id, public key); returns its text, or None when it fails."""
    try:
        text, signatures = parse_note(note)
    except (ValueError, binascii.Error) as error:
        report.add(kind, f"not a signed note ({error})", file=file)
        return None
    name, key_id, public_key = key
    mine = [s for s in signatures if s[0] == name and s[1] == key_id]
    if not mine:
        report.add(kind, f"not signed by key {name}+{key_id:08x}", file=file)
        return None
    for _, _, signature in mine:
        verdict = ed25519_verify(public_key, signature, text.encode("utf-8"))
        if verdict is False:
            report.add(kind, f"the signature of key {name}+{key_id:08x} does not verify", file=file)
            return None
        if verdict is None:
            return text
    report.checked["signatures"] += 1
    return text


def parse_checkpoint(text):
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not lines[1].isdigit():
        raise ValueError("not a tlog checkpoint (origin, tree size, root)")
    root = b64_canonical(lines[2])
    if len(root) != 32:
        raise ValueError("the checkpoint's root is not 32 bytes")
    return {"origin": lines[0], "tree_size": int(lines[1]), "root": root.hex()}


def check_messages(z, report, checkpoint, digests, manifest, rendered=None):
    """Disclosures, leaves and proofs of every message; returns [(id, platform, conversation, sent_at_ms)]
    and fills ``rendered`` with what the transcript must show of each proven message."""
    proofs = {}
    for number, proof in iter_jsonl(z, "proofs.jsonl", report):
        if not isinstance(proof.get("id"), int):
            report.add("proof", f"line {number}: no message id", file="proofs.jsonl")
            continue
        if proof.get("id") in proofs:
            report.add("proof", f"line {number}: a second proof for message {proof.get('id')}", file="proofs.jsonl")
        proofs[proof.get("id")] = proof
    seen = []
    shown_attachments = {}
    root = bytes.fromhex(checkpoint["root"]) if checkpoint else None
    for number, message in iter_jsonl(z, "messages.jsonl", report):
        mid = message.get("id")
        if not isinstance(mid, int):
            report.add("message", f"line {number}: no message id", file="messages.jsonl")
            continue
        where = {"id": mid, "leaf_index": message.get("leaf_index"), "sent_at": message.get("sent_at")}
        seen.append((mid, message.get("platform"), message.get("conversation"), message.get("sent_at_ms")))
        report.messages += 1
        report.checked["messages"] += 1
        proof = proofs.pop(mid, None)
        sd = _sd_of(message, where, report, shown_attachments)
        if sd is None:
            continue
        if not shown_instant_matches(message.get("sent_at"), message.get("sent_at_ms"), message.get("utc_offset_min")) \
                or not shown_instant_matches(message.get("edited_at"), message.get("edited_at_ms"),
                                             message.get("utc_offset_min")):
            report.add("message", "the instant shown (sent_at / edited_at) is not the committed one", message=where)
            continue
        data = leaf_bytes(message, sd)
        if proof is None:
            report.add("proof", "no inclusion proof for this message", file="proofs.jsonl", message=where)
            continue
        if proof.get("leaf") is not None and proof.get("leaf") != data.decode("utf-8"):
            report.add("message", "the fields shown do not hash to the leaf that was signed: "
                       + _leaf_difference(proof.get("leaf"), data), message=where)
            continue
        digest = leaf_hash(data)
        if proof.get("leaf_hash") != digest.hex():
            report.add("proof", "the leaf hash in proofs.jsonl is not the hash of the message's leaf",
                       file="proofs.jsonl", message=where)
            continue
        if checkpoint is None:
            continue
        if proof.get("leaf_index") != message.get("leaf_index") or proof.get("tree_size") != checkpoint["tree_size"]:
            report.add("proof", f"the proof is for leaf {proof.get('leaf_index')} of a tree of {proof.get('tree_size')}, "
                                f"not leaf {message.get('leaf_index')} of the checkpoint's {checkpoint['tree_size']}",
                       file="proofs.jsonl", message=where)
            continue
        try:
            path = [bytes.fromhex(h) for h in proof.get("proof") or []]
            reached = root_from_inclusion_proof(proof["leaf_index"], proof["tree_size"], digest, path)
        except (ValueError, TypeError) as error:
            report.add("proof", f"malformed inclusion proof ({error})", file="proofs.jsonl", message=where)
            continue
        if reached != root:
            report.add("proof", "the inclusion proof does not lead to the signed root", file="proofs.jsonl",
                       message=where)
            continue
        report.checked["proofs"] += 1
        if rendered is not None:
            rendered[mid] = rendering_expectation(message)
    for mid in proofs:
        report.add("proof", f"a proof for message {mid}, which is not in messages.jsonl", file="proofs.jsonl")
    _check_attachment_files(manifest, digests, shown_attachments, report)
    return seen


def _sd_of(message, where, report, shown_attachments):
    """The leaf's ``_sd`` object from disclosures and withheld digests; None when they contradict the fields."""
    try:
        return sd_from_disclosures(message, report, shown_attachments, open_disclosure, disclosure_digest,
                                   _check_digest)
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error) as error:
        report.add("message", str(error), message=where)
        return None


def sd_from_disclosures(message, report, shown_attachments, opener, digester, digest_check):
    """Walk a message's salted fields: each is disclosed (checked against the value shown), withheld
    (a digest only) or absent. Raises ValueError on any contradiction.

    The disclosure primitives are passed in, so chataudit's own verifier walks the same rules with
    its independent ledger implementation of them (``opener`` returns [salt, name, value], or
    [salt, value] for an attachment; ``digester`` a disclosure's base64url SHA-256).
    """
    disclosures = message.get("disclosures") or {}
    withheld = message.get("withheld") or {}
    if not isinstance(disclosures, dict) or not isinstance(withheld, dict):
        raise ValueError("disclosures / withheld are not objects")
    sd = {}
    hidden = {}
    for field in SALTED:
        shown, disclosure, digest = message.get(field), disclosures.get(field), withheld.get(field)
        if disclosure is not None and digest is not None:
            raise ValueError(f"{field} is both disclosed and withheld")
        if disclosure is not None:
            salt_name_value = opener(disclosure)
            if len(salt_name_value) != 3 or salt_name_value[1] != field:
                raise ValueError(f"the disclosure given for {field} is not one of {field}")
            if salt_name_value[2] != shown:
                raise ValueError(f"the {field} shown is not the {field} its disclosure commits to")
            sd[field] = digester(disclosure)
            report.checked["disclosures"] += 1
        elif digest is not None:
            if shown is not None:
                raise ValueError(f"{field} is withheld but a value is shown")
            digest_check(digest)
            sd[field] = digest
            hidden[field] = 1
        else:
            if shown is not None:
                raise ValueError(f"{field} is shown without its disclosure")
            sd[field] = None
    shown = message.get("attachments") or []
    given = disclosures.get("attachments") or []
    held = withheld.get("attachments") or []
    if not all(isinstance(x, list) for x in (shown, given, held)):
        raise ValueError("attachments, their disclosures and digests must be lists")
    items = []
    for i in range(max(len(shown), len(given), len(held))):
        disclosure = given[i] if i < len(given) else None
        digest = held[i] if i < len(held) else None
        value = shown[i] if i < len(shown) else None
        if (disclosure is None) == (digest is None):
            raise ValueError(f"attachment {i} must be either disclosed or withheld")
        if disclosure is not None:
            salt_value = opener(disclosure)
            if len(salt_value) != 2 or salt_value[1] != value:
                raise ValueError(f"attachment {i} shown is not the one its disclosure commits to")
            items.append(digester(disclosure))
            shown_attachments[(message.get("id"), i)] = value
            report.checked["disclosures"] += 1
        else:
            if value is not None:
                raise ValueError(f"attachment {i} is withheld but shown")
            digest_check(digest)
            items.append(digest)
            hidden["attachments"] = hidden.get("attachments", 0) + 1
    sd["attachments"] = items
    for field, count in hidden.items():
        report.withheld["fields"][field] = report.withheld["fields"].get(field, 0) + count
    if hidden:
        report.withheld["messages"] += 1
    return sd


def _check_digest(digest):
    if not isinstance(digest, str) or len(digest) != 43 or len(b64url_decode(digest)) != 32:
        raise ValueError("a withheld field's digest is not a base64url SHA-256")


def _leaf_difference(signed_leaf, data):
    try:
        signed = load_json(signed_leaf.encode("utf-8"))
        now = load_json(data)
        def differ(a, b):
            return json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True)

        keys = sorted(k for k in set(signed) | set(now) if differ(signed.get(k), now.get(k)))
        if keys == ["_sd"]:
            keys = ["_sd." + k for k in sorted(set(signed["_sd"]) | set(now["_sd"]))
                    if differ(signed["_sd"].get(k), now["_sd"].get(k))]
    except (ValueError, TypeError, AttributeError):
        return "the signed leaf is unreadable"
    return "differs in " + ", ".join(keys)


def _check_attachment_files(manifest, digests, shown_attachments, report):
    entries = (manifest or {}).get("files") or []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("role") != "attachment":
            continue
        path = entry.get("path")
        key = (entry.get("message"), entry.get("index"))
        shown = shown_attachments.get(key)
        if shown is None:
            report.add("attachment", f"attachment of message {key[0]} (#{key[1]}), which the package does not disclose",
                       file=path)
            continue
        if path not in digests:
            continue
        committed = shown.get("sha256") if isinstance(shown, dict) else None
        if committed is None:
            report.notice(f"{path}: the archive recorded no hash for this attachment, so only the manifest vouches for it")
        elif committed != digests[path][1]:
            report.add("attachment", f"SHA-256 {digests[path][1]} is not the {committed} the message commits to",
                       file=path, message={"id": key[0]})
            continue
        else:
            report.proven.add(path)
        report.checked["attachments"] += 1


# ---- the rendering: its transcript against the proven messages ----------------------------------------

RENDERING = "messages.html"
_ACTIVE_TAGS = frozenset(("script", "iframe", "frame", "frameset", "object", "embed", "applet", "link", "base",
                          "form", "svg", "math", "template", "portal"))
_VOID_TAGS = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                        "track", "wbr", "param"))
_URL_ATTRIBUTES = frozenset(("href", "src", "srcset", "action", "formaction", "data", "poster", "xlink:href"))
_SCHEME = re.compile(r"^\s*(?:[a-zA-Z][a-zA-Z0-9+.\-]*:|//|\\\\)")
_EXTERNAL_CSS = re.compile(r"url\(\s*['\"]?\s*(?:[a-zA-Z][a-zA-Z0-9+.\-]*:|//)|@import", re.IGNORECASE)
_ROW_ID = re.compile(r"m(\d{1,19})$")


def _digest_text(text):
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _squeeze(text):
    return " ".join(text.split())


def rendering_expectation(message):
    """What the transcript row of a proven message must show: day, time, sender, text (its SHA-256),
    kind, amount and attachment names — None for a field whose value no template prints faithfully."""
    sent_at = message.get("sent_at") if isinstance(message.get("sent_at"), str) else ""
    withheld = message.get("withheld") if isinstance(message.get("withheld"), dict) else {}
    who = ""
    for field in ("sender_name", "sender_id"):
        if withheld.get(field) is not None:
            break
        if message.get(field) is not None:
            who = message.get(field) if isinstance(message.get(field), str) else None
            break
    text = message.get("text")
    text = "" if text is None else text if isinstance(text, str) else None
    amount, currency, kind = message.get("amount"), message.get("currency"), message.get("kind")
    files = []
    for item in message.get("attachments") or []:
        if isinstance(item, dict) and (item.get("name") or item.get("path")):
            files.append(str(item.get("name") or item.get("path")))
    return {"day": sent_at[:10],
            "time": sent_at[11:19] + "UTC" + (sent_at[19:].lstrip(".0123456789") or "Z"),
            "sender": None if who is None else who.strip(),
            "text": None if text is None else _digest_text(text),
            "kind": "" if kind in ("text", None) else str(kind),
            "amount": _squeeze(f"{currency or ''} {amount}") if amount else "",
            "attachments": files}


class _RenderingReader(HTMLParser):
    """Reads the transcript rows of messages.html (as the evidence template writes them) and any
    active content (scripts, frames, external loads) a faithful rendering must not hold."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []  # (tag, classes) of the open elements
        self.row = None  # the transcript row being read, with the stack depth it opened at
        self.day_at = None  # the stack depth of an open day row
        self.day = None
        self.day_text = []
        self.rows = []  # completed rows, taken by the caller as it goes
        self.active = []

    def _attributes(self, tag, attrs):
        if tag in _ACTIVE_TAGS or (tag == "meta" and any(k == "http-equiv" for k, _ in attrs)):
            self.active.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.active.append(f"an {name} handler")
            elif name in _URL_ATTRIBUTES and _SCHEME.match(value):
                self.active.append(f"{name}={value[:60]!r}")
            elif name == "style" and _EXTERNAL_CSS.search(value):
                self.active.append("an external resource in a style attribute")

    def handle_startendtag(self, tag, attrs):
        self._attributes(tag, attrs)

    def handle_starttag(self, tag, attrs):
        self._attributes(tag, attrs)
        if tag in _VOID_TAGS:
            return
        classes = set()
        row_id = None
        for name, value in attrs:
            if name == "class" and value:
                classes.update(value.split())
            elif name == "id" and value and _ROW_ID.match(value):
                row_id = int(value[1:])
        self.stack.append((tag, classes))
        if tag == "tr" and row_id is not None and self.row is None:
            self.row = {"at": len(self.stack), "id": row_id, "day": self.day, "time": [], "sender": [],
                        "text": [], "kind": [], "amount": [], "attachments": []}
        elif tag == "tr" and "day" in classes and self.day_at is None:
            self.day_at, self.day_text = len(self.stack), []
        elif self.row is not None and tag == "span" and "file" in classes:
            self.row["attachments"].append([])

    def handle_endtag(self, tag):
        if tag in _VOID_TAGS:
            return
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                break
        else:
            return
        if self.row is not None and len(self.stack) < self.row["at"]:
            self.rows.append(self.row)
            self.row = None
        if self.day_at is not None and len(self.stack) < self.day_at:
            self.day, self.day_at = _squeeze("".join(self.day_text)), None

    def handle_data(self, data):
        if self.stack and self.stack[-1][0] == "style" and _EXTERNAL_CSS.search(data):
            self.active.append("an external resource in a stylesheet")
        if self.day_at is not None:
            self.day_text.append(data)
        row = self.row
        if row is None:
            return
        inside = self.stack[row["at"]:]
        for tag, classes in inside:
            if tag == "td" and "time" in classes:
                row["time"].append(data)
            if "text" in classes and "redacted" not in classes:
                row["text"].append(data)
            if "kind" in classes:
                row["kind"].append(data)
            if "amount" in classes:
                row["amount"].append(data)
            if "file" in classes and row["attachments"]:
                row["attachments"][-1].append(data)
        if inside and inside[-1][0] == "td" and "who" in inside[-1][1]:
            row["sender"].append(data)


def _shown_row(row):
    return {"day": row["day"], "time": "".join("".join(row["time"]).split()),
            "sender": "".join(row["sender"]).strip(), "text": _digest_text("".join(row["text"])),
            "kind": _squeeze("".join(row["kind"])), "amount": _squeeze("".join(row["amount"])),
            "attachments": ["".join(parts) for parts in row["attachments"]]}


def check_rendering(z, report, ids, expected):
    """The transcript of messages.html against messages.jsonl: one row per message, in order, each
    proven message (``expected``: id → :func:`rendering_expectation`) shown as it was proven; and no
    active content. Streamed: the page is never held whole."""
    if RENDERING not in z.members:
        return
    reader = _RenderingReader()
    state = {"at": 0, "order_broken": False}

    def take():
        for row in reader.rows:
            at = state["at"]
            state["at"] += 1
            if state["order_broken"]:
                continue
            if at >= len(ids) or row["id"] != ids[at]:
                state["order_broken"] = True
                where = f"message {ids[at]}" if at < len(ids) else "no further message"
                report.add("rendering", f"row {at + 1} of the transcript shows message {row['id']} where "
                                        f"messages.jsonl has {where}", file=RENDERING)
                continue
            want = expected.get(row["id"])
            if want is None:
                continue  # not proven: its problem is reported already
            shown = _shown_row(row)
            wrong = [key for key in ("day", "time", "sender", "text", "kind", "amount", "attachments")
                     if want[key] is not None and shown[key] != want[key]]
            if wrong:
                report.add("rendering", f"the transcript shows a {', '.join(wrong)} other than the proven "
                                        "message's", file=RENDERING, message={"id": row["id"]})
        del reader.rows[:]

    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with z.zip.open(z.members[RENDERING]) as handle:
            while True:
                chunk = handle.read(1 << 20)
                reader.feed(decoder.decode(chunk, final=not chunk))
                take()
                if not chunk:
                    break
        reader.close()
        take()
    except UnicodeDecodeError as error:
        report.add("rendering", f"not valid UTF-8 ({error})", file=RENDERING)
        return
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error):
        return  # reported as unreadable by the manifest check
    if not state["order_broken"] and state["at"] < len(ids):
        report.add("rendering", f"the transcript has {state['at']} rows, messages.jsonl {len(ids)} messages",
                   file=RENDERING)
    if reader.active:
        report.add("rendering", f"active content ({', '.join(sorted(set(reader.active))[:5])}): a page that can run "
                                "code or load from elsewhere is no faithful rendering", file=RENDERING)


def check_timestamp_imprint(z, report, checkpoint_bytes):
    if "checkpoint.tsr" not in z.members:
        return
    try:
        token = z.read("checkpoint.tsr")
    except MemberError as error:
        report.add("timestamp", error.detail, file="checkpoint.tsr")
        return
    imprint = hashlib.sha256(checkpoint_bytes).digest()
    found = b"\x04\x20" + imprint in token
    report.timestamp = {"imprint_found": found, "signature_checked": False}
    if not found:
        report.add("timestamp", "the RFC 3161 token does not carry the SHA-256 of checkpoint.txt", file="checkpoint.tsr")
    else:
        report.notice("checkpoint.tsr carries the checkpoint's SHA-256; check its signature with OpenSSL: "
                      "openssl ts -verify -data checkpoint.txt -in checkpoint.tsr -CAfile tsa-ca.pem")


def verify(path, pubkey=None, limits=None, allow_unsigned=False):
    """Check a package; returns the report (as chataudit's ``evidence verify --json`` shapes it).

    A package without manifest.sig fails unless ``allow_unsigned``; then the files no signature
    covers are listed in ``unverified``."""
    report = Report()
    try:
        z = SafeZip(path, limits)
    except PackageError as error:
        report.add("unsafe_package", str(error))
        return report
    with z:
        manifest, digests = check_manifest(z, report)
        key, key_text = None, None
        package_key = read_text(z, "pubkey.txt", report, required=pubkey is None)
        given = pubkey.strip() if pubkey is not None else package_key.strip() if package_key is not None else None
        try:
            if given is not None:
                key = parse_verifier_key(given)
                key_text = given
            if pubkey is not None and package_key is not None and package_key.strip() != given:
                report.add("pubkey", f"pubkey.txt is {package_key.strip()}, not the key you gave: the package was "
                                     "signed by another key", file="pubkey.txt")
            elif pubkey is None and key is not None:
                report.notice(UNAUTHENTICATED)
            elif key is not None:
                report.signer_authenticated = True
                if package_key is not None:
                    report.proven.add("pubkey.txt")  # the very key the user gave
        except ValueError as error:
            report.add("pubkey", f"not a note verifier key ({error})", file=None if pubkey else "pubkey.txt")
        report.key = key_text
        checkpoint = None
        note = read_text(z, "checkpoint.txt", report)
        if note is not None and key is not None:
            text = check_note(note, key, report, "checkpoint.txt", "checkpoint_signature")
            if text is not None:
                try:
                    checkpoint = parse_checkpoint(text)
                except (ValueError, binascii.Error) as error:
                    report.add("checkpoint", str(error), file="checkpoint.txt")
        report.signature_checked = have_cryptography()
        if checkpoint is not None:
            report.checkpoint = dict(checkpoint, signed_by=f"{key[0]}+{key[1]:08x}" if report.signature_checked else None)
            check_timestamp_imprint(z, report, note.encode("utf-8"))
        if MANIFEST_SIGNATURE in z.members and key is not None and MANIFEST in z.members:
            sig = read_text(z, MANIFEST_SIGNATURE, report)
            if sig is not None:
                text = check_note(sig, key, report, MANIFEST_SIGNATURE, "manifest_signature")
                try:
                    manifest_bytes = z.read(MANIFEST, z.limits.max_json_bytes)
                except MemberError:
                    manifest_bytes = b""
                if text is not None and text != manifest_note_text(manifest_bytes):
                    report.add("manifest_signature", "the signed digest is not the SHA-256 of manifest.json: the "
                               "manifest was changed after it was signed", file=MANIFEST_SIGNATURE)
                elif text is not None:
                    report.manifest_signed = True
        elif MANIFEST_SIGNATURE not in z.members:
            check_unsigned(report, allow_unsigned)
        rendered = {}
        messages = check_messages(z, report, checkpoint, digests, manifest, rendered)
        check_selection(manifest, messages, report)
        check_rendering(z, report, [m[0] for m in messages], rendered)
        custody = read_json(z, "custody.json", report)
        check_custody(custody, manifest, checkpoint, messages, report.withheld, key_text, report)
        check_verify_py(digests, _own_sha256(), report)
        account_unverified(z, report)
        if not report.signature_checked:
            report.notice("the Ed25519 signatures were NOT checked: install the `cryptography` package "
                          "(pip install cryptography) and run again")
    return report


def _own_sha256():
    try:
        with open(__file__, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except (NameError, OSError):
        return None


def summary_lines(report):
    lines = []
    for p in report.problems:
        where = p.get("file") or ""
        if p.get("message"):
            where += (" " if where else "") + f"message {p['message'].get('id')}"
        lines.append(f"{p['kind'].upper()}: {where + ': ' if where else ''}{p['detail']}")
    for n in report.notices:
        lines.append("note: " + n)
    c = report.checkpoint
    head = (f"checkpoint {c['origin']} size {c['tree_size']} root {c['root']}" if c else "no verified checkpoint")
    counts = report.checked
    lines.append(f"{verdict(report.as_dict())}: {report.messages} messages, {counts['proofs']} proofs, "
                 f"{counts['disclosures']} disclosures, {counts['files']} files checked; {head}")
    return lines


USAGE = "usage: python verify.py PACKAGE.zip [--pubkey KEY_OR_FILE] [--allow-unsigned] [--json]"


def main(argv=None):
    if sys.version_info < PYTHON_REQUIRES:
        print(f"verify.py needs Python {'.'.join(map(str, PYTHON_REQUIRES))} or later", file=sys.stderr)
        return 1
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    allow_unsigned = "--allow-unsigned" in args
    args = [a for a in args if a not in ("--json", "--allow-unsigned")]
    pubkey = None
    if "--pubkey" in args:
        at = args.index("--pubkey")
        if at + 1 >= len(args):
            print(USAGE, file=sys.stderr)
            return 1
        pubkey = args[at + 1]
        del args[at:at + 2]
        try:
            with open(pubkey, encoding="utf-8") as handle:
                pubkey = handle.read().strip()
        except OSError:
            pass
    if len(args) != 1:
        print(USAGE, file=sys.stderr)
        return 1
    report = verify(args[0], pubkey, allow_unsigned=allow_unsigned)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        for line in summary_lines(report):
            print(line)
    if report.problems:
        return 1
    return 0 if report.signature_checked else 2


if __name__ == "__main__":
    sys.exit(main())
