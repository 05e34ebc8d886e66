"""``evidence export``: one conversation (or part of it) as a zip that anyone can check offline.

The package proves each message against a signed checkpoint of the archive's ledger. A message's
text, sender id, sender name, extras and each attachment are committed by salted digests in its
leaf, so a field travels either as its *disclosure* (value + salt, which a verifier hashes) or, when
withheld (``--withhold``, ``--redact`` or redacted in the archive before), as the digest alone: the
leaf is recomputed either way and every proof still verifies.

Layout (every file but the manifest and its signature is listed in the manifest with SHA-256 and MD5)::

    README.txt       what this is and how to check it
    manifest.json    every file's size, SHA-256, MD5 and role; its own digest (self_digest)
    manifest.sig     the manifest's SHA-256 signed with the archive's key (C2SP signed note), when the key is at hand
    custody.json     chain of custody: who exported what, when, from which archive, with which command
    messages.jsonl   one message per line: committed fields, disclosures, digests of withheld fields
    messages.html    the printable rendering (messages.pdf too, when Chromium is available)
    proofs.jsonl     per message: leaf, leaf hash, RFC 9162 inclusion proof against the checkpoint
    checkpoint.txt   the signed checkpoint (C2SP tlog-checkpoint in a signed note), byte for byte
    checkpoint.tsr   its RFC 3161 time-stamp response, when the archive has one (tsa-ca.pem: the TSA's CA)
    pubkey.txt       the note verifier key of the archive
    verify.py        a standard-library verifier (`python verify.py PKG.zip`)
    attachments/     files of the messages found beside their export, checked against the committed SHA-256
    documents/       files the exporter attached (--attach)
    statements/      bank / payment statements (--statement) and matches.json
"""

from __future__ import annotations

import getpass
import hashlib
import html
import importlib.metadata
import os
import platform as platform_module
import re
import shlex
import shutil
import socket
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import orjson

from ..errors import ChatAuditError
from ..ledger.keys import load_key
from ..ledger.log import CheckpointRecord, Ledger
from ..ledger.merkle import leaf_hash
from ..ledger.note import NoteError, open_note, sign
from ..ledger.verify import trusted_verifier
from ..store.sqlite import iso_from_ms
from . import standalone_verify as S

WITHHOLDABLE = ("text", "sender_id", "sender_name", "extras", "attachments")
ALIASES = {"sender": ("sender_id", "sender_name"), "attachment": ("attachments",)}
CHROMIUM = Path("/usr/bin/chromium")
STORED_SUFFIXES = {".zip", ".gz", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".mp4", ".mov", ".mp3", ".m4a",
                   ".amr", ".silk", ".pdf", ".docx", ".xlsx", ".pptx", ".7z", ".rar", ".heic"}
REASONS = {"withhold": "withheld by the exporter (--withhold)",
           "redact": "personal data: withheld by --redact",
           "archive": "redacted in the archive by policy before the export"}
WITHHELD_MARK = "[withheld]"
MATCHES = "statements/matches.json"
# the order members are written in, so that a person opening the zip sees the README first
ORDER = ["README.txt", "manifest.json", "manifest.sig", "custody.json", "messages.html", "messages.pdf",
         "messages.jsonl", "proofs.jsonl", "checkpoint.txt", "checkpoint.tsr", "tsa-ca.pem", "pubkey.txt",
         "verify.py", MATCHES]


@dataclass
class ExportResult:
    path: str
    messages: int
    checkpoint: dict[str, Any]
    timestamp: dict[str, Any] | None
    withheld: dict[str, Any]
    attachments: dict[str, Any]
    documents: int
    statements: int
    pdf: dict[str, Any]
    manifest_signed: bool
    files: int
    warnings: list[str] = field(default_factory=list)
    sealed: bool = False  # an encrypted archive's package, sealed under its key (`evidence unseal` opens it)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ---- --withhold ------------------------------------------------------------------------------------

def parse_withhold(specs: Iterable[str]) -> dict[str, set[int] | None]:
    """``text:12,13`` / ``sender_name:all`` / ``attachments:7`` → field → message ids (None: every message)."""
    chosen: dict[str, set[int] | None] = {}
    for spec in specs:
        name, sep, ids = spec.strip().partition(":")
        fields = ALIASES.get(name, (name,))
        if not sep or not ids or any(f not in WITHHOLDABLE for f in fields):
            raise ChatAuditError(f"--withhold {spec!r}: use FIELD:IDS or FIELD:all with FIELD one of "
                                 f"{', '.join(WITHHOLDABLE)} (or sender), e.g. text:12,13")
        if ids.strip().lower() == "all":
            wanted: set[int] | None = None
        else:
            try:
                wanted = {int(part) for part in ids.split(",") if part.strip()}
            except ValueError:
                raise ChatAuditError(f"--withhold {spec!r}: message ids are numbers (see `messages --json`)") from None
        for f in fields:
            if wanted is None or (f in chosen and chosen[f] is None):
                chosen[f] = None
            else:
                chosen[f] = (chosen.get(f) or set()) | wanted
    return chosen


def _wants(chosen: dict[str, set[int] | None], name: str, message_id: int) -> bool:
    if name not in chosen:
        return False
    ids = chosen[name]
    return ids is None or message_id in ids


# ---- what leaves the archive, and what must not ----------------------------------------------------

def _learnable(value: str) -> bool:
    value = value.strip()
    return len(value) >= 2 and (bool(re.search(r"[\u3400-\u9fff]", value)) or len(value) >= 4)


