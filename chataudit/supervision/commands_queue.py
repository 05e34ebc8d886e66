"""``chataudit supervise queue|show|assign|close|escalate|report``: the review queue's commands, each a few
lines over :mod:`.queue` and :mod:`.reports`. Who runs them is the root ``--operator``."""

from __future__ import annotations

import click

from ..cli import friendly_errors, json_option, open_archive, redact_option
from ..governance.audit import operator_of
from ..render import emit, emit_json
from . import queue as queue_api, reports as reports_api
from .commands import supervise

QUEUE_COLUMNS = ["id", "status", "conversation_title", "alerts", "policies", "reviewer", "due_at", "overdue"]
sla_option = click.option("--sla", default=None, metavar="DURATION",
                          help=f"How long an alert may stay open: 48h, 2d, 90m (default {queue_api.DEFAULT_SLA}).")


def _changed(as_json: bool, result: dict, text: str) -> None:
    if as_json:
        emit_json(result)
    else:
        click.echo(text)


@supervise.command("queue")
@click.option("--mine", is_flag=True, help="Only the items assigned to me (the --operator).")
@click.option("--reviewer", help="Only the items assigned to REVIEWER.")
@click.option("--status", type=click.Choice(queue_api.STATUSES), default="open", show_default=True,
              help="open (includes escalated), closed or all.")
@click.option("--overdue", is_flag=True, help="Only items not closed and past their SLA.")
@sla_option
@json_option
@click.pass_context
@friendly_errors
def queue(ctx: click.Context, mine: bool, reviewer: str | None, status: str, overdue: bool, sla: str | None,
          as_json: bool) -> None:
    """The review queue: alerts grouped by conversation (new alerts are taken in first)."""
    if mine and reviewer:
        raise click.UsageError("give --mine or --reviewer, not both")
    operator = operator_of(ctx)
    with open_archive(ctx) as archive:
        queue_api.intake(archive, operator=operator, params=dict(ctx.params))
        rows = queue_api.items(archive, reviewer=operator if mine else reviewer, status=status, overdue=overdue,
                               sla=sla)
    columns = QUEUE_COLUMNS + (["tampered"] if any(r["tampered"] for r in rows) else [])
    emit(rows, columns, as_json=as_json, title="Supervision queue")


@supervise.command("show")
@click.argument("item_id", metavar="ITEM", type=int)
@click.option("--context", "context", type=int, default=2, show_default=True,
              help="Messages shown before and after each hit.")
@sla_option
@redact_option
@json_option
@click.pass_context
@friendly_errors
def show(ctx: click.Context, item_id: int, context: int, sla: str | None, redact_policy: str | None,
         as_json: bool) -> None:
    """One item: each alert with its hit in context, and the item's history."""
    with open_archive(ctx) as archive:
        doc = queue_api.show(archive, item_id, context=context, sla=sla, redact_policy=redact_policy)
    if as_json:
        emit_json(doc)
        return
    item = doc["item"]
    click.echo(f"item {item['id']} [{item['status']}] {item['conversation_title']} — reviewer: "
               f"{item['reviewer'] or '-'}, due {item['due_at']}{' (OVERDUE)' if item['overdue'] else ''}")
    for alert in doc["alerts"]:
        click.echo(f"\nalert {alert['id']} {alert['kind']} {alert['policy'] or ''} {alert['rule'] or ''}"
                   + (" (its message was purged by a retention run)" if alert["purged"] else ""))
        for message in alert["context"]:
            text = message["text"]
            if "hit" in message:
                hit = message["hit"]
                text = f"{hit['before']}[[{hit['matched']}]]{hit['after']}" if hit["matched"] else text
            click.echo(f"{'>' if 'hit' in message else ' '} {message['sent_at']} {message['sender_name']}: {text}")
    for step in doc["history"]:
        click.echo(f"{step['at']} {step['operator']} {step['action']}")


@supervise.command("assign")
@click.argument("item_ids", metavar="[ITEM]...", type=int, nargs=-1)
@click.option("--to", "to", help="Assign the ITEMs to this reviewer.")
@click.option("--round-robin", "round_robin", metavar="R1,R2,…",
              help="Round robin over these reviewers (default: every open item not assigned).")
@click.option("--team-reviewers", "team_reviewers", multiple=True, metavar="TEAM=R1,R2",
              help="By team: an item's team (the roster team that sent most of its messages) to these reviewers, "
                   "round robin among them. Repeat for each team.")
