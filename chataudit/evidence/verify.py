"""``evidence verify``: check a package offline and say exactly what fails.

The container, the manifest and the custody log are read by the same code the standalone
``verify.py`` runs (one implementation of the defensive zip reader). Everything cryptographic is
checked here with chataudit's own ledger library — the leaf serializer that made the archive's
leaves, its RFC 9162 proof verification, its C2SP signed-note code and its RFC 3161 token
verification — so the two verifiers recompute the same things independently.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
from typing import Any

from ..ledger import leaves as L
from ..ledger.merkle import ProofError, leaf_hash, verify_inclusion
from ..ledger.note import Checkpoint, NoteError, Verifier, open_note
from ..ledger.keys import parse_verifier_key
from ..errors import ChatAuditError
from . import standalone_verify as S

# a row in the ledger's MESSAGE_COLUMNS order, salted fields empty: their digests are given whole
_ROW_KEYS = {L.COL_PLATFORM: "platform", L.COL_MESSAGE_ID: "message_id", L.COL_SENT_AT: "sent_at_ms",
             L.COL_OFFSET: "utc_offset_min", L.COL_KIND: "kind", L.COL_REPLY_TO: "reply_to",
             L.COL_EDITED_AT: "edited_at_ms", L.COL_AMOUNT: "amount", L.COL_CURRENCY: "currency",
             L.COL_IS_ME: "is_me", L.COL_POSITION: "position", L.COL_OCCURRENCE: "occurrence"}


def verify_package(path: str | Path, pubkey: str | None = None, limits: S.Limits | None = None,
                   allow_unsigned: bool = False) -> dict[str, Any]:
    """The report of a package: ``ok, checked, problems, messages, withheld, checkpoint, timestamp`` …

    A package without manifest.sig fails unless ``allow_unsigned``; then the files no signature
    covers are listed in ``unverified``."""
    report = S.Report()
    try:
        z = S.SafeZip(path, limits)
    except S.PackageError as error:
        report.add("unsafe_package", str(error))
        return _finish(report)
    with z:
        manifest, digests = S.check_manifest(z, report)
        verifier, key_text = _key(z, pubkey, report)
        note_text = S.read_text(z, "checkpoint.txt", report)
        checkpoint = None
        if note_text is not None and verifier is not None:
            checkpoint = _checkpoint(note_text, verifier, report)
        if checkpoint is not None:
            report.checkpoint = {"origin": checkpoint.origin, "tree_size": checkpoint.size,
                                 "root": checkpoint.root.hex(), "signed_by": f"{verifier.name}+{verifier.key_id:08x}"}
            _timestamp(z, note_text.encode(), report)
        _manifest_signature(z, verifier, report, allow_unsigned)
        rendered: dict[int, dict] = {}
        messages = _messages(z, report, checkpoint, digests, manifest, rendered)
        S.check_selection(manifest, messages, report)
        S.check_rendering(z, report, [m[0] for m in messages], rendered)
        custody = S.read_json(z, "custody.json", report)
        S.check_custody(custody, manifest, report.checkpoint, messages, report.withheld, key_text, report)
        S.check_verify_py(digests, standalone_sha256(), report)
        S.account_unverified(z, report)
        report.signature_checked = True
    return _finish(report)


def standalone_sha256() -> str:
    """SHA-256 of the standalone verifier this chataudit installs (and copies into packages as verify.py)."""
    return hashlib.sha256(Path(S.__file__).read_bytes()).hexdigest()


def _finish(report: S.Report) -> dict[str, Any]:
    doc = report.as_dict()
    doc.pop("signature_checked")
    return doc


def _key(z: S.SafeZip, pubkey: str | None, report: S.Report) -> tuple[Verifier | None, str | None]:
    package_key = S.read_text(z, "pubkey.txt", report, required=pubkey is None)
    verifier = None
    try:
        if pubkey is not None:
            verifier = parse_verifier_key(pubkey)
            if package_key is not None and package_key.strip() != str(verifier):
                report.add("pubkey", f"pubkey.txt is {package_key.strip()}, not the key you gave: the package was "
                                     "signed by another key", file="pubkey.txt")
            else:
                report.signer_authenticated = True
                if package_key is not None:
                    report.proven.add("pubkey.txt")  # the very key the user gave
        elif package_key is not None:
            verifier = Verifier.from_key(package_key.strip())
            report.notice(S.UNAUTHENTICATED)
    except (ChatAuditError, NoteError) as error:
        report.add("pubkey", f"not a note verifier key ({error})", file=None if pubkey else "pubkey.txt")
    report.key = str(verifier) if verifier else None
    return verifier, report.key


def _checkpoint(note_text: str, verifier: Verifier, report: S.Report) -> Checkpoint | None:
    try:
        opened = open_note(note_text, verifier)
    except NoteError as error:
        report.add("checkpoint_signature", f"the checkpoint is not validly signed by {verifier.name}+"
                                           f"{verifier.key_id:08x} ({error})", file="checkpoint.txt")
        return None
    report.checked["signatures"] += 1
    try:
        return Checkpoint.from_text(opened.text)
    except NoteError as error:
        report.add("checkpoint", f"not a tlog checkpoint ({error})", file="checkpoint.txt")
        return None


def _timestamp(z: S.SafeZip, note: bytes, report: S.Report) -> None:
    if "checkpoint.tsr" not in z.members:
        report.timestamp = None
        return
    from ..ledger.tsa import TsaError, load_pem_certificates, verify_response

    try:
        response = z.read("checkpoint.tsr")
        anchors = []
        if "tsa-ca.pem" in z.members:
            anchors = load_pem_certificates(z.read("tsa-ca.pem"))
        info = verify_response(response, note, ca_certificates=anchors)
    except S.MemberError as error:
        report.add("timestamp", error.detail, file=error.name)
        return
    except TsaError as error:
        report.add("timestamp", f"the RFC 3161 token does not verify: {error}", file="checkpoint.tsr")
        return
    report.checked["signatures"] += 1
    report.timestamp = {"gen_time": info.gen_time.isoformat(), "tsa": info.tsa_name or info.signer,
                        "serial_number": str(info.serial_number), "chain_verified": info.chain_verified}
    if not info.chain_verified:
        report.notice("the timestamp's signature verifies, but its certificate chain was not checked (no tsa-ca.pem)")


def _manifest_signature(z: S.SafeZip, verifier: Verifier | None, report: S.Report, allow_unsigned: bool) -> None:
    if S.MANIFEST_SIGNATURE not in z.members:
        S.check_unsigned(report, allow_unsigned)
        return
    note = S.read_text(z, S.MANIFEST_SIGNATURE, report)
    if note is None or verifier is None or S.MANIFEST not in z.members:
        return
    try:
        opened = open_note(note, verifier)
    except NoteError as error:
        report.add("manifest_signature", f"not validly signed by {verifier.name}+{verifier.key_id:08x} ({error})",
                   file=S.MANIFEST_SIGNATURE)
        return
    try:
        expected = S.manifest_note_text(z.read(S.MANIFEST, z.limits.max_json_bytes))
    except S.MemberError:
        return
    if opened.text != expected:
        report.add("manifest_signature", "the signed digest is not the SHA-256 of manifest.json: the manifest was "
                                         "changed after it was signed", file=S.MANIFEST_SIGNATURE)
        return
    report.checked["signatures"] += 1
    report.manifest_signed = True


def _messages(z: S.SafeZip, report: S.Report, checkpoint: Checkpoint | None, digests: dict,
              manifest: dict | None, rendered: dict[int, dict]) -> list[tuple]:
    proofs: dict[Any, dict] = {}
    for number, proof in S.iter_jsonl(z, "proofs.jsonl", report):
        if not isinstance(proof.get("id"), int):
            report.add("proof", f"line {number}: no message id", file="proofs.jsonl")
            continue
        if proof.get("id") in proofs:
            report.add("proof", f"line {number}: a second proof for message {proof.get('id')}", file="proofs.jsonl")
        proofs[proof.get("id")] = proof
    seen: list[tuple] = []
    shown_attachments: dict[tuple, Any] = {}
    for number, message in S.iter_jsonl(z, "messages.jsonl", report):
        mid = message.get("id")
        if not isinstance(mid, int):
            report.add("message", f"line {number}: no message id", file="messages.jsonl")
            continue
        where = {"id": mid, "leaf_index": message.get("leaf_index"), "sent_at": message.get("sent_at")}
        seen.append((mid, message.get("platform"), message.get("conversation"), message.get("sent_at_ms")))
        report.messages += 1
        report.checked["messages"] += 1
        proof = proofs.pop(mid, None)
        try:
            sd = _sd(message, report, shown_attachments)
            offset = message.get("utc_offset_min")
            if not S.shown_instant_matches(message.get("sent_at"), message.get("sent_at_ms"), offset) or \
                    not S.shown_instant_matches(message.get("edited_at"), message.get("edited_at_ms"), offset):
                raise ValueError("the instant shown (sent_at / edited_at) is not the committed one")
            if type(message.get("v")) is not int or message.get("v") != L.LEAF_VERSION:
                raise ValueError(f"leaf version {message.get('v')} is not {L.LEAF_VERSION}")
            row = [None] * 20
            for column, key in _ROW_KEYS.items():
                row[column] = message.get(key)
            data = L.message_leaf(row, message.get("conversation"), message.get("source"), "", sd)
            committed = orjson.loads(data)
            for key in S.CLEAR:  # exactly as committed: the serializer would coerce e.g. is_me 1 to true
                if orjson.dumps(message.get(key)) != orjson.dumps(committed[key]):
                    raise ValueError(f"{key} {message.get(key)!r} is not a value the leaf can hold")
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            report.add("message", str(error), message=where)
            continue
        if proof is None:
            report.add("proof", "no inclusion proof for this message", file="proofs.jsonl", message=where)
            continue
        if proof.get("leaf") is not None and proof["leaf"] != data.decode():
            report.add("message", "the fields shown do not hash to the leaf that was signed: "
                       + S._leaf_difference(proof["leaf"], data), message=where)
            continue
        digest = leaf_hash(data)
        if proof.get("leaf_hash") != digest.hex():
            report.add("proof", "the leaf hash in proofs.jsonl is not the hash of the message's leaf",
                       file="proofs.jsonl", message=where)
            continue
        if checkpoint is None:
            continue
        if proof.get("leaf_index") != message.get("leaf_index") or proof.get("tree_size") != checkpoint.size:
            report.add("proof", f"the proof is for leaf {proof.get('leaf_index')} of a tree of {proof.get('tree_size')}, "
                                f"not leaf {message.get('leaf_index')} of the checkpoint's {checkpoint.size}",
                       file="proofs.jsonl", message=where)
            continue
        try:
            path = [bytes.fromhex(h) for h in proof.get("proof") or []]
            verify_inclusion(proof["leaf_index"], proof["tree_size"], digest, path, checkpoint.root)
        except (ProofError, ValueError, TypeError) as error:
            report.add("proof", f"the inclusion proof does not lead to the signed root ({error})",
                       file="proofs.jsonl", message=where)
            continue
        report.checked["proofs"] += 1
        rendered[mid] = S.rendering_expectation(message)
    for mid in proofs:
        report.add("proof", f"a proof for message {mid}, which is not in messages.jsonl", file="proofs.jsonl")
    S._check_attachment_files(manifest, digests, shown_attachments, report)
    return seen


def _sd(message: dict, report: S.Report, shown_attachments: dict) -> dict[str, Any]:
    """The leaf's ``_sd`` from the disclosures (checked against the fields shown) and the withheld
    digests: the standalone verifier's rules, with the ledger's own disclosure code."""
    return S.sd_from_disclosures(message, report, shown_attachments, _open_disclosure,
                                 lambda disclosure: L.digest(disclosure.encode("ascii")), _digest_form)


def _open_disclosure(disclosure: str) -> list[Any]:
    """[salt, name, value] (or [salt, value]) of a disclosure, decoded by the ledger's code (within the
    JSON limits both verifiers apply: the ledger's parser alone would recurse on a deeply nested value)."""
    raw = L._b64url_decode(disclosure)
    S.load_json(raw)
    doc = orjson.loads(raw)
    field, value = L.verify_disclosure(disclosure, L.digest(disclosure.encode("ascii")))
    return [doc[0], field, value] if len(doc) == 3 else [doc[0], value]


