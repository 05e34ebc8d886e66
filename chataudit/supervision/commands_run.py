"""``chataudit supervise run|runs|sample``: raise alerts."""

from __future__ import annotations

import sys

import click

from ..cli import friendly_errors, json_option, open_archive
from ..governance import audit
from ..render import emit, emit_json
from ..store import Archive
from . import engine
from .commands import supervise


def time_bound(archive: Archive, text: str | None, end: bool = False) -> int | None:
    """A --since/--until value (naive times in the archive's zone) as UTC milliseconds."""
    if not text:
        return None
    from ..governance.auth import archive_zone
    from ..model import parse_user_time, utc_ms

    return utc_ms(parse_user_time(text, archive_zone(archive), end_of_day=end))


@supervise.command("run")
@click.option("--since", help="Leave out messages sent before this date or time (naive: the archive's zone).")
@json_option
@click.pass_context
@friendly_errors
def supervise_run(ctx: click.Context, since: str | None, as_json: bool) -> None:
    """Evaluate the current policy version on the messages it has not evaluated yet and raise alerts
    (the shipped default policy becomes version 1 when none is set)."""
    with open_archive(ctx) as archive:
        progress = None
        if not as_json and sys.stderr.isatty():
            progress = lambda n: click.echo(f"\r{n:,} messages evaluated", err=True, nl=False)  # noqa: E731
        result = engine.run(archive, operator=audit.operator_of(ctx), params=dict(ctx.params),
                            since_ms=time_bound(archive, since), progress=progress)
    if as_json:
        emit_json(result)
    elif result["run"] is None:
        click.echo(f"nothing to evaluate: {result['note']} (version {result['version']})")
    else:
        click.echo(f"\nrun {result['run']} (policy version {result['version']}): {result['messages']:,} messages, "
                   f"{result['alerts']:,} new alerts; audit entry {result['audit_entry']}")


@supervise.command("runs")
@json_option
@click.pass_context
@friendly_errors
def supervise_runs(ctx: click.Context, as_json: bool) -> None:
    """List the supervision runs, newest first."""
    with open_archive(ctx) as archive:
        rows = engine.runs(archive)
    emit(rows, list(("run",) + engine.RUN_KEYS[1:]), as_json=as_json, title="Supervision runs")


@supervise.command("sample")
@click.option("--rate", required=True, help="Share of the active conversations to draw, e.g. 2% or 0.02.")
@click.option("--since", help="Conversations with a message from this date or time.")
@click.option("--until", help="… and before this one (a bare date includes that day).")
@click.option("--seed", help="The draw's seed (default: the latest signed checkpoint's root).")
@json_option
@click.pass_context
@friendly_errors
def supervise_sample(ctx: click.Context, rate: str, since: str | None, until: str | None, seed: str | None,
                     as_json: bool) -> None:
    """Raise a sample alert for a random sample of the conversations active in the period; the seed
    and the method are on the audit trail, so anyone can redo the draw and check it."""
    with open_archive(ctx) as archive:
        since_ms, until_ms = time_bound(archive, since), time_bound(archive, until, end=True)
        result = engine.sample(archive, rate=engine.parse_rate(rate), since_ms=since_ms, until_ms=until_ms, seed=seed,
                               operator=audit.operator_of(ctx), params=dict(ctx.params))
    if as_json:
        emit_json(result)
    else:
        click.echo(f"drew {len(result['conversations'])} of {result['population']} conversations "
                   f"({result['rate']:.2%}, seed from {result['seed_source']}); audit entry {result['audit_entry']}")
