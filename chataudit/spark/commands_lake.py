"""``spark import`` and ``spark verify``: building and checking a lake on the executors."""

from __future__ import annotations

import contextlib
import re
import sys
from datetime import datetime, timezone

import click

from typing import Iterator

from ..cli import friendly_errors, json_option
from ..errors import ChatAuditError
from ..render import emit_json
from .commands import spark

@contextlib.contextmanager
def spark_errors() -> Iterator[None]:
    """A failure on the cluster (a task's error, a lost executor, an unreachable master) as one line:
    the last line of the task's Python error, or Spark's own message."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 — only Spark's and Py4J's own errors are turned into a line
        module = type(error).__module__ or ""
        if not module.startswith(("pyspark", "py4j")):
            raise
        text = str(error)
        lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith(("\tat ", "at "))]
        python = [line for line in lines if re.match(r"^[A-Za-z_.]*(Error|Exception): ", line)]
        raise ChatAuditError(f"spark: {(python or lines or [type(error).__name__])[-1][:500]}") from None


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
    from ..lake.layout import load_manifest
    from ..ledger.keys import parse_verifier_key
    from .session import get_session
    from .verify import verify_on_spark

    verifier = parse_verifier_key(pubkey) if pubkey else None
    load_manifest(lake_dir)  # no lake there: one line, before Spark starts
    with spark_errors():
        report = verify_on_spark(get_session(master), lake_dir, verifier=verifier)
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


@spark.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--lake", "lake_dir", required=True, help="The new lake: a local folder or a URI Spark and pyarrow write.")
@click.option("--master", help=MASTER_HELP)
@click.option("--key", "key_path", envvar="CHATAUDIT_KEY", required=True,
              help="Signing key file for the lake's checkpoint and manifest (created 0600 if missing; "
                   "default $CHATAUDIT_KEY).")
@click.option("--format", "format_name", default="auto", show_default=True, help="Force a format (see `formats`).")
@click.option("--label", help="Label for these sources.")
@click.option("--tz", help="Zone of naive times in the files (IANA name), as for `import`.")
@click.option("--me", help="Your own display name in the exports (as for import).")
@click.option("--split-mb", type=click.IntRange(min=1),
              help="A JSON Lines file this large (MiB) is parsed in spans of about this size, one task each "
                   "(default 128).")
@json_option
@friendly_errors
def import_command(paths: tuple[str, ...], lake_dir: str, master: str | None, key_path: str, format_name: str,
                   label: str | None, tz: str | None, me: str | None, split_mb: int, as_json: bool) -> None:
    """Parse export files on the executors (the same format modules as `import`) into a new signed lake:
    the same messages and leaves as `import` of the same files in the same order, then `lake export`."""
    from .ingest import SPLIT_BYTES, check_new_lake, import_on_spark
    from .session import get_session

    check_new_lake(lake_dir, key_path, format_name, tz)  # before Spark starts
    with spark_errors():
        result = import_on_spark(get_session(master), list(paths), lake_dir, key_path=key_path,
                                 format_name=format_name, label=label, tz=tz, me=me,
                                 split_bytes=split_mb << 20 if split_mb else SPLIT_BYTES)
    if as_json:
        emit_json(result)
    else:
        click.echo(f"lake {lake_dir}: {result['files']} files, {result['messages']} messages ({result['new']} new), "
                   f"signed at tree size {result['tree_size']} ({result['seconds']} s on {result['master']})")
        for failed in result["failed"]:
            click.echo(f"  error: {failed['error']}")
    if result["errors"]:
        sys.exit(1)
