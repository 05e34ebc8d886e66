"""One output path for every listing command, so --json is the same everywhere."""

from __future__ import annotations

import csv
import sys
from typing import IO, Any, Iterable, Sequence

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS


def emit_json(value: Any, out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    out.write(orjson.dumps(value, option=JSON_OPTIONS).decode() + "\n")


def write_jsonl(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    for row in rows:
        out.write(orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")
        count += 1
    return count


def write_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str], out: IO[str]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
        count += 1
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
        first = True
        for row in rows:
            out.write(("\n  " if first else ",\n  ") + orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS).decode())
            first = False
        out.write("\n]\n" if not first else "]\n")
        return
    console = Console(file=out, soft_wrap=False, width=None if out.isatty() else 160)
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    count = 0
    for row in rows:
        table.add_row(*[Text(_cell(row.get(c))) for c in columns])
        count += 1
    if count:
        console.print(table)
    else:
        console.print("(nothing)")
