"""What every statement reader needs: rows with their line numbers, header lookup, money and time cells.

Statements are tables behind a preamble (account, period, totals, notices) and sometimes before a
footer (totals, export time). Exporters pad cells with spaces and append tabs to long numbers so
that Excel shows them as text; all of that is noise to strip, never data.
"""

from __future__ import annotations

import csv
import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ..errors import ParseError
from ..formats import HEAD_BYTES, numbered_lines, sniff_encoding

Row = list[str]
HEADER_SEARCH_LINES = 60
BLANK = {"", "-", "--", "/", "—", "null", "None"}


def clean(cell: Any) -> str:
    """A cell as text without the padding exporters add (spaces, tabs, NBSP, ideographic space)."""
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ")
    return str(cell).strip(" \t\r\n\u00a0\u3000")


def blank(cell: Any) -> bool:
    return clean(cell) in BLANK


def value(cell: Any) -> str | None:
    """A cell's text, or None for the placeholders statements print for "nothing" (``/``, ``-``)."""
    text = clean(cell)
    return None if text in BLANK else text


def header_key(cell: Any) -> str:
    """A header cell normalized for lookup: no blanks, half-width brackets, lower case."""
    text = clean(cell).lstrip("\ufeff")
    text = text.replace("（", "(").replace("）", ")").replace("：", ":")
    return re.sub(r"[\s\u3000]+", "", text).lower()


# ---- reading rows -----------------------------------------------------------------------------

def csv_rows(path: Path) -> Iterator[tuple[int, Row]]:
    """(line where the row starts, cells) of a CSV or tab-separated statement in any common encoding.

    Decoding goes line by line, so a bad byte is reported on its own line.
    """
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    encoding = sniff_encoding(head)
    sample = head.decode(encoding, errors="ignore")
    delimiter = "\t" if _looks_tab_separated(sample) else ","
    lines = numbered_lines(path, encoding)
    reader = csv.reader((line + "\n" for _, line in lines), delimiter=delimiter)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise ParseError(str(path), start, f"not a CSV line: {error}") from None
        yield start, row


def _looks_tab_separated(sample: str) -> bool:
    lines = [line for line in sample.splitlines()[:HEADER_SEARCH_LINES] if line.strip()]
    tabbed = sum(1 for line in lines if line.count("\t") >= 3 and line.count(",") < 2)
    return tabbed > len(lines) // 2


def xlsx_rows(path: Path) -> Iterator[tuple[int, Row]]:
    """(row number, cells) of the first sheet of an .xlsx, read in openpyxl's streaming mode."""
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        raise ParseError(str(path), None, "reading .xlsx needs openpyxl (pip install openpyxl)") from None
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # zipfile.BadZipFile, KeyError, InvalidFileException …
        raise ParseError(str(path), None, f"not a readable .xlsx workbook ({type(error).__name__}: {error})") from None
    try:
        sheet = workbook.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(values_only=True), 1):
            yield number, list(cells)
    finally:
        workbook.close()


