"""Wall-clock date shapes that exporters and spreadsheets write, and the day/month order of a file.

A CSV that went through Excel, WPS or LibreOffice comes back with its times re-formatted in the
spreadsheet's locale: ``2024-10-04 11:42:05`` may return as ``2024/10/4 11:42``, ``10/4/2024 11:42``
(en-US), ``04/10/2024 11:42`` (en-GB) or, when the cell was formatted as a number, the serial
``45569.4875``.  :func:`wall_clock` reads every such shape into a naive datetime; the day/month order
of year-last dates cannot be known from one value, so :class:`DayMonthOrder` learns it from the
file (a field > 12 decides, as in :mod:`chataudit.formats.whatsapp_txt`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

ORDERS = ("YMD", "DMY", "MDY")

_SHAPE = re.compile(
    r"^\s*(?P<a>\d{1,4})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<c>\d{1,4})\.?"
    r"(?:(?:\s+|T)(?P<ampm_before>上午|下午)?\s*(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,6}))?)?"
    r"\s*(?P<ampm>[AaPp]\.?\s?[Mm]\.?|上午|下午)?)?\s*$"
)
_SERIAL = re.compile(r"^\s*(?P<days>\d{5})(?:\.(?P<fraction>\d+))?\s*$")
# Excel's 1900 date system counts days from 1899-12-30 (its phantom 1900-02-29 included)
_EXCEL_EPOCH = datetime(1899, 12, 30)
_SERIAL_RANGE = (25_569, 73_051)  # 1970-01-01 .. 2099-12-31


def day_first(a: int, b: int) -> bool | None:
    """Of two non-year date fields in file order: True when the first must be the day (it is > 12),
    False when the second must be, None when either order fits."""
    if a > 12 >= b:
        return True
    if b > 12 >= a:
        return False
    return None


def year_last(text: str) -> bool:
    """Is ``text`` a date whose year comes last (``10/4/2024``), so that its day/month order is open?"""
    match = _SHAPE.match(text)
    return bool(match) and len(match.group("c")) == 4 and len(match.group("a")) <= 2


class DayMonthOrder:
    """Learns DMY or MDY from the year-last dates of one file: the first with a field > 12 decides."""

    def __init__(self) -> None:
        self.order: str | None = None

    def feed(self, text: str) -> bool:
        """Look at one value; True once the order is decided."""
        if self.order is None:
            match = _SHAPE.match(text)
            if match and len(match.group("c")) == 4 and len(match.group("a")) <= 2:
                decided = day_first(int(match.group("a")), int(match.group("b")))
                if decided is not None:
                    self.order = "DMY" if decided else "MDY"
        return self.order is not None

    def guess(self, text: str) -> tuple[str, str]:
        """(order, source): the learnt order ("file"), else the spreadsheet locale most likely to have
        written ``text`` ("default"): ``/`` is en-US Excel's M/D/YYYY, ``.`` and ``-`` are day first."""
        if self.order is not None:
            return self.order, "file"
        match = _SHAPE.match(text)
        return ("MDY" if match is None or match.group("sep") == "/" else "DMY"), "default"


def excel_serial(text: str) -> datetime | None:
    """A spreadsheet date serial (``45569.4875`` = 2024-10-04 11:42) as a naive datetime, or None."""
    match = _SERIAL.match(text)
    if not match:
        return None
    days = int(match.group("days"))
    if not _SERIAL_RANGE[0] <= days <= _SERIAL_RANGE[1]:
        return None
    fraction = float("0." + match.group("fraction")) if match.group("fraction") else 0.0
    moment = _EXCEL_EPOCH + timedelta(days=days, seconds=round(fraction * 86_400))
    return moment


def wall_clock(text: str, order: str = "YMD") -> datetime | None:
    """A date-time as exporters and spreadsheets print it, naive (its zone is the caller's to give).

    ``order`` applies to year-last dates (``DMY`` or ``MDY``); year-first dates are always Y-M-D.
    Seconds, fractions and a 12-hour marker (AM/PM, 上午/下午) are optional; a date alone is midnight.
    Excel serials are read too. None when ``text`` is none of these or not a real date.
    """
    serial = excel_serial(text)
    if serial is not None:
        return serial
    match = _SHAPE.match(text)
    if not match:
        return None
    a, b, c = match.group("a", "b", "c")
    if len(a) == 4:
        year, month, day = int(a), int(b), int(c)
    elif len(c) == 4:
        first, second = int(a), int(b)
        month, day = (second, first) if order == "DMY" else (first, second)
        year = int(c)
    else:
        return None
    hour = int(match.group("H") or 0)
    marker = (match.group("ampm") or match.group("ampm_before") or "").replace(".", "").replace(" ", "").upper()
    if marker:
        if not 1 <= hour <= 12:
            return None
        if marker in ("PM", "下午") and hour != 12:
            hour += 12
        elif marker in ("AM", "上午") and hour == 12:
            hour = 0
    fraction = match.group("f") or ""
    try:
        return datetime(year, month, day, hour, int(match.group("M") or 0), int(match.group("S") or 0),
                        int(fraction.ljust(6, "0")) if fraction else 0)
    except ValueError:
        return None
