"""One output path for every listing command, so --json is the same everywhere."""

from __future__ import annotations

import csv
import re
import sys
from contextlib import contextmanager
from typing import IO, Any, Callable, Iterable, Iterator, Sequence

import orjson
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS

_record_listeners: list[Callable[[int], None]] = []


@contextmanager
def listening_for_records(listener: Callable[[int], None]) -> Iterator[None]:
    """Call ``listener(n)`` whenever an output below writes n records (the audit trail counts them)."""
    _record_listeners.append(listener)
    try:
        yield
    finally:
        _record_listeners.remove(listener)


def records_written(count: int) -> None:
    """Rows of a listing or export, items of a JSON array, 1 for a JSON document."""
    for listener in _record_listeners:
        listener(count)


def emit_json(value: Any, out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    out.write(orjson.dumps(value, option=JSON_OPTIONS).decode() + "\n")
    records_written(len(value) if isinstance(value, list) else 1)


def write_jsonl(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    for row in rows:
        out.write(orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")
        count += 1
    records_written(count)
    return count


def write_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str], out: IO[str]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
        count += 1
    records_written(count)
    return count


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return orjson.dumps(value).decode() if value else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# A table shows who spoke as a name, else the sender id (WeCom and Feishu give ids only); JSON keeps
# both fields as they are.
TABLE_HEADERS = {"sender_name": "sender"}
_ISO_INSTANT = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?")
_INSTANT_COLUMNS = {"at", "start", "end", "since", "until", "time", "from"}
_TOKEN_COLUMNS = {"ref", "transaction"}  # file:line references of statements
_NAME_COLUMNS = {"sender_name", "sender", "sender_id", "conversation_title", "native_id", "title", "path"}


def _is_instant_column(column: str) -> bool:
    return column.endswith("_at") or column in _INSTANT_COLUMNS


def _short_instant(value: str, seconds: bool = True) -> str:
    """``2026-03-12T15:23:05.500+08:00`` as a table shows it: ``2026-03-12 15:23:05+08`` (the offset's
    minutes only when not zero, no fraction of a second; ``2026-03-12 15:23+08`` on a narrow
    terminal); ``--json`` keeps the full ISO form."""
    match = _ISO_INSTANT.fullmatch(value)
    if not match:
        return value
    day, clock, offset = match.groups()
    if not seconds:
        clock = clock[:5]
    if offset and offset != "Z" and offset.endswith(":00"):
        offset = offset[:3]
    return f"{day} {clock}{'Z' if offset == 'Z' else (offset or '')}"


def _table_cell(row: dict[str, Any], column: str, seconds: bool = True) -> str:
    value = row.get(column)
    if column == "sender_name" and not value:
        value = row.get("sender_id")
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(str(v) for v in value)  # a table reads `legal_risk, promise`, not JSON (CSV keeps JSON)
    text = _cell(value)
    return _short_instant(text, seconds) if isinstance(value, str) and _is_instant_column(column) else text


def emit(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    *,
    as_json: bool = False,
    title: str | None = None,
    out: IO[str] | None = None,
) -> None:
    """A listing: a JSON array (streamed, so huge timelines never sit in memory) or a rich table."""
    out = out or sys.stdout
    if as_json:
        out.write("[")
        count = 0
        for row in rows:
            out.write(("\n  " if not count else ",\n  ") + orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS).decode())
            count += 1
        out.write("\n]\n" if count else "]\n")
        records_written(count)
        return
    console = Console(file=out, soft_wrap=False, width=None if out.isatty() else 160)
    narrow = console.width < 120
    # a narrow terminal gets no column rules (two characters per column back) and minute instants
    table = Table(title=title, show_lines=False, header_style="bold",
                  box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD, collapse_padding=narrow,
                  pad_edge=not narrow)
    seconds = not narrow
    for column in columns:
        instant = _is_instant_column(column) or column in _TOKEN_COLUMNS
        # an instant (or a file:line reference) is one token: it never folds over lines, the other columns give way; on a
        # narrow terminal long names and ids fold early so that the text keeps some room
        table.add_column(TABLE_HEADERS.get(column, column), overflow="fold", no_wrap=instant,
                         min_width=len(_short_instant("2026-03-12T15:23:05+08:00", seconds))
                         if _is_instant_column(column) else None,
                         max_width=16 if narrow and column in _NAME_COLUMNS else None)
    count = 0
    for row in rows:
        table.add_row(*[Text(_table_cell(row, c, seconds)) for c in columns])
        count += 1
    records_written(count)
    if count:
        console.print(table)
    else:
        console.print("(nothing)")
