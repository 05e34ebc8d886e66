"""Click commands of the privacy capability: ``pii`` (scan, types, policy, decrypt) and ``redact``.

Registered by the CLI with ``cli.add_command(pii)`` and ``cli.add_command(redact)``; each command
opens the archive named by the root ``--db`` (``ctx.obj["db"]``), calls one API function and renders.
"""

from __future__ import annotations

import sys
from pathlib import Path


import click

from ..render import emit, emit_json
from ..cli import friendly_errors, open_archive


@click.group()
def pii() -> None:
    """Find personal data in the archive (ID numbers, phones, cards, names, addresses …)."""


@pii.command("scan")
@click.option("--conversation", "conversation_ref", help="Only this conversation (id, platform:native_id or title).")
@click.option("--person", "person_ref", help="Only this person (id or name from `people`, or platform:sender).")
@click.option("--types", help="Comma-separated types, e.g. id_card,bank_card,mobile (see `pii types`).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {findings, counts, scanned, seconds}.")
@click.pass_context
@friendly_errors
def pii_scan(ctx: click.Context, conversation_ref: str | None, person_ref: str | None, types: str | None,
             as_json: bool) -> None:
    """Scan messages for personal data. Incremental: only messages new since the last scan are read."""
    from .. import queries

    with open_archive(ctx) as archive:
        result = queries.pii_scan(archive, conversation_ref=conversation_ref, person_ref=person_ref, types=types)
    if as_json:
        emit_json(result)
        return
    emit(result["findings"], ["message_id", "type", "value", "start", "end", "sensitive"],
         title=f"{len(result['findings'])} findings")
    emit([{"type": k, "count": v} for k, v in result["counts"].items()], ["type", "count"], title="By type")
    click.echo(f"scanned {result['scanned']} new or changed messages in {result['seconds']:.2f} s", err=True)


@pii.command("types")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def pii_types(as_json: bool) -> None:
    """List the types of personal data recognized, which are sensitive, and how each is validated."""
    from .recognizers import TYPES

    rows = [{"type": t.name, "label": t.label, "sensitive": t.sensitive, "validation": t.validation,
             "description": t.description} for t in TYPES.values()]
    emit(rows, ["type", "label", "sensitive", "validation", "description"], as_json=as_json, title="Types")


@pii.command("policy")
@click.argument("policy_file", required=False, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the policy as resolved, as JSON.")
@friendly_errors
def pii_policy(policy_file: str | None, as_json: bool) -> None:
    """Print the built-in default policy (a starting point for your own file), or check POLICY_FILE."""
    from .policy import DEFAULT_POLICY_TOML, load_policy

    policy = load_policy(policy_file)
    if as_json:
        emit_json(policy.describe())
    elif policy_file is None:
        click.echo(DEFAULT_POLICY_TOML, nl=False)
    else:
        described = policy.describe()
        rows = [{"type": k, **v} for k, v in described["types"].items()]
        emit(rows, ["type", "operator", "sensitive"], title=f"{policy_file}: OK")


@pii.command("decrypt")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write decrypted copies here "
              "(default: standard output).")
@click.option("--keys", "key_dir", type=click.Path(file_okay=False), help="Key folder (default: $CHATAUDIT_KEYS "
              "or ~/.config/chataudit).")
@friendly_errors
def pii_decrypt(files: tuple[str, ...], out_dir: str | None, key_dir: str | None) -> None:
    """Reverse the `encrypt` operator: <enc:…> tokens of redacted files back to their values."""
    from .operators import KeyRing, decrypt_text

    keys = KeyRing(key_dir)
    for name in files or ("-",):
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        clear = decrypt_text(text, keys)
        if out_dir and name != "-":
            target = Path(out_dir) / Path(name).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(clear, encoding="utf-8")
            click.echo(f"wrote {target}", err=True)
        else:
            sys.stdout.write(clear)


@click.command("redact")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the de-identified copies (<name>.redacted.jsonl, generic format).")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False),
              help="TOML policy (default: the built-in one, see `chataudit pii policy`).")
@click.option("--format", "format_name", default="auto", show_default=True, help="Format name; auto detects per file.")
@click.option("--tz", help="Zone of wall-clock times in the export.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: list of {path, format, out, messages, findings, error}.")
@friendly_errors
def redact(paths: tuple[str, ...], out_dir: str, policy_file: str | None, format_name: str, tz: str | None,
           as_json: bool) -> None:
    """De-identify export files outside the archive: every found value replaced as the policy says."""
    from .policy import load_policy
    from .redact import redact_files

    results = redact_files(list(paths), out_dir, load_policy(policy_file), format_name=format_name, tz=tz)
    if as_json:
        emit_json([r.as_dict() for r in results])
    else:
        for r in results:
            if r.error:
                continue
            found = ", ".join(f"{k} {v}" for k, v in sorted(r.findings.items())) or "nothing found"
            click.echo(f"{r.path}: {r.format}, {r.messages} messages → {r.out} ({found})")
    errors = [r.error for r in results if r.error]
    for error in errors:
        click.echo(f"Error: {error}", err=True)
    if errors:
        sys.exit(1)
