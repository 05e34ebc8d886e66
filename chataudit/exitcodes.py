"""Exit statuses of the commands that answer "same or different?" — the convention of diff(1)/cmp(1).

``compare`` and ``check`` exit 0 when the copies are identical / no anomaly was found, 1 when
differences / anomalies were found, and 2 on any error (bad arguments, an unreadable file, a
refused read), so a script can tell a finding from a failure. Every other command exits 0 on
success and non-zero on error (README, *Exit codes*).
"""

from __future__ import annotations

from typing import Any

import click

from .store import SQLITE_ERRORS

SAME = 0
DIFFERENT = 1
ERROR = 2


class DiffStyleCommand(click.Command):
    """A command whose every failure exits :data:`ERROR` (2), so that 1 means only "differences found".

    Failures raised around the callback (the enterprise-mode refusal the command group raises
    before the command runs) are included; an unreadable file or archive is one line too.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            error.exit_code = ERROR
            raise
        except (OSError, *SQLITE_ERRORS) as error:
            failure = click.ClickException(str(error))
            failure.exit_code = ERROR
            raise failure from None
