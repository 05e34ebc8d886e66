"""Ledger: RFC 6962 known answers, C2SP signed-note known answers, proofs, and tamper round trips."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
import stat
from pathlib import Path

import click
import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from chataudit.errors import ChatAuditError
from chataudit.importer import import_paths
from chataudit.ledger import Ledger, leaves as L, merkle
from chataudit.ledger.commands import COMMANDS
from chataudit.ledger.keys import create_key, load_key
from chataudit.ledger.note import Checkpoint, NoteError, Signer, Verifier, key_id, open_note, parse, sign
from chataudit.ledger.verify import verify_archive
from chataudit.store import Archive, SourceInfo
from chataudit.model import Message

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
h = bytes.fromhex

# ---- RFC 6962 known answers (transparency-dev/merkle rfc6962_test.go and proof/verify_test.go) ----

LEAVES = [h(x) for x in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                         "606162636465666768696a6b6c6d6e6f"]]
ROOTS = [h(x) for x in [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]]
# (leaf index, tree size, proof)
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


def test_rfc6962_hashes_known_answers() -> None:
    assert merkle.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert merkle.leaf_hash(b"L123456").hex() == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert merkle.node_hash(b"N123", b"N456").hex() == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    assert merkle.root([]) == merkle.EMPTY_ROOT


def test_tree_heads_of_the_8_leaf_vectors() -> None:
    hashes = [merkle.leaf_hash(x) for x in LEAVES]
    tree = merkle.MemoryTree(hashes)
    for size in range(1, 9):
        assert merkle.root(hashes[:size]) == ROOTS[size - 1]
        assert tree.root(size) == ROOTS[size - 1]


@pytest.mark.parametrize("index,size,proof", INCLUSION)
def test_inclusion_proof_vectors(index: int, size: int, proof: list[str]) -> None:
    hashes = [merkle.leaf_hash(x) for x in LEAVES]
    expected = [h(p) for p in proof]
    assert merkle.MemoryTree(hashes[:size]).inclusion_proof(index) == expected
    merkle.verify_inclusion(index, size, hashes[index], expected, ROOTS[size - 1])
    bad = [
        (index + 1, size, hashes[index], expected, ROOTS[size - 1]),
        (index, size * 2, hashes[index], expected, ROOTS[size - 1]),
        (index, size, merkle.leaf_hash(b"WrongLeaf"), expected, ROOTS[size - 1]),
        (index, size, hashes[index], expected, merkle.EMPTY_ROOT),
        (index, size, hashes[index], expected + [ROOTS[size - 1]], ROOTS[size - 1]),
        (index, size, hashes[index], [ROOTS[size - 1]] + expected, ROOTS[size - 1]),
        (index, size, hashes[index], expected[:-1], ROOTS[size - 1]),
    ]
    for args in bad:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(*args)


@pytest.mark.parametrize("old,new,proof", CONSISTENCY)
def test_consistency_proof_vectors(old: int, new: int, proof: list[str]) -> None:
    hashes = [merkle.leaf_hash(x) for x in LEAVES]
    expected = [h(p) for p in proof]
    assert merkle.MemoryTree(hashes[:new]).consistency_proof(old) == expected
    merkle.verify_consistency(old, new, expected, ROOTS[old - 1], ROOTS[new - 1])
    for args in [
        (old, new, expected, ROOTS[new - 1], ROOTS[old - 1]),  # swapped roots
        (old, new, [], ROOTS[old - 1], ROOTS[new - 1]),
        (old, new, expected[:-1], ROOTS[old - 1], ROOTS[new - 1]),
        (old, new, expected + [ROOTS[0]], ROOTS[old - 1], ROOTS[new - 1]),
        (old - 1 or 2, new, expected, ROOTS[old - 1], ROOTS[new - 1]),
    ]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*args)


def test_consistency_edge_cases() -> None:
    merkle.verify_consistency(0, 5, [], b"x" * 32, ROOTS[4])
    merkle.verify_consistency(3, 3, [], ROOTS[2], ROOTS[2])
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(3, 3, [], ROOTS[2], ROOTS[3])
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(4, 3, [], ROOTS[3], ROOTS[2])


def reference_mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 §2.1 literally, recursively."""
    if not hashes:
        return merkle.EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return merkle.node_hash(reference_mth(hashes[:k]), reference_mth(hashes[k:]))


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_proofs_verify_for_random_sizes_and_any_bit_flip_fails(size: int, data) -> None:
    hashes = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    tree = merkle.MemoryTree(hashes)
    head = reference_mth(hashes)
    assert tree.root() == head == merkle.root(hashes)
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion_proof(index)
    merkle.verify_inclusion(index, size, hashes[index], proof, head)
    old = data.draw(st.integers(1, size))
    cons = tree.consistency_proof(old)
    merkle.verify_consistency(old, size, cons, reference_mth(hashes[:old]), head)
    # the streaming builder resumed from a frontier agrees with the whole
    partial = merkle.TreeBuilder()
    partial.extend(hashes[:old])
    resumed = merkle.TreeBuilder(partial.frontier, old)
    resumed.extend(hashes[old:])
    assert resumed.root() == head
    if proof:
        which = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        flipped = list(proof)
        flipped[which] = bytes(b ^ (1 << (bit % 8)) if i == bit // 8 else b for i, b in enumerate(flipped[which]))
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(index, size, hashes[index], flipped, head)
    if cons:
        which = data.draw(st.integers(0, len(cons) - 1))
        bit = data.draw(st.integers(0, 255))
        flipped = list(cons)
        flipped[which] = bytes(b ^ (1 << (bit % 8)) if i == bit // 8 else b for i, b in enumerate(flipped[which]))
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(old, size, flipped, reference_mth(hashes[:old]), head)


# ---- C2SP signed-note known answers (golang.org/x/mod/sumdb/note note_test.go) ------------------

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
NOTE_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"


def test_signed_note_known_answer() -> None:
    signer = Signer.from_key(PETER_SKEY)
    assert str(signer) == PETER_SKEY
    assert str(signer.verifier) == PETER_VKEY
    assert Verifier.from_key(PETER_VKEY) == signer.verifier
    assert signer.key_id == 0xC74F20A3 == key_id("PeterNeumann", signer.public_key)
    # Ed25519 is deterministic: our note is byte for byte Go's
    assert sign(NOTE_TEXT, signer) == NOTE_TEXT + "\n" + PETER_SIG


def test_open_note_known_answers() -> None:
    peter, enoch = Verifier.from_key(PETER_VKEY), Verifier.from_key(ENOCH_VKEY)
    both = NOTE_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    opened = open_note(both, peter)  # the unknown Enoch signature is ignored
    assert opened.text == NOTE_TEXT and [s.name for s in opened.signatures] == ["PeterNeumann"]
    assert [s.name for s in open_note(both, peter, enoch).signatures] == ["PeterNeumann", "EnochRoot"]
    with pytest.raises(NoteError, match="no verifiable signatures"):
        open_note(both)
    with pytest.raises(NoteError, match="invalid signature"):
        open_note(NOTE_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], peter)
    with pytest.raises(NoteError):
        open_note(NOTE_TEXT.replace("cryptography", "cryptographY") + "\n" + PETER_SIG, peter)
    for bad in [NOTE_TEXT, NOTE_TEXT + "\n", NOTE_TEXT + "\n" + PETER_SIG[:-1], "\x01" + NOTE_TEXT + "\n" + PETER_SIG,
                NOTE_TEXT + "\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
                NOTE_TEXT + "\n" + PETER_SIG + "Unexpected line.\n"]:
        with pytest.raises(NoteError):
            open_note(bad, peter)


def test_verifier_key_manglings_are_refused() -> None:
    for bad in [PETER_VKEY[:-1], PETER_VKEY.replace("c74f20a3", "c74f20a4"), "PeterNeumann+cc469956+ARpc2Q",
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "Peter Neumann+c74f20a3+x"]:
        with pytest.raises(NoteError):
            Verifier.from_key(bad)


def test_checkpoint_text_matches_the_c2sp_example() -> None:
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    head = Checkpoint.from_text(text)
    assert (head.origin, head.size) == ("example.com/behind-the-sofa", 20852163)
    assert head.text() == text
    assert Checkpoint("o", 0, merkle.EMPTY_ROOT).text() == "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    for bad in ["o\n012\n" + base64.b64encode(b"x" * 32).decode() + "\n", "o\n1\nAAAA\n", "o\n1\n", "o\n1\nx\n\n"]:
        with pytest.raises(NoteError):
            Checkpoint.from_text(bad)


# ---- leaves -----------------------------------------------------------------------------------

def _row(text="好的", sender_id="wxid_li", sender_name="李", extras=None, attachments=None, is_me=1) -> tuple:
    return (1, "wechat", 1, "m1", sender_id, sender_name, 1_773_273_782_000, 480, "text", text, None, None,
            "5000.00", "CNY", attachments, is_me, extras, 1, 7, 0)


@settings(max_examples=80, deadline=None)
@given(text=st.text(), name=st.one_of(st.none(), st.text(max_size=20)),
       extras=st.one_of(st.none(), st.dictionaries(st.text(max_size=5), st.integers(-2**63, 2**63 - 1) | st.text(max_size=5), max_size=3)))
def test_leaf_is_canonical_json_and_fields_disclose(text: str, name: str | None, extras) -> None:
    try:
        text.encode("utf-8")
        (name or "").encode("utf-8")
    except UnicodeEncodeError:
        return  # lone surrogates cannot be stored in SQLite TEXT either
    extras_json = orjson.dumps(extras).decode() if extras else None
    row = _row(text=text, sender_name=name, extras=extras_json)
    salts = L.new_salts(L.salt_count(None)).hex()
    data = L.message_leaf(row, "conv", "ab" * 32, salts)
    doc = json.loads(data)
    # what json.dumps(sort_keys, compact, ensure_ascii=False) makes: a third party can rebuild it
    assert data == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert doc["_sd"] == L.message_sd_object(row, salts)  # the inlined path equals the general one
    expected = {"text": text, "sender_id": "wxid_li", "sender_name": name, "extras": extras or None}
    for field, shown in L.message_disclosures(row, salts).items():
        if field == "attachments":
            continue
        if expected[field] is None:  # an absent field is committed as null, not as a digest
            assert shown is None and doc["_sd"][field] is None
            continue
        got_field, value = L.verify_disclosure(shown, doc["_sd"][field])
        assert (got_field, value) == (field, expected[field])
    with pytest.raises(ValueError):
        L.verify_disclosure(L.message_disclosures(row, salts)["text"], doc["_sd"]["sender_name"])


def test_salts_hide_equal_texts_and_attachments_disclose_one_by_one() -> None:
    attachments = orjson.dumps([{"name": "a.jpg", "sha256": "00" * 32}, {"name": "b.pdf", "size": 3}]).decode()
    row = _row(attachments=attachments)
    s1, s2 = L.new_salts(L.salt_count(attachments)).hex(), L.new_salts(L.salt_count(attachments)).hex()
    assert len(s1) == 6 * L.SALT_CHARS and s1 != s2
    d1, d2 = json.loads(L.message_leaf(row, "c", "x", s1)), json.loads(L.message_leaf(row, "c", "x", s2))
    assert L.message_leaf(row, "c", "x", s1) == json.dumps(d1, sort_keys=True, separators=(",", ":"),
                                                           ensure_ascii=False).encode()
    assert d1["_sd"]["text"] != d2["_sd"]["text"]  # "好的" cannot be recognised across messages
    shown = L.message_disclosures(row, s1)["attachments"]
    assert [L.verify_disclosure(x, dg)[1]["name"] for x, dg in zip(shown, d1["_sd"]["attachments"])] == ["a.jpg", "b.pdf"]
    assert "好的" not in L.message_leaf(row, "c", "x", s1).decode() and "李" not in L.message_leaf(row, "c", "x", s1).decode()


# ---- round trips through the archive ------------------------------------------------------------

def cli_group() -> click.Group:
    @click.group()
    @click.option("--db")
    @click.pass_context
    def group(ctx: click.Context, db: str) -> None:
        ctx.obj = {"db": Path(db)}

    for command in COMMANDS:
        group.add_command(command)
    return group


def run(db: Path, *args: str):
    return CliRunner().invoke(cli_group(), ["--db", str(db), *args], catch_exceptions=False)


@pytest.fixture
def archive_path(tmp_path: Path) -> Path:
    db = tmp_path / "a.db"
    with Archive(db) as archive:
        summary = import_paths(archive, [SAMPLES], tz="Asia/Shanghai")
        assert not summary.errors
    return db


def report_of(db: Path, **kwargs):
    with Archive(db) as archive:
        return verify_archive(archive, **kwargs)


def tamper(db: Path, *statements: str, params=()) -> None:
    connection = sqlite3.connect(db)
    for statement in statements:
        connection.execute(statement, params if "?" in statement else ())
    connection.commit()
    connection.close()


def kinds(report) -> list[str]:
    return [p["kind"] for p in report.problems]


def test_import_writes_leaves_and_checkpoints_and_verify_is_clean(archive_path: Path) -> None:
    key = Path(str(archive_path) + ".key")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    result = run(archive_path, "verify", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert {"ok", "tree_size", "root", "checked", "problems"} <= set(doc)
    assert doc["ok"] and doc["problems"] == []
    with Archive(archive_path) as archive:
        messages = archive.stats()["messages"]
        sources = archive.stats()["sources"]
        ledger = Ledger(archive)
        # a source, its messages, its sightings, its conversations
        assert doc["tree_size"] == messages + 3 * sources == doc["checked"]
        assert len(ledger.checkpoints()) == sources  # one signed checkpoint per imported source
        assert doc["root"] == ledger.latest_checkpoint().root.hex()
    note = run(archive_path, "checkpoint").output
    vkey = run(archive_path, "key", "export").output.strip()
    opened = open_note(note, Verifier.from_key(vkey))
    head = Checkpoint.from_text(opened.text)
    assert head.size == doc["tree_size"] and head.root.hex() == doc["root"]
    assert note.count("\n— ") == 1 and note.endswith("=\n")


def test_proof_command_verifies_with_the_standalone_functions(archive_path: Path) -> None:
    doc = json.loads(run(archive_path, "proof", "5", "--json").output)
    leaf = doc["leaf"].encode()
    assert hashlib.sha256(b"\x00" + leaf).hexdigest() == doc["leaf_hash"]
    merkle.verify_inclusion(doc["leaf_index"], doc["tree_size"], h(doc["leaf_hash"]), [h(p) for p in doc["proof"]],
                            h(doc["root"]))
    head = Checkpoint.from_text(parse(doc["checkpoint"]).text)
    assert head.root.hex() == doc["root"]
    sd = json.loads(leaf)["_sd"]
    field, text = L.verify_disclosure(doc["disclosures"]["text"], sd["text"])
    with Archive(archive_path) as archive:
        assert text == archive.db.execute("SELECT text FROM messages WHERE id = 5").fetchone()[0]
    assert run(archive_path, "proof", "99999").exit_code == 1


def test_changed_byte_of_a_message_is_named(archive_path: Path) -> None:
    with Archive(archive_path) as archive:
        row = archive.db.execute("SELECT m.id, m.text, m.sender_name, c.native_id FROM messages m JOIN conversations c"
                                 " ON c.id = m.conversation WHERE m.text LIKE '%退%' LIMIT 1").fetchone()
    tamper(archive_path, "UPDATE messages SET text = ? WHERE id = ?", params=(row["text"].replace("退", "送", 1), row["id"]))
    result = run(archive_path, "verify", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert not doc["ok"]
    modified = [p for p in doc["problems"] if p["kind"] == "modified"]
    assert len(modified) == 1
    message = modified[0]["message"]
    assert message["id"] == row["id"] and message["sender"] == row["sender_name"]
    assert row["native_id"] in message["conversation"] and message["sent_at"]
    assert "checkpoint_root" in [p["kind"] for p in doc["problems"]]


def test_flipped_byte_in_the_database_file_is_found(archive_path: Path) -> None:
    raw = bytearray(archive_path.read_bytes())
    with Archive(archive_path) as archive:
        texts = archive.db.execute("SELECT id, text FROM messages WHERE length(text) >= 4").fetchall()
    # a Chinese text whose bytes occur once in the file (the full-text index holds no text)
    target, needle = next((i, t.encode()) for i, t in texts
                          if any(ord(c) > 0x4E00 for c in t) and raw.count(t.encode()) == 1)
    at = raw.find(needle)
    cjk = next(k for k in range(len(needle)) if needle[k] >= 0xE4)
    raw[at + cjk + 2] ^= 0x01  # the last byte of a 3-byte character: still valid UTF-8, another character
    archive_path.write_bytes(bytes(raw))
    report = report_of(archive_path)
    assert not report.ok
    assert [p["message"]["id"] for p in report.problems if p["kind"] == "modified"] == [target]


def test_deleted_message_is_named_by_conversation_sender_instant(archive_path: Path) -> None:
    with Archive(archive_path) as archive:
        row = archive.db.execute("SELECT id, sender_name, sender_id, sent_at_ms FROM messages WHERE id = 7").fetchone()
    tamper(archive_path, "DELETE FROM messages WHERE id = 7")
    report = report_of(archive_path)
    assert kinds(report) == ["deleted"]
    message = report.problems[0]["message"]
    assert message["sender"] == (row["sender_name"] or row["sender_id"])
    assert message["sent_at"].startswith("2026-")
    assert message["leaf"] == 7


def test_swapped_rows_are_reported_as_reordered(archive_path: Path) -> None:
    tamper(archive_path, "UPDATE messages SET id = -1 WHERE id = 10", "UPDATE messages SET id = 10 WHERE id = 11",
           "UPDATE messages SET id = 11 WHERE id = -1")
    report = report_of(archive_path)
    reordered = [p for p in report.problems if p["kind"] == "reordered"]
    assert sorted(p["message"]["id"] for p in reordered) == [10, 11]
    assert "leaf 11" in reordered[0]["detail"] or "leaf 10" in reordered[0]["detail"]


def test_inserted_message_and_unsigned_source_are_reported(archive_path: Path) -> None:
    tamper(archive_path,
           "INSERT INTO messages (conversation, platform, sender_name, sent_at_ms, utc_offset_min, kind, text, source,"
           " content_hash, content_key) SELECT conversation, platform, sender_name, sent_at_ms + 1, utc_offset_min,"
           " kind, '我同意退款', source, content_hash, content_key + 1 FROM messages WHERE id = 3")
    report = report_of(archive_path)
    assert kinds(report) == ["inserted"]
    assert report.problems[0]["message"]["id"] > 80


def test_replaced_checkpoint_is_reported(archive_path: Path, tmp_path: Path) -> None:
    with Archive(archive_path) as archive:
        latest = Ledger(archive).latest_checkpoint()
    forger = create_key(tmp_path / "forger.key", Checkpoint.from_text(parse(latest.note).text).origin)
    forged = sign(Checkpoint(forger.name, latest.tree_size, b"\x00" * 32).text(), forger)
    tamper(archive_path, "DROP TRIGGER ledger_checkpoints_no_update",
           "UPDATE ledger_checkpoints SET note = ? WHERE id = (SELECT max(id) FROM ledger_checkpoints)", params=(forged,))
    report = report_of(archive_path)
    assert "checkpoint_signature" in kinds(report) and not report.ok
    # an edited note, too
    tamper(archive_path, "UPDATE ledger_checkpoints SET note = ? WHERE id = (SELECT max(id) FROM ledger_checkpoints)",
           params=(latest.note.replace(f"\n{latest.tree_size}\n", f"\n{latest.tree_size - 1}\n"),))
    assert "checkpoint_signature" in kinds(report_of(archive_path))


def test_leaf_hashes_rewritten_with_the_record_are_caught_by_the_signed_root(archive_path: Path) -> None:
    with Archive(archive_path) as archive:
        ledger = Ledger(archive)
        tamper(archive_path, "UPDATE messages SET text = '全额退款，我同意' WHERE id = 5")
        idx, data, _ = ledger.leaf_record(5)
    tamper(archive_path, "DROP TRIGGER ledger_leaves_no_update", "UPDATE ledger_leaves SET leaf_hash = ? WHERE idx = ?",
           params=(merkle.leaf_hash(data), idx))
    # the attacker left the full-text index as it was: it still holds the old words
    assert kinds(report_of(archive_path)) == ["ledger_rewritten", "search_index"]


def test_history_rewritten_and_resigned_with_the_key_is_inconsistent(archive_path: Path) -> None:
    """Someone holding the key rewrites an old message and signs a fresh head: earlier heads expose it."""
    with Archive(archive_path) as archive:
        ledger = Ledger(archive)
        archive.db.execute("DROP TRIGGER ledger_leaves_no_update")
        archive.db.execute("UPDATE messages SET text = '全额退款，我同意' WHERE id = 5")
        idx, data, _ = ledger.leaf_record(5)
        archive.db.execute("UPDATE ledger_leaves SET leaf_hash = ? WHERE idx = ?", (merkle.leaf_hash(data), idx))
        builder = merkle.TreeBuilder()
        builder.extend(ledger.stored_leaf_hashes())
        ledger._write_checkpoint(builder)
    report = report_of(archive_path)
    assert set(kinds(report)) == {"inconsistent_checkpoint", "search_index"}  # the index kept the old words
    assert len(report.problems) - 1 == len(Ledger(Archive(archive_path)).checkpoints()) - 1


def test_purge_and_redaction_are_told_apart_from_tampering(archive_path: Path) -> None:
    with Archive(archive_path) as archive:
        ledger = Ledger(archive)
        ledger.purge(3, "retention: 3 years")
        ledger.redact(4, ["text", "sender_name"], "personal data")
        assert archive.db.execute("SELECT text, sender_name FROM messages WHERE id = 4").fetchone()[:] == ("", None)
        (proof,) = ledger.proofs([4])
    report = report_of(archive_path)
    assert report.ok, report.problems
    assert sorted(n["kind"] for n in report.notices) == ["purged", "redacted"]
    # the redacted message still proves, with the withheld fields as digests only
    assert "text" not in proof.disclosures and "sender_id" in proof.disclosures
    merkle.verify_inclusion(proof.leaf_index, proof.tree_size, proof.leaf_hash, proof.hashes, proof.checkpoint.root)
    tamper(archive_path, "UPDATE messages SET text = '我同意' WHERE id = 4")
    assert kinds(report_of(archive_path))[0] == "modified"


def test_purge_and_redaction_take_the_text_out_of_the_full_text_index(archive_path: Path) -> None:
    from chataudit.store.sqlite import ROWID_SHIFT
    from chataudit.textindex import term_expression

    def indexed_rowids(archive: Archive, text: str) -> set[int]:
        return {r[0] for r in archive.db.execute("SELECT rowid FROM message_fts WHERE message_fts MATCH ?",
                                                 (term_expression(text),))}

    with Archive(archive_path) as archive:
        rows = archive.db.execute("SELECT id, text, sent_at_ms FROM messages WHERE id IN (6, 8)").fetchall()
        keys = {r["id"]: ((r["sent_at_ms"] // 1000) * ROWID_SHIFT + r["id"], r["text"]) for r in rows}
        for rowid, text in keys.values():
            assert rowid in indexed_rowids(archive, text)
        ledger = Ledger(archive)
        ledger.purge(6, "retention")
        ledger.redact(8, ["text"], "personal data")
        for rowid, text in keys.values():
            assert rowid not in indexed_rowids(archive, text)
        archive.db.execute("INSERT INTO message_fts(message_fts) VALUES ('integrity-check')")
        assert archive.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_reused_id_after_purging_the_last_message(archive_path: Path, tmp_path: Path) -> None:
    with Archive(archive_path) as archive:
        last = archive.db.execute("SELECT max(id) FROM messages").fetchone()[0]
        Ledger(archive).purge(last, "retention")
        extra = tmp_path / "extra.csv"
        extra.write_text("sent_at,sender_name,text\n2026-03-20T10:00:00+08:00,王女士,还在吗\n", encoding="utf-8")
        assert not import_paths(archive, [extra]).errors
        assert archive.db.execute("SELECT max(id) FROM messages").fetchone()[0] == last  # SQLite reused it
        (proof,) = Ledger(archive).proofs([last])
        assert L.verify_disclosure(proof.disclosures["text"], json.loads(proof.leaf)["_sd"]["text"])[1] == "还在吗"
    assert report_of(archive_path).ok


def test_future_instant_is_flagged(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    source = tmp_path / "future.csv"
    source.write_text("sent_at,sender_name,text\n2099-01-01T00:00:00+00:00,王女士,来自未来\n", encoding="utf-8")
    with Archive(db) as archive:
        import_paths(archive, [source])
    report = report_of(db)
    assert kinds(report) == ["future_instant"] and report.problems[0]["message"]["sender"] == "王女士"


def test_init_signs_a_pre_ledger_archive_and_an_empty_one(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with Archive(db) as archive:  # imported through the store alone, as before the ledger existed
        archive.import_records(SourceInfo("x.csv", "ab" * 32, 10, "generic"),
                               [Message("generic", "c1", __import__("datetime").datetime(2026, 1, 1, tzinfo=__import__("datetime").timezone.utc), text="旧消息")])
    assert kinds(report_of(db)) == ["no_checkpoint"]
    key = tmp_path / "keys" / "archive.key"
    result = run(db, "init", "--key", str(key), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["tree_size"] == 4 and doc["key_created"] and key.exists()  # source, message, sightings, conversations
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert report_of(db).ok
    assert run(db, "verify").exit_code == 0  # the recorded key path is found without --key
    extra = tmp_path / "extra.csv"
    extra.write_text("sent_at,sender_name,text\n2026-03-20T10:00:00+08:00,王女士,还在吗\n", encoding="utf-8")
    with Archive(db) as archive:
        assert not import_paths(archive, [extra]).errors  # the import hook signs with the recorded key
    assert not Path(str(db) + ".key").exists() and report_of(db).ok
    again = json.loads(run(db, "init", "--json").output)
    assert not again["key_created"] and again["tree_size"] == 8
    empty = tmp_path / "empty.db"
    doc = json.loads(run(empty, "init", "--json").output)
    assert doc["tree_size"] == 0 and doc["root"] == merkle.EMPTY_ROOT.hex()
    assert report_of(empty).ok


def test_wrong_key_imports_nothing(archive_path: Path, tmp_path: Path, monkeypatch) -> None:
    other = tmp_path / "other.key"
    create_key(other, "someone-else")
    monkeypatch.setenv("CHATAUDIT_KEY", str(other))
    extra = tmp_path / "extra.csv"
    extra.write_text("sent_at,sender_name,text\n2026-03-20T10:00:00+08:00,王女士,还在吗\n", encoding="utf-8")
    with Archive(archive_path) as archive:
        before = archive.stats()
        with pytest.raises(ChatAuditError, match="signed by"):
            import_paths(archive, [extra])
        assert archive.stats() == before  # the source's transaction rolled back whole
    monkeypatch.delenv("CHATAUDIT_KEY")
    assert report_of(archive_path).ok
    # and a verifier key that is not the archive's fails every checkpoint
    assert "checkpoint_signature" in kinds(report_of(archive_path, verifier=load_key(other).verifier))


def test_key_file_readable_by_others_is_refused(archive_path: Path) -> None:
    key = Path(str(archive_path) + ".key")
    os.chmod(key, 0o644)
    with Archive(archive_path) as archive, pytest.raises(ChatAuditError, match="chmod 600"):
        load_key(key)
    os.chmod(key, 0o600)


def test_ledger_tables_are_append_only(archive_path: Path) -> None:
    with Archive(archive_path) as archive:
        for statement in ["DELETE FROM ledger_leaves WHERE idx = 1", "UPDATE ledger_leaves SET leaf_hash = x'00' WHERE idx = 1",
                          "DELETE FROM ledger_checkpoints", "UPDATE ledger_checkpoints SET note = ''"]:
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                archive.db.execute(statement)


def test_verify_text_output_names_the_damage(archive_path: Path) -> None:
    tamper(archive_path, "DELETE FROM messages WHERE id = 9")
    result = run(archive_path, "verify")
    assert result.exit_code == 1
    assert "DELETED" in result.output and "FAILED" in result.output


def test_pubkey_option_and_missing_key_file(archive_path: Path, tmp_path: Path) -> None:
    vkey = run(archive_path, "key", "export").output.strip()
    key = Path(str(archive_path) + ".key")
    shutil.move(key, tmp_path / "elsewhere.key")
    doc = json.loads(run(archive_path, "verify", "--json").output)
    assert doc["ok"] and doc["key"]["source"].startswith("archive")
    doc = json.loads(run(archive_path, "verify", "--json", "--pubkey", vkey).output)
    assert doc["ok"] and doc["key"]["source"] == "given"
    forged = Signer.generate("x").verifier
    assert run(archive_path, "verify", "--pubkey", str(forged)).exit_code == 1


def test_batch_proofs_and_consistency_for_evidence_packages(archive_path: Path) -> None:
    """What an evidence package exports: proofs of many messages, a consistency proof, the public key."""
    with Archive(archive_path) as archive:
        ledger = Ledger(archive)
        ids = [r[0] for r in archive.db.execute("SELECT id FROM messages ORDER BY id")]
        proofs = ledger.proofs(ids)
        checkpoints = ledger.checkpoints()
        first, latest = checkpoints[0], checkpoints[-1]
        consistency = ledger.consistency_proof(first.tree_size)
        vkey = str(ledger.recorded_verifier())
    assert len(proofs) == len(ids)
    for proof in proofs:
        doc = proof.as_dict()
        merkle.verify_inclusion(doc["leaf_index"], doc["tree_size"], merkle.leaf_hash(doc["leaf"].encode()),
                                [h(p) for p in doc["proof"]], h(doc["root"]))
    merkle.verify_consistency(first.tree_size, latest.tree_size, consistency, first.root, latest.root)
    for record in (first, latest):
        head = Checkpoint.from_text(open_note(record.note, Verifier.from_key(vkey)).text)
        assert (head.size, head.root) == (record.tree_size, record.root)
