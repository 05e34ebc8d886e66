"""Encryption commands: ``encrypt``, ``decrypt``, ``key change|new|status`` (over :mod:`.convert`).

Each rewrite is an entry of the audit trail (signed in the ledger), written after the swap.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from ..cli import friendly_errors, json_option, open_archive
from ..errors import ChatAuditError
from ..render import emit_json
from . import convert, keys

NEW_PASSPHRASE_ENV = "CHATAUDIT_DB_NEW_KEY"


def new_secret(key_file: str | None, what: str) -> keys.Secret:
    """The key a rewrite encrypts under: --key-file, else the process's/environment's key, else a
    passphrase typed twice on a terminal."""
    if key_file:
        return keys.key_file(key_file)
    found = _given_without_prompt()
    if found is not None:
        return found
    if keys.prompt is None:
        raise ChatAuditError(f"{what}: give the new key (${keys.PASSPHRASE_ENV} = a passphrase, or --key-file "
                             "= a key file from `chataudit key new`)")
    text = click.prompt(f"new passphrase for {what}", hide_input=True, confirmation_prompt=True, err=True)
    return keys.passphrase(text)


def _given_without_prompt() -> keys.Secret | None:
    asked, keys.prompt = keys.prompt, None
    try:
        return keys.given_secret()
    finally:
        keys.prompt = asked


def kdf_params() -> dict[str, int] | None:
    """$CHATAUDIT_ARGON2 = "TIME,MEMORY_KIB,PARALLELISM" overrides the argon2id cost (a slow machine, tests)."""
    text = os.environ.get("CHATAUDIT_ARGON2")
    if not text:
        return None
    try:
        time_cost, memory_kib, parallelism = (int(part) for part in text.split(","))
    except ValueError:
        raise ChatAuditError(f"$CHATAUDIT_ARGON2: {text!r} is not TIME,MEMORY_KIB,PARALLELISM") from None
    if time_cost < 1 or memory_kib < 8 * parallelism or parallelism < 1:
        raise ChatAuditError(f"$CHATAUDIT_ARGON2: {text!r} is below argon2id's minimum")
    return {"time_cost": time_cost, "memory_kib": memory_kib, "parallelism": parallelism}


def record(db: Path, ctx: click.Context, command: str, facts: dict[str, Any]) -> int:
    """The rewrite's audit entry (in the archive as it now is)."""
    from ..governance import audit
    from ..store import Archive

    with Archive(db, create=False) as archive:
        return audit.record(archive, operator=audit.operator_of(ctx), command=command,
                            params={k: v for k, v in ctx.params.items() if k != "as_json"}, facts=facts)


def _archive_path(ctx: click.Context) -> Path:
    """The --db archive, opened once so that a mistyped, damaged or foreign file (or a wrong key) is
    refused with the same one line as every command's, before anything is rewritten."""
    with open_archive(ctx) as archive:
        return archive.path


def _show(result: dict[str, Any], as_json: bool, line: str) -> None:
    if as_json:
        emit_json(result)
    else:
        click.echo(line)


@click.command("encrypt")
@click.option("--key-file", type=click.Path(dir_okay=False), help="Encrypt under this key file (else the passphrase).")
@json_option
@click.pass_context
@friendly_errors
def encrypt(ctx: click.Context, key_file: str | None, as_json: bool) -> None:
    """Encrypt the archive in place (SQLCipher; key from a passphrase through argon2id, or a key file)."""
    db = ctx.find_root().obj["db"]
    if keys.is_plain_sqlite(db) is False and keys.read_header(db) is not None:
        raise ChatAuditError(f"{db}: already encrypted (`chataudit key change` changes its key)")
    _archive_path(ctx)
    secret = new_secret(key_file, str(db))
    result = convert.encrypt(db, secret, kdf_params())
    keys.use(secret)
    result["audit_entry"] = record(Path(db), ctx, "encrypt", {"kdf": result["kdf"], "rows": result["rows"]})
    _show(result, as_json, f"{db}: encrypted ({result['cipher']}, key from {result['kdf']}); {result['rows']:,} rows "
                           f"in {result['tables']} tables rewritten; header {result['header']}")


@click.command("decrypt")
@click.option("--yes", is_flag=True, help="Confirm: the archive becomes readable by anyone with the file.")
@json_option
@click.pass_context
@friendly_errors
def decrypt(ctx: click.Context, yes: bool, as_json: bool) -> None:
    """Decrypt the archive in place (it needs its key; the old encrypted file is replaced)."""
    db = _archive_path(ctx)
    if not yes:
        raise click.UsageError("decrypt leaves every message readable from the file: confirm with --yes")
    result = convert.decrypt(db)
    result["audit_entry"] = record(Path(db), ctx, "decrypt", {"rows": result["rows"]})
    _show(result, as_json, f"{db}: decrypted; {result['rows']:,} rows in {result['tables']} tables rewritten")


@click.command("change")
@click.option("--new-key-file", type=click.Path(dir_okay=False),
              help="The new key file (else the new passphrase: $CHATAUDIT_DB_NEW_KEY, or typed twice).")
@json_option
@click.pass_context
@friendly_errors
def key_change(ctx: click.Context, new_key_file: str | None, as_json: bool) -> None:
    """Re-key an encrypted archive: every page rewritten under the new passphrase or key file."""
    db = _archive_path(ctx)  # the old key first: a wrong one stops here
    convert._current_key(db)
    if new_key_file:
        secret = keys.key_file(new_key_file)
    elif os.environ.get(NEW_PASSPHRASE_ENV):
        secret = keys.passphrase(os.environ[NEW_PASSPHRASE_ENV], f"${NEW_PASSPHRASE_ENV}")
    elif keys.prompt is not None:
        secret = keys.passphrase(click.prompt(f"new passphrase for {db}", hide_input=True,
                                              confirmation_prompt=True, err=True))
    else:
        raise ChatAuditError(f"give the new key: --new-key-file, or ${NEW_PASSPHRASE_ENV} = the new passphrase")
    result = convert.rekey(db, secret, kdf_params())
    keys.use(secret)
    result["audit_entry"] = record(Path(db), ctx, "key change", {"kdf": result["kdf"], "rows": result["rows"]})
    _show(result, as_json, f"{db}: re-keyed (key from {result['kdf']}); {result['rows']:,} rows rewritten")


@click.command("new")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Where to write it (0600).")
@friendly_errors
def key_new(out: str) -> None:
    """Write a new random key file (32 bytes as hex) for --db-key-file, `encrypt --key-file`, backups."""
    keys.new_key_file(out)
    click.echo(f"wrote {out} (keep a copy apart from the archive: without it the archive cannot be opened)")


@click.command("status")
@json_option
@click.pass_context
@friendly_errors
def key_status(ctx: click.Context, as_json: bool) -> None:
    """Whether the archive is encrypted, and how its key is derived (nothing secret)."""
    db = _archive_path(ctx)
    result = convert.status(db)
    _show(result, as_json, f"{db}: encrypted ({result['cipher']}, key from {result['kdf']}, header {result['header']})"
          if result["encrypted"] else f"{db}: not encrypted")
