"""One output path for every listing command, so --json is the same everywhere."""

from __future__ import annotations

import csv
import sys
from contextlib import contextmanager
from typing import IO, Any, Callable, Iterable, Iterator, Sequence

import orjson
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
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    count = 0
    for row in rows:
        table.add_row(*[Text(_cell(row.get(c))) for c in columns])
        count += 1
    records_written(count)
    if count:
        console.print(table)
    else:
        console.print("(nothing)")
