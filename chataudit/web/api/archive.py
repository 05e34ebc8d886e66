"""Conversations, messages, sources and search: the archive's listings, as `chataudit … --json`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from ... import queries
from ..accounts import User
from ..governed import governed
from ..security import require

router = APIRouter(tags=["archive"])

Since = Annotated[str | None, Query(description="From this date/time (ISO; naive times in tz).")]
Until = Annotated[str | None, Query(description="Up to this date/time (a bare date includes that whole day).")]
Tz = Annotated[str | None, Query(description="Zone for naive since/until (default: the archive's).")]
Redact = Annotated[bool, Query(description="De-identify personal data (the built-in policy); always on for a reviewer.")]


@router.get("/conversations", summary="`chataudit conversations --json`")
def conversations(request: Request, user: User = Depends(require("list"))) -> Response:
    with governed(request, user, "conversations", {"as_json": True}) as call:
        rows = queries.conversations(call.archive)
        return call.json(rows, records=len(rows))


@router.get("/sources", summary="`chataudit sources --json`")
def sources(request: Request, user: User = Depends(require("list"))) -> Response:
    with governed(request, user, "sources", {"as_json": True}) as call:
        rows = queries.sources(call.archive)
        return call.json(rows, records=len(rows))


@router.get("/conversations/{conversation}/messages",
            summary="`chataudit messages --conversation C --json`, a page at a time",
            description="Oldest first. The body is the CLI's list of messages; when more follow, the "
                        "`Link: <…>; rel=\"next\"` header (and `X-Next-Cursor`) gives the next page.")
def messages(request: Request, conversation: str, since: Since = None, until: Until = None, tz: Tz = None,
             redact: Redact = False,
             cursor: Annotated[int | None, Query(description="The X-Next-Cursor of the previous page.")] = None,
             limit: Annotated[int, Query(ge=1, le=5000)] = 500,
             user: User = Depends(require("read"))) -> Response:
    policy = "default" if redact else None
    params = {"conversation_ref": conversation, "person_ref": None, "since": since, "until": until, "tz": tz}
    with governed(request, user, "messages", {**params, "redact_policy": policy, "as_json": True}) as call:
        policy = call.redact_policy(policy)
        archive = call.archive
        conversation_id = archive.resolve_conversation(conversation)["id"]
        since_ms, until_ms = queries.time_window(archive, since, until, tz)
        rows = list(queries.timeline(archive, conversation_id, since_ms, until_ms, after=cursor, limit=limit + 1))
        headers = {}
        if len(rows) > limit:
            rows = rows[:limit]
            following = {k: v for k, v in {"since": since, "until": until, "tz": tz, "redact": "true" if redact else None,
                                           "limit": limit, "cursor": rows[-1]["id"]}.items() if v is not None}
            headers = {"Link": f'<{request.url.path}?{urlencode(following)}>; rel="next"',
                       "X-Next-Cursor": str(rows[-1]["id"])}
        transform = queries.redactor_for(policy, archive, conversation_id)
        if transform:
            rows = [transform(row) for row in rows]
        return call.json(rows, records=len(rows), headers=headers)


@router.get("/search", summary="`chataudit search QUERY --json`",
            description='Same query syntax as the CLI: Chinese of any length, "phrases", -exclusions, OR, prefix*.')
def search(request: Request, q: Annotated[str, Query(min_length=1, description="The query.")],
           platform: str | None = None, sender: str | None = None, conversation: str | None = None,
           since: Since = None, until: Until = None, tz: Tz = None,
           limit: Annotated[int, Query(ge=1, le=100000)] = 50, redact: Redact = False,
           user: User = Depends(require("read"))) -> Response:
    policy = "default" if redact else None
    params = {"query": q, "platform": platform, "sender": sender, "conversation_ref": conversation, "since": since,
              "until": until, "tz": tz, "limit": limit, "redact_policy": policy, "as_json": True}
    with governed(request, user, "search", params) as call:
        rows = queries.search(call.archive, q, platform=platform, sender=sender, conversation_ref=conversation,
                              since=since, until=until, tz=tz, limit=limit, redact_policy=call.redact_policy(policy))
        return call.json(rows, records=len(rows))


@router.get("/users", summary="`chataudit user list --json` (admins only)")
def users(request: Request, user: User = Depends(require("users"))) -> Response:
    from ..accounts import list_users

    with governed(request, user, "user list", {"as_json": True}) as call:
        rows = list_users(call.archive)
        return call.json(rows, records=len(rows))
