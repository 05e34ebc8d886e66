"""``chataudit quality``: a thin click command over :func:`chataudit.quality.build.build`."""

from __future__ import annotations

import sys

import click

from ..cli import friendly_errors, json_option, open_archive, redact_option
from ..render import emit_json
from . import build as build_api, config, report as report_api


@click.command("quality")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False),
              help="CSV id,name,role,hired_on[,team]; role service, sales or bot.")
@click.option("--scripts", type=click.Path(exists=True, dir_okay=False),
              help="Standard scripts: YAML, or TSV category<TAB>text (default: the built-in greeting/closing).")
@click.option("--taxonomy", type=click.Path(exists=True, dir_okay=False), help="Question topics: YAML topic: [key words].")
@click.option("--lexicon", type=click.Path(exists=True, dir_okay=False), help="Sensitive-word lexicons (YAML).")
@click.option("--scorecard", type=click.Path(exists=True, dir_okay=False), help="Scorecard weights and critical items (YAML).")
@click.option("--ratings", type=click.Path(exists=True, dir_okay=False),
              help="Import satisfaction ratings: CSV conversation (or customer), time, rating.")
@click.option("--since", help="From this date/time.")
@click.option("--until", help="Up to this date/time (a bare date includes that day).")
@click.option("--compare-to", "compare_to", help="Before-period SINCE..UNTIL to compare every figure with.")
@click.option("--platform", "platforms", multiple=True, help="Only this platform (repeatable: any of them).")
@click.option("--conversation", "conversation_refs", multiple=True, help="Only this conversation (repeatable).")
@click.option("--agent", "agent_refs", multiple=True, help="Only sessions this agent (roster id or name) wrote in.")
@click.option("--team", help="Only sessions a member of this roster team wrote in.")
@click.option("--tz", help="Zone for hours of the day and naive times (default: the archive's, else Asia/Shanghai).")
@click.option("--session-gap", default="2h", show_default=True, help="Idle time that starts a new session: 30m, 2h, 90s.")
@click.option("--sla", "sla", multiple=True, help="Target per role in seconds, e.g. --sla service=30 --sla sales=60.")
@click.option("--new-days", default=config.DEFAULT_NEW_DAYS, show_default=True, type=click.IntRange(1, 3650),
              help="Agents hired less than this many days before the period are the new cohort.")
