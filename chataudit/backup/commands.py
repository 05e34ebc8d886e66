"""`chataudit backup --to DEST`, and `backup list|verify|restore|schedule` (over :mod:`.api`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..cli import friendly_errors, json_option, open_archive
from ..render import emit, emit_json
from ..vault import keys
from . import api

LIST_COLUMNS = ["name", "status", "created_at", "size", "tree_size", "encrypted"]
VERIFY_COLUMNS = ["name", "ok", "reason", "detail"]


def _secret(key_file: str | None) -> keys.Secret | None:
    """The backup key given (for a plain archive, or a backup taken under an older key)."""
    return keys.key_file(key_file) if key_file else keys.given_secret("the backup")


def _operator(ctx: click.Context) -> str:
    from ..governance import operator_of

    return operator_of(ctx)


def _archive_if_any(ctx: click.Context, any_archive: bool = True):  # type: ignore[no-untyped-def]
    """The --db archive (its identity and key check backups); with --any-archive, None when it is
    gone (a restore after the archive was lost)."""
    db = Path(ctx.find_root().obj["db"])
    return None if any_archive and not db.exists() else open_archive(ctx)


_key_file_option = click.option("--key-file", type=click.Path(dir_okay=False),
                                help="The backup key file (a plain archive's backups; else the archive's own key).")


@click.group("backup", invoke_without_command=True)
@click.option("--to", "dest", help="Folder or s3://BUCKET[/PREFIX] to write the backup to.")
@click.option("--keep", type=click.IntRange(1, None), help="Then keep only this archive's newest N backups there.")
@click.option("--plain", is_flag=True, help="Do not encrypt the backup (an encrypted archive's is then readable).")
@_key_file_option
@json_option
@click.pass_context
@friendly_errors
def backup(ctx: click.Context, dest: str | None, keep: int | None, plain: bool, key_file: str | None,
           as_json: bool) -> None:
    """Back the archive up (consistent while imports run, compressed, AES-256-GCM) with a manifest."""
    if ctx.invoked_subcommand is not None:
        if dest or keep or plain:
            raise click.UsageError("--to/--keep/--plain take a backup; the sub-commands take DEST as an argument")
        return
    if not dest:
        raise click.UsageError("give --to DEST (a folder or s3://BUCKET/PREFIX), or a sub-command (list, verify, "
                               "restore, schedule)")
    with open_archive(ctx) as archive:  # (before DEST is touched: a mistyped --db creates nothing)
        secret = None if plain or archive.key is not None else _secret(key_file)
        result = api.create(archive, dest, keep=keep, plain=plain, secret=secret, operator=_operator(ctx),
                            params={k: v for k, v in ctx.params.items() if k != "as_json"})
    if as_json:
        emit_json(result)
        return
    checkpoint = result["checkpoint"]
    click.echo(f"{result['destination']}: {result['file']} ({result['size']:,} bytes, "
               f"{'encrypted' if result['encrypted'] else 'NOT encrypted'}), checkpoint {checkpoint['tree_size']} "
               f"{checkpoint['root'][:16]}…, sha256 {result['sha256'][:16]}…")
    for name in result["removed"]:
        click.echo(f"removed {name} (--keep {keep})")


@backup.command("list")
@click.argument("dest")
@click.option("--all", "every", is_flag=True, help="Backups of every archive there, not only this one's.")
@json_option
@click.pass_context
@friendly_errors
def backup_list(ctx: click.Context, dest: str, every: bool, as_json: bool) -> None:
    """The backups in DEST, oldest first; only `complete` ones are restorable (`incomplete`: no manifest)."""
    archive_id = None
    archive = _archive_if_any(ctx, every)
    if archive is not None:
        with archive:
            archive_id = None if every else api.identity(archive)
    rows = api.listing(dest, archive_id)
    emit(rows, LIST_COLUMNS, as_json=as_json, title=f"Backups in {dest}")


@backup.command("verify")
@click.argument("dest")
@click.argument("name", required=False)
@_key_file_option
@click.option("--any-archive", is_flag=True, help="Accept backups of another archive than --db's.")
@json_option
@click.pass_context
@friendly_errors
def backup_verify(ctx: click.Context, dest: str, name: str | None, key_file: str | None, any_archive: bool,
                  as_json: bool) -> None:
    """Check every backup in DEST (or NAME) end to end without restoring it; exit 1 if any fails."""
    archive = _archive_if_any(ctx, any_archive)
    try:
        results = api.verify(dest, name, archive=archive, secret=_secret(key_file) if key_file else None,
                             any_archive=any_archive or archive is None)
    finally:
        if archive is not None:
            archive.close()
    emit(results, VERIFY_COLUMNS, as_json=as_json, title=f"Backups in {dest}")
    if not results or not all(result["ok"] for result in results):
        if not results:
            click.echo(f"{dest}: no backup", err=True)
        sys.exit(1)


@backup.command("restore")
@click.argument("dest")
@click.argument("name")
@click.option("--into", required=True, type=click.Path(dir_okay=False), help="The new archive file (must not exist).")
@_key_file_option
@click.option("--any-archive", is_flag=True, help="Restore a backup of another archive than --db's.")
@json_option
@click.pass_context
@friendly_errors
def backup_restore(ctx: click.Context, dest: str, name: str, into: str, key_file: str | None, any_archive: bool,
                   as_json: bool) -> None:
    """Restore NAME into a new file, verify it, and check it holds the backup's checkpoint (exit 1 if not)."""
    archive = _archive_if_any(ctx, any_archive)
    try:
        result = api.restore(dest, name, into, archive=archive, secret=_secret(key_file) if key_file else None,
                             any_archive=any_archive or archive is None, operator=_operator(ctx),
                             params={k: v for k, v in ctx.params.items() if k != "as_json"})
    finally:
        if archive is not None:
            archive.close()
    if as_json:
        emit_json(result)
    elif result["ok"]:
        click.echo(f"{into}: restored from {name} and verified; checkpoint {result['checkpoint']['tree_size']} "
                   f"{result['checkpoint']['root'][:16]}… as the manifest says")
    else:
        click.echo(f"restore of {name} FAILED: verify ok={result['verify_ok']} ({result['problems']} problems), "
                   f"checkpoint {result['checkpoint']} ≠ {result['expected_checkpoint']}; nothing kept at {into}",
                   err=True)
    if not result["ok"]:
        sys.exit(1)


@backup.command("schedule")
@click.option("--monthly", is_flag=True, help="On the last day of every month at 23:30 (the one schedule for now).")
@click.option("--to", "dest", required=True, help="Folder or s3://BUCKET[/PREFIX].")
@click.option("--keep", type=click.IntRange(1, None), default=12, show_default=True)
@click.option("--out-dir", type=click.Path(file_okay=False),
              help="Where to write the units (default: ~/.config/systemd/user).")
@json_option
@click.pass_context
@friendly_errors
def backup_schedule(ctx: click.Context, monthly: bool, dest: str, keep: int, out_dir: str | None, as_json: bool) -> None:
    """Write a systemd timer (and print the cron line) that backs the archive up every month."""
    from .schedule import write

    with open_archive(ctx) as archive:
        db = archive.path
    if not monthly:
        raise click.UsageError("say how often: --monthly")
    chosen = keys.given_secret() if keys.prompt is None else None
    key_file = chosen.path if chosen is not None else None
    result = write(db, dest, keep, key_file, out_dir)
    if as_json:
        emit_json(result)
        return
    for path in result["files"]:
        click.echo(f"wrote {path}")
    click.echo(f"enable: {result['enable']}")
    click.echo(f"or, with cron: {result['cron']}")
