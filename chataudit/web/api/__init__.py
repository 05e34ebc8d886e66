"""The REST API, ``/api/v1``: one module per capability, each an ``APIRouter`` listed in
:data:`ROUTERS` (add yours there). Every endpoint returns what the CLI's ``--json`` prints for the
same request, built by the same function (mostly :mod:`chataudit.queries`)."""

from __future__ import annotations

from fastapi import APIRouter

from . import archive, evidence, governance, jobs, ledger, quality
from . import check, compare, facts, people, pii, reviews, supervision, supervision_policies

PREFIX = "/api/v1"
ROUTERS: list[APIRouter] = [archive.router, ledger.router, jobs.router, governance.router, evidence.router]
ROUTERS += [quality.router, compare.router, check.router, facts.router, people.router, pii.router]
ROUTERS += [reviews.router, supervision.router, supervision_policies.router]


def router() -> APIRouter:
    api = APIRouter(prefix=PREFIX)
    for each in ROUTERS:
        api.include_router(each)
    return api
