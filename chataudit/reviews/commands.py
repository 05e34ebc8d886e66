"""``chataudit review …``: peer review and self-scoring of service sessions (a thin click layer).

Each command opens the archive, calls one function of this package under the root ``--operator``'s
name, and prints its result (``--json``: the value the web API returns for the same request; keys in
README "Peer review and self-scoring")."""

from __future__ import annotations

from typing import Any, Callable

import click

from ..cli import friendly_errors, json_option, open_archive
from ..governance.audit import operator_of
from ..quality.score import DIMENSION_LABELS, DIMENSIONS
from ..render import emit, emit_json
from . import assignment, calibration, disputes, report as report_api, scoring

LIST_COLUMNS = ["id", "session", "kind", "reviewer", "status", "blind", "total", "final_total", "submitted_at"]


def score_options(command: Callable) -> Callable:
    """--speed … --emotion (0-10), --file, --critical: the scores of `review score` and `review settle`."""
    for dimension in reversed(DIMENSIONS):
        command = click.option(f"--{dimension}", type=float, default=None,
                               help=f"{DIMENSION_LABELS[dimension]} 0-10.")(command)
    command = click.option("--critical", "critical", multiple=True,
                           help="A critical item of the scorecard that failed (repeatable; zeroes the total).")(command)
    return click.option("--file", "score_file", type=click.Path(exists=True, dir_okay=False),
                        help="JSON or YAML: {scores: {speed: 8, …}, critical: […], comments: [{message, text}], note}.")(command)


def gathered(score_file: str | None, values: dict[str, Any], critical: tuple[str, ...]) -> dict[str, Any]:
    """The scores from the options, over those of --file."""
    doc = scoring.read_score_file(score_file) if score_file else {}
    scores = dict(doc.get("scores") or {})
    scores.update({d: values[d] for d in DIMENSIONS if values.get(d) is not None})
    return {"scores": scores, "critical": list(critical) or list(doc.get("critical") or []),
            "comments": list(doc.get("comments") or []), "note": doc.get("note")}


def _params(ctx: click.Context) -> dict[str, Any]:
    return dict(ctx.params)


def _show_review(review: dict[str, Any]) -> None:
    click.echo(f"review {review['id']} ({review['kind']}) of session {review['session']} by {review['reviewer']}: "
               f"{review['status']}" + ("" if review["final_total"] is None else f", total {review['final_total']}/10"))


@click.group("review")
def review() -> None:
    """Peer review and self-scoring of service sessions: assign, score, calibrate, contest, settle, report."""


@review.command("assign")
@click.option("--week", required=True, help="ISO week (2026-W11) or a date in it.")
@click.option("--per-agent", "per_agent", type=int, default=3, show_default=True, help="Sessions per agent.")
@click.option("--rule", type=click.Choice(assignment.RULES), default="random", show_default=True,
              help="How sessions are picked: random (seeded), lowest automatic score, sensitive words, unresolved.")
@click.option("--reviewer", "reviewers", multiple=True, required=True,
              help="A reviewer (roster id or name; repeatable, taken round robin).")
@click.option("--seed", type=int, default=None, help="Seed of the random pick (default: a new one, recorded).")
@click.option("--blind", is_flag=True, help="Reviewers do not see other reviews or the automatic score until they submit.")
@click.option("--self-scoring", "self_scoring", is_flag=True, help="Also give each agent a self-scoring task.")
@json_option
@click.pass_context
@friendly_errors
def assign(ctx: click.Context, week: str, per_agent: int, rule: str, reviewers: tuple[str, ...], seed: int | None,
           blind: bool, self_scoring: bool, as_json: bool) -> None:
    """Pick N sessions per agent for a week and assign them to reviewers (never their own)."""
    with open_archive(ctx) as archive:
        result = assignment.assign(archive, week=week, per_agent=per_agent, rule=rule, reviewers=list(reviewers),
                                   seed=seed, blind=blind, self_scoring=self_scoring, operator=operator_of(ctx),
                                   params=_params(ctx))
    if as_json:
        emit_json(result)
        return
    click.echo(f"assignment {result['assignment']} for {result['week']} ({result['rule']}"
               + (f", seed {result['seed']}" if result["seed"] is not None else "") + f"): "
               f"{len(result['reviews'])} review tasks, audit entry {result['audit_entry']}")
    for item in result["unassigned"]:
        click.echo(f"  not assigned: {item['session']} ({item['agent']}): {item['why']}")