@json_option
@click.pass_context
@friendly_errors
def assign(ctx: click.Context, item_ids: tuple[int, ...], to: str | None, round_robin: str | None,
           team_reviewers: tuple[str, ...], as_json: bool) -> None:
    """Assign items to a reviewer, round robin, or by team; never to a reviewer who sent messages of
    the item's conversation."""
    with open_archive(ctx) as archive:
        result = queue_api.assign(
            archive, list(item_ids) or None, to=to,
            round_robin=[r for r in round_robin.split(",") if r.strip()] if round_robin is not None else None,
            team_reviewers=queue_api.parse_team_reviewers(team_reviewers) if team_reviewers else None,
            operator=operator_of(ctx), params=dict(ctx.params))
    lines = [f"item {a['item']} → {a['reviewer']}" for a in result["assigned"]]
    lines += [f"item {s['item']} skipped: {s['why']}" for s in result["skipped"]]
    _changed(as_json, result, "\n".join(lines) or "nothing to assign")


@supervise.command("close")
@click.argument("item_id", metavar="ITEM", type=int)
@click.option("--disposition", required=True, metavar="D",
              help="'no issue', coaching, escalated (to a second reviewer) or reported.")
@click.option("--reason", required=True, help="Why (mandatory; on the audit trail).")
@click.option("--to", "to", help="With --disposition escalated: the second reviewer.")
@json_option
@click.pass_context
@friendly_errors
def close(ctx: click.Context, item_id: int, disposition: str, reason: str, to: str | None, as_json: bool) -> None:
    """Close an item you review with a disposition and a reason (escalated: pass it to a second reviewer)."""
    with open_archive(ctx) as archive:
        result = queue_api.close(archive, item_id, disposition, reason, operator=operator_of(ctx),
                                 params=dict(ctx.params), to=to)
    _changed(as_json, result, f"item {item_id} {result['status']}"
             + (f" ({result['disposition']})" if result["disposition"] else "")
             + f"; audit entry {result['audit_entry']}")


@supervise.command("escalate")
@click.argument("item_id", metavar="ITEM", type=int)
@click.option("--reason", required=True, help="Why (mandatory; on the audit trail).")
@click.option("--to", "to", help="The second reviewer (never yourself); else assign one later.")
@json_option
@click.pass_context
@friendly_errors
def escalate(ctx: click.Context, item_id: int, reason: str, to: str | None, as_json: bool) -> None:
    """Escalate an item you review to a second reviewer, who closes it for good."""
    with open_archive(ctx) as archive:
        result = queue_api.escalate(archive, item_id, reason, operator=operator_of(ctx), params=dict(ctx.params),
                                    to=to)
    _changed(as_json, result, f"item {item_id} escalated to {result['reviewer'] or '(not assigned yet)'}; "
             f"audit entry {result['audit_entry']}")


@supervise.command("report")
@click.option("--by", type=click.Choice(reports_api.GROUPINGS), default="policy", show_default=True)
@click.option("--period", type=click.Choice(reports_api.PERIODS), default="week", show_default=True)
@click.option("--since", help="Hits from this time (naive times in --tz, else the archive's zone).")
@click.option("--until", help="Hits before this time (a bare date includes that day).")
@click.option("--tz", help="Zone of naive --since/--until.")
@sla_option
@json_option
@click.pass_context
@friendly_errors
def report(ctx: click.Context, by: str, period: str, since: str | None, until: str | None, tz: str | None,
           sla: str | None, as_json: bool) -> None:
    """Hits over time by policy, agent or team; false-positive rate per rule; open and overdue alerts."""
    with open_archive(ctx) as archive:
        doc = reports_api.report(archive, by=by, period=period, since=since, until=until, tz=tz, sla=sla)
    if as_json:
        emit_json(doc)
        return
    emit(doc["hits"], ["period", "group", "alerts"], title=f"Hits by {by} per {period}")
    emit(doc["terms"], ["policy", "rule", "alerts", "closed", "false_positives", "false_positive_rate"],
         title="False positives per rule")
    q = doc["queue"]
    click.echo(f"open items {q['open_items']} (overdue {q['overdue_items']}, escalated {q['escalated_items']}); "
               f"open alerts {q['open_alerts']} (overdue {q['overdue_alerts']}); closed {q['closed_items']}, "
               f"mean {q['mean_hours_to_close']} h to close")