def _digest_form(digest: Any) -> None:
    if not isinstance(digest, str) or len(digest) != 43:
        raise ValueError("a withheld field's digest is not a base64url SHA-256")
    try:
        if len(L._b64url_decode(digest)) != 32:
            raise ValueError
    except (ValueError, TypeError):
        raise ValueError("a withheld field's digest is not a base64url SHA-256") from None


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A human-readable account: one line per problem, the notices, the verdict."""
    lines = []
    for p in report["problems"]:
        where = p.get("file") or ""
        if p.get("message"):
            m = p["message"]
            where += (" " if where else "") + f"message {m.get('id')} ({m.get('sent_at')})"
        lines.append(f"{p['kind'].upper()}: {where + ': ' if where else ''}{p['detail']}")
    for n in report["notices"]:
        lines.append("note: " + n)
    c, t, counts = report["checkpoint"], report["timestamp"], report["checked"]
    head = f"checkpoint {c['origin']} size {c['tree_size']} root {c['root']} signed by {c['signed_by']}" if c \
        else "no verified checkpoint"
    stamp = f"; time-stamped {t['gen_time']} by {t['tsa']}" if t else ""
    withheld = report["withheld"]
    held = f"; {sum(withheld['fields'].values())} withheld fields in {withheld['messages']} messages" \
        if withheld["messages"] else ""
    lines.append(f"{S.verdict(report)}: {report['messages']} messages, {counts['proofs']} proofs, {counts['disclosures']} "
                 f"disclosures, {counts['files']} files checked{held}; {head}{stamp}")
    return lines


__all__ = ["verify_package", "summary_lines"]
