"""People: identities across platforms, linking them into persons, and one person's timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from starlette.responses import Response

from ... import people as people_api, queries
from ..accounts import User
from ..governed import governed
from ..security import require
from .archive import Redact, Since, Tz, Until

router = APIRouter(tags=["people"])


@router.get("/people", summary="`chataudit people --json`")
def people(request: Request, redact: Redact = False, user: User = Depends(require("list"))) -> Response:
    policy = "default" if redact else None
    with governed(request, user, "people", {"as_json": True}) as call:
        listing = queries.people(call.archive)
        return call.json(queries.redact_report(listing, call.redact_policy(policy)),
                         records=len(listing["identities"]))


@router.get("/messages", summary="`chataudit messages --person P --json`: one timeline across platforms",
            description="Oldest first: what the person said, and both sides of their one-to-one conversations.")
def person_messages(request: Request, person: str, since: Since = None, until: Until = None, tz: Tz = None,
                    redact: Redact = False, user: User = Depends(require("read"))) -> Response:
    policy = "default" if redact else None
    params = {"conversation_ref": None, "person_ref": person, "since": since, "until": until, "tz": tz,
              "redact_policy": policy, "as_json": True}
    with governed(request, user, "messages", params) as call:
        rows = list(queries.person_messages(call.archive, person, since=since, until=until, tz=tz,
                                            redact_policy=call.redact_policy(policy)))
        return call.json(rows, records=len(rows))


Identities = Annotated[list[str], Body(embed=True, min_length=1, description="platform:sender, as `people` lists them.")]


@router.post("/people/link", summary="`chataudit people link IDENTITY… [--name NAME]`",
             description="Answers the person as `people --json` lists it.")
def link(request: Request, identities: Identities, name: Annotated[str | None, Body(embed=True)] = None,
         user: User = Depends(require("people"))) -> Response:
    with governed(request, user, "people link", {"identities": tuple(identities), "name": name}) as call:
        person = people_api.link(call.archive, list(identities), name)
        return call.json(next(p for p in people_api.people(call.archive) if p["id"] == person))


@router.post("/people/unlink", summary="`chataudit people unlink IDENTITY…`")
def unlink(request: Request, identities: Identities, user: User = Depends(require("people"))) -> Response:
    with governed(request, user, "people unlink", {"identities": tuple(identities)}) as call:
        people_api.unlink(call.archive, list(identities))
        return call.json({"unlinked": list(identities)})
