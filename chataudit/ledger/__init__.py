"""Tamper-evident ledger: an RFC 6962 Merkle tree over everything imported, C2SP signed checkpoints,
inclusion/consistency proofs, salted field digests for selective disclosure, RFC 3161 timestamps.

    merkle   RFC 6962/9162 hashing and proofs (standard library only)
    note     C2SP signed-note and tlog-checkpoint formats, Ed25519 keys in Go's note format
    keys     where the signing key lives; created on first use (0600)
    leaves   the canonical leaf serialization (documented there)
    log      appending, checkpoints, proofs, purge and redaction (:class:`Ledger`)
    verify   recompute everything and name the damage
    tsa      RFC 3161 requests, responses and their verification
    witness  the latest checkpoint kept outside the archive (a cut tail shows against it)
    cosign   C2SP tlog-witness cosignatures of checkpoints (the client side and the cosignature format)
"""

from .log import CheckpointRecord, Ledger, Proof, after_import, attach

__all__ = ["CheckpointRecord", "Ledger", "Proof", "after_import", "attach"]