@review.command("list")
@click.option("--mine", is_flag=True, help="Only my tasks and the reviews of my own sessions.")
@click.option("--status", type=click.Choice(scoring.STATUSES), default=None, help="Only reviews in this state.")
@click.option("--kind", type=click.Choice(scoring.KINDS), default=None, help="Only peer, self or calibration reviews.")
@json_option
@click.pass_context
@friendly_errors
def list_reviews(ctx: click.Context, mine: bool, status: str | None, kind: str | None, as_json: bool) -> None:
    """List reviews (scores hidden where you hold a blind review not yet submitted)."""
    with open_archive(ctx) as archive:
        rows = scoring.listing(archive, viewer=operator_of(ctx), mine=mine, status=status, kind=kind)
    emit(rows, LIST_COLUMNS, as_json=as_json, title="Reviews")


@review.command("show")
@click.argument("ref")
@json_option
@click.pass_context
@friendly_errors
def show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show a REVIEW (its id) or a SESSION (12/3401-3420, or a quality session id 12-3) with its transcript."""
    with open_archive(ctx) as archive:
        doc = scoring.show(archive, ref, viewer=operator_of(ctx))
    if as_json:
        emit_json(doc)
        return
    session = doc["session"]
    click.echo(f"session {session['session']} ({session['start']} – {session['end']}), agents "
               f"{', '.join(session['agent_names'])}")
    if session["auto"] is not None:
        click.echo(f"automatic score: {session['auto']['score']}/100")
    else:
        click.echo("automatic score: hidden until you submit (blind review)")
    if doc["review"]:
        _show_review(doc["review"])
    for row in doc["transcript"]:
        click.echo(f"  [{row['id']}] {row['sent_at']} {row['sender_name'] or row['sender_id']}: {row['text'] or ''}")
    for other in doc["reviews"]:
        _show_review(other)


@review.command("score")
@click.argument("review_id", type=int, required=False)
@click.option("--session", "session_ref", help="Score this session without a task (12/3401-3420 or 12-3).")
@click.option("--self", "self_scoring", is_flag=True, help="Self-scoring of your own session (with --session).")
@score_options
@click.option("--comment", "comments", multiple=True, metavar="MESSAGE_ID:TEXT",
              help="A comment on a message of the session (repeatable).")
@click.option("--note", help="An overall note.")
@json_option
@click.pass_context
@friendly_errors
def score(ctx: click.Context, review_id: int | None, session_ref: str | None, self_scoring: bool,
          score_file: str | None, critical: tuple[str, ...], comments: tuple[str, ...], note: str | None,
          as_json: bool, **values: Any) -> None:
    """Submit the scores of REVIEW (a task), or of --session (a peer review, or --self)."""
    given = gathered(score_file, values, critical)
    with open_archive(ctx) as archive:
        result = scoring.score(archive, operator=operator_of(ctx), params=_params(ctx), review_id=review_id,
                               session_ref=session_ref, self_scoring=self_scoring, scores=given["scores"],
                               critical=given["critical"], comments=list(comments) + given["comments"],
                               note=note or given["note"])
    if as_json:
        emit_json(result)
    else:
        _show_review(result)


@review.command("contest")
@click.argument("review_id", type=int)
@click.option("--reason", required=True, help="Why the review is wrong.")
@json_option
@click.pass_context
@friendly_errors
def contest(ctx: click.Context, review_id: int, reason: str, as_json: bool) -> None:
    """Contest a review of your own session (once)."""
    with open_archive(ctx) as archive:
        result = disputes.contest(archive, review_id, reason, operator=operator_of(ctx), params=_params(ctx))
    if as_json:
        emit_json(result)
    else:
        _show_review(result)


@review.command("settle")
@click.argument("review_id", type=int)
@click.option("--outcome", required=True, metavar="upheld|amended", help="upheld, or amended (with the new scores).")
@click.option("--reason", required=True, help="Why.")
@score_options
@json_option
@click.pass_context
@friendly_errors
def settle(ctx: click.Context, review_id: int, outcome: str, reason: str, score_file: str | None,
           critical: tuple[str, ...], as_json: bool, **values: Any) -> None:
    """Settle a contested review (a lead who is neither its agent nor its reviewer)."""
    given = gathered(score_file, values, critical)
    with open_archive(ctx) as archive:
        result = disputes.settle(archive, review_id, outcome, reason, operator=operator_of(ctx), params=_params(ctx),
                                 scores=given["scores"] or None, critical=given["critical"])
    if as_json:
        emit_json(result)
    else:
        _show_review(result)


@review.command("calibrate")
@click.argument("session_ref")
@click.option("--reviewer", "reviewers", multiple=True, required=True, help="A reviewer (at least two; repeatable).")
@json_option
@click.pass_context
@friendly_errors
def calibrate(ctx: click.Context, session_ref: str, reviewers: tuple[str, ...], as_json: bool) -> None:
    """Make SESSION a calibration session that each --reviewer scores blind."""
    with open_archive(ctx) as archive:
        result = calibration.calibrate(archive, session_ref, list(reviewers), operator=operator_of(ctx),
                                       params=_params(ctx))
    if as_json:
        emit_json(result)
    else:
        click.echo(f"calibration {result['calibration']} of {result['session']}: {len(result['reviews'])} blind "
                   f"reviews, audit entry {result['audit_entry']}")


@review.command("calibration")
@json_option
@click.pass_context
@friendly_errors
def calibration_report(ctx: click.Context, as_json: bool) -> None:
    """Calibration sessions and the reviewers' agreement (Krippendorff's alpha, interval) per dimension."""
    with open_archive(ctx) as archive:
        result = calibration.agreement(archive)
    if as_json:
        emit_json(result)
        return
    click.echo(f"{len(result['calibrations'])} calibrations, {result['units']} with two or more scores")
    for dimension, value in result["alpha"].items():
        click.echo(f"  {DIMENSION_LABELS[dimension]} ({dimension}): alpha " + ("–" if value is None else f"{value:.3f}"))
    click.echo("  total: alpha " + ("–" if result["alpha_total"] is None else f"{result['alpha_total']:.3f}"))


@review.command("report")
@click.option("--since", help="Sessions from this date/time.")
@click.option("--until", help="Up to this date/time (a bare date includes that day).")
@click.option("--tz", help="Zone for naive times (default: the archive's).")
@json_option
@click.pass_context
@friendly_errors
def report(ctx: click.Context, since: str | None, until: str | None, tz: str | None, as_json: bool) -> None:
    """Per agent: self, peer, automatic and customer (CSAT) scores on 0-10 and their gaps; disputes; calibration."""
    with open_archive(ctx) as archive:
        result = report_api.report(archive, since=since, until=until, tz=tz)
    if as_json:
        emit_json(result)
        return
    rows = [a | {f"gap_{k}": v for k, v in a["gaps"].items() if k in ("self_minus_peer", "peer_minus_auto",
                                                                       "peer_minus_csat")} for a in result["agents"]]
    emit(rows, ["agent", "name", "self", "peer", "auto", "csat", "gap_self_minus_peer", "gap_peer_minus_auto",
                "gap_peer_minus_csat"], title="Four scores per agent (0-10)")
    click.echo(f"open disputes: {len(result['disputes']['open'])}; calibration alpha (total): "
               + ("–" if result["calibration"]["alpha_total"] is None else f"{result['calibration']['alpha_total']:.3f}"))
