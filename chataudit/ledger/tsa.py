"""RFC 3161 trusted timestamps: build a request, fetch a response, verify the token.

The ASN.1 is asn1crypto's; signatures and certificates are checked with ``cryptography``. What is
verified: the response status, the message imprint (hash algorithm and value) against the data,
the nonce, the CMS signature over the signed attributes, the signed attributes' content type and
message digest, the ESS signing-certificate attribute naming the signer certificate, the signer's
critical ``timeStamping`` extended key usage, its validity at the stamped time and — when CA
certificates are given — its chain up to one of them. Revocation (CRL/OCSP) is not checked.
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from ..errors import ChatAuditError

HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512, "sha1": hashes.SHA1,
          "sha224": hashes.SHA224}
CONTENT_TYPE_QUERY = "application/timestamp-query"
CONTENT_TYPE_REPLY = "application/timestamp-reply"


class TimeStampResp(core.Sequence):
    """RFC 3161 §2.4.2 TimeStampResp; asn1crypto's own marks the token mandatory, which a refusal lacks."""

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]


class TsaError(ChatAuditError):
    """A time-stamp request failed or a token does not verify."""


@dataclass(frozen=True)
class TimestampInfo:
    gen_time: datetime
    serial_number: int
    policy: str
    hash_algorithm: str
    tsa_name: str | None
    signer: str
    chain_verified: bool

    def as_dict(self) -> dict[str, Any]:
        return {"gen_time": self.gen_time.isoformat(), "serial_number": str(self.serial_number),
                "policy": self.policy, "hash_algorithm": self.hash_algorithm, "tsa_name": self.tsa_name,
                "signer": self.signer, "chain_verified": self.chain_verified}


def _digest(algorithm: str, data: bytes) -> bytes:
    if algorithm not in HASHES:
        raise TsaError(f"unsupported hash algorithm {algorithm}")
    return hashlib.new(algorithm, data).digest()


def build_request(data: bytes, *, algorithm: str = "sha256", nonce: int | None = None,
                  cert_req: bool = True) -> tsp.TimeStampReq:
    """A TimeStampReq over ``data`` (its hash is the message imprint)."""
    return tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": algorithm},
            "hashed_message": _digest(algorithm, data),
        },
        "nonce": secrets.randbits(63) if nonce is None else nonce,
        "cert_req": cert_req,
    })


def request(url: str, data: bytes, *, algorithm: str = "sha256", timeout: float = 30.0) -> tuple[bytes, int]:
    """POST a request to a TSA; returns (DER TimeStampResp, nonce sent)."""
    req = build_request(data, algorithm=algorithm)
    http = urllib.request.Request(url, data=req.dump(), method="POST",
                                  headers={"Content-Type": CONTENT_TYPE_QUERY, "Accept": CONTENT_TYPE_REPLY})
    try:
        with urllib.request.urlopen(http, timeout=timeout) as response:
            body = response.read(1 << 20)
    except urllib.error.HTTPError as error:
        raise TsaError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise TsaError(f"{url}: {getattr(error, 'reason', error)}") from None
    return body, req["nonce"].native


def load_pem_certificates(pem: bytes | str) -> list[x509.Certificate]:
    if isinstance(pem, str):
        pem = pem.encode()
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as error:
        raise TsaError(f"not PEM certificates: {error}") from None


def _signed_attr(signer_info: cms.SignerInfo, name: str) -> Any:
    for attribute in signer_info["signed_attrs"]:
        if attribute["type"].native == name:
            values = attribute["values"]
            if len(values) != 1:
                raise TsaError(f"signed attribute {name} must have one value")
            return values[0]
    return None


def _verify_signature(cert: x509.Certificate, signer_info: cms.SignerInfo, signed: bytes) -> None:
    signature = signer_info["signature"].native
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    algorithm = signer_info["signature_algorithm"]
    kind = algorithm.signature_algo
    key = cert.public_key()
    try:
        if kind == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, signed)
            return
        try:  # "sha256_rsa" names its hash; plain "rsassa_pkcs1v15" (rsaEncryption, as OpenSSL writes) does not
            hash_name = algorithm.hash_algo
        except ValueError:
            hash_name = digest_name
        hash_type = HASHES.get(hash_name)
        if hash_type is None:
            raise TsaError(f"unsupported digest {digest_name}")
        if kind == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), hash_type())
        elif kind == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
            params = algorithm["parameters"]
            mgf_hash = HASHES[params["mask_gen_algorithm"]["parameters"]["algorithm"].native]
            key.verify(signature, signed, padding.PSS(padding.MGF1(mgf_hash()), params["salt_length"].native),
                       HASHES[params["hash_algorithm"]["algorithm"].native]())
        elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed, ec.ECDSA(hash_type()))
        else:
            raise TsaError(f"unsupported signature algorithm {kind} for the signer's key")
    except InvalidSignature:
        raise TsaError("the time-stamp token's signature does not verify") from None


