"""``chataudit match``: statement transactions against the chat messages that claim them.

Registered on the main group by :mod:`chataudit.cli` (``cli.add_command(match)``). This module does
not import ``cli`` so that either can be imported first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from . import match as match_api, queries
from .render import emit, emit_json
from .statements import DEFAULT_ZONE
from .cli import friendly_errors, open_archive


@click.command("match")
@click.option("--statement", "statements", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="A statement file: WeChat Pay bill (.csv/.xlsx), Alipay bill (.csv), or a bank CSV. Repeatable.")
@click.option("--conversation", "conversation_ref", help="Only claims in this conversation.")
@click.option("--person", "person_ref", help="Only claims in this person's merged timeline (see `people`).")
@click.option("--window", "window_hours", type=float, default=match_api.DEFAULT_WINDOW_HOURS, show_default=True,
              help="Hours between a message and a transaction that may still be paired.")
@click.option("--tolerance", type=click.FloatRange(0, 50), default=0.0, show_default=True,
              help="Also pair amounts that differ by up to this many percent (scored lower than exact ones).")
@click.option("--tz", help=f"Zone of the statements' wall-clock times (default {DEFAULT_ZONE}).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable keys, see README).")
@click.pass_context
@friendly_errors
def match(ctx: click.Context, statements: tuple[str, ...], conversation_ref: str | None, person_ref: str | None,
          window_hours: float, tolerance: float, tz: str | None, as_json: bool) -> None:
    """Pair bank / WeChat Pay / Alipay transactions with the chat messages that claim them.

    A claim is a transfer or red-packet message with its amount, or an amount written in a message
    ("已转5000元", "首付30万", "¥1,200.50", "转了五千"). Each transaction is paired with at most one
    claim and each claim with at most one transaction: exact amount first, then the closest time,
    then a matching counterparty name. Lists the pairs, the claims no transaction backs, and the
    transactions no message mentions.
    """
    if conversation_ref and person_ref:
        raise click.UsageError("give at most one of --conversation or --person")
    with open_archive(ctx) as archive:
        result = queries.match(archive, [Path(s) for s in statements], conversation_ref=conversation_ref,
                               person_ref=person_ref, window_hours=window_hours, tolerance=tolerance, tz=tz)
    if as_json:
        emit_json(result)
        return
    _print_report(result)


def _print_report(result: dict[str, Any]) -> None:
    matched = [
        {
            "transaction": pair["transaction"]["ref"],
            "time": pair["transaction"]["time"],
            "amount": pair["transaction"]["amount"],
            "counterparty": pair["transaction"]["counterparty"],
            "message": pair["message"]["id"],
            "sent_at": pair["message"]["sent_at"],
            "sender": pair["message"]["sender_name"],
            "text": pair["message"]["text"],
            "delta_hours": pair["delta_hours"],
            "score": pair["score"],
        }
        for pair in result["matched"]
    ]
    emit(matched, ["transaction", "time", "amount", "counterparty", "message", "sent_at", "sender", "text",
                   "delta_hours", "score"], title="Matched")
    claims = [
        {
            "message": item["message"]["id"],
            "sent_at": item["message"]["sent_at"],
            "sender": item["message"]["sender_name"],
            "amount": item["claim"]["amount"],
            "text": item["message"]["text"],
            "reason": item["reason"],
        }
        for item in result["unmatched_claims"]
    ]
    emit(claims, ["message", "sent_at", "sender", "amount", "text", "reason"], title="Claims with no transaction")
    emit(result["unmatched_transactions"], ["ref", "time", "amount", "counterparty", "category", "memo", "status"],
         title="Transactions with no claim")
    summary = result["summary"]
    click.echo(f"{summary['transactions']} transactions, {summary['claims']} claims: {summary['matched']} matched, "
               f"{summary['unmatched_claims']} claims and {summary['unmatched_transactions']} transactions unmatched "
               f"(window {summary['window_hours']:g} h)")
