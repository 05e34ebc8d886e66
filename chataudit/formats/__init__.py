"""The formats registry: one module per export format, each a plugin of the same shape.

A format module defines

* ``NAME`` (``"telegram-json"``), ``PLATFORM`` (``"telegram"``), ``DESCRIPTION`` (what it reads),
* ``detect(path: Path, head: bytes) -> float`` — confidence 0..1 that ``path`` is this format
  (``head`` is the first 64 KiB of a file, ``b""`` for a folder), and
* ``parse(path: Path, options: ParseOptions) -> Iterator[Record]`` — a *streaming* parser that
  yields :mod:`chataudit.model` records and raises :class:`~chataudit.errors.ParseError`
  with the file and line of anything malformed.

A format whose records are single lines that need nothing of the lines before them (JSON Lines)
may also define ``spannable(path) -> bool`` and ``parse_span(path, options, span: LineSpan) ->
Iterator[Record]``: the records of
the span's lines only, numbered as in the whole file, so that ``spark import`` parses one large
file in many tasks (:func:`line_spans` cuts it). The records of a file's spans, in span order, are
exactly ``parse``'s.

Third parties add formats without forking through the ``chataudit.formats`` entry-point group.
"""

from __future__ import annotations

import codecs
import importlib
import io
from dataclasses import dataclass, field
from datetime import timezone
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import IO, Iterable, Iterator, Protocol
from zoneinfo import ZoneInfo

from ..errors import ParseError, UnknownFormatError
from ..model import Record

BUILTIN = [
    "telegram_json",
    "whatsapp_txt",
    "wechat_csv",
    "wechat_db",
    "wechat_txt",
    "wecom_archive",
    "feishu_json",
    "dingtalk_json",
    "email_mbox",
    "slack_export",
    "screenshot",
    "generic",
]

HEAD_BYTES = 64 * 1024
# A file a format must read whole (a Slack day, one .eml) is at most this big: real ones are a few
# MB, and a hostile one must not take the machine's memory.
MAX_WHOLE_READ = 256 << 20


@dataclass(frozen=True)
class ParseOptions:
    """What the user told us that the file cannot: its zone, and who "me" is."""

    tz: ZoneInfo | timezone = timezone.utc
    tz_given: bool = False  # True when --tz was passed (formats may prefer it over a guess)
    me: str | None = None
    extra: dict = field(default_factory=dict)


class Format(Protocol):
    NAME: str
    PLATFORM: str
    DESCRIPTION: str

    def detect(self, path: Path, head: bytes) -> float: ...

    def parse(self, path: Path, options: ParseOptions) -> Iterator[Record]: ...


_registry: dict[str, ModuleType] | None = None


def registry() -> dict[str, ModuleType]:
    """Every known format by name: the built-ins, then entry-point plugins."""
    global _registry
    if _registry is None:
        _registry = load_modules(__name__, BUILTIN, "chataudit.formats")
    return _registry


def load_modules(package: str, builtin: list[str], group: str) -> dict[str, ModuleType]:
    """Plugin modules by their ``NAME``: the package's built-ins, then the entry points of ``group``
    (a plugin never replaces a built-in of the same name). Statement readers use it too."""
    found: dict[str, ModuleType] = {}
    for module_name in builtin:
        module = importlib.import_module(f"{package}.{module_name}")
        found[module.NAME] = module
    for entry in entry_points(group=group):
        module = entry.load()
        found.setdefault(module.NAME, module)
    return found


def get(name: str) -> ModuleType:
    try:
        return registry()[name]
    except KeyError:
        known = ", ".join(sorted(registry()))
        raise UnknownFormatError(f"unknown format {name!r} (known: {known})") from None


def read_head(path: Path) -> bytes:
    if path.is_dir():
        return b""
    with open(path, "rb") as handle:
        return handle.read(HEAD_BYTES)


def detect(path: Path) -> tuple[ModuleType | None, float]:
    """The most confident format for ``path`` (a file or a folder that is one export)."""
    return most_confident(registry().values(), path)


def most_confident(modules: Iterable[ModuleType], path: Path) -> tuple[ModuleType | None, float]:
    """The module whose ``detect(path, head)`` is most confident; a detector that fails counts 0,
    so one broken detector never breaks the detection of the others."""
    head = read_head(path)
    best: tuple[ModuleType | None, float] = (None, 0.0)
    for module in modules:
        try:
            confidence = float(module.detect(path, head))
        except Exception:
            confidence = 0.0
        if confidence > best[1]:
            best = (module, confidence)
    return best


# ---- helpers formats share -----------------------------------------------------------------

