"""``chataudit supervise …``: the click group; each part of the workflow adds its subcommands from
its own ``commands_*`` module, imported at the bottom so they register on this group."""

from __future__ import annotations

import click


@click.group("supervise")
def supervise() -> None:
    """Compliance supervision: policies, alerts and the review queue."""


from . import commands_queue  # noqa: E402,F401  (the review queue: queue, show, assign, close, escalate, report)
