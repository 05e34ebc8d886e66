"""Governance records checked against the signed audit trail.

:func:`trail_problems` checks just the audit trail against the ledger — the latest checkpoint's
signature (with the key `verify` trusts), the stored leaf hashes against its root, and every audit
entry against its leaf — which is what a retention run needs before it trusts the hold entries,
without recomputing every message leaf as `verify` does. :func:`check` is `verify`'s hook: the
tables that copy governance facts (holds, the mode setting) must agree with the entries.
"""

from __future__ import annotations

from typing import Any

from ..store import Archive

GOVERNANCE = "governance"  # verify's problem kind for a governance table that disagrees with the trail


def trail_problems(archive: Archive, key_path: str | None = None) -> tuple[list[str], set[int]]:
    """(problems, ids of the audit entries that match their signed leaves)."""
    from ..ledger import leaves as L
    from ..ledger.log import Ledger, _rows
    from ..ledger.merkle import TreeBuilder, leaf_hash
    from ..ledger.note import Checkpoint, NoteError, open_note
    from ..ledger.verify import trusted_verifier

    db = archive.db
    ledger = Ledger(archive, key_path)
    latest = ledger.latest_checkpoint()
    if latest is None:
        if db.execute("SELECT 1 FROM governance_audit LIMIT 1").fetchone():
            return ["the archive has audit entries but no signed checkpoint"], set()
        return [], set()
    trusted, _source = trusted_verifier(ledger, key_path=key_path)
    if trusted is None:
        return ["no verifier key to check the latest checkpoint with"], set()
    try:
        head = Checkpoint.from_text(open_note(latest.note, trusted).text)
    except NoteError as error:
        return [f"the latest checkpoint ({latest.id}) is not validly signed: {error}"], set()
    builder = TreeBuilder()
    builder.extend(ledger.stored_leaf_hashes(head.size))
    if builder.size != head.size or builder.root() != head.root:
        return [f"the ledger does not hash to its latest signed checkpoint ({latest.id})"], set()
    problems = []
    if ledger.leaf_count() > head.size:
        problems.append(f"{ledger.leaf_count() - head.size} ledger leaves after the latest checkpoint are not signed")
    signed = {ref: (idx, value) for idx, ref, value in _rows(
        db, f"SELECT idx, ref, leaf_hash FROM ledger_leaves WHERE kind = {L.AUDIT} AND idx < ?", (head.size,))}
    verified: set[int] = set()
    for row in _rows(db, f"SELECT {L.AUDIT_COLUMNS} FROM governance_audit ORDER BY id"):
        leaf = signed.pop(row[0], None)
        if leaf is None:
            if row[4] in _HOLD_COMMANDS:
                problems.append(f"audit entry {row[0]} (`{row[4]}`) is not in the signed ledger: added behind the "
                                "tool's back")
            continue  # any other unsigned entry says nothing about holds
        try:
            matches = leaf_hash(L.audit_leaf(row)) == leaf[1]
        except (TypeError, ValueError):
            matches = False
        if matches:
            verified.add(row[0])
        else:
            problems.append(f"audit entry {row[0]} differs from what was signed (leaf {leaf[0]})")
    for ref, (idx, _) in sorted(signed.items()):
        problems.append(f"audit entry {ref} (leaf {idx}) was deleted from the audit trail")
    return problems, verified


_HOLD_COMMANDS = ("hold add", "hold release")


def problems(archive: Archive) -> list[str]:
    """Governance tables that disagree with the audit entries that record them."""
    from ..reviews import trail as reviews_trail
    from ..supervision import queue as supervision_queue
    from . import holds, mode

    found = [f"legal {text}" for text in holds.discrepancies(archive)]
    found += reviews_trail.discrepancies(archive)
    found += supervision_queue.discrepancies(archive)
    disagreement = mode.disagreement(archive)
    if disagreement:
        found.append(disagreement)
    from ..supervision.engine import discrepancies as supervision_discrepancies

    found += supervision_discrepancies(archive)
    return found


def check(archive: Archive, report: Any) -> None:
    """`verify`'s hook: each governance table that disagrees with the trail is a problem."""
    for detail in problems(archive):
        report.add(GOVERNANCE, detail)