def _matches_sid(cert: x509.Certificate, sid: cms.SignerIdentifier) -> bool:
    if sid.name == "issuer_and_serial_number":
        ias = sid.chosen
        return (cert.serial_number == ias["serial_number"].native
                and cert.issuer.public_bytes() == ias["issuer"].dump())
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return False
    return ski == sid.chosen.native


def _check_signing_certificate(signer_info: cms.SignerInfo, cert: x509.Certificate) -> None:
    der = cert.public_bytes(Encoding.DER)
    v2 = _signed_attr(signer_info, "signing_certificate_v2")
    if v2 is not None:
        first = v2["certs"][0]
        algorithm = first["hash_algorithm"]["algorithm"].native if first["hash_algorithm"].native else "sha256"
        if first["cert_hash"].native != _digest(algorithm, der):
            raise TsaError("the ESS signing-certificate-v2 attribute names another certificate")
        return
    v1 = _signed_attr(signer_info, "signing_certificate")
    if v1 is not None:
        if v1["certs"][0]["cert_hash"].native != hashlib.sha1(der).digest():
            raise TsaError("the ESS signing-certificate attribute names another certificate")
        return
    raise TsaError("the token has no ESS signing-certificate attribute (RFC 3161 §2.4.1)")


def _check_usage(cert: x509.Certificate) -> None:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise TsaError("the TSA certificate has no extended key usage (timeStamping required)") from None
    if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise TsaError("the TSA certificate's extended key usage must be timeStamping only, and critical")


def _valid_at(cert: x509.Certificate, moment: datetime) -> bool:
    return cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc


def _verify_chain(cert: x509.Certificate, pool: Sequence[x509.Certificate],
                  anchors: Sequence[x509.Certificate], moment: datetime) -> None:
    """Walk issuer links from the signer to one of ``anchors``, checking each signature and validity."""
    anchor_der = {a.public_bytes(Encoding.DER) for a in anchors}
    current = cert
    for _ in range(8):
        if current.public_bytes(Encoding.DER) in anchor_der:
            return
        for anchor in anchors:
            if anchor.subject == current.issuer and _issued_by(current, anchor):
                if not _valid_at(anchor, moment):
                    raise TsaError(f"CA certificate {anchor.subject.rfc4514_string()} was not valid at the stamped time")
                return
        issuer = next((c for c in pool if c.subject == current.issuer and c != current and _issued_by(current, c)), None)
        if issuer is None:
            raise TsaError(f"no chain from {cert.subject.rfc4514_string()} to the given CA certificates")
        if not _is_ca(issuer):
            raise TsaError(f"{issuer.subject.rfc4514_string()} is not a CA certificate")
        if not _valid_at(issuer, moment):
            raise TsaError(f"{issuer.subject.rfc4514_string()} was not valid at the stamped time")
        current = issuer
    raise TsaError("certificate chain too long")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def verify_response(response_der: bytes, data: bytes, *, nonce: int | None = None,
                    ca_certificates: Sequence[x509.Certificate] = (),
                    extra_certificates: Sequence[x509.Certificate] = ()) -> TimestampInfo:
    """Verify a DER TimeStampResp over ``data``; raises :class:`TsaError` saying what fails."""
    try:
        response = TimeStampResp.load(response_der)
        status = response["status"]["status"].native
    except (ValueError, TypeError) as error:
        raise TsaError(f"not an RFC 3161 response: {error}") from None
    if status not in ("granted", "granted_with_mods"):
        text = response["status"]["status_string"].native
        raise TsaError(f"the TSA refused: {status}" + (f" ({'; '.join(text)})" if text else ""))
    token = response["time_stamp_token"]
    return verify_token(token, data, nonce=nonce, ca_certificates=ca_certificates,
                        extra_certificates=extra_certificates)


