"""The rule every front end applies around a command that reads the archive: may it run, and is
it on the record before it returns anything.

:func:`admit` runs before the command: it decides whether the command is audited here (reads and
listings in an archive that is or ever was in enterprise mode, verifications, redactions), checks
a read against the authorizations in enterprise mode, and commits a ``started`` entry to the audit
trail. If that entry cannot be committed (the database is locked, the key is missing) the command
does not run, so no audited read returns data that is not on the record. :func:`conclude` records
its outcome after it ran: the records written and the SHA-256 of every byte that went out.

The CLI calls both from :class:`.audit.Session`; a web front end calls them around each request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ChatAuditError
from ..store import Archive
from . import audit, clock

STARTED = "started"


class NotAuthorizedError(ChatAuditError):
    """A read that no active authorization covers, or a governance change the operator may not make;
    the message says what is missing."""


class NotRecordedError(ChatAuditError):
    """The audit entry a command needs before it runs could not be committed: the command did not run."""


def audited_kind(command: str) -> str | None:
    """Why ``command`` is audited (read, listing, verification, redaction, …), or None."""
    if command in audit.READS:
        return "read"
    return audit.OTHER_AUDITED.get(command)


@dataclass
class Admission:
    """A command allowed to run; ``entry`` is its committed ``started`` entry (None: not audited)."""

    command: str
    operator: str
    params: dict[str, Any]
    mode: str
    kind: str | None = None
    authorizations: list[int] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    entry: int | None = None


def admit(archive: Archive, *, operator: str, command: str, params: dict[str, Any]) -> Admission:
    """Check ``command`` and, when it is audited, commit its ``started`` entry; raises
    :class:`NotAuthorizedError` (a refused read, recorded), :class:`NotRecordedError` (nothing could
    be recorded: do not run it) or ChatAuditError (a tampered mode setting, recorded)."""
    from . import mode as mode_api
    from .auth import check
    from .scope import scope_for

    kind = audited_kind(command)
    if kind is None:
        return Admission(command, operator, params, mode_api.recorded_mode(archive))
    facts: dict[str, Any] = {"kind": kind}
    try:
        mode = mode_api.current_mode(archive)
    except ChatAuditError as error:
        if kind != "verification":  # refused, and on the record as an error
            _record(archive, operator, command, params, facts, outcome="error", exit_code=1, detail=str(error))
            raise
        mode = mode_api.ENTERPRISE  # `verify` still runs (it names the damage), audited as in enterprise mode
    if mode != mode_api.ENTERPRISE and not mode_api.ever_enterprise(archive):
        return Admission(command, operator, params, mode)
    admission = Admission(command, operator, params, mode, kind, facts=facts)
    if mode != mode_api.ENTERPRISE:
        facts["mode"] = mode  # audited because the archive was in enterprise mode before
    elif kind == "read":
        try:
            decision = check(archive, scope_for(command, params, archive), clock.now_ms())
        except ChatAuditError as error:  # an unknown conversation, a roster edited behind the tool's back
            _record(archive, operator, command, params, facts, outcome="error", exit_code=1, detail=str(error))
            raise
        facts["scope"] = decision.summary
        if not decision.ok:
            facts["missing"] = decision.problems  # every employee's, where the message shows the first few
            message = decision.message(operator)
            _record(archive, operator, command, params, facts, outcome="refused", exit_code=1, detail=message)
            raise NotAuthorizedError(message)
        admission.authorizations = decision.used
    admission.entry = _record(archive, operator, command, params, facts, outcome=STARTED,
                              authorizations=admission.authorizations)
    return admission


def conclude(archive: Archive, admission: Admission, *, records: int, outputs: list[dict[str, Any]],
             outcome: str, exit_code: int, detail: str | None, facts: dict[str, Any] | None = None) -> int | None:
    """Record what an admitted, audited command did (nothing for one that is not audited)."""
    if admission.entry is None:
        return None
    return audit.record(archive, operator=admission.operator, command=admission.command, params=admission.params,
                        authorizations=admission.authorizations, records=records, outputs=outputs, outcome=outcome,
                        exit_code=exit_code, facts={**admission.facts, **(facts or {}), "started": admission.entry},
                        detail=detail)


def _record(archive: Archive, operator: str, command: str, params: dict[str, Any], facts: dict[str, Any], *,
            outcome: str, exit_code: int = 0, detail: str | None = None, authorizations: list[int] = ()) -> int:
    try:
        return audit.record(archive, operator=operator, command=command, params=params, authorizations=authorizations,
                            outcome=outcome, exit_code=exit_code, facts=facts, detail=detail)
    except Exception as error:  # locked, read-only, no key: whatever it is, the command must not run
        raise NotRecordedError(f"`{command}` was not run: its audit entry could not be recorded ({error})") from None
