"""``chataudit compare``: a thin click command over :func:`chataudit.compare.compare_copies`.

Registered by cli.py (``cli.add_command(compare)``). The shared helpers of cli.py are looked up
when the command runs, not at import, so cli.py may import this module at any point.
"""

from __future__ import annotations

from typing import Any

import click

from ..exitcodes import DIFFERENT, DiffStyleCommand
from ..render import emit, emit_json
from . import DEFAULT_TOLERANCE_S, Comparison, compare_request, is_different
from .report import DIFFERENCE_KEYS, LABELS


def _cli():
    from .. import cli  # the group's module, for friendly_errors and open_archive

    return cli


@click.command(cls=DiffStyleCommand)
@click.argument("copies", nargs=-1, required=True)
@click.option("--tolerance", type=float, default=DEFAULT_TOLERANCE_S, show_default=True, metavar="SECONDS",
              help="Instants this close are the same (exports printing minutes only need 60).")
@click.option("--tz", help="Zone of wall-clock times in export files given directly (as for import).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write a printable side-by-side HTML report.")
@click.option("--context", type=int, default=3, show_default=True,
              help="Unchanged messages shown around each difference in --html (-1: all).")
@click.option("--redact", "redact_policy", is_flag=False, flag_value="default", default=None, metavar="[POLICY]",
              help="De-identify personal data in every output (optional TOML policy; default: built-in policy).")
@click.option("--keep", is_flag=True,
              help="Import export files given as copies into the archive (each a source labelled with its file "
                   "name); without it they are read for this comparison only.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (stable keys, see README).")
@click.pass_context
def compare(ctx: click.Context, copies: tuple[str, ...], tolerance: float, tz: str | None,
            html_path: str | None, context: int, redact_policy: str | None, keep: bool, as_json: bool) -> None:
    """Compare two or more copies of one conversation: what is missing, altered, retimed, reordered.

    Each COPY is a source label (import --label), a conversation (id, platform:native_id, native id or
    title) or an export file (read for this comparison only, unless --keep); LABEL@CONVERSATION picks
    one conversation of a copy that holds several. Ids, contact names and printed local times are not
    trusted: messages are aligned by normalized text and UTC instant, senders are mapped and a
    constant clock offset between the copies (a wrong --tz) is found and compensated.

    Exit status (as diff): 0 identical, 1 differences found, 2 error.
    """
    report = _cli().friendly_errors(_run)(ctx, list(copies), tolerance, tz, html_path, context, redact_policy,
                                          keep, as_json)
    if is_different(report):
        ctx.exit(DIFFERENT)


def _run(ctx: click.Context, refs: list[str], tolerance: float, tz: str | None, html_path: str | None,
         context: int, redact_policy: str | None, keep: bool, as_json: bool) -> dict[str, Any]:
    if len(refs) < 2:
        raise click.UsageError("give at least two copies to compare")
    with _cli().open_archive(ctx) as archive:
        before = {s["id"] for s in archive.sources()} if keep else set()
        comparison = compare_request(archive, refs, tolerance_s=tolerance, tz=tz, redact_policy=redact_policy,
                                     keep=keep)
        for source in archive.sources():
            if keep and source["id"] not in before:
                click.echo(f"kept {source['path']} in the archive as source {source['id']} labelled "
                           f"{source['label']!r} ({source['message_count']} messages, {source['new_count']} new)",
                           err=True)
    if html_path:
        from ..render.compare_html import write_compare

        with open(html_path, "w", encoding="utf-8") as handle:
            write_compare(comparison, handle, context=context)
    if as_json:
        emit_json(comparison.report)
    elif len(refs) == 2:
        _print_pair(comparison.report)
    else:
        _print_matrix(comparison)
    if html_path:
        click.echo(f"wrote {html_path}", err=True)
    return comparison.report


def _print_pair(report: dict[str, Any]) -> None:
    echo = click.echo
    echo(report["verdict"])
    for finding in report["findings"]:
        echo(f"  * {finding}")
    summary = report["summary"]
    echo("  " + " · ".join([f"matched {summary['matched']}"]
                           + [f"{LABELS[k]} {summary[k]}" for k in DIFFERENCE_KEYS]))
    for key in DIFFERENCE_KEYS:
        entries = report[key]
        if not entries:
            continue
        echo("")
        echo(f"{HEADINGS[key]} ({len(entries)}):")
        for entry in entries:
            if "a" not in entry:
                echo(f"  {entry['sent_at']}  {entry['sender']}: {_line(entry['text'], entry['kind'])}")
                continue
            a, b = entry["a"], entry["b"]
            echo(f"  {a['sent_at']}  {a['sender']} | {b['sender']}")
            if key == "altered":
                echo(f"    A: {_line(a['text'], a['kind'])}")
                echo(f"    B: {_line(b['text'], b['kind'])}")
                echo("    diff: " + "".join(_diff_piece(s) for s in entry["diff"]).replace("\n", "⏎"))
                for old, new in entry.get("numbers_changed", []):  # 5000 → 500 is one change, not a struck 0
                    echo(f"    number: {old or '—'} → {new or '—'}")
            elif key == "kind_changed":
                echo(f"    A: {_line(a['text'], a['kind'])}")
                echo(f"    B: {_line(b['text'], b['kind'])}")
            else:
                echo(f"    {_line(a['text'], a['kind'])}")
            if "delta_seconds" in entry and key != "kind_changed":
                echo(f"    B at {b['sent_at']} ({entry['delta_seconds']:+} s)")


HEADINGS = {
    "missing_in_a": "Missing in A (only in B)",
    "missing_in_b": "Missing in B (only in A)",
    "altered": "Altered",
    "retimed": "Retimed",
    "reordered": "Reordered",
    "kind_changed": "Kind changed",
}


def _line(text: str, kind: str) -> str:
    shown = text.replace("\n", "⏎")
    return shown if kind == "text" else f"[{kind}] {shown}"


def _diff_piece(segment: dict[str, str]) -> str:
    if segment["op"] == "delete":
        return "[-" + segment["text"] + "-]"
    if segment["op"] == "insert":
        return "{+" + segment["text"] + "+}"
    return segment["text"]


MARKS = {"same": "✓", None: "✗", "altered": "~", "retimed": "⏱", "reordered": "↕", "kind_changed": "≠"}


def _print_matrix(comparison: Comparison) -> None:
    report = comparison.report
    click.echo(report["verdict"])
    for copy in report["copies"][1:]:
        if copy.get("clock_offset_seconds"):
            click.echo(f"  * {copy['name']}: clock offset {copy['clock_offset_seconds']:+} s, compensated")
    names = [c["name"] for c in report["copies"]]
    rows = [
        {"sent_at": row["sent_at"], "sender": row["sender"], "text": _line(row["text"], row["kind"]),
         **{name: MARKS.get(status, "?") for name, status in zip(names, row["status"])}}
        for row in report["rows"] if not all(s == "same" for s in row["status"])
    ]
    click.echo("  ✓ same  ✗ missing  ~ altered  ⏱ retimed  ↕ reordered  ≠ kind changed")
    emit(rows, ["sent_at", "sender", "text", *names], title="Messages not in every copy unchanged")
