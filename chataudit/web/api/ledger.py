"""The ledger: verify the archive, its latest signed checkpoint, and a message's inclusion proof."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ... import queries
from ..accounts import User
from ..governed import governed
from ..security import require

router = APIRouter(tags=["ledger"])


@router.get("/verify", summary="`chataudit verify --json`",
            description="Always 200: the body's `ok` says whether the archive is intact (the CLI exits 1 when not).")
def verify(request: Request, index_check: bool = True, user: User = Depends(require("verify"))) -> Response:
    from ...ledger.verify import verify_archive

    params = {"key_path": None, "pubkey": None, "witness_path": None, "no_index_check": not index_check,
              "as_json": True}
    with governed(request, user, "verify", params) as call:
        report = verify_archive(call.archive, check_index=index_check)
        return call.json(report.as_dict())


@router.get("/checkpoint", summary="`chataudit checkpoint --json`")
def checkpoint(request: Request, user: User = Depends(require("list"))) -> Response:
    with governed(request, user, "checkpoint", {"as_json": True}) as call:
        return call.json(queries.checkpoint(call.archive))


@router.get("/messages/{message_id}/proof", summary="`chataudit proof MESSAGE_ID --json`",
            description="For a role that sees de-identified data only, `leaf` and every disclosure are null "
                        "(they hold the message's text and names); `leaf_hash` and the audit path still prove inclusion.")
def proof(request: Request, message_id: int, user: User = Depends(require("read"))) -> Response:
    from ...ledger.log import Ledger

    with governed(request, user, "proof", {"message_id": message_id, "as_json": True}) as call:
        (result,) = Ledger(call.archive).proofs([message_id])
        doc = result.as_dict()
        if call.redact_policy(None):
            doc = withhold_plain_text(doc)
        return call.json(doc, records=1)


def withhold_plain_text(proof: dict) -> dict:
    """A proof without what de-identified data may not carry: the leaf and its disclosures."""
    disclosures = proof.get("disclosures") or {}
    return {**proof, "leaf": None, "disclosures": {key: None for key in disclosures}}
