"""``spark quality``, ``spark pii`` and ``spark supervise``: the single-machine jobs on Spark.

Each is a thin layer over its job module (:mod:`.quality_job`, :mod:`.pii_job`,
:mod:`.supervise_job`). The archive is optional: with ``--db`` (or ``$CHATAUDIT_DB``) the jobs read
what only the archive holds (its zone, imported ratings, reviews, the current policy version) and
``spark supervise --record`` files its alerts there; the lake alone is enough for the rest.
"""

from __future__ import annotations

import contextlib
import copy
import os
from typing import Any, Iterator

import click

from ..cli import friendly_errors, open_archive
from ..render import emit_json
from .commands import spark

lake_option = click.option("--lake", required=True, metavar="DIR",
                           help="The lake (a directory or URL Spark reads: local, hdfs://, s3a://).")
master_option = click.option("--master", envvar="CHATAUDIT_SPARK_MASTER", default=None,
                             help="Spark master URL (default: $CHATAUDIT_SPARK_MASTER, else local[2]).")


@contextlib.contextmanager
def archive_if_given(ctx: click.Context) -> Iterator[Any]:
    """The archive named by an explicit --db or $CHATAUDIT_DB, else None (the lake alone)."""
    if ctx.find_root().params.get("db") or os.environ.get("CHATAUDIT_DB"):
        with open_archive(ctx) as archive:
            yield archive
    else:
        yield None


def _session(master: str | None, lake: str) -> Any:
    """The SparkSession, started only once the options are known good and the lake is there."""
    from .jobs import check_lake
    from .session import get_session

    check_lake(lake)
    return get_session(master)


@spark.command("quality")
@lake_option
@master_option
@click.pass_context
@friendly_errors
def spark_quality(ctx: click.Context, lake: str, master: str | None, as_json: bool, csv_path: str | None,
                  trends_path: str | None, html_path: str | None, **options: Any) -> None:
    """Service quality on Spark over a lake: the same figures and JSON as `quality`."""
    from ..quality import build as build_api
    from ..quality.commands import _summary, needs_rows, write_outputs
    from . import quality_job

    needs_rows(options["no_session_lists"], csv_path, html_path)
    with archive_if_given(ctx) as archive:
        if html_path and archive is None:
            raise click.ClickException("--html shows the sessions' messages from the archive: give --db")
        periods: list[Any] = []

        def analyze(opts: Any, progress: Any) -> dict[str, Any]:
            periods.append(opts)  # the main period first; a --compare-to period leaves the results alone
            return quality_job.analyze(_session(master, lake), lake, opts, db=archive.db if archive is not None else None,
                                       on_progress=progress, results=len(periods) == 1)

        built = build_api.build(archive, **options, analyze=analyze)
        result = built.result
        quality_job.write_report(_session(master, lake), lake, result)
        write_outputs(built, archive, ratings=options['ratings'], csv_path=csv_path, trends_path=trends_path,
                      html_path=html_path)
    if as_json:
        emit_json(result)
    elif not csv_path and not html_path and not trends_path:
        _summary(result)


def _borrow_options() -> None:
    """`spark quality` takes exactly `quality`'s options (filters, roster, scripts, --json…): the
    same click parameters, so the two commands cannot drift apart."""
    from ..quality.commands import quality

    spark_quality.params.extend(copy.copy(p) for p in quality.params)


_borrow_options()


@spark.command("pii")
@lake_option
@master_option
@click.option("--conversation", "conversation_ref", help="Only this conversation (its id; with --db also platform:native_id or title).")
@click.option("--types", help="Comma-separated types, e.g. id_card,bank_card,mobile (see `pii types`).")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(0),
              help="How many findings to print; all of them are in LAKE/results/pii/.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: {findings, counts, scanned, seconds, total, results}.")
@click.pass_context
@friendly_errors
def spark_pii(ctx: click.Context, lake: str, master: str | None, conversation_ref: str | None, types: str | None,
              limit: int, as_json: bool) -> None:
    """Find personal data in every message of a lake on Spark (the recognizers of `pii scan`)."""
    from ..render import emit
    from . import pii_job

    conversation = None
    if conversation_ref is not None:
        with archive_if_given(ctx) as archive:
            from ..quality.build import _conversation_id

            conversation = _conversation_id(archive, conversation_ref)
    result = pii_job.scan(_session(master, lake), lake, conversation=conversation, types=types, limit=limit)
    if as_json:
        emit_json(result)
        return
    emit(result["findings"], ["message_id", "type", "value", "start", "end", "sensitive"],
         title=f"{result['total']} findings (in {result['results']})")
    emit([{"type": k, "count": v} for k, v in result["counts"].items()], ["type", "count"], title="By type")
    click.echo(f"scanned {result['scanned']} messages in {result['seconds']:.2f} s", err=True)


@spark.command("supervise")
@lake_option
@master_option
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False),
              help="A policy file (YAML or JSON) instead of the archive's current version.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: {version, policy, messages, alerts, by_category, results, seconds}.")
@click.pass_context
@friendly_errors
def spark_supervise(ctx: click.Context, lake: str, master: str | None, policy_file: str | None, as_json: bool) -> None:
    """Evaluate a supervision policy on every message of a lake on Spark (the matcher of `supervise run`)."""
    from ..supervision import policies
    from . import supervise_job

    roster_entries: list[Any] = []
    version = None
    with archive_if_given(ctx) as archive:
        if archive is not None:
            from ..governance.roster import roster
            from ..quality.config import RosterEntry

            roster_entries = [RosterEntry(r["id"], r["name"], r["role"], None, r["team"]) for r in roster(archive)]
        if policy_file:
            from pathlib import Path

            definition, source = policies.parse(Path(policy_file).read_text(encoding="utf-8"), policy_file), policy_file
        elif archive is not None and policies.current(archive) is not None:
            version, definition = policies.current(archive)  # type: ignore[misc]
            source = f"archive version {version}"
        else:
            definition, source = policies.default_definition(), "default policy"
    result = {"version": version, "policy": source,
              **supervise_job.run(_session(master, lake), lake, definition, roster=roster_entries)}
    if as_json:
        emit_json(result)
    else:
        click.echo(f"policy {source}: {result['messages']:,} messages, {result['alerts']:,} alerts "
                   f"in {result['results']}")
        for category, count in result["by_category"].items():
            click.echo(f"  {category}: {count}")
