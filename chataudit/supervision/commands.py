"""``chataudit supervise …``: the click group; each part of the workflow adds its subcommands from
its own ``commands_*`` module, imported at the bottom so they register on this group."""

from __future__ import annotations

import click


@click.group("supervise")
def supervise() -> None:
    """Compliance supervision: policies, alerts and the review queue."""


# the subcommands of each part of the workflow (imported last: they register on the group above)
from . import commands_policy, commands_run  # noqa: E402,F401  (policy set|list|show; run, runs, sample)
from . import commands_queue  # noqa: E402,F401  (the review queue: queue, show, assign, close, escalate, report)
