"""`chataudit check SOURCE`: authenticity signals of one copy (registered by cli.py)."""

from __future__ import annotations

from typing import Any

import click

from .. import check as check_api
from ..cli import friendly_errors, json_option, open_archive
from ..exitcodes import DIFFERENT, DiffStyleCommand
from ..render import emit_json

SHOWN_PER_CHECK = 20
SEVERITY_STYLE = {"high": "red", "medium": "yellow", "low": "cyan", "info": "white"}


@click.command("check", cls=DiffStyleCommand)
@click.argument("source")
@click.option("--tz", help="Zone of wall-clock times when SOURCE is an export file not in the archive (as for import).")
@json_option
@click.pass_context
def check_command(ctx: click.Context, source: str, tz: str | None, as_json: bool) -> None:
    """Look for signs that one copy was edited, reordered or invented.

    SOURCE is a source id, SHA-256 (or 8+ leading hex digits), path or label as `sources` lists
    them, or a conversation (`conversation:ID`, or anything `conversations` accepts). A bare number
    is a source id first. An export file not in the archive is read for this check only (the
    archive is not changed). The verdict is "no anomaly found" or "anomalies found" — never "authentic".

    Exit status (as diff): 0 no anomaly found, 1 anomalies found, 2 error.
    """
    report = friendly_errors(_run)(ctx, source, tz, as_json)
    if report["verdict"] == check_api.ANOMALIES:
        ctx.exit(DIFFERENT)


def _run(ctx: click.Context, source: str, tz: str | None, as_json: bool) -> dict[str, Any]:
    with open_archive(ctx) as archive:
        report = check_api.check(archive, source, tz=tz)
    if as_json:
        emit_json(report)
    else:
        print_report(report)
    return report


def print_report(report: dict[str, Any]) -> None:
    scope = report["scope"]
    click.echo(f"Checked {scope['description']}: {scope['messages']} messages"
               f" ({scope['messages_with_sequence']} with a platform sequence number)")
    held = scope.get("messages_in_sources")
    if held is not None and held > scope["messages"]:
        click.echo(f"  note: the file holds {held} messages but the archive recorded {scope['messages']} sightings "
                   "of them: identical messages at the same instant out of time order in the file were taken as one")
    for source in report["sources"]:
        click.echo(f"  source {source['id'] if source['id'] is not None else '(not imported)'} {source['path']}")
        click.echo(f"    SHA-256 {source['sha256']}  {_match_text(source)}")
        click.echo(f"    MD5     {source['md5'] or '(file not available)'}")
    click.echo("Checks: " + ", ".join(report["checked"]))
    counts = report["severity_counts"]
    summary = ", ".join(f"{counts[level]} {level}" for level in ("high", "medium", "low", "info") if counts[level])
    verdict = report["verdict"]
    click.secho(f"Verdict: {verdict}" + (f" ({summary})" if summary else ""), bold=True,
                fg="red" if verdict == check_api.ANOMALIES else "green")
    if verdict == check_api.NO_ANOMALY:
        click.echo("  (none of the checked signs of editing was found; this does not prove the copy authentic)")
    shown: dict[str, int] = {}
    for signal in report["signals"]:
        count = shown[signal["check"]] = shown.get(signal["check"], 0) + 1
        if count > SHOWN_PER_CHECK:
            if count == SHOWN_PER_CHECK + 1:
                click.echo(f"  … more {signal['check']} signals in --json")
            continue
        click.secho(f"{signal['severity'].upper():6} {signal['check']}: ", fg=SEVERITY_STYLE[signal["severity"]],
                    nl=False)
        click.echo(signal["detail"])
        for message in signal["messages"][:6]:
            text = (message["text"] or "").replace("\n", " ")
            text = text if len(text) <= 60 else text[:59] + "…"
            where = f"#{message['id']}" if message["id"] is not None else "-"
            click.echo(f"         {where} {message['sent_at']} {message['sender'] or '?'}: {text}")


def _match_text(source: dict[str, Any]) -> str:
    if source["sha256_matches_file"] is True:
        return "(the file still matches)"
    if source["sha256_matches_file"] is False:
        return f"(the file has CHANGED: now {source['current_sha256']})"
    return "(file not found, cannot re-read)"