def _needles(name: str, value: Any) -> Iterable[str]:
    """The withheld strings that must not turn up elsewhere (extras hold enumerations such as "external",
    and attachments MIME types, which are not worth hiding and appear everywhere)."""
    if name in ("text", "sender_id", "sender_name") and isinstance(value, str) and value:
        yield value
    elif name == "attachments":
        for item in value:
            for key in ("name", "path", "sha256"):
                if isinstance(item, dict) and isinstance(item.get(key), str) and item[key]:
                    yield item[key]


class _Scrubber:
    """Informational strings (titles, paths, the command line) without any withheld value in them."""

    def __init__(self, values: set[str], redactor: Any | None):
        self.values = sorted((v for v in values if _learnable(v)), key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, self.values))) if self.values else None
        self.redactor = redactor

    def __call__(self, text: Any) -> Any:
        if not isinstance(text, str) or not text:
            return text
        if self.redactor is not None:
            text = self.redactor.text(text)
        return self.pattern.sub(WITHHELD_MARK, text) if self.pattern else text


def _safe_name(name: str, fallback: str, scrub: _Scrubber) -> str:
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = scrub(base)
    if cleaned != base:  # the name itself carries something withheld
        base = fallback + Path(base).suffix.lower()[:10]
    base = re.sub(r"[^\w.\-]+", "_", base).strip("._") or fallback
    stem, suffix = os.path.splitext(base)
    return stem[:80] + suffix[:12]


# ---- checkpoint -------------------------------------------------------------------------------------

def _choose_checkpoint(ledger: Ledger, highest_leaf: int) -> CheckpointRecord:
    """The latest time-stamped checkpoint that covers every exported message, else the latest one."""
    checkpoints = ledger.checkpoints()
    if not checkpoints:
        raise ChatAuditError("the archive has no checkpoint yet (run `chataudit init`)")
    stamped = {t["checkpoint"] for t in ledger.timestamps()}
    covering = [c for c in checkpoints if c.tree_size > highest_leaf]
    if not covering:
        raise ChatAuditError("the exported messages are not all under a signed checkpoint yet (run `chataudit init`)")
    with_time = [c for c in covering if c.id in stamped]
    return (with_time or covering)[-1]


# ---- attachments found beside their export ------------------------------------------------------------

def _attachment_file(archive: Any, source_path: str | None, attachment: dict[str, Any]) -> tuple[Path | None, str]:
    """Where an attachment's file is on disk: relative to the source it was imported from, inside its folder."""
    relative = attachment.get("path")
    if not relative:
        return None, "the export gave no file path"
    if not source_path:
        return None, "the source file is unknown"
    if ".zip!" in source_path:
        return None, "the source was a .zip; its files were not kept"
    if Path(relative).is_absolute() or ".." in Path(relative.replace("\\", "/")).parts:
        return None, "its path points outside the export's folder"
    source = Path(source_path)
    candidates = [source] if source.is_absolute() else [Path.cwd() / source, Path(archive.path).parent / source]
    for candidate in candidates:
        if candidate.exists():
            base = (candidate if candidate.is_dir() else candidate.parent).resolve()
            file = (base / relative).resolve()
            if base not in file.parents:
                return None, "its path points outside the export's folder"
            if file.is_file():
                return file, ""
            return None, f"no file {relative} beside the source"
    return None, f"the source {source_path} is no longer on this disk"


def _copy_hashed(source: Path, target: Path, limit: int) -> str:
    size = source.stat().st_size
    if size > limit:
        raise ChatAuditError(f"{source}: {size:,} bytes, over the {limit:,}-byte limit of a package member")
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()


# ---- the rendering ----------------------------------------------------------------------------------

def _template():
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("chataudit.render", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True,
                      finalize=lambda value: "" if value is None else value)  # a missing value, never "None"
    env.filters["size"] = _human_size
    env.filters["instant"] = lambda text: str(text).replace("T", " ", 1).replace("Z", " UTC") if text else ""
    return env.get_template("evidence.html.j2")


def _human_size(n: Any) -> str:
    if not isinstance(n, int):
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def _view(line: dict[str, Any], files: dict[tuple[int, int], str]) -> dict[str, Any]:
    """What the HTML shows of one package message: shown, withheld (digest) or redacted (rendering)."""

    def state(name: str) -> dict[str, Any]:
        if line["withheld"].get(name) is not None:
            reason = line.get("withheld_reason", {}).get(name)
            if reason == "redact":
                return {"state": "redacted", "value": line.get("redacted", {}).get(name),
                        "digest": line["withheld"][name]}
            return {"state": "withheld", "digest": line["withheld"][name], "reason": REASONS.get(reason, reason)}
        if line.get(name) is None:
            return {"state": "none"}
        return {"state": "shown", "value": line[name]}

    attachments = []
    hidden = line["withheld"].get("attachments") or []
    redacted = line.get("redacted", {}).get("attachments") or []
    for i, value in enumerate(line.get("attachments") or []):
        if value is not None:
            item = {"state": "shown", "name": value.get("name") or value.get("path"), "size": value.get("size"),
                    "sha256": value.get("sha256"), "mime": value.get("mime"), "file": files.get((line["id"], i))}
            item["image"] = bool(item["file"] and (value.get("mime") or "").startswith("image/"))
        else:
            rendering = redacted[i] if i < len(redacted) and isinstance(redacted[i], dict) else None
            item = {"state": "redacted" if rendering else "withheld", "digest": hidden[i] if i < len(hidden) else None,
                    "name": rendering.get("name") if rendering else None}
        attachments.append(item)
    sender = state("sender_name")
    if sender["state"] == "none":
        sender = state("sender_id")
    sent_at = line["sent_at"]
    return {
        "seq": line["seq"], "id": line["id"], "sent_at": sent_at, "day": sent_at[:10], "clock": sent_at[11:19],
        "offset": sent_at[19:].lstrip(".0123456789") or "Z", "kind": line["kind"], "amount": line.get("amount"),
        "currency": line.get("currency"), "is_me": line.get("is_me"), "edited_at": line.get("edited_at"),
        "reply_to": line.get("reply_to"), "message_id": line.get("message_id"), "sender": sender,
        "text": state("text"), "extras": state("extras"), "attachments": attachments,
        "leaf_index": line["leaf_index"],
    }


