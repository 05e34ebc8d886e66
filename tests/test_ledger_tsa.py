"""RFC 3161 timestamps against a real responder on loopback (http.server, a test CA made here).

The responder parses the client's DER TimeStampReq and answers with a TimeStampResp it signs
itself (asn1crypto for the ASN.1, ``cryptography`` for keys, certificates and signatures), so the
client code under test runs unchanged: HTTP, DER, CMS and X.509 all real.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import subprocess
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import pytest
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as ax509
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from chataudit.importer import import_paths
from chataudit.ledger import Ledger
from chataudit.ledger.commands import COMMANDS
from chataudit.ledger.tsa import TsaError, build_request, load_pem_certificates, token_of, verify_response
from chataudit.ledger.verify import verify_archive
from chataudit.store import Archive, db_location
from conftest import both_stores
from store_tamper import tamper

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
NOW = datetime.now(timezone.utc)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "chataudit test")])


def make_ca(common: str = "Test Root CA"):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(common)).issuer_name(_name(common))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_tsa_cert(ca_key, ca_cert, *, rsa_key: bool = False, eku=ExtendedKeyUsageOID.TIME_STAMPING):
    key = rsa.generate_private_key(65537, 2048) if rsa_key else ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(_name("Test TSA")).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([eku]), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return key, builder.sign(ca_key, hashes.SHA256())


def sign_response(request: tsp.TimeStampReq, key, cert: x509.Certificate, *, serial: int = 1,
                  nonce_override: int | None = None, imprint_override: bytes | None = None,
                  status: str = "granted") -> bytes:
    """A TimeStampResp as a TSA makes it: TSTInfo in CMS SignedData, signed attributes, ESS certid v2."""
    if status != "granted":  # asn1crypto's TimeStampResp insists on a token, so wrap the status by hand
        body = tsp.PKIStatusInfo({"status": status, "status_string": ["policy not supported"]}).dump()
        return b"\x30" + bytes([len(body)]) + body
    imprint = request["message_imprint"]
    if imprint_override is not None:
        imprint = tsp.MessageImprint({"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": imprint_override})
    tst_info = tsp.TSTInfo({
        "version": "v1",
        "policy": "1.3.6.1.4.1.99999.1",
        "message_imprint": imprint,
        "serial_number": serial,
        "gen_time": datetime.now(timezone.utc).replace(microsecond=0),
        "accuracy": {"seconds": 1},
        "ordering": False,
        "nonce": request["nonce"].native if nonce_override is None else nonce_override,
    })
    tst_der = tst_info.dump()
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    asn1_cert = ax509.Certificate.load(cert_der)
    attrs = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": core.UTCTime(datetime.now(timezone.utc))})]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]}),
        cms.CMSAttribute({"type": "signing_certificate_v2", "values": [{
            "certs": [{"hash_algorithm": {"algorithm": "sha256"}, "cert_hash": hashlib.sha256(cert_der).digest()}]}]}),
    ])
    to_sign = attrs.dump()  # DER SET OF, as the signature covers it
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
        algorithm = "rsassa_pkcs1v15"  # rsaEncryption, the hash named by digest_algorithm: what OpenSSL writes
    else:
        signature = key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
        algorithm = "sha256_ecdsa"
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
            "issuer": asn1_cert.issuer, "serial_number": asn1_cert.serial_number}}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "signed_attrs": attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": algorithm}),
        "signature": signature,
    })
    signed_data = cms.SignedData({
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(tst_der)},
        "certificates": [asn1_cert] if request["cert_req"].native else [],
        "signer_infos": [signer_info],
    })
    token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


class Responder:
    """An RFC 3161 TSA over HTTP on 127.0.0.1, in a thread; ``mode`` makes it misbehave on purpose."""

    def __init__(self, key, cert, external=None):
        self.key, self.cert, self.mode, self.serial, self.requests = key, cert, "ok", 0, 0
        self.external = external  # another TSA implementation: DER request in, DER response out
        responder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                responder.requests += 1
                if self.headers["Content-Type"] != "application/timestamp-query":
                    self.send_error(415)
                    return
                request = tsp.TimeStampReq.load(body)
                responder.serial += 1
                mode = responder.mode
                answer = responder.external(body) if responder.external else sign_response(
                    request, responder.key, responder.cert, serial=responder.serial,
                    nonce_override=12345 if mode == "wrong-nonce" else None,
                    imprint_override=b"\x00" * 32 if mode == "wrong-imprint" else None,
                    status="rejection" if mode == "reject" else "granted")
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsr"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def pki():
    ca_key, ca_cert = make_ca()
    tsa_key, tsa_cert = make_tsa_cert(ca_key, ca_cert)
    return ca_key, ca_cert, tsa_key, tsa_cert


@pytest.fixture
def tsa(pki):
    responder = Responder(pki[2], pki[3])
    yield responder
    responder.close()


@pytest.fixture
def ca_pem(pki, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(pki[1].public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture
def archive_path(new_archive) -> Path:
    db = new_archive("a.db")  # a file; a PostgreSQL database for the tests marked both_stores
    with Archive(db) as archive:
        assert not import_paths(archive, [SAMPLES / "service_chat.csv"], tz="Asia/Shanghai").errors
    return db


def run(db: Path, *args: str):
    @click.group()
    @click.option("--db")
    @click.pass_context
    def group(ctx: click.Context, db: str) -> None:
        ctx.obj = {"db": db_location(db)}  # a file path, or a postgresql:// URL as given

    for command in COMMANDS:
        group.add_command(command)
    return CliRunner().invoke(group, ["--db", str(db), *args], catch_exceptions=False)


def test_timestamp_command_stores_a_verified_token(archive_path: Path, tsa: Responder, ca_pem: Path) -> None:
    result = run(archive_path, "timestamp", "--tsa", tsa.url, "--cert", str(ca_pem), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["chain_verified"] and doc["tsa"] == tsa.url and tsa.requests == 1
    assert "Test TSA" in doc["signer"]
    with Archive(archive_path) as archive:
        note = Ledger(archive).latest_checkpoint().note
        (response,) = archive.db.execute("SELECT response FROM ledger_timestamps").fetchone()
        report = verify_archive(archive)
    info = verify_response(response, note.encode(), ca_certificates=load_pem_certificates(ca_pem.read_bytes()))
    assert abs((info.gen_time - datetime.now(timezone.utc)).total_seconds()) < 60
    assert report.ok and report.timestamps == 1
    assert [n["kind"] for n in report.notices] == ["timestamped"]
    listed = json.loads(run(archive_path, "checkpoint", "--json").output)
    assert listed["timestamps"][0]["tsa"] == tsa.url


def test_rsa_tsa_and_no_chain_given(archive_path: Path, pki) -> None:
    ca_key, ca_cert = pki[0], pki[1]
    key, cert = make_tsa_cert(ca_key, ca_cert, rsa_key=True)
    responder = Responder(key, cert)
    try:
        result = run(archive_path, "timestamp", "--tsa", responder.url)
        assert result.exit_code == 0, result.output
        assert "chain not checked" in result.output
    finally:
        responder.close()


@pytest.mark.parametrize("mode,message", [
    ("wrong-imprint", "message imprint"),
    ("wrong-nonce", "nonce"),
    ("reject", "refused"),
])
def test_bad_responses_are_refused_and_nothing_is_stored(archive_path: Path, tsa: Responder, mode: str,
                                                          message: str) -> None:
    tsa.mode = mode
    result = run(archive_path, "timestamp", "--tsa", tsa.url)
    assert result.exit_code == 1 and message in result.output
    with Archive(archive_path) as archive:
        assert archive.db.execute("SELECT count(*) FROM ledger_timestamps").fetchone()[0] == 0


def test_untrusted_chain_and_wrong_key_usage_are_refused(archive_path: Path, pki, tmp_path: Path) -> None:
    other_key, other_ca = make_ca("Another CA")
    other_pem = tmp_path / "other.pem"
    other_pem.write_bytes(other_ca.public_bytes(serialization.Encoding.PEM))
    responder = Responder(pki[2], pki[3])
    try:
        result = run(archive_path, "timestamp", "--tsa", responder.url, "--cert", str(other_pem))
        assert result.exit_code == 1 and "no chain" in result.output
    finally:
        responder.close()
    key, cert = make_tsa_cert(pki[0], pki[1], eku=ExtendedKeyUsageOID.CODE_SIGNING)
    responder = Responder(key, cert)
    try:
        result = run(archive_path, "timestamp", "--tsa", responder.url)
        assert result.exit_code == 1 and "timeStamping" in result.output
    finally:
        responder.close()


def test_unreachable_tsa_is_one_line(archive_path: Path) -> None:
    result = run(archive_path, "timestamp", "--tsa", "http://127.0.0.1:9/tsr")
    assert result.exit_code == 1 and result.output.startswith("Error: http://127.0.0.1:9/tsr:")


def test_token_signature_and_data_are_bound(pki) -> None:
    request = build_request(b"checkpoint text\n")
    response = sign_response(request, pki[2], pki[3])
    verify_response(response, b"checkpoint text\n", nonce=request["nonce"].native)
    with pytest.raises(TsaError, match="imprint"):
        verify_response(response, b"another checkpoint\n")
    # flip one byte inside the signed TSTInfo (its serial number): the message digest no longer matches
    parsed = tsp.TimeStampResp.load(response)
    tst_der = parsed["time_stamp_token"]["content"]["encap_content_info"]["content"].contents
    broken = response.replace(tst_der, tst_der.replace(b"\x02\x01\x01", b"\x02\x01\x02", 1))
    assert broken != response
    with pytest.raises(TsaError):
        verify_response(broken, b"checkpoint text\n")
    # and a signature made by another key over the same attributes
    other_key, _ = make_ca("x")
    forged = sign_response(request, other_key, pki[3])
    with pytest.raises(TsaError, match="signature"):
        verify_response(forged, b"checkpoint text\n")


@both_stores
def test_tampered_stored_token_and_rewritten_time_fail_verify(archive_path: Path, tsa: Responder, ca_pem: Path) -> None:
    assert run(archive_path, "timestamp", "--tsa", tsa.url, "--cert", str(ca_pem)).exit_code == 0
    # claim the checkpoint was signed an hour later than the TSA saw it
    tamper(archive_path, "DROP TRIGGER IF EXISTS ledger_checkpoints_no_update",
           "UPDATE ledger_checkpoints SET signed_at_ms = signed_at_ms + 3600000")
    with Archive(archive_path) as archive:
        report = verify_archive(archive)
    assert "checkpoint_time" in [p["kind"] for p in report.problems]
    with Archive(archive_path) as archive:
        (response,) = archive.db.execute("SELECT response FROM ledger_timestamps").fetchone()
    tamper(archive_path, "DROP TRIGGER IF EXISTS ledger_timestamps_no_update", "UPDATE ledger_timestamps SET response = ?",
           params=(bytes(response[:-3]) + b"\x00\x00\x00",))
    with Archive(archive_path) as archive:
        report = verify_archive(archive)
    assert "timestamp" in [p["kind"] for p in report.problems] and not report.ok


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_openssl_accepts_the_stored_token(archive_path: Path, tsa: Responder, ca_pem: Path, tmp_path: Path) -> None:
    """Interoperability: OpenSSL's own RFC 3161 verifier agrees about what we stored and what it covers."""
    assert run(archive_path, "timestamp", "--tsa", tsa.url, "--cert", str(ca_pem)).exit_code == 0
    with Archive(archive_path) as archive:
        note = Ledger(archive).latest_checkpoint().note
        (response,) = archive.db.execute("SELECT response FROM ledger_timestamps").fetchone()
    (tmp_path / "checkpoint.txt").write_text(note, encoding="utf-8", newline="")
    (tmp_path / "response.tsr").write_bytes(response)
    (tmp_path / "token.der").write_bytes(token_of(response))
    (tmp_path / "tsa.pem").write_bytes(tsa.cert.public_bytes(serialization.Encoding.PEM))
    for args in (["-in", "response.tsr"], ["-in", "token.der", "-token_in"]):
        done = subprocess.run(["openssl", "ts", "-verify", "-data", "checkpoint.txt", *args, "-CAfile", str(ca_pem),
                               "-untrusted", "tsa.pem"], cwd=tmp_path, capture_output=True, text=True)
        assert "Verification: OK" in done.stdout, done.stdout + done.stderr


