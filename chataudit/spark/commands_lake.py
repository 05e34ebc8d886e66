"""``spark import`` and ``spark verify``: building and checking a lake on the executors."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import click

from ..cli import friendly_errors, json_option
from ..render import emit_json
from .commands import spark

MASTER_HELP = "Spark master URL (spark://host:7077, yarn, local[4]…; default $CHATAUDIT_SPARK_MASTER, else local[2])."


@spark.command("verify")
@click.option("--lake", "lake_dir", required=True, help="The lake: a local folder or a URI Spark and pyarrow read.")
@click.option("--master", help=MASTER_HELP)
@click.option("--pubkey", help="Verifier key to trust (default: the one the manifest names, not pinned).")
@json_option
@friendly_errors
def verify_command(lake_dir: str, master: str | None, pubkey: str | None, as_json: bool) -> None:
    """Recompute every message's leaf and the tree's root on the executors; name each message that no longer
    matches; exit 1 on any problem."""
    from ..ledger.keys import parse_verifier_key
    from .session import get_session
    from .verify import verify_on_spark

    report = verify_on_spark(get_session(master), lake_dir,
                             verifier=parse_verifier_key(pubkey) if pubkey else None)
    if as_json:
        emit_json(report)
    else:
        state = "OK" if report["ok"] else f"{len(report['problems'])} problem(s)"
        click.echo(f"lake {lake_dir}: {state}; {report['checked']} message leaves recomputed on {report['master']}, "
                   f"root at size {report['tree_size']} from {report['chunks']} chunks ({report['seconds']} s)")
        for item in report["mismatches"]:
            when = (datetime.fromtimestamp(item["sent_at_ms"] / 1000, timezone.utc).isoformat()
                    if item["sent_at_ms"] is not None else "?")
            fields = f" ({', '.join(item['fields'])} changed)" if item["fields"] else ""
            click.echo(f"  {item['kind']}: message {item['message']}, leaf {item['leaf']}: {item['conversation']} / "
                       f"{item['sender']} / {when}{fields}")
        for item in report["problems"]:
            click.echo(f"  {item['kind']}: {item['path'] or ''}: {item['detail']}")
    if not report["ok"]:
        sys.exit(1)
