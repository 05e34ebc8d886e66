"""Ledger commands (the CLI registers each of :data:`COMMANDS` with ``cli.add_command``).

Each opens the archive given by the group's ``--db``, calls one ledger API function and renders it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import click

from ..errors import ChatAuditError
from ..render import emit_json
from ..cli import friendly_errors, json_option, one_line_errors, open_archive, refuse_sqlite_only
from ..store import is_postgres
from .keys import KEY_PATH_SETTING, load_key, parse_verifier_key
from .log import Ledger


def _encrypt_for_init(ctx: click.Context) -> dict:
    """`init --encrypt`: a new archive is created encrypted; a plain one is encrypted in place."""
    from ..vault import convert, keys
    from ..vault.commands import kdf_params, new_secret, record

    db = ctx.find_root().obj["db"]
    if is_postgres(db):
        refuse_sqlite_only("init --encrypt")
    if keys.is_plain_sqlite(db) is False:
        return convert.status(db)  # already encrypted (its key opens it below)
    secret = new_secret(None, str(db))
    existed = keys.is_plain_sqlite(db) is not None
    done = convert.encrypt(db, secret, kdf_params())
    keys.use(secret)
    if existed:
        record(Path(db), ctx, "encrypt", {"kdf": done["kdf"], "rows": done["rows"]})
    return convert.status(db)


def _key_option(command: Callable) -> Callable:
    return click.option("--key", "key_path", type=click.Path(dir_okay=False),
                        help="Signing key file (default: $CHATAUDIT_KEY, else the one `init --key` recorded, "
                             "else <archive>.key).")(command)


@click.command("init")
@_key_option
@click.option("--mode", type=click.Choice(["personal", "enterprise"]),
              help="personal: one's own chats, no authorization needed; enterprise: employees' messages are read "
                   "only under a written authorization (`auth add`), and every read is audited.")
@click.option("--reason", help="Why the mode changes (required to leave enterprise mode; recorded).")
@click.option("--encrypt", "encrypt_archive", is_flag=True,
              help="Make the archive encrypted (SQLCipher) under the passphrase or --db-key-file; an existing plain "
                   "archive is encrypted in place (see `encrypt`).")
@json_option
@click.pass_context
@friendly_errors
def init(ctx: click.Context, key_path: str | None, mode: str | None, reason: str | None, encrypt_archive: bool,
         as_json: bool) -> None:
    """Create the signing key (0600) if needed, sign everything already imported, write a checkpoint;
    with --mode, set the archive's mode (the change is an audit entry)."""
    encrypted = _encrypt_for_init(ctx) if encrypt_archive else None
    with open_archive(ctx, create=True) as archive:
        ledger = Ledger(archive, key_path)
        existed = ledger.key_path.exists()
        signer = ledger.signer()  # refuses a key other than the one the archive is signed with
        if key_path:  # later imports and verifies find it without --key
            archive.set_setting(KEY_PATH_SETTING, str(Path(key_path).expanduser().resolve()))
        checkpoint = ledger.append_pending(checkpoint_if_empty=True) or ledger.latest_checkpoint()
        result = {"key": str(ledger.key_path), "key_created": not existed, "verifier_key": str(signer.verifier),
                  "origin": ledger.origin, "tree_size": checkpoint.tree_size, "root": checkpoint.root.hex(),
                  "checkpoint": checkpoint.note}
        if encrypted is not None:
            result["encrypted"] = encrypted
        if mode:
            from ..governance import operator_of, set_mode

            result["mode"] = set_mode(archive, mode, operator=operator_of(ctx), reason=reason,
                                      params=dict(ctx.params))["mode"]
            latest = ledger.latest_checkpoint()  # the change's audit entry is signed too
            result.update(tree_size=latest.tree_size, root=latest.root.hex(), checkpoint=latest.note)
    if as_json:
        emit_json(result)
        return
    click.echo(f"{'created' if not existed else 'using'} signing key {result['key']}")
    click.echo(f"verifier key: {result['verifier_key']}")
    click.echo(f"log {result['origin']}: {result['tree_size']} leaves signed")
    if mode:
        click.echo(f"mode: {result['mode']}")
    click.echo(result["checkpoint"], nl=False)


@click.command("verify")
@_key_option
@click.option("--pubkey", help="Verifier key to trust (the string from `chataudit key export`, or a file holding it).")
@click.option("--witness", "witness_path", type=click.Path(dir_okay=False),
              help="Witness file holding the latest checkpoint seen (default: $CHATAUDIT_WITNESS, else beside the key).")
@click.option("--no-index-check", is_flag=True,
              help="Skip re-indexing every message to compare the full-text index with the text (the slowest check).")
@json_option
@click.pass_context
@friendly_errors
def verify(ctx: click.Context, key_path: str | None, pubkey: str | None, witness_path: str | None,
           no_index_check: bool, as_json: bool) -> None:
    """Recompute every leaf and check the archive against its signed checkpoints, the witness file's latest
    checkpoint and the full-text index; exit 1 on any damage."""
    from .verify import summary_lines, verify_archive

    verifier = parse_verifier_key(pubkey) if pubkey else None
    with open_archive(ctx) as archive:
        report = verify_archive(archive, verifier=verifier, key_path=key_path, witness_path=witness_path,
                                check_index=not no_index_check)
    if as_json:
        emit_json(report.as_dict())
    else:
        for line in summary_lines(report):
            click.echo(line)
    if not report.ok:
        sys.exit(1)


