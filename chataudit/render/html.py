"""HTML renderings (jinja2): printable, self-contained, no external assets."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import IO, Any, Iterable

from jinja2 import Environment, PackageLoader, select_autoescape

_env = Environment(
    loader=PackageLoader("chataudit.render", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _day(iso: str) -> str:
    return iso[:10]


def _clock(iso: str) -> str:
    return iso[11:19]


def _filesize(size: int | str | None) -> str:
    """245760 → 240 KB: a size as people read it (the exact byte count is in the JSON export)."""
    try:
        value = float(size or 0)
    except (TypeError, ValueError):
        return str(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" or value >= 10 else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


_env.filters["day"] = _day
_env.filters["filesize"] = _filesize
_env.filters["clock"] = _clock


def write_timeline(conversation: dict[str, Any], messages: Iterable[dict[str, Any]], out: IO[str]) -> None:
    """A conversation as a chat timeline, streamed message by message."""
    from ..screenshots.crops import with_crops

    template = _env.get_template("timeline.html.j2")
    messages = with_crops(messages)  # a message read from a screenshot is shown beside its crop
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for chunk in template.generate(conversation=conversation, messages=messages, generated=generated):
        out.write(chunk)
