"""The archive's mode: ``personal`` (one's own chats; no authorization needed) or ``enterprise``
(employees' messages are read only under a written authorization, and every read is audited).

The mode is the archive setting ``governance.mode``; each change is also an audit entry, and the
entry is what counts: a setting that disagrees with the last recorded change was edited behind the
tool's back, and reads are refused until it is set again.
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


def current_mode(archive: Archive) -> str:
    """The mode, refused when the setting disagrees with the last audited change."""
    mode = recorded_mode(archive)
    last = audit.latest_facts(archive, MODE_COMMAND, "mode")
    audited = last[1]["mode"] if last else PERSONAL
    if audited != mode:
        where = f"audit entry {last[0]}" if last else "the audit trail, which records no change"
        raise ChatAuditError(
            f"the archive's mode setting says {mode}, but {where} says {audited}: the setting was changed "
            "behind the tool's back (run `chataudit verify`; set the mode again with `chataudit init --mode`)"
        )
    return mode


def set_mode(archive: Archive, mode: str, *, operator: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Set the mode and record the change (one transaction); returns {mode, previous, audit_entry}."""
    if mode not in MODES:
        raise ChatAuditError(f"mode must be {' or '.join(MODES)}, not {mode!r}")
    previous = recorded_mode(archive)
    with audit.transaction(archive.db):
        archive.set_setting(MODE_SETTING, mode)
        entry = audit.record(archive, operator=operator, command=MODE_COMMAND, params=params or {"mode": mode},
                             facts={"mode": mode, "previous": previous})
    return {"mode": mode, "previous": previous, "audit_entry": entry}


def status(archive: Archive) -> dict[str, Any]:
    """What `chataudit mode` shows: the mode and the governance records in force."""
    from . import clock

    db = archive.db
    now_ms = clock.now_ms()
    one = lambda sql, *p: db.execute(sql, p).fetchone()[0]  # noqa: E731
    return {
        "mode": recorded_mode(archive),
        "roster": one("SELECT count(*) FROM governance_roster"),
        "authorizations_active": one("SELECT count(*) FROM governance_authorizations"
                                     " WHERE revoked_at IS NULL AND expires_at_ms > ?", now_ms),
        "holds_active": one("SELECT count(*) FROM governance_holds WHERE released_at IS NULL"),
        "retention_rules": one("SELECT count(*) FROM governance_retention"),
        "audit_entries": one("SELECT count(*) FROM governance_audit"),
    }