@click.command("proof")
@click.argument("message_id", type=int)
@json_option
@click.pass_context
@friendly_errors
def proof(ctx: click.Context, message_id: int, as_json: bool) -> None:
    """Inclusion proof of one message in the latest signed checkpoint (RFC 9162 audit path)."""
    with open_archive(ctx) as archive:
        (result,) = Ledger(archive).proofs([message_id])
    doc = result.as_dict()
    if as_json:
        emit_json(doc)
        return
    click.echo(f"message {message_id} is leaf {doc['leaf_index']} of {doc['tree_size']}")
    click.echo(f"leaf: {doc['leaf']}")
    click.echo(f"leaf hash: {doc['leaf_hash']}")
    for i, node in enumerate(doc["proof"]):
        click.echo(f"proof[{i}]: {node}")
    click.echo(f"root: {doc['root']}")
    click.echo(doc["checkpoint"], nl=False)


@click.command("checkpoint")
@json_option
@click.pass_context
@friendly_errors
def checkpoint(ctx: click.Context, as_json: bool) -> None:
    """Print the latest signed checkpoint (a C2SP signed note, byte for byte)."""
    from ..queries import checkpoint as checkpoint_doc

    with open_archive(ctx) as archive:
        doc = checkpoint_doc(archive)
    if as_json:
        emit_json(doc)
    else:
        sys.stdout.write(doc["note"])


@click.group("key")
@click.pass_context
def key(ctx: click.Context) -> None:
    """The archive's signing key; `key change|new|status`: its encryption key (see `encrypt`)."""
    if is_postgres(ctx.find_root().obj["db"]):  # the encryption key is a SQLite file's (SQLCipher)
        with one_line_errors():
            refuse_sqlite_only(f"key {ctx.invoked_subcommand}")


def _encryption_commands() -> None:
    from ..vault.commands import key_change, key_new, key_status

    for command in (key_change, key_new, key_status):
        key.add_command(command)


@key.command("export")
@_key_option
@click.pass_context
@friendly_errors
def key_export(ctx: click.Context, key_path: str | None) -> None:
    """Print the public key as a note verifier key (name+id+key), to give to whoever checks the archive."""
    with open_archive(ctx) as archive:
        ledger = Ledger(archive, key_path)
        if ledger.key_path.exists():
            verifier = load_key(ledger.key_path).verifier
        else:
            verifier = ledger.recorded_verifier()
            if verifier is None:
                raise ChatAuditError(f"{ledger.key_path}: no signing key (run `chataudit init`)")
            click.echo(f"note: {ledger.key_path} not found; printing the key recorded in the archive", err=True)
    click.echo(str(verifier))


@click.command("timestamp")
@click.option("--tsa", "tsa_url", required=True, help="RFC 3161 time-stamp authority URL.")
@click.option("--cert", "ca_file", type=click.Path(exists=True, dir_okay=False),
              help="PEM file with the TSA's CA certificate(s), to verify the chain.")
@json_option
@click.pass_context
@friendly_errors
def timestamp(ctx: click.Context, tsa_url: str, ca_file: str | None, as_json: bool) -> None:
    """Have a TSA time-stamp the latest checkpoint (RFC 3161); the token is verified and stored."""
    from .tsa import stamp_latest

    ca_pem = Path(ca_file).read_text(encoding="utf-8") if ca_file else None
    with open_archive(ctx) as archive:
        result = stamp_latest(Ledger(archive), tsa_url, ca_pem)
    if as_json:
        emit_json(result)
        return
    click.echo(f"checkpoint {result['checkpoint']} (size {result['tree_size']}) stamped by {result['tsa']} "
               f"at {result['gen_time']}; chain {'verified' if result['chain_verified'] else 'not checked (no --cert)'}")


@click.command("cosign")
@click.option("--witness-url", "url", required=True, help="A C2SP tlog-witness's submission prefix (…/add-checkpoint is added).")
@click.option("--witness-key", "witness_key", required=True,
              help="The witness's verifier key <name>+<hex id>+<base64(0x04‖key)>, obtained from its operator.")
@json_option
@click.pass_context
@friendly_errors
def cosign(ctx: click.Context, url: str, witness_key: str, as_json: bool) -> None:
    """Have a transparency-log witness cosign the latest checkpoint (it checks consistency with what it saw)."""
    with open_archive(ctx) as archive:
        result = Ledger(archive).cosign(url, witness_key)
    if as_json:
        emit_json(result)
        return
    click.echo(f"checkpoint {result['checkpoint']} (size {result['tree_size']}) cosigned by {result['witness']} "
               f"at {result['timestamp']}")
    click.echo(result["cosignature"], nl=False)


COMMANDS = [init, verify, proof, checkpoint, key, timestamp, cosign]

__all__ = ["COMMANDS", "init", "verify", "proof", "checkpoint", "key", "timestamp", "cosign"]


_encryption_commands()
