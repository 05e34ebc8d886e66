"""What each role may do — the one place the web app decides it (pages and API ask :func:`allowed`).

Enterprise mode's written-authorization check and the audit trail apply on top, through
:mod:`chataudit.governance.access`, exactly as on the command line.
"""

from __future__ import annotations

ROLES = ("admin", "lead", "reviewer", "agent", "auditor")

# Permissions: list (conversations, sources), read (message text, timelines, search), verify (the
# ledger, evidence packages), import (uploads), jobs (start and watch background jobs), audit (read the
# audit trail and the governance records: roster, authorizations and their scans, holds, retention
# rules and dry runs), users (manage accounts), people (link and unlink identities into persons),
# quality (the quality report and dashboard; a reviewer's de-identified), evidence (build evidence
# packages), govern (change governance records: roster, authorizations, holds, retention rules, and
# a real retention run), alerts (work the supervision queue: see the alerts assigned to you and
# close them), policies (set supervision policies, run supervision and sampling, assign alerts, read
# the supervision reports), review (score a session: a peer's, or one's own as self-scoring; contest
# a review of one's own work), review_manage (assign review work, calibration, settle disputes).
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"list", "read", "verify", "import", "jobs", "audit", "users", "people", "quality",
                        "evidence", "govern", "alerts", "policies", "review", "review_manage"}),
    "lead": frozenset({"list", "read", "verify", "import", "jobs", "people", "quality", "evidence", "alerts",
                       "policies", "review", "review_manage"}),
    "agent": frozenset({"list", "read", "review"}),
    "reviewer": frozenset({"list", "read", "jobs", "quality", "alerts", "review"}),
    "auditor": frozenset({"list", "verify", "audit"}),
}

# Roles that only ever receive de-identified data: the server applies the redactor before anything
# leaves, whatever the request asks.
REDACTED_ONLY = frozenset({"reviewer"})

DESCRIPTIONS = {
    "admin": "everything, and manages users",
    "lead": "reads, searches, verifies, imports and links people (a customer-service team lead)",
    "agent": "reads and searches",
    "reviewer": "reads and searches de-identified data only (the server redacts before sending)",
    "auditor": "lists, verifies the ledger and reads the audit trail; no message text",
}


def allowed(role: str, permission: str) -> bool:
    return permission in PERMISSIONS.get(role, frozenset())


def redact_policy(role: str, requested: str | None) -> str | None:
    """The --redact policy a request runs with: what it asked for, and never less than its role demands."""
    if role in REDACTED_ONLY:
        return requested or "default"
    return requested
