"""Governance: the archive's mode, employees, written authorizations, the audit trail, retention
and legal holds.

    mode       personal | enterprise (an archive setting; each change audited)
    roster     the employees (the roster CSV that `quality --roster` reads)
    auth       written authorizations and the check enterprise mode makes before a read
    scope      what a read command will read, from its parameters
    audit      the audit trail (each entry a signed ledger leaf) and the session around a command
    retention  retention rules, legal holds, runs that purge through the ledger
    commands   the click commands (roster, auth, audit, retention, hold, mode)

The CLI wires it in one place: its group runs every command inside :func:`audited` and lets
:func:`govern` mark each command, so a read is checked before it runs and recorded after.
"""

from __future__ import annotations

from typing import Any

from ..errors import ChatAuditError
from .audit import NotAuthorized, audited, govern, note, operator_of, record

__all__ = ["NotAuthorized", "NotAuthorizedError", "audited", "govern", "guard", "note", "operator_of", "record",
           "set_mode"]


class NotAuthorizedError(ChatAuditError):
    """A read that no active authorization covers; the message says what is missing."""


def guard(archive, operator: str, command: str, *, scope: Any = None, params: dict[str, Any] | None = None):
    """Check a read of ``command`` (its ``scope``, else the scope its ``params`` name) and return the
    decision; raises :class:`NotAuthorizedError` naming what is missing. Personal mode allows all."""
    from . import clock, mode
    from .auth import Decision, check
    from .scope import scope_for

    if mode.current_mode(archive) != mode.ENTERPRISE:
        return Decision(True)
    decision = check(archive, scope if scope is not None else scope_for(command, params or {}, archive),
                     clock.now_ms())
    if not decision.ok:
        raise NotAuthorizedError(decision.message(operator))
    return decision


def set_mode(archive, mode_name: str, *, operator: str, reason: str | None = None,
             params: dict[str, Any] | None = None) -> dict[str, Any]:
    from .mode import set_mode as _set_mode

    return _set_mode(archive, mode_name, operator=operator, reason=reason, params=params)
