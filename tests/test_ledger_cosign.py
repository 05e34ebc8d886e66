"""C2SP tlog-witness cosigning against a witness on loopback written from the spec
(c2sp.org/tlog-witness and c2sp.org/tlog-cosignature): HTTP, the request body, 409/422 and the
Ed25519 cosignature/v1 all real; the witness shares no code with the client but the Merkle check."""

from __future__ import annotations

import base64
import http.server
import threading
import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chataudit.errors import ChatAuditError
from chataudit.importer import import_paths
from chataudit.ledger import Ledger, merkle
from chataudit.ledger.cosign import Cosigner, cosign, cosigned_message
from chataudit.ledger.keys import default_key_path, load_key
from chataudit.ledger.note import Checkpoint, key_id, open_note
from chataudit.ledger.verify import verify_archive
from chataudit.store import Archive
from conftest import both_stores
from store_tamper import every_trigger_off, tamper

from test_ledger import cli_group

NAME = "witness.example/w1"


class Witness:
    """A tlog-witness: per origin the latest cosigned (size, root); cosigns only consistent growth."""

    def __init__(self, log_key):
        self.private = Ed25519PrivateKey.generate()
        public = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.vkey = f"{NAME}+{key_id(NAME, public, 0x04):08x}+{base64.b64encode(bytes([4]) + public).decode()}"
        self.log_key, self.state, self.requests, self.lock = log_key, {}, [], threading.Lock()
        witness = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                status, reply, kind = witness.add_checkpoint(self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.end_headers()
                self.wfile.write(reply.encode())

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/witness"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add_checkpoint(self, path: str, body: str) -> tuple[int, str, str]:
        self.requests.append(body)
        if path != "/witness/add-checkpoint":
            return 404, "", "text/plain"
        head, _, note = body.partition("\n\n")
        lines = head.split("\n")
        if not lines[0].startswith("old "):
            return 400, "", "text/plain"
        old = int(lines[0][4:])
        proof = [base64.b64decode(x) for x in lines[1:] if x]
        try:
            text = open_note(note, self.log_key).text
        except Exception:
            return 403, "", "text/plain"
        checkpoint = Checkpoint.from_text(text)
        with self.lock:  # check and persist atomically, as the spec asks
            size, root = self.state.get(checkpoint.origin, (0, None))
            if old > checkpoint.size:
                return 400, "", "text/plain"
            if old != size:
                return 409, f"{size}\n", "text/x.tlog.size"
            if old == checkpoint.size and root != checkpoint.root:
                return 409, f"{size}\n", "text/x.tlog.size"
            if old:
                try:
                    merkle.verify_consistency(old, checkpoint.size, proof, root, checkpoint.root)
                except merkle.ProofError:
                    return 422, "", "text/plain"
            elif proof:
                return 422, "", "text/plain"
            self.state[checkpoint.origin] = (checkpoint.size, checkpoint.root)
        return 200, cosign(self.private, NAME, text, int(time.time())), "text/plain"


HEADER = "conversation_id,sent_at,sender_name,text\n"


@pytest.fixture
def db(tmp_path: Path, new_archive) -> Path:
    db = new_archive("a.db")  # a file; a PostgreSQL database for the tests marked both_stores
    source = tmp_path / "one.csv"
    source.write_text(HEADER + "c1,2026-03-20T09:00:00+08:00,王女士,你好\n", encoding="utf-8")
    with Archive(db) as archive:
        assert not import_paths(archive, [source]).errors
    return db


@pytest.fixture
def witness(db: Path) -> Witness:
    w = Witness(load_key(default_key_path(db)).verifier)
    yield w
    w.server.shutdown()


def grow(db: Path, name: str, text: str, folder: Path) -> None:
    source = folder / name
    source.write_text(HEADER + f"c1,2026-03-21T09:00:00+08:00,客服小李,{text}\n", encoding="utf-8")
    with Archive(db) as archive:
        assert not import_paths(archive, [source]).errors


def test_cosignature_format_round_trips() -> None:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    cosigner = Cosigner(NAME, key_id(NAME, public, 0x04), public)
    assert Cosigner.from_key(str(cosigner)) == cosigner
    text = "example.com/log\n5\n" + base64.b64encode(b"\x01" * 32).decode() + "\n"
    line = cosign(private, NAME, text, 1679315147)
    assert cosigner.verify(text, line) == 1679315147
    assert cosigned_message(text, 1679315147).startswith(b"cosignature/v1\ntime 1679315147\nexample.com/log\n")
    with pytest.raises(ValueError):
        cosigner.verify(text.replace("5", "6"), line)


@both_stores
def test_a_witness_cosigns_consistent_growth_and_verify_reports_it(db: Path, witness: Witness, tmp_path: Path) -> None:
    with Archive(db) as archive:
        first = Ledger(archive).cosign(witness.url, witness.vkey)
    assert witness.requests[0].startswith("old 0\n\n")
    grow(db, "two.csv", "收到", tmp_path)
    with Archive(db) as archive:
        second = Ledger(archive).cosign(witness.url, witness.vkey)  # 409 with its size, then a real proof
    assert second["tree_size"] > first["tree_size"] and second["kept"]
    assert witness.requests[-1].startswith(f"old {first['tree_size']}\n") and len(witness.requests) == 3
    report = verify_archive(Archive(db))
    assert report.ok and [c["witness"] for c in report.witness["cosigned_by"]] == [NAME]
    doc = orjson.loads(default_key_path(db).with_suffix(".witness").read_bytes())
    (entry,) = doc["logs"].values()
    assert entry["cosignatures"][0]["witness_key"] == witness.vkey


@both_stores
def test_a_witness_refuses_a_cut_and_rewritten_log(db: Path, witness: Witness, tmp_path: Path) -> None:
    grow(db, "two.csv", "收到", tmp_path)
    with Archive(db) as archive:
        Ledger(archive).cosign(witness.url, witness.vkey)
        size = Ledger(archive).latest_checkpoint().tree_size
    # the attacker (with the archive, its witness file and the key) cuts the last import and signs anew
    with Archive(db) as archive:
        (leaf,) = archive.db.execute("SELECT idx FROM ledger_leaves WHERE kind = 0 AND ref = (SELECT max(id) FROM sources)"
                                     ).fetchone()
    tamper(db, *every_trigger_off(db), "DELETE FROM ledger_leaves WHERE idx >= ?",
           "DELETE FROM ledger_checkpoints WHERE tree_size > ?", params=(leaf,))
    default_key_path(db).with_suffix(".witness").unlink()
    with Archive(db) as archive, pytest.raises(ChatAuditError, match=f"size {size}, larger .* was cut"):
        Ledger(archive).cosign(witness.url, witness.vkey)


def test_refusals_are_one_line(db: Path, witness: Witness) -> None:
    result = CliRunner().invoke(cli_group(), ["--db", str(db), "cosign", "--witness-url", witness.url + "/nowhere",
                                              "--witness-key", witness.vkey])
    assert result.exit_code != 0 and "HTTP 404" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cli_group(), ["--db", str(db), "cosign", "--witness-url", witness.url,
                                              "--witness-key", "not-a-key"])
    assert result.exit_code != 0 and "witness key" in result.output
    ok = CliRunner().invoke(cli_group(), ["--db", str(db), "cosign", "--witness-url", witness.url,
                                          "--witness-key", witness.vkey, "--json"])
    assert ok.exit_code == 0 and orjson.loads(ok.output)["witness"] == NAME
