"""``lake verify``: is this lake what the archive's key signed, file for file, and does its ledger hash
to the checkpoint it was exported under?

Checked: the manifest's signature (a C2SP signed note) under a key (given, else the manifest's own:
weakest, someone who rewrites the lake can rewrite that too), the checkpoint note's signature under
the same key and that it names the same tree size and root, every file's SHA-256, size and row count,
each table's total, that no file sits in a table's folder without being listed, and the RFC 6962
root recomputed from ``ledger_leaves`` (streamed, O(log n) memory). Not checked here: that each
message row still hashes to its leaf (``spark verify`` recomputes that on a cluster).
"""

from __future__ import annotations

from typing import Any, Callable

import pyarrow.parquet as pq

from ..errors import ChatAuditError
from ..ledger.merkle import TreeBuilder
from ..ledger.note import Checkpoint, NoteError, Verifier, open_note
from . import layout


def open_signed(uri: str, verifier: Verifier | None) -> tuple[Any, str, dict[str, Any], list[dict[str, Any]],
                                                             Callable[..., None], Verifier | None, str]:
    """A lake's manifest with its signatures checked, as ``lake verify`` and ``spark verify`` start:
    (filesystem, base, manifest, problems found so far, the function that records one, the
    verifier, where its key came from)."""
    fs, base, manifest, raw = layout.load_manifest(uri)
    problems: list[dict[str, Any]] = []

    def problem(kind: str, detail: str, path: str | None = None) -> None:
        problems.append({"kind": kind, "path": path, "detail": detail})

    verifier, key_source = check_signatures(fs, base, raw, manifest, verifier, problem)
    return fs, base, manifest, problems, problem, verifier, key_source


def verify_lake(uri: str, *, verifier: Verifier | None = None) -> dict[str, Any]:
    """The report (``ok``, ``problems`` …; keys documented in the README)."""
    fs, base, manifest, problems, problem, verifier, key_source = open_signed(uri, verifier)
    checkpoint = manifest.get("checkpoint") or {}
    tree_size = int(checkpoint.get("tree_size", -1))
    root_hex = str(checkpoint.get("root", ""))

    listed = set()
    rows_by_table: dict[str, int] = {}
    damaged: set[str] = set()  # tables with a missing or altered file: their totals are not compared
    for entry in manifest.get("files", []):
        rel = str(entry.get("path", ""))
        listed.add(rel)
        path = layout.join(base, rel)
        try:
            sha256, size = layout.file_sha256(fs, path)
        except (FileNotFoundError, OSError):
            problem("missing_file", "listed in the manifest but not in the lake", rel)
            damaged.add(entry.get("table"))
            continue
        if sha256 != entry.get("sha256") or size != entry.get("bytes"):
            problem("file_hash", f"SHA-256 {sha256} ({size} bytes), manifest says {entry.get('sha256')} "
                                 f"({entry.get('bytes')} bytes)", rel)
            damaged.add(entry.get("table"))
            continue
        with fs.open_input_file(path) as handle:
            rows = pq.ParquetFile(handle).metadata.num_rows
        if rows != entry.get("rows"):
            problem("row_count", f"{rows} rows, manifest says {entry.get('rows')}", rel)
        rows_by_table[entry.get("table")] = rows_by_table.get(entry.get("table"), 0) + rows
    for table, info in (manifest.get("tables") or {}).items():
        if table not in damaged and rows_by_table.get(table, 0) != info.get("rows"):
            problem("table_rows", f"{rows_by_table.get(table, 0)} rows in its files, manifest says {info.get('rows')}",
                    table)
    for rel in layout.walk_files(fs, base):
        if rel in listed or rel in (layout.MANIFEST, layout.SIGNATURE) or rel.startswith(layout.RESULTS + "/"):
            continue
        problem("unlisted_file", "in the lake but not in the signed manifest (readers ignore it)", rel)

    leaves = 0
    if not any(p["kind"] in ("missing_file", "file_hash") and p["path"].startswith("ledger_leaves/")
               for p in problems if p["path"]):
        leaves, root = _ledger_root(fs, base, manifest, tree_size, problem)
        if root is not None and root.hex() != root_hex:
            problem("ledger_root", f"ledger_leaves hash to {root.hex()} at size {tree_size}, the checkpoint "
                                   f"says {root_hex}", "ledger_leaves")
    return {
        "ok": not problems,
        "lake": uri,
        "origin": manifest.get("origin"),
        "key": str(verifier),
        "key_source": key_source,
        "exported_at": manifest.get("exported_at"),
        "tree_size": tree_size,
        "root": root_hex,
        "files": len(manifest.get("files", [])),
        "rows": {table: info.get("rows") for table, info in (manifest.get("tables") or {}).items()},
        "leaves_checked": leaves,
        "problems": problems,
    }


