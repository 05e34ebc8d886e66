"""``chataudit supervise policy set|list|show``: the versioned policy files."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli import friendly_errors, json_option, open_archive
from ..errors import ChatAuditError
from ..governance import audit
from ..render import emit, emit_json
from . import policies as policies_api
from .commands import supervise


@supervise.group("policy")
def policy() -> None:
    """Supervision policies: each file set is a new version, on the audit trail."""


@policy.command("set")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@json_option
@click.pass_context
@friendly_errors
def policy_set(ctx: click.Context, path: str, as_json: bool) -> None:
    """Store FILE (YAML, or TOML when named *.toml) as a new policy version; a file whose policies
    are already the current version's adds nothing."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ChatAuditError(f"{path}: not UTF-8 text") from None
    with open_archive(ctx) as archive:
        result = policies_api.set_policies(archive, text, path, operator=audit.operator_of(ctx),
                                           params=dict(ctx.params))
    if as_json:
        emit_json(result)
    elif result["created"]:
        click.echo(f"policy version {result['version']} set ({len(result['policies'])} policies, sha256 "
                   f"{result['sha256'][:12]}…, audit entry {result['audit_entry']})")
    else:
        click.echo(f"unchanged: the policies are version {result['version']}'s (sha256 {result['sha256'][:12]}…)")


@policy.command("list")
@json_option
@click.pass_context
@friendly_errors
def policy_list(ctx: click.Context, as_json: bool) -> None:
    """List the policy versions, oldest first."""
    with open_archive(ctx) as archive:
        rows = policies_api.versions(archive)
    emit([r | {"policies": r["policies"] if as_json else ", ".join(r["policies"])} for r in rows],
         ["version", "sha256", "loaded_at", "loaded_by", "audit_entry", "policies"], as_json=as_json,
         title="Supervision policy versions")


@policy.command("show")
@click.option("--version", "number", type=int, help="A version number (default: the current one).")
@click.option("--default", "show_default", is_flag=True, help="Show the policy file shipped with chataudit.")
@json_option
@click.pass_context
@friendly_errors
def policy_show(ctx: click.Context, number: int | None, show_default: bool, as_json: bool) -> None:
    """Show a policy version: its definition and the file as it was given."""
    if show_default:
        text = policies_api.default_text()
        value = {"version": None, "sha256": policies_api.digest(policies_api.default_definition()),
                 "definition": policies_api.default_definition(), "source_text": text}
    else:
        with open_archive(ctx) as archive:
            value = policies_api.version(archive, number)
    if as_json:
        emit_json(value)
        return
    if value.get("version") is not None:
        click.echo(f"# policy version {value['version']}, sha256 {value['sha256']}, set {value['loaded_at']} by "
                   f"{value['loaded_by']} (audit entry {value['audit_entry']})")
    click.echo(value["source_text"].rstrip("\n"))
