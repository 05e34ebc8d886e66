"""Governance: the archive's mode, employees, written authorizations, the audit trail, retention
and legal holds.

    mode       personal | enterprise (an archive setting; each change audited, leaving enterprise needs its admin)
    roster     the employees (the roster CSV that `quality --roster` reads)
    auth       written authorizations and the check enterprise mode makes before a read
    scope      what a read command will read, from its parameters
    access     what every front end calls around a command: check it, record it before it runs, conclude it
    audit      the audit trail (each entry a signed ledger leaf) and the CLI's session around a command
    holds      legal holds, facts of the audit trail (the table is a copy verify compares)
    retention  retention rules and runs that purge through the ledger (holds from verified entries)
    integrity  governance tables checked against the signed audit trail (verify's hook)
    commands   the click commands (roster, auth, audit, retention, hold, mode)

The CLI wires it in one place: its group runs every command inside :func:`audited` and lets
:func:`govern` mark each command, so a read is checked and put on the record (:func:`admit`)
before it runs, and its outcome recorded (:func:`conclude`) after.
"""

from __future__ import annotations

from typing import Any

from .access import Admission, NotAuthorizedError, NotRecordedError, admit, conclude
from .audit import NotAuthorized, audited, govern, note, operator_of, record

__all__ = ["Admission", "NotAuthorized", "NotAuthorizedError", "NotRecordedError", "admit", "audited", "conclude",
           "govern", "note", "operator_of", "record", "set_mode"]


def set_mode(archive, mode_name: str, *, operator: str, reason: str | None = None,
             params: dict[str, Any] | None = None) -> dict[str, Any]:
    from .mode import set_mode as _set_mode

    return _set_mode(archive, mode_name, operator=operator, reason=reason, params=params)