def check_signatures(fs, base: str, raw: bytes, manifest: dict[str, Any], verifier: Verifier | None,
                     problem) -> tuple[Verifier, str]:
    """The manifest's signed note and the checkpoint note under ``verifier`` (else the manifest's own
    key, said so in the key source); each failure is a ``problem``. Returns (key used, its source)."""
    from .export import manifest_note

    key_source = "given"
    if verifier is None:
        key_source = "manifest (not pinned: pass --pubkey with a key you trust)"
        try:
            verifier = Verifier.from_key(str(manifest.get("verifier_key", "")))
        except NoteError as error:
            raise ChatAuditError(f"the lake manifest's verifier key is unreadable ({error})") from None
    checkpoint = manifest.get("checkpoint") or {}
    tree_size = int(checkpoint.get("tree_size", -1))
    root_hex = str(checkpoint.get("root", ""))
    try:
        note = layout.read_bytes(fs, layout.join(base, layout.SIGNATURE)).decode()
        opened = open_note(note, verifier)
    except (ChatAuditError, NoteError, UnicodeDecodeError) as error:
        problem("manifest_signature", f"does not verify with {verifier.name}+{verifier.key_id:08x} ({error})",
                layout.SIGNATURE)
        opened = None
    try:
        expected = manifest_note(raw, str(manifest.get("origin") or verifier.name), tree_size, bytes.fromhex(root_hex))
    except ValueError:
        expected = None
    if opened is not None and opened.text != expected:
        problem("manifest_signature", "the signed note does not sign this manifest (its SHA-256, checkpoint "
                                      "size or root differ)", layout.MANIFEST)
    try:
        head_note = str((manifest.get("checkpoint") or {}).get("note", ""))
        head = Checkpoint.from_text(open_note(head_note, verifier).text)
    except NoteError as error:
        problem("checkpoint_signature", f"the checkpoint note does not verify ({error})", layout.MANIFEST)
        return verifier, key_source
    if head.size != tree_size or head.root.hex() != root_hex:
        problem("checkpoint_signature", f"the signed checkpoint is size {head.size} root {head.root.hex()}, the "
                                        f"manifest says size {tree_size} root {root_hex}", layout.MANIFEST)
    return verifier, key_source


def _ledger_root(fs, base: str, manifest: dict[str, Any], tree_size: int, problem) -> tuple[int, bytes | None]:
    """The tree head of ledger_leaves at ``tree_size``, streamed in file order (idx must be dense)."""
    tree = TreeBuilder()
    for path in layout.table_files(manifest, base, "ledger_leaves"):
        with fs.open_input_file(path) as handle:
            for batch in pq.ParquetFile(handle).iter_batches(columns=["idx", "leaf_hash"], batch_size=65_536):
                for idx, value in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
                    if idx >= tree_size:
                        continue
                    if idx != tree.size:
                        problem("ledger_order", f"leaf {idx} where leaf {tree.size} was expected", "ledger_leaves")
                        return tree.size, None
                    tree.append(value)
    if tree.size != tree_size:
        problem("ledger_root", f"{tree.size} leaves, the checkpoint's tree has {tree_size}", "ledger_leaves")
        return tree.size, None
    return tree.size, tree.root()