@click.option("--hours", help="Business hours, e.g. 08:00-23:00: waits count only time inside them.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 100), help="How many topics to list.")
@click.option("--no-nlp", is_flag=True, help="Timing figures only (no texts read).")
@click.option("--no-session-lists", is_flag=True,
              help="Leave out what lists every session: session_rows (null; `spark quality` keeps them in"
                   " LAKE/results/quality/session_rows/) and all but the first 20 ids of each session list"
                   " (counts stay whole): gigabytes at millions of sessions.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write one row per session to this CSV.")
@click.option("--trends-csv", "trends_path", type=click.Path(dir_okay=False),
              help="Write the trends (one row per day, then per ISO week) to this CSV.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write the HTML report to this file.")
@redact_option
@json_option
@click.pass_context
@friendly_errors
def quality(ctx: click.Context, roster: str | None, scripts: str | None, taxonomy: str | None, lexicon: str | None,
            scorecard: str | None, ratings: str | None, since: str | None, until: str | None,
            compare_to: str | None, platforms: tuple[str, ...], conversation_refs: tuple[str, ...],
            agent_refs: tuple[str, ...], team: str | None, tz: str | None, session_gap: str, sla: tuple[str, ...],
            new_days: int, hours: str | None, top: int, no_nlp: bool, no_session_lists: bool, csv_path: str | None,
            trends_path: str | None, html_path: str | None, redact_policy: str | None, as_json: bool) -> None:
    """Service quality: response times, SLA, scripts, top questions, sentiment, typos, sensitive words, scores."""
    needs_rows(no_session_lists, csv_path, html_path)
    with open_archive(ctx) as archive:
        built = build_api.build(
            archive, roster=roster, scripts=scripts, taxonomy=taxonomy, lexicon=lexicon, scorecard=scorecard,
            ratings=ratings, since=since, until=until, compare_to=compare_to, platforms=platforms,
            conversation_refs=conversation_refs, agent_refs=agent_refs, team=team, tz=tz, session_gap=session_gap,
            sla=sla, new_days=new_days, hours=hours, top=top, no_nlp=no_nlp, no_session_lists=no_session_lists,
            redact_policy=redact_policy)
        result = built.result
        write_outputs(built, archive, ratings=ratings, csv_path=csv_path, trends_path=trends_path,
                      html_path=html_path)
    if as_json:
        emit_json(result)
    elif not csv_path and not html_path and not trends_path:
        _summary(result)


def needs_rows(no_session_lists: bool, csv_path: str | None, html_path: str | None) -> None:
    """Refuse at once (before a long report) outputs made of the session rows left out."""
    if no_session_lists and (csv_path or html_path):
        raise click.UsageError(f"--no-session-lists leaves out the session rows that {'--csv' if csv_path else '--html'}"
                               " is made of: drop one of them")


def write_outputs(built: build_api.Built, archive, *, ratings, csv_path, trends_path, html_path) -> None:
    """What `quality` and `spark quality` write beside their JSON: the ratings line, the session
    CSV, the trends CSV and the HTML report (one place, so the two commands write the same files)."""
    result, redactor = built.result, built.redactor
    if built.ratings is not None:
        click.echo(f"{ratings}: {built.ratings['ratings']} ratings, {built.ratings['new']} new", err=True)
    if csv_path:
        with open(csv_path, "w", encoding="utf-8-sig", newline="") as handle:
            count = report_api.write_csv(result, handle)
        click.echo(f"wrote {count} sessions to {csv_path}", err=True)
    if trends_path:
        from .trends import write_csv as write_trends

        with open(trends_path, "w", encoding="utf-8-sig", newline="") as handle:
            count = write_trends(result, handle)
        click.echo(f"wrote {count} trend rows to {trends_path}", err=True)
    if html_path:
        from .html import write_report

        with open(html_path, "w", encoding="utf-8") as handle:
            write_report(result, handle, archive, redactor.transform(archive) if redactor else None)
        click.echo(f"wrote the report to {html_path}", err=True)


def _summary(r: dict) -> None:
    from .score import fmt_s

    echo = click.echo
    echo(f"{r['sessions']} sessions, {r['responses']} responses, {r['unanswered']} unanswered waits")
    if r["responses"]:
        echo(f"response: mean {fmt_s(r['mean_response_s'])}, median {fmt_s(r['median_response_s'])}, "
             f"p90 {fmt_s(r['p90_response_s'])}; within SLA {r['sla_within_rate']:.0%}, "
             f"within 3 min {r['within_3min_rate']:.0%}")
        first = r["first_response"]
        if first["responses"]:
            echo(f"first response: mean {fmt_s(first['mean_response_s'])}, median {fmt_s(first['median_response_s'])}")
    for group, row in r["by_cohort"]["groups"].items():
        echo(f"  {group}: mean {fmt_s(row['mean_response_s'])} over {row['responses']} "
             + ("response" if row["responses"] == 1 else "responses"))
    if r["resolution_rate"] is not None:
        echo(f"resolution rate {r['resolution_rate']:.0%}; mean score {r['scores']['mean']}")
    taken = [c for c in r.get("conversations", []) if c["service"]]
    echo(f"conversations scored: {len(taken)} of {len(r.get('conversations', []))} "
         "(the others are not customer service; see `conversations` in --json or the HTML)")
    for week in r.get("trends", {}).get("week", []):
        echo(f"  week of {week['start']}: {week['sessions']} sessions, first response "
             f"{fmt_s(week['first_response_mean_s'])}, resolved "
             + ("–" if week["resolution_rate"] is None else f"{week['resolution_rate']:.0%}")
             + ("" if not week["ratings"] else f", satisfied {week['satisfied_rate']:.0%} of {week['ratings']}"))
    for s in r["scripts"]:
        if s["sessions"]:
            echo(f"script {s['category']}: used in {s['used']} of {s['sessions']} sessions")
    for t in r["topics"][:5]:
        echo(f"topic {t['topic']}: {t['count']} ({t['share']:.0%})")
    if r["suggestions"]:
        echo("Suggestions:")
        for s in r["suggestions"]:
            echo(f"  - {s['text']}")
    if r.get("compare"):
        echo("Compared with the earlier period:")
        for row in r["compare"]["figures"]:
            if row["change"] is not None:
                echo(f"  {row['label']}: {row['before']} → {row['after']} ({row['change']:+.0%})")
    sys.stdout.flush()