def is_xlsx(path: Path, head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04") and path.suffix.lower() in (".xlsx", ".xlsm")


def xlsx_head_rows(path: Path, limit: int = HEADER_SEARCH_LINES) -> list[Row] | None:
    """The first rows of an .xlsx as text, for detectors; None when the workbook cannot be read."""
    rows: list[Row] = []
    try:
        for _, cells in xlsx_rows(path):
            rows.append([clean(c) for c in cells])
            if len(rows) >= limit:
                break
    except Exception:
        return None
    return rows


# ---- the table behind the preamble --------------------------------------------------------------

class Table:
    """Header lookup for one statement table: column indexes by role, from normalized header names."""

    def __init__(self, path: Path, line: int, header: Sequence[Any]):
        self.path = str(path)
        self.line = line
        self.keys = [header_key(h) for h in header]
        self.names = [clean(h).lstrip("\ufeff") for h in header]

    def index(self, *aliases: str) -> int | None:
        """The first column whose normalized name is one of ``aliases`` (in the order given)."""
        for alias in aliases:
            key = header_key(alias)
            if key in self.keys:
                return self.keys.index(key)
        return None

    def indexes(self, *aliases: str) -> list[int]:
        """Every column named by one of ``aliases``, in alias order (e.g. 交易金额(收入) before 记账金额(收入))."""
        found = []
        for alias in aliases:
            key = header_key(alias)
            for number, column in enumerate(self.keys):
                if column == key and number not in found:
                    found.append(number)
        return found

    def name(self, index: int) -> str:
        return self.names[index]


def find_header(rows: Iterator[tuple[int, Row]], path: Path, accept: Callable[[list[str]], bool],
                what: str) -> tuple[int, Row]:
    """Skip the preamble: the first row (within the first lines) whose normalized cells ``accept``."""
    for line, row in rows:
        if accept([header_key(c) for c in row]):
            return line, row
        if line >= HEADER_SEARCH_LINES:
            break
    raise ParseError(str(path), None, f"no {what} header line in the first {HEADER_SEARCH_LINES} lines")


def data_rows(rows: Iterator[tuple[int, Row]], table: Table, time_column: int,
              width: int) -> Iterator[tuple[int, Row]]:
    """The transaction rows after the header, up to a footer.

    Blank lines are skipped. A short line or one that starts with ``---`` or a total (``共12笔记录``,
    ``人民币合计``) ends the table; a transaction line after it is an error, so a table that breaks
    in the middle is never silently cut. A line with fewer cells than the header is truncated.
    """
    footer: int | None = None
    for line, row in rows:
        if all(blank(c) for c in row):
            continue
        raw = row[time_column] if len(row) > time_column else None
        dated = isinstance(raw, (datetime, date)) or bool(re.match(r"\d{4}", clean(raw)))
        if footer is not None:
            if dated:
                raise ParseError(table.path, footer, "this line interrupts the table (transactions follow it)")
            continue
        if dated:
            if len(row) < width:
                raise ParseError(table.path, line, f"truncated line: {len(row)} cells, the header has {width}")
            if any(clean(c) for c in row[len(table.keys):]):  # only a trailing empty cell may follow the header's
                raise ParseError(table.path, line, f"{len(row)} cells, the header has {len(table.keys)} "
                                                   "(a comma inside an unquoted cell?)")
            yield line, row
            continue
        filled = [clean(c) for c in row if not blank(c)]
        first = filled[0]
        if len(filled) < 3 or first.startswith("-") or any(word in first for word in FOOTER_WORDS):
            footer = line
            continue
        raise ParseError(table.path, line, f"{table.name(time_column)} {clean(raw)!r} is not a date")


FOOTER_WORDS = ("合计", "总计", "小计", "共", "笔", "导出", "统计")


# ---- cells --------------------------------------------------------------------------------------

_MONEY_NOISE = re.compile(r"[¥￥$,，\s\u00a0]|RMB|CNY|元")


def money(cell: Any, path: Path | str, line: int, column: str) -> Decimal:
    """``¥28.16``, ``"1,234.56"``, ``-300000.00``, ``(12.00)`` or a number cell → Decimal (at least cents)."""
    amount = _money(cell, path, line, column)
    cents = amount.quantize(CENT)
    return cents if cents == amount else amount


CENT = Decimal("0.01")


def _money(cell: Any, path: Path | str, line: int, column: str) -> Decimal:
    if isinstance(cell, bool):
        raise ParseError(str(path), line, f"{column} {cell!r} is not an amount")
    if isinstance(cell, int):
        return Decimal(cell)
    if isinstance(cell, float):
        return Decimal(repr(cell))  # the shortest repr is what the spreadsheet showed
    if isinstance(cell, Decimal):
        return cell
    text = clean(cell)
    negative = text.startswith("(") and text.endswith(")")
    body = _MONEY_NOISE.sub("", text.strip("()"))
    if body.startswith("+"):
        body = body[1:]
    try:
        if not re.fullmatch(r"-?\d+(\.\d+)?", body):
            raise InvalidOperation
        amount = Decimal(body)
    except InvalidOperation:
        raise ParseError(str(path), line, f"{column} {text!r} is not an amount") from None
    return -amount if negative else amount


_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_TIME = re.compile(r"(\d{1,2})[:：时](\d{1,2})(?:[:：分](\d{1,2})(?:\.\d+)?)?秒?")
_COMPACT_TIME = re.compile(r"(\d{2})(\d{2})(\d{2})")


def parse_date(text: str) -> tuple[date, str] | None:
    """A date at the start of ``text`` (``2026-03-12``, ``2026/3/12``, ``2026年3月12日``, ``20260312``) and the rest."""
    text = text.strip()
    found = _DATE.match(text) or _COMPACT_DATE.match(text)
    if not found:
        return None
    try:
        day = date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return None
    return day, text[found.end():].lstrip(" T")


def parse_clock(text: str) -> time | None:
    """``14:03``, ``14:03:27``, ``140327`` or ``14时03分27秒``; None when ``text`` is not a time of day."""
    text = text.strip()
    found = _TIME.fullmatch(text) or _COMPACT_TIME.fullmatch(text)
    if not found:
        return None
    try:
        return time(int(found.group(1)), int(found.group(2)), int(found.group(3) or 0))
    except ValueError:
        return None


def instant(cell: Any, tz, path: Path | str, line: int, column: str,
            clock_cell: Any = None) -> tuple[datetime, bool]:
    """(aware instant, date only?) of a date-time cell, or of a date cell plus a separate time cell."""
    if isinstance(cell, datetime):
        moment = cell if cell.tzinfo else cell.replace(tzinfo=tz)
        return moment, False
    if isinstance(cell, date):
        day, rest = cell, ""
    else:
        text = clean(cell)
        parsed = parse_date(text)
        if parsed is None:
            raise ParseError(str(path), line, f"{column} {text!r} is not a date")
        day, rest = parsed
    clock: time | None = None
    if rest:
        offset = re.search(r"([+-]\d{2}:?\d{2}|Z)$", rest)
        if offset:
            moment = datetime.fromisoformat(f"{day.isoformat()}T{rest.replace('Z', '+00:00')}")
            return moment, False
        clock = parse_clock(rest)
        if clock is None:
            raise ParseError(str(path), line, f"{column} {clean(cell)!r} is not a date-time")
    elif clock_cell is not None and not blank(clock_cell):
        if isinstance(clock_cell, time):
            clock = clock_cell
        elif isinstance(clock_cell, datetime):
            clock = clock_cell.time()
        else:
            text = clean(clock_cell)
            dated = parse_date(text)  # some banks repeat the date in their time column
            clock = parse_clock(dated[1] if dated else text)
            if clock is None:
                raise ParseError(str(path), line, f"time {clean(clock_cell)!r} is not a time of day")
    if clock is None:
        return datetime.combine(day, time(0), tz), True
    return datetime.combine(day, clock, tz), False


CURRENCIES = {
    "人民币": "CNY", "rmb": "CNY", "cny": "CNY", "人民币元": "CNY", "本币": "CNY",
    "美元": "USD", "usd": "USD", "港币": "HKD", "港元": "HKD", "hkd": "HKD", "欧元": "EUR", "eur": "EUR",
    "日元": "JPY", "jpy": "JPY", "英镑": "GBP", "gbp": "GBP",
}


def currency_code(cell: Any, default: str = "CNY") -> str:
    text = value(cell)
    if not text:
        return default
    code = CURRENCIES.get(text.lower())
    if code:
        return code
    return text.upper() if re.fullmatch(r"[A-Za-z]{3}", text) else default


def join_memo(*parts: str | None) -> str | None:
    seen: list[str] = []
    for part in parts:
        if part and part not in seen:
            seen.append(part)
    return " / ".join(seen) or None
