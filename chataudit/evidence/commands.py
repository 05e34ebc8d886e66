"""``chataudit evidence export|verify`` (the CLI registers the ``evidence`` group lazily).

Each command opens the archive named by the root ``--db``, calls one API function and renders it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..cli import friendly_errors, json_option, open_archive, time_window
from ..render import emit_json


@click.group("evidence")
def evidence() -> None:
    """Evidence packages: a conversation as a zip with proofs anyone can check offline."""


@evidence.command("export")
@click.option("--conversation", "conversation_ref", required=True,
              help="Conversation id (see `conversations`), platform:native_id, native id or exact title.")
@click.option("--since", help="From this date/time (ISO; naive times in --tz).")
@click.option("--until", help="Up to this date/time (a bare date includes that whole day).")
@click.option("--tz", help="Zone for naive --since/--until and for the statements' wall-clock times.")
@click.option("--withhold", "withhold", multiple=True, metavar="FIELD:IDS",
              help="Fields that travel as digests only: text, sender_id, sender_name, sender, extras or attachments, "
                   "then message ids or 'all' — e.g. text:12,13  sender_name:all  attachments:7. Repeatable.")
@click.option("--redact", "redact_policy", is_flag=False, flag_value="default", default=None, metavar="[POLICY]",
              help="Withhold every field holding personal data (digest only); the rendering shows it de-identified, "
                   "marked as such (optional TOML policy; default: the built-in one).")
@click.option("--attach", "attach", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A document to include (e.g. the scan of a signed agreement). Repeatable.")
@click.option("--statement", "statements", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A bank / WeChat Pay / Alipay statement: included with its `match` results. Repeatable.")
@click.option("--key", "key_path", type=click.Path(dir_okay=False),
              help="The archive's signing key, to sign the manifest (default: as `verify` finds it).")
@click.option("--pdf/--no-pdf", default=True, show_default=True,
              help="Also print the rendering to messages.pdf with headless Chromium (skipped, and said so, without it).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The package to write (.zip).")
@click.option("--readable", is_flag=True,
              help="An encrypted archive's package unsealed (one meant for a court); recorded in the custody log "
                   "and the audit trail. Without it, that package is sealed under the archive's key (OUT.sealed).")
@json_option
@click.pass_context
@friendly_errors
def export(ctx: click.Context, conversation_ref: str, since: str | None, until: str | None, tz: str | None,
           withhold: tuple[str, ...], redact_policy: str | None, attach: tuple[str, ...], statements: tuple[str, ...],
           key_path: str | None, pdf: bool, out: str, readable: bool, as_json: bool) -> None:
    """Write an evidence package: messages, proofs against a signed checkpoint, rendering, custody log."""
    from ..governance import operator_of
    from ..model import zone
    from .package import export_package

    operator = operator_of(ctx)  # the global --operator: custody log and audit trail name the same person
    with open_archive(ctx) as archive:
        since_ms, until_ms = time_window(archive, since, until, tz)
        target = Path(out)
        if archive.key is not None and not readable and not target.name.endswith(".sealed"):
            target = target.with_name(target.name + ".sealed")  # it is no zip until `evidence unseal`
        result = export_package(
            archive, target, conversation=conversation_ref, since_ms=since_ms, until_ms=until_ms,
            since=since, until=until, withhold=withhold, redact=redact_policy, attach=attach,
            statements=statements, statement_tz=zone(tz) if tz else None, operator=operator, pdf=pdf,
            key_path=key_path, readable=readable)
        if archive.key is not None and readable:  # a readable copy of encrypted records leaves the archive
            from ..governance import audit

            audit.record(archive, operator=operator, command="evidence export", params=dict(ctx.params),
                         facts={"package": "readable", "archive_encrypted": True, "out": str(target.absolute()),
                                "conversation": conversation_ref, "messages": result.messages})
    if as_json:
        emit_json(result.as_dict())
    else:
        held = result.withheld
        click.echo(f"wrote {result.path}: {result.messages} messages proved against checkpoint "
                   f"{result.checkpoint['origin']} size {result.checkpoint['tree_size']}"
                   + (f" (time-stamped {result.timestamp['gen_time']})" if result.timestamp else "")
                   + f", {result.files} files")
        if held["messages"]:
            click.echo(f"withheld: {', '.join(f'{k} × {v}' for k, v in held['fields'].items())} "
                       f"in {held['messages']} messages (digests only)")
        if result.attachments["included"] or result.attachments["not_included"]:
            click.echo(f"attachments: {result.attachments['included']} included, "
                       f"{result.attachments['not_included']} not found or not matching (see custody.json)")
        if not result.pdf.get("included"):
            click.echo(f"PDF: {result.pdf.get('reason')}")
        if result.sealed:
            click.echo("sealed under the archive's key (`chataudit evidence unseal` opens it; `--readable` for a court)")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


@evidence.command("verify")
@click.argument("package", type=click.Path(exists=True, dir_okay=False))
@click.option("--pubkey", help="The verifier key to trust (from `chataudit key export` of the archive's owner, "
                               "or a file holding it); default: the package's own pubkey.txt (signer not authenticated).")
@click.option("--allow-unsigned", is_flag=True,
              help="Accept a package without manifest.sig: check what the signed checkpoint proves and list every "
                   "other file as unverified (without it such a package fails).")
@json_option
@friendly_errors
def verify(package: str, pubkey: str | None, allow_unsigned: bool, as_json: bool) -> None:
    """Check a package offline: files, disclosures, proofs, signatures, timestamp, custody; exit 1 on any failure."""
    from .verify import summary_lines, verify_package

    if pubkey is not None:
        from ..ledger.keys import parse_verifier_key

        pubkey = str(parse_verifier_key(pubkey))
    report = verify_package(package, pubkey, allow_unsigned=allow_unsigned)
    if as_json:
        emit_json(report)
    else:
        for line in summary_lines(report):
            click.echo(line)
    if not report["ok"]:
        sys.exit(1)


@evidence.command("unseal")
@click.argument("sealed", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The readable file to write (new).")
@json_option
@friendly_errors
def unseal_command(sealed: str, out: str, as_json: bool) -> None:
    """Open a package sealed under an encrypted archive's key, with that archive's passphrase or key file
    (--db-key-file, $CHATAUDIT_DB_KEY_FILE, $CHATAUDIT_DB_KEY); reads no archive."""
    from ..vault import keys
    from ..vault.seal import unseal

    result = unseal(Path(sealed), Path(out), keys.given_secret(sealed))
    if as_json:
        emit_json(result)
    else:
        click.echo(f"wrote {out} ({result['content']} of {result['archive_id']})")


@evidence.command("verifier")
@click.option("--out", type=click.Path(dir_okay=False), help="Write a copy of the standalone verifier here.")
@json_option
@friendly_errors
def verifier(out: str | None, as_json: bool) -> None:
    """The standalone verify.py of this installation and its SHA-256: a trusted copy, unlike a package's own."""
    import shutil

    from . import standalone_verify as S
    from .verify import standalone_sha256

    if out is not None:
        try:
            shutil.copyfile(S.__file__, out)
        except OSError as error:
            raise click.ClickException(f"{out}: cannot write the verifier ({error.strerror})") from None
    info = {"path": str(Path(out or S.__file__).resolve()), "sha256": standalone_sha256(),
            "python_requires": ".".join(map(str, S.PYTHON_REQUIRES))}
    if as_json:
        emit_json(info)
    else:
        click.echo(f"{info['sha256']}  {info['path']}  (Python {info['python_requires']}+)")


__all__ = ["evidence", "export", "verify", "verifier"]