def sniff_encoding(head: bytes) -> str:
    """The encoding of a text export: BOMs first, then UTF-8, then GB18030 (a superset of GBK/GB2312).

    Chinese exports made on Windows are often GBK; UTF-16 comes from Excel "Unicode text".
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    if len(head) >= 4 and head[1::2].count(0) > len(head) // 4 and head[0::2].count(0) == 0:
        return "utf-16-le"
    if len(head) >= 4 and head[0::2].count(0) > len(head) // 4 and head[1::2].count(0) == 0:
        return "utf-16-be"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        # a multi-byte character cut by the head boundary is still UTF-8
        if error.start >= len(head) - 3:
            return "utf-8"
    try:
        head.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        return "utf-8"  # let the reader report the exact bad line


def read_whole(handle: IO[bytes], where: str) -> bytes:
    """All of a file a format cannot stream, refused when it is over MAX_WHOLE_READ."""
    data = handle.read(MAX_WHOLE_READ + 1)
    if len(data) > MAX_WHOLE_READ:
        raise ParseError(where, None, f"over {MAX_WHOLE_READ >> 20} MiB, more than this format reads whole "
                                      "(no real export has a file this big here)")
    return data


def head_text(head: bytes) -> str:
    """The head decoded leniently, for detectors."""
    return head.decode(sniff_encoding(head), errors="ignore")


def open_text(path: Path, encoding: str | None = None) -> IO[str]:
    """Open a text export with its sniffed encoding; universal newlines off so CRLF is seen as such."""
    if encoding is None:
        with open(path, "rb") as handle:
            encoding = sniff_encoding(handle.read(HEAD_BYTES))
    return io.TextIOWrapper(open(path, "rb"), encoding=encoding, errors="strict", newline="")


@dataclass(frozen=True)
class LineSpan:
    """Whole lines ``[start, end)`` (byte offsets, each at a line's start) of a file, the first of them
    line number ``first_line`` of the file."""

    start: int
    end: int
    first_line: int


# encodings in which the byte 0x0A is always a line feed (never part of another character), so a
# file can be cut at line starts by bytes alone; UTF-16 cannot
SPLITTABLE_ENCODINGS = {"utf-8", "utf-8-sig", "gb18030", "gbk", "gb2312", "ascii"}


def line_spans(path: Path, span_bytes: int) -> tuple[list[LineSpan], str, int]:
    """``path`` cut at line starts into spans of about ``span_bytes``, with the file's SHA-256 and size,
    in one read (the driver of ``spark import`` needs all three before the tasks start). A file in an
    encoding that cannot be cut by bytes is one span."""
    import hashlib

    with open(path, "rb") as handle:
        encoding = sniff_encoding(handle.read(HEAD_BYTES))
    digest, size, lines = hashlib.sha256(), 0, 0
    starts = [LineSpan(0, 0, 1)]
    target = span_bytes if encoding in SPLITTABLE_ENCODINGS else None
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
            at = 0  # the chunk's lines before ``at`` are counted
            while target is not None and target - size < len(chunk):
                # the first line starting at or after the target offset starts the next span
                newline = chunk.find(b"\n", max(at, target - size - 1))
                if newline < 0:
                    break
                lines += chunk.count(b"\n", at, newline + 1)
                at = newline + 1
                starts.append(LineSpan(size + at, 0, lines + 1))
                target = size + at + span_bytes
            lines += chunk.count(b"\n", at)
            size += len(chunk)
    ends = [s.start for s in starts[1:]] + [size]
    spans = [LineSpan(s.start, end, s.first_line) for s, end in zip(starts, ends) if end > s.start] or [LineSpan(0, 0, 1)]
    return spans, digest.hexdigest(), size


def numbered_lines(path: Path, encoding: str | None = None, keep_ends: bool = False,
                   span: LineSpan | None = None) -> Iterator[tuple[int, str]]:
    """(line number, line without its end — with it if ``keep_ends``) for a text file; a decoding error
    names its exact line.

    Byte-oriented encodings are decoded line by line (a bad byte is reported where it is, not
    where a read-ahead buffer happened to start); UTF-16 goes through a text wrapper. ``span``: only
    that span's lines (:func:`line_spans`), numbered as in the whole file.
    """
    if encoding is None:
        with open(path, "rb") as handle:
            encoding = sniff_encoding(handle.read(HEAD_BYTES))
    if span is not None:
        yield from _span_lines(path, encoding, keep_ends, span)
        return
    if encoding.startswith("utf-16"):
        with open_text(path, encoding) as text:
            number = 0
            while True:
                try:
                    line = text.readline()
                except UnicodeDecodeError as error:
                    raise ParseError(str(path), number + 1, f"cannot decode text as {encoding}: {error.reason}") from None
                if not line:
                    return
                number += 1
                if number == 1:
                    line = line.lstrip("\ufeff")
                yield number, line if keep_ends else line.rstrip("\r\n")
    with open(path, "rb") as handle:
        yield from _decoded_lines(path, encoding, keep_ends, handle, 1)


def _span_lines(path: Path, encoding: str, keep_ends: bool, span: LineSpan) -> Iterator[tuple[int, str]]:
    if encoding not in SPLITTABLE_ENCODINGS:
        raise ValueError(f"{path}: a {encoding} file cannot be read by byte spans")

    def raw_lines(handle: IO[bytes]) -> Iterator[bytes]:
        at = handle.seek(span.start)
        while at < span.end and (raw := handle.readline(span.end - at)):
            at += len(raw)
            yield raw

    with open(path, "rb") as handle:
        yield from _decoded_lines(path, encoding, keep_ends, raw_lines(handle), span.first_line)


def _decoded_lines(path: Path, encoding: str, keep_ends: bool, raws: Iterable[bytes],
                   number: int) -> Iterator[tuple[int, str]]:
    """Byte lines decoded one by one (a bad byte is reported at its own line), numbered from ``number``."""
    for raw in raws:
        try:
            line = raw.decode(encoding)
        except UnicodeDecodeError as error:
            raise ParseError(str(path), number, f"cannot decode text as {encoding}: {error.reason} at byte {error.start}") from None
        if number == 1 and line.startswith("\ufeff"):
            line = line[1:]
        yield number, line if keep_ends else line.rstrip("\r\n")
        number += 1
