"""``chataudit lake …``: export the archive as a signed Parquet lake, and verify one."""

from __future__ import annotations

import sys

import click

from ..cli import friendly_errors, json_option, open_archive
from ..errors import ChatAuditError
from ..render import emit_json


@click.group("lake")
def lake() -> None:
    """An open columnar (Parquet) copy of the archive for Spark, DuckDB and other engines."""


@lake.command("export")
@click.option("--out", required=True, help="New lake folder: a local path or a URI pyarrow opens (s3://, hdfs://).")
@click.option("--key", "key_path", type=click.Path(dir_okay=False), help="The archive's signing key file.")
@json_option
@click.pass_context
@friendly_errors
def export_command(ctx: click.Context, out: str, key_path: str | None, as_json: bool) -> None:
    """Write every table as Parquet (messages by platform and month) with a manifest signed under the
    archive's key and tied to its latest checkpoint."""
    from ..governance.mode import current_mode
    from .export import export_lake

    with open_archive(ctx) as archive:
        if current_mode(archive) == "enterprise":
            raise ChatAuditError("lake export copies every employee's messages out of the archive's access "
                                 "control; it is refused in enterprise mode")
        manifest = export_lake(archive, out, key_path=key_path)
    summary = {"lake": out, "files": len(manifest["files"]),
               "rows": {table: info["rows"] for table, info in manifest["tables"].items()},
               "tree_size": manifest["checkpoint"]["tree_size"], "root": manifest["checkpoint"]["root"],
               "verifier_key": manifest["verifier_key"]}
    if as_json:
        emit_json(summary)
        return
    click.echo(f"lake {out}: {summary['files']} files, {summary['rows']['messages']} messages, "
               f"signed at tree size {summary['tree_size']} (root {summary['root'][:16]}…)")


@lake.command("verify")
@click.argument("lake_dir", metavar="DIR")
@click.option("--pubkey", help="Verifier key to trust (the string from `chataudit key export`, or a file holding "
                               "it); default: the one the manifest names (not pinned).")
@json_option
@friendly_errors
def verify_command(lake_dir: str, pubkey: str | None, as_json: bool) -> None:
    """Check the manifest's signature, every file's SHA-256 and row count, and the ledger's root against
    the signed checkpoint; exit 1 on any problem."""
    from ..ledger.keys import parse_verifier_key
    from .verify import verify_lake

    report = verify_lake(lake_dir, verifier=parse_verifier_key(pubkey) if pubkey else None)
    if as_json:
        emit_json(report)
    else:
        state = "OK" if report["ok"] else f"{len(report['problems'])} problem(s)"
        click.echo(f"lake {lake_dir}: {state}; {report['files']} files, tree size {report['tree_size']}, "
                   f"key {report['key_source']}")
        for item in report["problems"]:
            click.echo(f"  {item['kind']}: {item['path'] or ''}: {item['detail']}")
    if not report["ok"]:
        sys.exit(1)
