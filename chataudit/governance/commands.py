"""Governance commands: ``mode``, ``roster``, ``auth``, ``audit``, ``retention`` and ``hold``.

Registered lazily by the CLI's group; each opens the archive named by the root ``--db``, calls one
function of this package and renders the result. Who runs them is the root ``--operator``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..cli import friendly_errors, json_option, open_archive
from ..render import emit, emit_json
from . import audit as audit_api, auth as auth_api, mode as mode_api, retention as retention_api
from . import holds as holds_api, roster as roster_api


def _operator(ctx: click.Context) -> str:
    return audit_api.operator_of(ctx)


# ---- mode -----------------------------------------------------------------------------------------------

@click.command("mode")
@json_option
@click.pass_context
@friendly_errors
def mode(ctx: click.Context, as_json: bool) -> None:
    """Show the archive's mode (set it with `init --mode personal|enterprise`) and what governs it."""
    with open_archive(ctx) as archive:
        doc = mode_api.status(archive)
    if as_json:
        emit_json(doc)
        return
    click.echo(f"mode: {doc['mode']}" + (f" (admin: {doc['admin']}; reads are audited)" if doc["admin"] else ""))
    click.echo(f"roster: {doc['roster']} employees; authorizations in force: {doc['authorizations_active']}; "
               f"legal holds: {doc['holds_active']}; retention rules: {doc['retention_rules']}; "
               f"audit entries: {doc['audit_entries']}")


# ---- roster -------------------------------------------------------------------------------------------

@click.group("roster")
def roster() -> None:
    """The employees whose messages enterprise mode protects (the CSV `quality --roster` reads)."""


@roster.command("set")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@json_option
@click.pass_context
@friendly_errors
def roster_set(ctx: click.Context, path: str, as_json: bool) -> None:
    """Replace the roster with FILE: CSV id,name,role,hired_on[,team] (role service, sales or bot)."""
    with open_archive(ctx) as archive:
        result = roster_api.set_roster(archive, path, operator=_operator(ctx), params=dict(ctx.params))
    if as_json:
        emit_json(result)
    else:
        click.echo(f"roster: {result['members']} employees from {path} (sha256 {result['file_sha256']}), "
                   f"audit entry {result['audit_entry']}")


@roster.command("show")
@json_option
@click.pass_context
@friendly_errors
def roster_show(ctx: click.Context, as_json: bool) -> None:
    """List the roster."""
    with open_archive(ctx) as archive:
        rows = roster_api.roster(archive)
    emit(rows, list(roster_api.COLUMNS), as_json=as_json, title="Roster")


# ---- authorizations -------------------------------------------------------------------------------------

AUTH_COLUMNS = ["id", "status", "subjects", "platforms", "conversations", "period", "expires", "purpose",
                "granted_by", "document"]


def _auth_row(doc: dict[str, Any]) -> dict[str, Any]:
    return doc | {"subjects": ", ".join(doc["subjects"]), "platforms": ", ".join(doc["platforms"]) or "all",
                  "conversations": ", ".join(map(str, doc["conversations"])) or "all",
                  "period": doc["period"] or "any time",
                  "document": f"{doc['document']['name']} {doc['document']['sha256'][:12]}…"}


@click.group("auth")
def auth() -> None:
    """Written authorizations to read employees' messages (enterprise mode)."""


@auth.command("add")
@click.option("--subject", "subjects", multiple=True, required=True,
              help="Roster id of an employee it covers (repeatable).")
@click.option("--document", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The signed authorization's scan (stored with its SHA-256).")
@click.option("--purpose", required=True, help="What the messages may be read for.")
@click.option("--expires", required=True, help="Last day it may be used (a bare date includes that day).")
@click.option("--granted-by", "granted_by", required=True, help="Who granted it (the employee, HR, a court …).")
@click.option("--scope", "scopes", multiple=True, metavar="KIND:VALUE",
              help="platform:NAME[,NAME], conversation:REF, period:SINCE..UNTIL (repeatable; "
                   "no platform/conversation: all; no period: any time).")
@json_option
@click.pass_context
@friendly_errors
def auth_add(ctx: click.Context, subjects: tuple[str, ...], document: str, purpose: str, expires: str,
             granted_by: str, scopes: tuple[str, ...], as_json: bool) -> None:
    """Record a written authorization: the scan, whom and what it covers, why, and until when."""
    with open_archive(ctx) as archive:
        added = auth_api.add(archive, subjects=subjects, document=document, purpose=purpose, expires=expires,
                             granted_by=granted_by, scopes=scopes, operator=_operator(ctx), params=dict(ctx.params))
        doc = auth_api.as_json(archive, added)
    if as_json:
        emit_json(doc)
    else:
        row = _auth_row(doc)
        click.echo(f"authorization #{doc['id']} for {row['subjects']}: platforms {row['platforms']}, conversations "
                   f"{row['conversations']}, period {row['period']}, until {doc['expires_at']}; document "
                   f"{doc['document']['name']} sha256 {doc['document']['sha256']}")


@auth.command("list")
@click.option("--active", is_flag=True, help="Only those in force now.")
@json_option
@click.pass_context
@friendly_errors
def auth_list(ctx: click.Context, active: bool, as_json: bool) -> None:
    """List authorizations with their status: active, expired, revoked or tampered."""
    with open_archive(ctx) as archive:
        docs = auth_api.listing(archive, active=active)
    if as_json:
        emit_json(docs)
    else:
        emit([_auth_row(d) for d in docs], AUTH_COLUMNS, title="Authorizations")


@auth.command("revoke")
@click.argument("auth_id", metavar="ID", type=int)
@click.option("--reason", required=True, help="Why it is withdrawn.")
@json_option
@click.pass_context
@friendly_errors
def auth_revoke(ctx: click.Context, auth_id: int, reason: str, as_json: bool) -> None:
    """Revoke an authorization: it is kept, and no longer allows anything."""
    with open_archive(ctx) as archive:
        doc = auth_api.as_json(archive, auth_api.revoke(archive, auth_id, reason, operator=_operator(ctx),
                                                        params=dict(ctx.params)))
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"authorization #{auth_id} revoked at {doc['revoked_at']} by {doc['revoked_by']}")