def write_pdf(html_path: Path, pdf_path: Path, footer: str, chromium: Path = CHROMIUM) -> str | None:
    """Print the rendering to PDF with headless Chromium; returns why not, or None when done."""
    if not Path(chromium).exists():
        return f"no Chromium at {chromium}: no PDF was made (print messages.html instead)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "Playwright is not installed: no PDF was made (print messages.html instead)"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"])
            try:
                page = browser.new_page()
                # offline by construction: nothing but the package's own files may load
                page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                           else route.abort())
                page.goto(html_path.as_uri(), wait_until="load")
                page.pdf(path=str(pdf_path), format="A4", print_background=True, display_header_footer=True,
                         header_template="<span></span>", footer_template=footer,
                         margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"})
            finally:
                browser.close()
    except Exception as error:  # a browser failure costs the PDF, never the package
        return f"Chromium could not print the PDF ({type(error).__name__}: {str(error).splitlines()[0][:200]})"
    return None


# ---- export ------------------------------------------------------------------------------------------

def export_package(archive: Any, out: str | os.PathLike[str], *, conversation: str,
                   since_ms: int | None = None, until_ms: int | None = None,
                   since: str | None = None, until: str | None = None,
                   withhold: Sequence[str] = (), redact: str | None = None,
                   attach: Sequence[str | os.PathLike[str]] = (), statements: Sequence[str | os.PathLike[str]] = (),
                   statement_tz: Any = None, operator: str | None = None, pdf: bool = True,
                   key_path: str | os.PathLike[str] | None = None, argv: Sequence[str] | None = None,
                   chromium: Path = CHROMIUM, limits: S.Limits | None = None,
                   on_progress: Callable[[int, str], None] | None = None, readable: bool = False) -> ExportResult:
    """Write the evidence package of one conversation (optionally one period of it) to ``out``.

    ``on_progress(messages_done, phase)`` is told how far it got (a web job shows it, and stops the
    export by raising from it: nothing is written to ``out`` then). The package of an encrypted
    archive is sealed under the archive's key (:mod:`chataudit.vault.seal`) unless ``readable``
    (one meant for a court); the custody log says which."""
    limits = limits or S.Limits()
    sealed = getattr(archive, "key", None) is not None and not readable
    out = Path(out)
    conv = dict(archive.resolve_conversation(conversation))
    rows = list(archive.timeline(conv["id"], since_ms, until_ms))
    if not rows:
        raise ChatAuditError(f"conversation {conversation!r} has no messages in that period")
    ids = [row["id"] for row in rows]
    chosen = parse_withhold(withhold)
    known = set(ids)
    for name, wanted in chosen.items():
        missing = sorted((wanted or set()) - known)
        if missing:
            raise ChatAuditError(f"--withhold {name}: message(s) {', '.join(map(str, missing))} are not among the "
                                 f"{len(ids)} exported messages")
    for path in [*attach, *statements]:
        if not Path(path).is_file():
            raise ChatAuditError(f"{path}: no such file")

    ledger = Ledger(archive, key_path)
    leaf_of = {mid: ledger.message_leaf_index(mid) for mid in ids}
    checkpoint = _choose_checkpoint(ledger, max(leaf_of.values()))
    verifier, key_source = trusted_verifier(ledger, None, key_path)
    if verifier is None:
        raise ChatAuditError("the archive records no signing key (run `chataudit init`)")
    try:
        open_note(checkpoint.note, verifier)
    except NoteError as error:
        raise ChatAuditError(f"checkpoint {checkpoint.id} does not verify with {verifier.name}+{verifier.key_id:08x} "
                             f"({error}); run `chataudit verify`") from None
    _, tree = ledger.checkpoint_tree(checkpoint)
    stamps = ledger.timestamps(checkpoint.id)
    latest = ledger.witness_checkpoint(checkpoint.tree_size)  # refuses an archive whose tail was cut
    conversation_state = ledger.conversation_states().get(conv["id"], "unsigned")
    if conversation_state == "changed":
        raise ChatAuditError(f"conversation {conv['platform']}:{conv['native_id']} no longer has the title, type or "
                             "members that were signed; run `chataudit verify`")

    redactor = None
    if redact is not None:
        from ..privacy import Redactor, load_policy

        redactor = Redactor(load_policy(redact))
        redactor.learn_names(sorted({n for row in rows for n in (row["sender_name"], row["sender_id"]) if n}))
        for row in rows:  # learn every value first, so that one found late is also caught where it came early
            redactor.message(row)

    created = datetime.now(timezone.utc)
    created_at = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with tempfile.TemporaryDirectory(prefix="chataudit-evidence-") as folder:
        stage = Path(folder)
        files: dict[str, dict[str, Any]] = {}  # package path → manifest entry extras (role …)

        # messages and proofs ---------------------------------------------------------------------
        lines: list[dict[str, Any]] = []
        withheld_values: set[str] = set()
        counts: dict[str, int] = {}
        reasons: dict[str, int] = {}
        withheld_messages = 0
        with open(stage / "proofs.jsonl", "wb") as proofs_out:
            for seq, row in enumerate(rows, 1):
                mid = row["id"]
                idx, data, disclosures = ledger.leaf_record(mid)
                if idx >= checkpoint.tree_size or leaf_hash(data) != tree.leaf(idx):
                    raise ChatAuditError(f"message {mid} no longer matches its ledger leaf; run `chataudit verify`")
                leaf = orjson.loads(data)
                redacted_row = redactor.message(row) if redactor is not None else None
                line, hidden = _package_line(seq, idx, row, leaf, disclosures, chosen, redacted_row)
                for name, (reason, value) in hidden.items():
                    count = len(value) if name == "attachments" else 1
                    counts[name] = counts.get(name, 0) + count
                    reasons[reason] = reasons.get(reason, 0) + count
                    withheld_values.update(_needles(name, value))
                withheld_messages += bool(hidden)
                lines.append(line)
                proof = tree.inclusion_proof(idx, checkpoint.tree_size)
                proofs_out.write(orjson.dumps({"id": mid, "leaf_index": idx, "tree_size": checkpoint.tree_size,
                                               "leaf_hash": leaf_hash(data).hex(), "leaf": data.decode(),
                                               "proof": [h.hex() for h in proof]}) + b"\n")
                if on_progress is not None and (seq % 500 == 0 or seq == len(rows)):
                    on_progress(seq, "proofs")
        files["proofs.jsonl"] = {"role": "proofs"}
        scrub = _Scrubber(withheld_values, redactor)

        # attachments found beside their exports ------------------------------------------------------
        attachment_files: dict[tuple[int, int], str] = {}
        not_included: list[dict[str, Any]] = []
        for line, row in zip(lines, rows):
            for i, value in enumerate(line["attachments"]):
                if value is None:
                    continue
                located, why = _attachment_file(archive, row["source_path"], value)
                name = _safe_name(value.get("name") or value.get("path") or "", "attachment", scrub)
                target = f"attachments/{line['id']}-{i}-{name}"
                if located is not None:
                    try:
                        sha = _copy_hashed(located, stage / target, limits.max_member_bytes)
                    except (OSError, ChatAuditError) as error:
                        located, why = None, str(error)
                    else:
                        committed = value.get("sha256")
                        if committed and committed != sha:
                            (stage / target).unlink()
                            located, why = None, (f"the file beside the export now has SHA-256 {sha[:16]}…, not the "
                                                  f"{committed[:16]}… recorded at import")
                if located is None:
                    not_included.append({"message": line["id"], "index": i, "name": scrub(value.get("name")),
                                         "reason": scrub(why)})
                    continue
                attachment_files[(line["id"], i)] = target
                files[target] = {"role": "attachment", "message": line["id"], "index": i,
                                 "committed": bool(value.get("sha256"))}

        with open(stage / "messages.jsonl", "wb") as messages_out:
            for line in lines:
                messages_out.write(orjson.dumps(line) + b"\n")
        files["messages.jsonl"] = {"role": "messages"}

        # checkpoint, timestamp, key, verifier ---------------------------------------------------------
        (stage / "checkpoint.txt").write_bytes(checkpoint.note.encode())
        files["checkpoint.txt"] = {"role": "checkpoint"}
        timestamp = None
        if stamps:
            stamp = stamps[-1]
            (stage / "checkpoint.tsr").write_bytes(stamp["response"])
            files["checkpoint.tsr"] = {"role": "timestamp"}
            if stamp.get("ca_pem"):
                (stage / "tsa-ca.pem").write_text(stamp["ca_pem"], encoding="utf-8")
                files["tsa-ca.pem"] = {"role": "timestamp_ca"}
            timestamp = {"gen_time": stamp["gen_time"], "tsa": stamp["tsa_url"]}
        (stage / "pubkey.txt").write_text(str(verifier) + "\n", encoding="ascii")
        files["pubkey.txt"] = {"role": "pubkey"}
        (stage / "verify.py").write_bytes(resources.files(__package__).joinpath("standalone_verify.py").read_bytes())
        files["verify.py"] = {"role": "verifier"}

        # documents and statements ------------------------------------------------------------------------
        documents = []
        used: set[str] = {MATCHES.casefold()}

        def place(folder_name: str, path: Path) -> str:
            name = _safe_name(path.name, "document", scrub)
            stem, suffix = os.path.splitext(name)
            candidate, number = f"{folder_name}/{name}", 2
            while candidate.casefold() in used:
                candidate, number = f"{folder_name}/{stem}-{number}{suffix}", number + 1
            used.add(candidate.casefold())
            return candidate

        for path in map(Path, attach):
            target = place("documents", path)
            sha = _copy_hashed(path, stage / target, limits.max_member_bytes)
            files[target] = {"role": "document"}
            documents.append({"path": target, "original": scrub(str(path.resolve())), "sha256": sha})
        statement_log: list[dict[str, Any]] = []
        matches = None
        if statements:
            staged = []
            for path in map(Path, statements):
                target = place("statements", path)
                sha = _copy_hashed(path, stage / target, limits.max_member_bytes)
                files[target] = {"role": "statement"}
                staged.append(stage / target)
                statement_log.append({"path": target, "original": scrub(str(path.resolve())), "sha256": sha})
            matches = _matches(archive, conv, staged, stage, statement_tz, lines, scrub)
            for entry, info in zip(statement_log, matches["summary"]["statements"]):
                entry.update(format=info["format"], transactions=info["transactions"])
            (stage / MATCHES).write_bytes(orjson.dumps(matches, option=orjson.OPT_INDENT_2) + b"\n")
            files[MATCHES] = {"role": "matches"}

        # signing key for the manifest (only the archive's own key) ------------------------------------
        signer, signer_note = None, None
        if ledger.key_path.exists():
            try:
                candidate = load_key(ledger.key_path)
                if candidate.verifier == verifier:
                    signer = candidate
                else:
                    signer_note = f"{ledger.key_path} is not the key that signs this archive; the manifest is not signed"
            except ChatAuditError as error:
                signer_note = f"the manifest is not signed: {error}"
        else:
            signer_note = "the signing key is not on this computer; the manifest is not signed"

        # custody log, README, rendering -----------------------------------------------------------------
        shown_title = scrub(conv.get("title"))
        title = shown_title or conv["native_id"]
        title_withheld = WITHHELD_MARK in title
        if title_withheld:  # a one-to-one chat is titled with the other side's name
            title = conv["native_id"]
        first_at, last_at = lines[0]["sent_at"], lines[-1]["sent_at"]
        argv = list(sys.argv if argv is None else argv)
        sources = {}
        for row in rows:
            sources.setdefault(row["source_sha256"], {"sha256": row["source_sha256"], "path": scrub(row["source_path"]),
                                                      "label": scrub(row["source_label"])})
        pdf_state: dict[str, Any] = {"included": False, "reason": "not requested (--no-pdf)"}
        custody = {
            "format": "chataudit-custody",
            "version": 1,
            "events": [{
                "at": created_at,
                "action": "exported",
                "operator": operator or _os_user(),
                "os_user": _os_user(),
                "host": socket.gethostname(),
                "tool": {"name": "chataudit", "version": _version(), "python": platform_module.python_version(),
                         "platform": platform_module.platform()},
                "command_line": scrub(shlex.join(argv)),
            }],
            "archive": {
                "path": scrub(archive.location()),
                "origin": ledger.origin,
                "tree_size": checkpoint.tree_size,
                "root": checkpoint.root.hex(),
                "checkpoint_id": checkpoint.id,
                "checkpoint_signed_at": checkpoint.signed_at,
                "verifier_key": str(verifier),
                "key_source": key_source,
                "schema_version": archive.schema_version,
                # the archive's latest checkpoint (the witness's) and the RFC 9162 consistency proof to it
                "latest_checkpoint": latest,
            },
            "selection": {
                "conversation": {"archive_id": conv["id"], "platform": conv["platform"],
                                 "native_id": conv["native_id"], "title": shown_title, "type": conv["type"],
                                 # the proofs cover the messages, not these: the archive's ledger does
                                 "unverified": ["title", "type"], "archive_ledger": conversation_state},
                "since": since, "until": until, "since_ms": since_ms, "until_ms": until_ms,
                "messages": len(lines), "first_at": first_at, "last_at": last_at, "message_ids": ids,
            },
            "sources": list(sources.values()),
            "withheld": {"messages": withheld_messages, "fields": counts, "reasons": reasons,
                         "requested": list(withhold)},
            "redaction": ({"policy": scrub(str(redact)), "note": "withheld fields with personal data; the rendering "
                           "shows de-identified text, which is not evidence of the wording"} if redact else None),
            "attachments": {"included": len(attachment_files), "not_included": not_included},
            "documents": documents,
            "statements": statement_log,
            "timestamp": timestamp,
            "manifest_signed": signer is not None,
            "notes": [n for n in [signer_note] if n],
            # an encrypted archive's package is sealed unless the exporter asked for a readable one
            "confidentiality": {"archive_encrypted": getattr(archive, "key", None) is not None,
                                "package": "sealed" if sealed else "readable",
                                "readable_requested": bool(readable)},
        }
        if redact and (documents or statement_log):
            custody["notes"].append("attached documents and statements are included as given: --redact does not "
                                    "change them")

        will_pdf = pdf and Path(chromium).exists()
        context = {
            "title": title, "conversation": custody["selection"]["conversation"], "since": since, "until": until,
            "first_at": first_at, "last_at": last_at, "count": len(lines), "created_at": created_at,
            "operator": custody["events"][0]["operator"], "tool": f"chataudit {_version()}",
            "checkpoint": custody["archive"], "timestamp": timestamp, "withheld": custody["withheld"],
            "redacted": redact is not None, "documents": documents, "statements": statement_log,
            "matches": _match_rows(matches), "matches_summary": matches["summary"] if matches else None,
            "not_included": not_included, "reasons": REASONS, "manifest_signed": signer is not None,
            "files": _listing(stage, files), "package": out.name, "pdf_planned": will_pdf,
            "title_withheld": title_withheld,
        }
        template = _template()
        with open(stage / "messages.html", "w", encoding="utf-8") as handle:
            for chunk in template.generate(messages=(_view(line, attachment_files) for line in lines), **context):
                handle.write(chunk)
        files["messages.html"] = {"role": "rendering"}
        if on_progress is not None:
            on_progress(len(rows), "rendering")
        if pdf:
            footer = ('<div style="font-size:7.5px;width:100%;padding:0 12mm;color:#666;display:flex;'
                      'justify-content:space-between;font-family:\'Noto Sans CJK SC\',sans-serif">'
                      f'<span>chataudit evidence · {html.escape(title)} · root {checkpoint.root.hex()[:16]}…</span>'
                      '<span><span class="pageNumber"></span> / <span class="totalPages"></span></span></div>')
            reason = write_pdf(stage / "messages.html", stage / "messages.pdf", footer, chromium)
            if reason is None:
                files["messages.pdf"] = {"role": "rendering_pdf"}
                pdf_state = {"included": True}
            else:
                (stage / "messages.pdf").unlink(missing_ok=True)
                pdf_state = {"included": False, "reason": reason}
        custody["pdf"] = pdf_state
        (stage / "custody.json").write_bytes(orjson.dumps(custody, option=orjson.OPT_INDENT_2) + b"\n")
        files["custody.json"] = {"role": "custody"}
        (stage / "README.txt").write_text(_readme(title, conv, len(lines), created_at, custody, out.name, pdf_state,
                                                  _digests(stage / "verify.py")["sha256"]), encoding="utf-8")
        files["README.txt"] = {"role": "readme"}

        # manifest, its signature, the zip ---------------------------------------------------------------
        manifest = {
            "format": S.PACKAGE_FORMAT, "version": S.PACKAGE_VERSION, "created_at": created_at,
            "generator": f"chataudit {_version()}",
            "conversation": {"platform": conv["platform"], "native_id": conv["native_id"], "title": shown_title},
            "messages": len(lines),
            # the range the export covers, committed by the signature (a message dropped with its proof shows)
            "selection": {"since_ms": since_ms, "until_ms": until_ms, "first_id": lines[0]["id"],
                          "last_id": lines[-1]["id"]},
            "checkpoint": {"file": "checkpoint.txt", "origin": ledger.origin, "tree_size": checkpoint.tree_size,
                           "root": checkpoint.root.hex()},
            "timestamp": "checkpoint.tsr" if timestamp else None,
            "pdf": pdf_state,
            "redacted_rendering": redact is not None,
            "files": [dict(path=name, **_digests(stage / name), **meta) for name, meta in sorted(files.items())],
        }
        manifest["self_digest"] = S.manifest_digest(manifest)
        manifest_bytes = S.canonical_manifest(manifest)
        (stage / S.MANIFEST).write_bytes(manifest_bytes)
        members = [S.MANIFEST, *files]
        if signer is not None:
            (stage / S.MANIFEST_SIGNATURE).write_text(sign(S.manifest_note_text(manifest_bytes), signer),
                                                      encoding="utf-8")
            members.append(S.MANIFEST_SIGNATURE)
        warnings = _leaks(stage, members, withheld_values, files)
        if signer is None:
            warnings.append(f"{signer_note}: `evidence verify` refuses an unsigned package unless --allow-unsigned "
                            "is given, and then vouches for the messages only")
        if sealed:  # the readable zip exists only inside the private staging folder, then sealed to ``out``
            from ..vault.seal import seal

            _write_zip(stage, members, stage / "package.zip", created, limits)
            out.parent.mkdir(parents=True, exist_ok=True)
            seal(stage / "package.zip", out, archive, "evidence-package")
        else:
            _write_zip(stage, members, out, created, limits)

    return ExportResult(
        path=str(out), messages=len(lines),
        checkpoint={"id": checkpoint.id, "origin": ledger.origin, "tree_size": checkpoint.tree_size,
                    "root": checkpoint.root.hex()},
        timestamp=timestamp,
        withheld={"messages": withheld_messages, "fields": counts},
        attachments={"included": len(attachment_files), "not_included": len(not_included)},
        documents=len(documents), statements=len(statement_log), pdf=pdf_state,
        manifest_signed=signer is not None, files=len(members), warnings=warnings, sealed=sealed,
    )


def _package_line(seq: int, idx: int, row: dict[str, Any], leaf: dict[str, Any], disclosures: dict[str, Any],
                  chosen: dict[str, set[int] | None], redacted_row: dict[str, Any] | None
                  ) -> tuple[dict[str, Any], dict[str, tuple[str, Any]]]:
    """One messages.jsonl line, and field → (reason, value) of what it withholds."""
    mid = row["id"]
    sd = leaf["_sd"]
    line: dict[str, Any] = {"seq": seq, "id": mid, "leaf_index": idx, "v": leaf["v"]}
    line.update({key: leaf[key] for key in S.CLEAR})
    line["sent_at"] = iso_from_ms(leaf["sent_at_ms"], leaf["utc_offset_min"])
    line["edited_at"] = iso_from_ms(leaf["edited_at_ms"], leaf["utc_offset_min"])
    shown: dict[str, Any] = {}
    given: dict[str, Any] = {}
    digests: dict[str, Any] = {}
    why: dict[str, Any] = {}
    renderings: dict[str, Any] = {}
    hidden: dict[str, tuple[str, Any]] = {}
    for name in S.SALTED:
        if sd[name] is None:
            shown[name] = None
            continue
        disclosure = disclosures.get(name)
        value = S.open_disclosure(disclosure)[2] if disclosure is not None else None
        reason = None
        if disclosure is None:
            reason = "archive"
        elif _wants(chosen, name, mid):
            reason = "withhold"
        elif redacted_row is not None and redacted_row.get(name) != row.get(name):
            reason = "redact"
            renderings[name] = redacted_row.get(name)
        if reason is None:
            shown[name] = value
            given[name] = disclosure
        else:
            shown[name] = None
            digests[name] = sd[name]
            why[name] = reason
            hidden[name] = (reason, value)
    items = disclosures.get("attachments")
    attachment_values, attachment_given, attachment_hidden, attachment_renderings = [], [], [], []
    hidden_values, hidden_reasons = [], set()
    for i, digest in enumerate(sd["attachments"]):
        disclosure = items[i] if items is not None and i < len(items) else None
        value = S.open_disclosure(disclosure)[1] if disclosure is not None else None
        reason = None
        if disclosure is None:
            reason = "archive"
        elif _wants(chosen, "attachments", mid):
            reason = "withhold"
        elif redacted_row is not None and (redacted_row.get("attachments") or [None] * (i + 1))[i] != \
                (row.get("attachments") or [None] * (i + 1))[i]:
            reason = "redact"
        if reason is None:
            attachment_values.append(value)
            attachment_given.append(disclosure)
            attachment_hidden.append(None)
            attachment_renderings.append(None)
        else:
            attachment_values.append(None)
            attachment_given.append(None)
            attachment_hidden.append(digest)
            attachment_renderings.append(redacted_row["attachments"][i] if reason == "redact" else None)
            hidden_values.append(value)
            hidden_reasons.add(reason)
    if hidden_values:
        digests["attachments"] = attachment_hidden
        why["attachments"] = sorted(hidden_reasons)[0] if len(hidden_reasons) == 1 else "withhold"
        hidden["attachments"] = (why["attachments"], hidden_values)
        if any(attachment_renderings):
            renderings["attachments"] = attachment_renderings
    if any(g is not None for g in attachment_given):
        given["attachments"] = attachment_given
    line.update(shown)
    line["attachments"] = attachment_values
    line["disclosures"] = given
    line["withheld"] = digests
    if why:
        line["withheld_reason"] = why
    if renderings:
        line["redacted"] = renderings
    return line, hidden


def _matches(archive: Any, conv: dict[str, Any], staged: list[Path], stage: Path, statement_tz: Any,
             lines: list[dict[str, Any]], scrub: _Scrubber) -> dict[str, Any]:
    """``match`` over the staged statements, with messages as the package shows them."""
    from ..match import match_statements
    from ..model import zone
    from ..statements import DEFAULT_ZONE

    result = match_statements(archive, staged, conversation=str(conv["id"]),
                              tz=statement_tz or zone(DEFAULT_ZONE))
    by_id = {line["id"]: line for line in lines}

    def message(m: dict[str, Any]) -> dict[str, Any]:
        line = by_id.get(m["id"])
        base = {"id": m["id"], "sent_at": m["sent_at"], "kind": m["kind"], "amount": m["amount"],
                "currency": m["currency"], "in_package": line is not None}
        if line is not None:
            base.update(seq=line["seq"], sender_name=line["sender_name"], text=line["text"])
            if line.get("redacted"):
                base["redacted"] = {k: v for k, v in line["redacted"].items() if k in ("text", "sender_name")}
        return base

    def claim(c: dict[str, Any], m: dict[str, Any]) -> dict[str, Any]:
        line = by_id.get(m["id"])
        text_shown = line is not None and line["text"] is not None
        return dict(c, text=scrub(c["text"]) if text_shown else None)

    def transaction(t: dict[str, Any]) -> dict[str, Any]:
        path = Path(t["path"]) if t.get("path") else None
        return dict(t, path=path.relative_to(stage).as_posix() if path and stage in path.parents else None,
                    counterparty=scrub(t.get("counterparty")), memo=scrub(t.get("memo")))

    for pair in result["matched"]:
        pair["reasons"] = [scrub(r) for r in pair["reasons"]]
        pair["claim"] = claim(pair["claim"], pair["message"])
        pair["message"] = message(pair["message"])
        pair["transaction"] = transaction(pair["transaction"])
    for item in result["unmatched_claims"]:
        item["reason"] = scrub(item["reason"])
        item["claim"] = claim(item["claim"], item["message"])
        item["message"] = message(item["message"])
    result["unmatched_transactions"] = [transaction(t) for t in result["unmatched_transactions"]]
    for info in result["summary"]["statements"]:
        info["path"] = Path(info["path"]).relative_to(stage).as_posix()
    return result


def _match_rows(matches: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not matches:
        return []
    return [{"time": p["transaction"]["time"], "amount": p["transaction"]["amount"],
             "currency": p["transaction"]["currency"], "counterparty": p["transaction"]["counterparty"],
             "ref": p["transaction"]["ref"], "seq": p["message"].get("seq"), "id": p["message"]["id"],
             "sent_at": p["message"]["sent_at"],
             "delta_hours": p["delta_hours"]} for p in matches["matched"]]


def _listing(stage: Path, files: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(path=name, role=meta["role"], **_digests(stage / name)) for name, meta in sorted(files.items())]


def _digests(path: Path) -> dict[str, Any]:
    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return {"size": size, "sha256": sha.hexdigest(), "md5": md5.hexdigest()}


def _leaks(stage: Path, members: list[str], values: set[str], files: dict[str, dict[str, Any]]) -> list[str]:
    """Withheld values that still appear in some file (fields committed in the clear, documents as given)."""
    needles = sorted({v for v in values if _learnable(v)}, key=len, reverse=True)
    if not needles:
        return []
    found: dict[str, list[str]] = {}
    for name in members:
        data = (stage / name).read_bytes() if (stage / name).stat().st_size < 256 << 20 else b""
        for value in needles:
            if value.encode() in data or value in name:
                found.setdefault(value, []).append(name)
    warnings = []
    for value, names in found.items():
        supplied = [n for n in names if files.get(n, {}).get("role") in ("document", "statement", "attachment")]
        shown = repr(value[:12] + ("…" if len(value) > 12 else ""))
        if supplied:
            warnings.append(f"withheld value {shown} is in files you supplied, included as given: {', '.join(supplied)}")
        rest = [n for n in names if n not in supplied]
        if rest:
            warnings.append(f"withheld value {shown} still appears in {', '.join(rest)}: in another message's "
                            "disclosed field, or in a field committed in the clear (such as the conversation id), "
                            "which cannot be withheld")
    return warnings


def _write_zip(stage: Path, members: list[str], out: Path, created: datetime, limits: S.Limits) -> None:
    ordered = sorted(members, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    stamp = created.timetuple()[:6]
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    total = 0
    try:
        with zipfile.ZipFile(partial, "w") as bundle:
            for name in ordered:
                path = stage / name
                size = path.stat().st_size
                total += size
                if size > limits.max_member_bytes or total > limits.max_total_bytes:
                    raise ChatAuditError(f"{name}: the package would exceed the size limits a verifier accepts "
                                         f"({limits.max_member_bytes:,} bytes per file, {limits.max_total_bytes:,} in all)")
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.create_system = 3
                info.external_attr = 0o100644 << 16
                info.compress_type = zipfile.ZIP_STORED if _store(path, size, limits) else zipfile.ZIP_DEFLATED
                with open(path, "rb") as src, bundle.open(info, "w", force_zip64=size > 0x7FFFFFFF) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def _store(path: Path, size: int, limits: S.Limits) -> bool:
    """Stored instead of deflated: already compressed, or so compressible that a verifier would call it a bomb."""
    if path.suffix.lower() in STORED_SUFFIXES:
        return True
    if size <= limits.ratio_floor_bytes:
        return False
    compressor, compressed = zlib.compressobj(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            compressed += len(compressor.compress(chunk))
    compressed += len(compressor.flush())
    return size / max(compressed, 1) > limits.max_ratio / 2


def _readme(title: str, conv: dict[str, Any], count: int, created_at: str, custody: dict[str, Any],
            package: str, pdf_state: dict[str, Any], verify_sha256: str) -> str:
    archive = custody["archive"]
    python = ".".join(map(str, S.PYTHON_REQUIRES))
    signed_line = ("manifest.sig signs the manifest, which lists every file: a changed, added or removed file "
                   "fails." if custody["manifest_signed"] else
                   "THIS PACKAGE IS NOT SIGNED (no manifest.sig): verifiers refuse it unless --allow-unsigned is "
                   "given,\n  and then vouch only for the messages, not for the rendering, custody log or documents.")
    pdf_line = "messages.pdf     the same, as PDF\n" if pdf_state.get("included") else \
        f"(no PDF: {pdf_state.get('reason')})\n"
    return f"""chataudit evidence package / 聊天记录证据包

Conversation / 会话: {title} ({conv['platform']}:{conv['native_id']})
                    (title and type as the archive holds them: not covered by the proofs here; the archive's
                    ledger: {custody['selection']['conversation']['archive_ledger']})
Messages / 消息数:    {count}
Exported / 导出:      {created_at} by {custody['events'][0]['operator']} with chataudit {_version()}
Checkpoint / 检查点:  {archive['origin']}, tree size {archive['tree_size']}, root {archive['root']}
Signing key / 公钥:   {archive['verifier_key']}

How to check it / 如何核验 (offline, Python {python}+):
  With chataudit installed (a verifier you trust, not the one in this package):
    chataudit evidence verify {package} --pubkey "<the archive's key, obtained from its owner independently>"
    python -m chataudit.evidence.standalone_verify {package} --pubkey KEY
  verify.py in this package is a convenience only: whoever forges a package forges its verify.py too,
  so it cannot vouch for itself. Get a trusted copy with `chataudit evidence verifier --out verify.py`
  (it prints the file's SHA-256; this package's copy has SHA-256 {verify_sha256}), then
    python verify.py {package} --pubkey KEY
  `pip install cryptography` lets verify.py check the Ed25519 signatures; without it, it says so.
  Without --pubkey the signer is not authenticated (the key is this package's own pubkey.txt).
  {signed_line}
  The RFC 3161 timestamp, if any:  openssl ts -verify -data checkpoint.txt -in checkpoint.tsr -CAfile tsa-ca.pem

What is inside / 内容:
  messages.html    the printable rendering (a rendering: the evidence is messages.jsonl + proofs.jsonl)
  {pdf_line.rstrip()}
  messages.jsonl   every message: the fields in the clear, disclosures, digests of withheld fields
  proofs.jsonl     each message's leaf and its inclusion proof against checkpoint.txt
  checkpoint.txt   the archive's signed checkpoint; pubkey.txt its verifier key
  custody.json     who exported what, when, from which archive, with which command
  manifest.json    size, SHA-256 and MD5 of every file (manifest.sig: signed by the archive's key)
  attachments/ documents/ statements/   files that came with the messages or the export
"""


def _version() -> str:
    try:
        return importlib.metadata.version("chataudit")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


__all__ = ["ExportResult", "export_package", "parse_withhold", "write_pdf", "CHROMIUM"]
