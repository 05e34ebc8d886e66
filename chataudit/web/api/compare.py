"""Compare two or more copies (`chataudit compare --json`), from the archive or uploaded files.

A copy named in the request is a source label or a conversation (``LABEL@CONVERSATION`` too) —
never a path on the server: an export file is uploaded, read into a temporary archive as the CLI
reads a file, and imported only with ``keep``. "Different" is a finding, not an error: 200 with
``different: true`` where the CLI exits 1.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Iterator

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from starlette.responses import Response

from ... import compare as compare_api
from ...errors import ChatAuditError
from ...store import Archive
from .. import roles
from ..accounts import User
from ..governed import Call, governed
from ..security import require
from ..uploads import save_uploads

router = APIRouter(tags=["compare"])

Copies = Annotated[list[str], Query(alias="copy", description="A copy: source label, conversation, or LABEL@CONVERSATION "
                                                              "(repeat: two or more in all).")]


def archive_ref(archive: Archive, ref: str) -> str:
    """``ref`` when it names a copy in the archive; a path on the server is refused (upload the file)."""
    heads = [ref] + [ref[:at] for at, char in enumerate(ref) if char == "@"]
    for head in heads:
        if head and archive.db.execute("SELECT 1 FROM sources WHERE label = ? LIMIT 1", (head,)).fetchone():
            return ref
    for head in heads:
        if head.strip() and Path(head).exists():
            raise ChatAuditError(f"no copy {ref!r}: not a source label or a conversation in the archive "
                                 "(upload an export file to compare it)")
    return ref


@contextmanager
def uploaded(request: Request, files: list[UploadFile], prefix: str = "compare-") -> Iterator[tuple[Path | None, list[str]]]:
    """The uploaded files saved in a folder of their own (removed afterwards): (folder, paths)."""
    files = [f for f in files if f.filename]
    if not files:
        yield None, []
        return
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=request.app.state.config.uploads))
    try:
        paths = save_uploads(files, folder, request.app.state.config.max_upload_bytes)
        yield folder, [str(p) for p in paths]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_compare(call: Call, refs: list[str], files: list[str], base: Path | None, *, tolerance: float,
                tz: str | None, keep: bool, policy: str | None) -> compare_api.Comparison:
    """The comparison the CLI's ``compare`` makes of the same copies (named ones first, then the uploads)."""
    named = [archive_ref(call.archive, ref) for ref in refs]
    if len(named) + len(files) < 2:
        raise ChatAuditError("give at least two copies to compare")
    return compare_api.compare_request(call.archive, named + files, tolerance_s=tolerance, tz=tz,
                                       redact_policy=call.redact_policy(policy), keep=keep, base=base)


def params_of(refs: list[str], tolerance: float, tz: str | None, policy: str | None, keep: bool) -> dict[str, Any]:
    """The click command's parameters (the scope check reads ``copies``; uploads are the operator's own files)."""
    return {"copies": tuple(refs), "tolerance": tolerance, "tz": tz, "html_path": None, "context": 3,
            "redact_policy": policy, "keep": keep, "as_json": True}


def answer(call: Call, comparison: compare_api.Comparison) -> Response:
    report = comparison.report
    messages = sum(copy["messages"] for copy in report.get("copies", []) if isinstance(copy, dict))
    return call.json(report, records=messages,
                     headers={"X-Chataudit-Different": "true" if compare_api.is_different(report) else "false"})


@router.get("/compare", summary="`chataudit compare COPY COPY… --json` (copies in the archive)",
            description="Always 200 with the report: `verdict` says whether they differ (the CLI exits 1 when they do; "
                        "here the `X-Chataudit-Different` header says so).")
def compare(request: Request, copies: Copies, tolerance: float = compare_api.DEFAULT_TOLERANCE_S,
            tz: str | None = None, redact: bool = False, user: User = Depends(require("read"))) -> Response:
    policy = "default" if redact else None
    with governed(request, user, "compare", params_of(copies, tolerance, tz, policy, False)) as call:
        return answer(call, run_compare(call, copies, [], None, tolerance=tolerance, tz=tz, keep=False, policy=policy))


@router.post("/compare", summary="`chataudit compare … --json` with uploaded export files",
             description="Multipart: `copy` (archive copies, repeatable) and `files` (export files, read for this "
                         "comparison only; with `keep` imported, each a source labelled with its file name).")
def compare_upload(request: Request, copies: Annotated[list[str], Form(alias="copy")] = [],  # noqa: B006
                   files: Annotated[list[UploadFile], File()] = [],  # noqa: B006
                   tolerance: Annotated[float, Form()] = compare_api.DEFAULT_TOLERANCE_S,
                   tz: Annotated[str | None, Form()] = None, keep: Annotated[bool, Form()] = False,
                   redact: Annotated[bool, Form()] = False, user: User = Depends(require("read"))) -> Response:
    if keep and not roles.allowed(user.role, "import"):
        raise HTTPException(403, f"the role {user.role!r} may not import (keep): compare without keeping the files")
    policy = "default" if redact else None
    with uploaded(request, files) as (base, paths):
        with governed(request, user, "compare", params_of(copies + paths, tolerance, tz or None, policy, keep)) as call:
            return answer(call, run_compare(call, copies, paths, base, tolerance=tolerance, tz=tz or None, keep=keep,
                                            policy=policy))
