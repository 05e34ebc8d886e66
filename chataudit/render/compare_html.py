"""The compare report as one self-contained, printable HTML page (jinja2, no external assets)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import IO, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from ..compare.report import number_changes

_env = Environment(
    loader=PackageLoader("chataudit.render", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

STATUS_LABELS = {
    "matched": "same",
    "missing_in_b": "only in A",
    "missing_in_a": "only in B",
    "altered": "altered",
    "retimed": "retimed",
    "reordered": "reordered",
    "kind_changed": "kind changed",
    "same": "same",
}
SUMMARY_ORDER = ("matched", "missing_in_b", "missing_in_a", "altered", "retimed", "reordered", "kind_changed")


def _day(iso: str | None) -> str:
    return iso[:10] if iso else ""


def _clock(iso: str | None) -> str:
    return iso[11:19] if iso else ""


def _zone(iso: str | None) -> str:
    if not iso or len(iso) <= 19:
        return ""
    tail = iso[19:]
    if tail.startswith("."):
        tail = tail.lstrip(".0123456789")
    return "UTC" if tail in ("+00:00", "Z") else f"UTC{tail}"


def _signed(seconds: float | int | None) -> str:
    if seconds is None:
        return ""
    sign = "+" if seconds >= 0 else "−"
    value = abs(seconds)
    whole = int(value)
    hours, rest = divmod(whole, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else "",
             f"{seconds + value - whole:g} s" if seconds or value != whole or not (hours or minutes) else ""]
    return sign + " ".join(p for p in parts if p)


def copy_title(copy: dict[str, Any]) -> str:
    """What a copy is called on the page: its label or file, or — for a copy named by a
    conversation (an archive id such as "7") — that chat's title."""
    conversation = copy.get("conversation") or {}
    if not copy.get("sources"):
        return conversation.get("title") or conversation.get("native_id") or str(copy.get("name"))
    return str(copy.get("name"))


_env.filters.update(day=_day, clock=_clock, zone=_zone, signed=_signed, number_changes=number_changes,
                    copy_title=copy_title)


def write_compare(comparison: Any, out: IO[str], *, context: int = 3) -> None:
    """Write ``comparison`` (a :class:`chataudit.compare.Comparison`) as HTML, streamed row by row."""
    report = comparison.report
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows = comparison.timeline(context) if comparison.alignment is not None else None  # None: the matrix
    if rows is not None and "trust" in report:  # a screenshot: each of its messages beside its crop
        from ..compare.screenshots import with_crops

        rows = with_crops(rows, comparison.copies)
    template = _env.get_template("compare.html.j2")
    for chunk in template.generate(report=report, rows=rows, labels=STATUS_LABELS, order=SUMMARY_ORDER,
                                   generated=generated, context=context):
        out.write(chunk)
