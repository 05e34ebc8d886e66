"""`chataudit facts`: dates, amounts, quantities, commitments and refusals a dispute turns on (registered by cli.py)."""

from __future__ import annotations

from typing import Any

import click

from .. import facts as facts_api
from .. import queries
from ..cli import friendly_errors, json_option, open_archive
from ..render import emit, emit_json

COLUMNS = ["sent_at", "platform", "conversation_title", "sender", "type", "value", "hedges", "statement"]


@click.command("facts")
@click.option("--conversation", "conversation_ref", help="Only this conversation.")
@click.option("--person", help="One person's merged timeline (a person id or name, or platform:sender).")
@click.option("--topic", help="Only messages naming these words (any of them) and their near neighbours.")
@click.option("--type", "types", multiple=True, type=click.Choice(facts_api.TYPES),
              help="Only facts of this type (repeatable).")
@click.option("--since", help="From this date/time.")
@click.option("--until", help="Up to this date/time.")
@click.option("--tz", help="Zone for naive --since/--until.")
@json_option
@click.pass_context
@friendly_errors
def facts_command(ctx: click.Context, conversation_ref: str | None, person: str | None, topic: str | None,
                  types: tuple[str, ...], since: str | None, until: str | None, tz: str | None,
                  as_json: bool) -> None:
    """Dates and deadlines, amounts, quantities, commitments, refusals, instructions and claims that
    something is done — with who said them and when. Hedged statements ("尽快", "大概") are flagged.

    Relative dates ("下周五", "明天", "月底", "next Friday") are resolved against each message's own
    date in the offset it was sent in.
    """
    with open_archive(ctx) as archive:
        tally: dict[str, int] = {}
        found = queries.facts(archive, conversation_ref=conversation_ref, person=person, topic=topic, types=types,
                              since=since, until=until, tz=tz, tally=tally)
    if as_json:
        emit_json(found)
        return
    if not found:
        from ..search import nothing_found

        click.echo(nothing_found("facts" if not types else "facts of type " + ", ".join(types), tally, {
            "--conversation": conversation_ref, "--person": person, "--topic": topic, "--since": since,
            "--until": until}))
        return
    emit((_row(f) for f in found), COLUMNS, title=f"{len(found)} facts" + (f" on {topic}" if topic else ""))


def marked(fact: dict[str, Any]) -> str:
    """The fact's sentence with the words it was read from in 【】 (a transfer: its kind and amount)."""
    sentence, span = fact["sentence"], fact["sentence_span"]
    if span is None:
        return f"[{fact['text']} {fact['normalized']}]" + (f" {sentence}" if sentence else "")
    start, end = span
    return (sentence[:start] + "【" + sentence[start:end] + "】" + sentence[end:]).replace("\n", " ")


def _row(fact: dict[str, Any]) -> dict[str, Any]:
    message = fact["message"]
    statement = marked(fact)
    return {
        "sent_at": message["sent_at"], "platform": message["platform"],
        "conversation_title": message["conversation_title"], "sender": message["sender"],
        "type": fact["type"], "value": fact["normalized"] if fact["type"] in ("date", "amount") else fact["value"],
        "hedges": "、".join(fact["hedges"]), "statement": statement,
    }