def verify_token(token: cms.ContentInfo, data: bytes, *, nonce: int | None = None,
                 ca_certificates: Sequence[x509.Certificate] = (),
                 extra_certificates: Sequence[x509.Certificate] = ()) -> TimestampInfo:
    try:
        if token["content_type"].native != "signed_data":
            raise TsaError("the time-stamp token is not CMS SignedData")
        signed_data = token["content"]
        encap = signed_data["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise TsaError("the token does not hold a TSTInfo")
        tst_der = encap["content"].contents
        tst_info = tsp.TSTInfo.load(tst_der)
        imprint = tst_info["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        if imprint["hashed_message"].native != _digest(algorithm, data):
            raise TsaError("the token's message imprint is not the hash of this checkpoint")
        if nonce is not None and tst_info["nonce"].native != nonce:
            raise TsaError("the token's nonce is not the one sent")
        gen_time = tst_info["gen_time"].native.astimezone(timezone.utc)
        signer_infos = signed_data["signer_infos"]
        if len(signer_infos) != 1:
            raise TsaError("a time-stamp token has exactly one signer")
        signer_info = signer_infos[0]
        pool = [x509.load_der_x509_certificate(c.chosen.dump()) for c in signed_data["certificates"] or []
                if c.name == "certificate"]
        pool += list(extra_certificates) + list(ca_certificates)
        cert = next((c for c in pool if _matches_sid(c, signer_info["sid"])), None)
        if cert is None:
            raise TsaError("the TSA's certificate is neither in the token nor given")
        if signer_info["signed_attrs"].native is None:
            raise TsaError("the token has no signed attributes")
        content_type = _signed_attr(signer_info, "content_type")
        if content_type is None or content_type.native != "tst_info":
            raise TsaError("the signed content-type attribute is not TSTInfo")
        message_digest = _signed_attr(signer_info, "message_digest")
        digest_name = signer_info["digest_algorithm"]["algorithm"].native
        if message_digest is None or message_digest.native != _digest(digest_name, tst_der):
            raise TsaError("the signed message-digest attribute does not match the TSTInfo")
        _check_signing_certificate(signer_info, cert)
        signed = signer_info["signed_attrs"].dump()
        _verify_signature(cert, signer_info, b"\x31" + signed[1:])  # DER of the attributes as a SET
        _check_usage(cert)
        if not _valid_at(cert, gen_time):
            raise TsaError("the TSA certificate was not valid at the stamped time")
        chained = False
        if ca_certificates:
            _verify_chain(cert, pool, ca_certificates, gen_time)
            chained = True
        tsa_name = tst_info["tsa"].chosen.human_friendly if tst_info["tsa"].native else None
        return TimestampInfo(gen_time, tst_info["serial_number"].native, tst_info["policy"].dotted,
                             algorithm, tsa_name, cert.subject.rfc4514_string(), chained)
    except TsaError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        raise TsaError(f"malformed time-stamp token: {error}") from None


def token_of(response_der: bytes) -> bytes:
    """The DER TimeStampToken (CMS ContentInfo) inside a response, for ``openssl ts -token_in``."""
    return TimeStampResp.load(response_der)["time_stamp_token"].dump()


def stamp_latest(ledger, url: str, ca_pem: str | None = None, *, algorithm: str = "sha256") -> dict[str, Any]:
    """Time-stamp the latest checkpoint: request, verify, store; returns what was stored.

    The message imprint is the hash of the checkpoint's signed note exactly as ``chataudit
    checkpoint`` prints it, so ``openssl ts -verify -data checkpoint.txt -in response.tsr -CAfile …``
    checks the same thing.
    """
    from .log import _transaction, now_utc

    latest = ledger.latest_checkpoint()
    if latest is None:
        raise TsaError("the archive has no checkpoint to time-stamp (run `chataudit init`)")
    anchors = load_pem_certificates(ca_pem) if ca_pem else []
    data = latest.note.encode()
    response, nonce = request(url, data, algorithm=algorithm)
    info = verify_response(response, data, nonce=nonce, ca_certificates=anchors)
    created_at, _ = now_utc()
    with _transaction(ledger.db):
        ledger.ensure_guards()
        ledger.db.execute(
            "INSERT INTO ledger_timestamps (checkpoint, tsa_url, response, gen_time, hash_algorithm, ca_pem, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (latest.id, url, response, info.gen_time.isoformat(), info.hash_algorithm, ca_pem, created_at),
        )
    return info.as_dict() | {"checkpoint": latest.id, "tree_size": latest.tree_size, "tsa": url}


__all__ = ["TsaError", "TimestampInfo", "build_request", "request", "verify_response", "verify_token",
           "load_pem_certificates", "token_of", "stamp_latest"]
