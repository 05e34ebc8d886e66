"""The archive's mode: ``personal`` (one's own chats; no authorization needed) or ``enterprise``
(employees' messages are read only under a written authorization, and every read is audited).

The mode is the archive setting ``governance.mode``; each change is also an audit entry, and the
entry is what counts: a setting that disagrees with the last recorded change was edited behind the
tool's back, and reads are refused until it is set again (`verify` reports it too).

Changing it takes authority: the operator who first switched the archive to enterprise mode is its
admin, and only the admin may switch it back to personal mode, with a reason; a refused attempt is
recorded. Once an archive has been in enterprise mode, every read is audited in personal mode too,
so switching the mode off and on again leaves the reads in between on the record.
"""

from __future__ import annotations

from typing import Any

from ..errors import ChatAuditError
from ..store import Archive
from . import audit

MODE_SETTING = "governance.mode"
PERSONAL, ENTERPRISE = "personal", "enterprise"
MODES = (PERSONAL, ENTERPRISE)
MODE_COMMAND = "init"  # the command that sets the mode (`chataudit init --mode …`)


def recorded_mode(archive: Archive) -> str:
    """The setting as stored (personal when never set)."""
    return archive.setting(MODE_SETTING) or PERSONAL


def first_enterprise(archive: Archive) -> tuple[int, str] | None:
    """(audit entry, operator) of the first switch to enterprise mode, or None if there never was one.

    That operator is the archive's admin: the only one who may switch it out of enterprise mode."""
    row = archive.db.execute(
        "SELECT id, operator FROM governance_audit WHERE command = ? AND outcome = 'ok' AND json_valid(facts)"
        " AND json_extract(facts, '$.mode') = ? ORDER BY id LIMIT 1", (MODE_COMMAND, ENTERPRISE)).fetchone()
    return (row[0], row[1]) if row else None


def admin(archive: Archive) -> str | None:
    first = first_enterprise(archive)
    return first[1] if first else None


def ever_enterprise(archive: Archive) -> bool:
    """Whether the archive is or ever was in enterprise mode: then every read is audited, in either mode."""
    return recorded_mode(archive) == ENTERPRISE or first_enterprise(archive) is not None


def disagreement(archive: Archive) -> str | None:
    """Why the mode setting cannot be trusted (it disagrees with the last audited change), or None."""
    mode = recorded_mode(archive)
    last = audit.latest_facts(archive, MODE_COMMAND, "mode")
    audited = last[1]["mode"] if last else PERSONAL
    if audited == mode:
        return None
    where = f"audit entry {last[0]}" if last else "the audit trail, which records no change"
    return (f"the archive's mode setting says {mode}, but {where} says {audited}: the setting was changed "
            "behind the tool's back (run `chataudit verify`; set the mode again with `chataudit init --mode`)")


def current_mode(archive: Archive) -> str:
    """The mode, refused when the setting disagrees with the last audited change."""
    problem = disagreement(archive)
    if problem:
        raise ChatAuditError(problem)
    return recorded_mode(archive)


def set_mode(archive: Archive, mode: str, *, operator: str, reason: str | None = None,
             params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Set the mode and record the change (one transaction); returns {mode, previous, admin, audit_entry}.

    Anyone may switch an archive to enterprise mode (the first to do so becomes its admin); only the
    admin may switch it to personal mode, with a reason. A refused change is recorded too."""
    from . import NotAuthorizedError

    if mode not in MODES:
        raise ChatAuditError(f"mode must be {' or '.join(MODES)}, not {mode!r}")
    previous = recorded_mode(archive)
    first = first_enterprise(archive)
    params = params or {"mode": mode}
    problem = None
    if first is not None and mode != ENTERPRISE:
        if operator != first[1]:
            problem = (f"only the archive's admin, {first[1]} (who first switched it to enterprise mode, audit entry "
                       f"{first[0]}), may switch it to {mode} mode; {operator} may not")
        elif not (reason or "").strip():
            problem = (f"switching an archive that has been in enterprise mode to {mode} mode needs a --reason "
                       "(it is recorded)")
    if problem:
        audit.record(archive, operator=operator, command=MODE_COMMAND, params=params, outcome="refused", exit_code=1,
                     facts={"requested_mode": mode, "previous": previous}, detail=problem)
        raise NotAuthorizedError(problem)
    facts: dict[str, Any] = {"mode": mode, "previous": previous}
    if reason:
        facts["reason"] = reason
    with audit.transaction(archive.db):
        archive.set_setting(MODE_SETTING, mode)
        entry = audit.record(archive, operator=operator, command=MODE_COMMAND, params=params, facts=facts)
    return {"mode": mode, "previous": previous, "admin": admin(archive), "audit_entry": entry}


def status(archive: Archive) -> dict[str, Any]:
    """What `chataudit mode` shows: the mode and the governance records in force."""
    from . import clock

    db = archive.db
    now_ms = clock.now_ms()
    one = lambda sql, *p: db.execute(sql, p).fetchone()[0]  # noqa: E731
    return {
        "mode": recorded_mode(archive),
        "admin": admin(archive),
        "reads_audited": ever_enterprise(archive),
        "roster": one("SELECT count(*) FROM governance_roster"),
        "authorizations_active": one("SELECT count(*) FROM governance_authorizations"
                                     " WHERE revoked_at IS NULL AND expires_at_ms > ?", now_ms),
        "holds_active": one("SELECT count(*) FROM governance_holds WHERE released_at IS NULL"),
        "retention_rules": one("SELECT count(*) FROM governance_retention"),
        "audit_entries": one("SELECT count(*) FROM governance_audit"),
    }