OPENSSL_TSA_CONFIG = """
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
serial = {folder}/tsaserial
crypto_device = builtin
signer_cert = {folder}/tsa.pem
signer_key = {folder}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
@pytest.mark.parametrize("rsa_key", [True, False])
def test_openssl_as_the_tsa(archive_path: Path, pki, tmp_path: Path, ca_pem: Path, rsa_key: bool) -> None:
    """Interoperability the other way: OpenSSL's own TSA (`openssl ts -reply`) answers over HTTP."""
    key, cert = make_tsa_cert(pki[0], pki[1], rsa_key=rsa_key)
    (tmp_path / "tsa.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tsa.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    (tmp_path / "ts.cnf").write_text(OPENSSL_TSA_CONFIG.format(folder=tmp_path))

    def openssl_reply(request_der: bytes) -> bytes:
        (tmp_path / "req.tsq").write_bytes(request_der)
        done = subprocess.run(["openssl", "ts", "-reply", "-config", str(tmp_path / "ts.cnf"), "-queryfile",
                               str(tmp_path / "req.tsq"), "-out", str(tmp_path / "resp.tsr")], capture_output=True)
        assert done.returncode == 0, done.stderr
        return (tmp_path / "resp.tsr").read_bytes()

    responder = Responder(key, cert, external=openssl_reply)
    try:
        result = run(archive_path, "timestamp", "--tsa", responder.url, "--cert", str(ca_pem), "--json")
    finally:
        responder.close()
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["chain_verified"]
    with Archive(archive_path) as archive:
        assert verify_archive(archive).ok


def test_verify_names_the_time_stamped_checkpoints(archive_path: Path, tsa: Responder, ca_pem: Path) -> None:
    with Archive(archive_path) as archive:
        assert verify_archive(archive).timestamped == []
    assert run(archive_path, "timestamp", "--tsa", tsa.url, "--cert", str(ca_pem)).exit_code == 0
    with Archive(archive_path) as archive:
        latest = Ledger(archive).latest_checkpoint()
        report = verify_archive(archive)
    assert report.timestamped == [latest.id] and report.as_dict()["timestamped"] == [latest.id]
    assert f"timestamped checkpoints: {latest.id}" in run(archive_path, "verify").output