@auth.command("document")
@click.argument("auth_id", metavar="ID", type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Write the stored scan here.")
@click.pass_context
@friendly_errors
def auth_document(ctx: click.Context, auth_id: int, out: str) -> None:
    """Write the stored scan of an authorization to a file (its SHA-256 is checked)."""
    with open_archive(ctx) as archive:
        name, data = auth_api.checked_document(archive, auth_id)
    Path(out).write_bytes(data)
    click.echo(f"wrote {name} ({len(data)} bytes) to {out}", err=True)


# ---- audit trail --------------------------------------------------------------------------------------

AUDIT_COLUMNS = ["id", "at", "operator", "command", "outcome", "authorizations", "records", "output_sha256", "detail"]


@click.command("audit")
@click.option("--since", help="From this date/time (naive times in the archive's zone).")
@click.option("--until", help="Up to this date/time (a bare date includes that day).")
@click.option("--operator", "operator_filter", help="Only entries of this operator.")
@click.option("--command", "command_filter", help="Only entries of this command, e.g. 'search' or 'auth add'.")
@json_option
@click.pass_context
@friendly_errors
def audit(ctx: click.Context, since: str | None, until: str | None, operator_filter: str | None,
          command_filter: str | None, as_json: bool) -> None:
    """The audit trail: who ran what, under which authorization, how many records, and the SHA-256
    of what went out. Each entry is a signed ledger leaf: `verify` names one that was changed."""
    with open_archive(ctx) as archive:
        rows = audit_api.filtered(archive, since=since, until=until, operator=operator_filter,
                                  command=command_filter)
    if as_json:
        emit_json(rows)
        return
    shown = [r | {"authorizations": ", ".join(f"#{a}" for a in r["authorizations"]) if isinstance(
        r["authorizations"], list) else r["authorizations"], "detail": _short(r["detail"])} for r in rows]
    emit(shown, AUDIT_COLUMNS, title="Audit trail")


def _short(text: str | None, width: int = 90) -> str | None:
    return text if text is None or len(text) <= width else text[:width - 1] + "…"


# ---- retention and holds ---------------------------------------------------------------------------------

@click.group("retention")
def retention() -> None:
    """Retention rules per platform, label or conversation, and runs that purge what is older."""


@retention.command("set")
@click.argument("selector", required=False)
@click.argument("keep", required=False)
@click.option("--file", "rules_file", type=click.Path(exists=True, dir_okay=False),
              help="YAML or TOML rules (`dingtalk: 2y`, `default: keep` …) replacing all rules.")
@json_option
@click.pass_context
@friendly_errors
def retention_set(ctx: click.Context, selector: str | None, keep: str | None, rules_file: str | None,
                  as_json: bool) -> None:
    """Set one rule (SELECTOR KEEP, e.g. `dingtalk 2y`, `label:alice-phone 1y`, `conversation:12 keep`,
    `default keep`) or replace all rules with --file."""
    if bool(rules_file) == bool(selector):
        raise click.UsageError("give SELECTOR KEEP or --file FILE")
    if selector and not keep:
        raise click.UsageError("give how long to keep: a duration like 2y, 18m, 6w, 90d, or keep")
    new_rules = retention_api.load_rules_file(rules_file) if rules_file else {selector: keep}
    with open_archive(ctx) as archive:
        current = retention_api.set_rules(archive, new_rules, replace=bool(rules_file), operator=_operator(ctx),
                                          params=dict(ctx.params))
    if as_json:
        emit_json(current)
    else:
        emit(current, ["selector", "keep"], title="Retention rules")


@retention.command("show")
@json_option
@click.pass_context
@friendly_errors
def retention_show(ctx: click.Context, as_json: bool) -> None:
    """List the retention rules (most specific first)."""
    with open_archive(ctx) as archive:
        current = retention_api.rules(archive)
    emit(current, ["selector", "keep"], as_json=as_json, title="Retention rules")


PLAN_COLUMNS = ["message", "sent_at", "platform", "conversation_title", "sender", "rule", "keep"]
SHOWN = 50  # rows listed on a terminal; --json has every one


@retention.command("apply")
@click.option("--dry-run", is_flag=True, help="Only list what would be purged and why, and what holds keep.")
@click.option("--as-of", "as_of", help="Count ages back from this date/time instead of now.")
@json_option
@click.pass_context
@friendly_errors
def retention_apply(ctx: click.Context, dry_run: bool, as_of: str | None, as_json: bool) -> None:
    """Purge messages older than their rule allows (a tombstone stays in the ledger; `verify` reports
    the purge), except what a legal hold keeps. --dry-run lists it all first."""
    with open_archive(ctx) as archive:
        result = retention_api.apply(archive, as_of=as_of, dry_run=dry_run, operator=_operator(ctx),
                                     params=dict(ctx.params))
    if as_json:
        emit_json(result)
        return
    verb = "would purge" if dry_run else "purged"
    emit(result["purge"][:SHOWN], PLAN_COLUMNS, title=f"{verb} {len(result['purge'])} messages")
    if result["held"]:
        emit(result["held"][:SHOWN], PLAN_COLUMNS + ["hold", "hold_reason"],
             title=f"kept by legal holds: {len(result['held'])} messages")
    if len(result["purge"]) > SHOWN or len(result["held"]) > SHOWN:
        click.echo(f"(the first {SHOWN} of each are shown; --json lists them all)")
    by_rule: dict[str, int] = {}
    for item in result["purge"]:
        by_rule[item["rule"]] = by_rule.get(item["rule"], 0) + 1
    for rule, count in sorted(by_rule.items()):
        click.echo(f"rule {rule}: {count} messages")
    for hold_id, count in sorted(result["counts"]["by_hold"].items()):
        click.echo(f"hold {hold_id} kept {count} messages that retention would purge")
    click.echo(f"as of {result['as_of']}: {verb} {len(result['purge'])}, held {len(result['held'])}"
               + ("" if dry_run else f"; audit entry {result['audit_entry']}"))


@click.group("hold")
def hold() -> None:
    """Legal holds: what they cover is not purged until they are released."""


HOLD_COLUMNS = ["id", "active", "kind", "target", "reason", "placed_by", "placed_at", "released_at"]


@hold.command("add")
@click.option("--conversation", "conversation_ref", help="Hold one conversation.")
@click.option("--person", "person_ref", help="Hold a person's timeline (id or name from `people`, or platform:sender).")
@click.option("--reason", required=True, help="The matter it is kept for.")
@json_option
@click.pass_context
@friendly_errors
def hold_add(ctx: click.Context, conversation_ref: str | None, person_ref: str | None, reason: str,
             as_json: bool) -> None:
    """Place a legal hold on a conversation or a person."""
    with open_archive(ctx) as archive:
        placed = holds_api.add_hold(archive, conversation=conversation_ref, person=person_ref, reason=reason,
                                        operator=_operator(ctx), params=dict(ctx.params))
    if as_json:
        emit_json(placed)
    else:
        click.echo(f"hold {placed['id']} on {placed['kind']} {placed['target']}: {placed['reason']}")


@hold.command("release")
@click.argument("hold_id", metavar="ID", type=int)
@click.option("--reason", help="Why it ends.")
@json_option
@click.pass_context
@friendly_errors
def hold_release(ctx: click.Context, hold_id: int, reason: str | None, as_json: bool) -> None:
    """Release a legal hold (it is kept, marked released)."""
    with open_archive(ctx) as archive:
        released = holds_api.release_hold(archive, hold_id, reason, operator=_operator(ctx),
                                              params=dict(ctx.params))
    if as_json:
        emit_json(released)
    else:
        click.echo(f"hold {hold_id} released at {released['released_at']}")


@hold.command("list")
@click.option("--all", "include_released", is_flag=True, help="Also released holds.")
@json_option
@click.pass_context
@friendly_errors
def hold_list(ctx: click.Context, include_released: bool, as_json: bool) -> None:
    """List legal holds in force (--all: also released ones); `tampered` says why a hold's row
    disagrees with the audit entries that placed or released it."""
    with open_archive(ctx) as archive:
        rows = holds_api.holds(archive, include_released)
    tampered = ["tampered"] if any(r["tampered"] for r in rows) else []
    emit(rows, HOLD_COLUMNS + tampered, as_json=as_json, title="Legal holds")


COMMANDS = [mode, roster, auth, audit, retention, hold]
