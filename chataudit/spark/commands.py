"""``chataudit spark …``: the click group; each part adds its subcommands from its own
``commands_*`` module, imported at the bottom so they register on this group."""

from __future__ import annotations

import click


@click.group("spark")
def spark() -> None:
    """Run the heavy work on Apache Spark over a lake (import, verify, quality, pii, supervise)."""


# imported last: they register on the group above
from . import commands_lake  # noqa: E402,F401  (spark import, spark verify)
from . import commands_jobs  # noqa: E402,F401  (spark quality, spark pii, spark supervise)
