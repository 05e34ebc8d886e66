"""WhatsApp "Export chat" text files, every locale, Android and iOS.

What the exporter writes (one header per message; the lines that follow belong to it)::

    Android  12/03/2026, 15:23 - Alice: text        (12.03.26, 15:23 - / 3/12/26, 3:23 PM - /
                                                      2026-03-12 15:23 - / 2026/3/12 下午3:23 - / ...)
    iOS      [12/03/2026, 15:23:05] Alice: text      ([3/12/26, 3:23:05 PM] Alice: ...)

The file is read in two streaming passes:

1. :func:`inspect` learns the *layout* from the first non-empty line (brackets, date separator,
   year position, time separator, what ends the header) and compiles ONE regular expression for
   it, then scans every header: the day/month order (a first field > 12 means day-first, a second
   field > 12 month-first; the first decisive line wins), every distinct date (all validated
   before anything is yielded), the senders, group cues, and the exporter's own name ("You
   deleted this message" is written under the exporter's name).
2. :func:`parse` reads the file again with that regex and yields one :class:`Conversation`, then
   the messages.

Rules (also in the README paragraph):

* times are the exporter's wall clock, read in ``options.tz``; 2-digit years are 20yy;
* when no date decides the day/month order: ``options.extra["date_order"]`` if given, else a
  locale guess (``/`` dates with an upper-case ``AM``/``PM`` clock are US month-first, year-first
  dates are Y/M/D, everything else day-first); messages then carry ``extras["date_order"]`` and
  ``extras["date_order_source"]`` ("locale" or "default");
* conversation_id: the chat name in the file name (``WhatsApp Chat with Alice.txt`` -> ``Alice``, also
  ``WhatsApp Chat - Alice`` and the localized forms); for a generic name (``_chat.txt``) the name iOS
  attributes its system lines to (the contact in a one-to-one chat, the group subject in a group:
  the same name Android puts in the file name), else the only other sender when the exporter is
  known, else ``participants:`` + the sorted sender names joined with ``", "``.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain
from datetime import datetime
from pathlib import Path
from typing import Iterator

from ..errors import ParseError
from ..model import Attachment, Conversation, ConversationType, Kind, Message, Record
from . import HEAD_BYTES, ParseOptions, head_text, numbered_lines, sniff_encoding
from .dates import day_first as day_first_of

NAME = "whatsapp-txt"
PLATFORM = "whatsapp"
DESCRIPTION = (
    "WhatsApp 'Export chat' text file (_chat.txt from iOS, 'WhatsApp Chat with X.txt' from Android), "
    "any locale: day/month order read from the file, 12/24 h clocks, media, recalls, edits, system lines"
)

# ---- characters and regex building blocks ----------------------------------------------------

#: bidi / zero-width marks WhatsApp sprinkles over exports: U+200E before iOS media and system
#: lines, U+200F in right-to-left locales, U+202A…U+202C around phone numbers, a BOM.
MARK_CHARS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\u200b"
MARK_SET = frozenset(MARK_CHARS)
_NO_MARKS = str.maketrans("", "", MARK_CHARS)
_MARKS = f"[{MARK_CHARS}]"
_MK = "[\u200e\u200f]?"  # a mark glued to a date field (Arabic: ٢٤\u200f/٤\u200f/٢٠٢٢)
_SP = "[ \u00a0\u202f\u2009]"  # a space: plain, no-break, narrow no-break (newer exports), thin
_BLANK = " \t\u00a0\u202f\u2009" + MARK_CHARS

#: an AM/PM marker written after the time
_POST = (
    rf"[AaPp]\.?{_SP}?[Mm]\.?"  # AM PM am pm a.m. p.m. a. m. p. m. (the spaces may be no-break)
    r"|ص|م"  # Arabic
    r"|午前|午後|上午|下午|오전|오후"  # CJK / Korean, when written after the time
    r"|π\.μ\.|μ\.μ\."  # Greek
)
#: markers written before the time, in the gap after the date: 下午3:23, 오후 3:23
_PRE_MARKERS = {
    "上午": "a", "凌晨": "a", "早上": "a", "清晨": "a", "午前": "a", "오전": "a",
    "下午": "p", "晚上": "p", "傍晚": "p", "午後": "p", "오후": "p",
    "中午": "n",
}
_POST_MARKERS = {"am": "a", "pm": "p", "ص": "a", "م": "p", "πμ": "a", "μμ": "p"}
_MARKER_SQUEEZE = str.maketrans("", "", ". \u00a0\u202f\u2009")
_GAP_STRIP = " ,，،\u00a0\u202f\u2009" + MARK_CHARS

_DATE_GENERIC = (
    rf"(?P<d1>\d{{1,4}}){_MK}(?P<sep>[./\-]){_MK}{_SP}?(?P<d2>\d{{1,2}}){_MK}(?P=sep){_MK}{_SP}?"
    rf"(?P<d3>\d{{1,4}}){_MK}(?P<tail>(?P=sep))?"
)
_GAP = r"(?P<gap>[^\d\[\]]{0,12}?)"  # ", " / " " / " à " / " klo " / " 下午" / "، "
_TIME_GENERIC = r"(?P<H>\d{1,2})(?P<tsep>[:.])(?P<M>\d{2})(?:(?P=tsep)(?P<S>\d{2}))?"
_ENDS = {
    "bracket": rf"\.?\]{_SP}?(?:[-–]{_SP})?",  # iOS "] "
    "dash": rf"\.?{_SP}?{_MK}[-–]{_SP}",  # Android " - "
    "colon": rf":{_SP}",  # old iOS "13.06.18 21.25.15: "
    "space": _SP,  # "13. 6. 2018. 21:25:15 " (only after a dotted date with a trailing dot)
}
_QUOTE_CHARS = '"“”«»„「」『』'
#: "Name: text" — a name has no colon and no quotes (so 'X changed the subject to "A: B"' is a
#: system line); a name may be followed by ":" and the end of the line (an empty message).
_BODY = rf"(?P<body>(?:(?P<name>[^:{_QUOTE_CHARS}]{{1,100}}):(?: |$))?(?P<text>.*))$"

#: the permissive line shape used to recognise a WhatsApp header and learn the file's layout
_PROBE = re.compile(
    rf"^{_MARKS}*(?P<br>\[)?{_DATE_GENERIC}{_GAP}{_TIME_GENERIC}(?:{_SP}?(?P<post>{_POST}))?"
    rf"(?P<end>(?(br){_ENDS['bracket']}|(?:{_ENDS['dash']}|{_ENDS['colon']}|(?(tail){_SP}|(?!)))))"
    + _BODY
)


@dataclass(frozen=True)
class Layout:
    """The header shape of one export file (learned from its first line)."""

    bracket: bool  # iOS: "[date, time] Name: text"
    date_sep: str  # "/", ".", "-"
    tail: bool  # a separator after the last date field ("2026. 3. 12." / "13. 6. 2018.")
    time_sep: str  # ":" or "." (Finnish, Danish, Indonesian)
    end: str  # "bracket" | "dash" | "colon" | "space"
    year_first: bool  # 2026/3/12, 2026-03-12, 2026. 3. 12.
    date_marks: bool = True  # bidi marks glued to the date fields (Arabic exports)
    date_spaces: bool = True  # a space after each date separator ("13. 6. 2018")
    gap: str | None = None  # the literal text between date and time (None: varies, e.g. 上午/下午)

    @property
    def style(self) -> str:
        return "ios" if self.bracket else "android"

    def compile(self) -> re.Pattern[str]:
        """The one regex every line of the file is matched against."""
        sep = re.escape(self.date_sep)
        first = r"\d{2,4}" if self.year_first else r"\d{1,2}"
        mk = _MK if self.date_marks else ""
        sp = f"{_SP}?" if self.date_spaces else ""
        date = (
            rf"(?P<d1>{first}){mk}{sep}{mk}{sp}(?P<d2>\d{{1,2}}){mk}{sep}{mk}{sp}"
            rf"(?P<d3>\d{{1,4}}){mk}" + (f"{sep}?" if self.tail else "")
        )
        gap = _GAP if self.gap is None else f"(?P<gap>{re.escape(self.gap)})"
        tsep = re.escape(self.time_sep)
        time = rf"(?P<H>\d{{1,2}}){tsep}(?P<M>\d{{2}})(?:{tsep}(?P<S>\d{{2}}))?"
        return re.compile(
            rf"^{_MARKS}*" + (r"\[" if self.bracket else "") + date + gap + time
            + rf"(?:{_SP}?(?P<post>{_POST}))?" + _ENDS[self.end] + _BODY
        )


def _layout_of(m: re.Match[str]) -> Layout:
    end = m.group("end")
    if m.group("br"):
        kind = "bracket"
    elif "-" in end or "–" in end:
        kind = "dash"
    elif ":" in end:
        kind = "colon"
    else:
        kind = "space"
    d1 = m.group("d1")
    date = m.string[m.start("d1"): m.end("d3")]
    gap = m.group("gap")
    return Layout(
        bracket=bool(m.group("br")),
        date_sep=m.group("sep"),
        tail=bool(m.group("tail")),
        time_sep=m.group("tsep"),
        end=kind,
        year_first=len(d1) >= 3 or int(d1) > 31,
        date_marks=any(c in date for c in "\u200e\u200f"),
        date_spaces=any(c in date for c in " \u00a0\u202f\u2009"),
        # the exporter writes the same gap on every line, unless it holds 上午/下午 & co.
        gap=None if _PRE_MARKERS.get(gap.strip(_GAP_STRIP)) or any(ch in gap for ch in "午전후晚凌早中") else gap,
    )


def _plausible(m: re.Match[str]) -> bool:
    """Date and time fields in range for SOME order (detection must not fire on random numbers)."""
    d1, d2, d3 = int(m.group("d1")), int(m.group("d2")), int(m.group("d3"))
    if len(m.group("d1")) >= 3 or d1 > 31:  # year first
        a, b = d2, d3
    else:
        if len(m.group("d3")) == 3:
            return False
        a, b = d1, d2
    if not (1 <= a <= 31 and 1 <= b <= 31 and min(a, b) <= 12):
        return False
    return int(m.group("H")) <= 24 and int(m.group("M")) <= 59 and int(m.group("S") or 0) <= 59


def _sender(name: str | None) -> str | None:
    """The name as shown, without the bidi marks around it ("\u202a+86 138 0013 8000\u202c")."""
    if name is None:
        return None
    if name[0] in MARK_SET or name[-1] in MARK_SET or name[0] == " " or name[-1] == " ":
        name = name.strip(MARK_CHARS + " ")
    return name or None


# ---- message contents -----------------------------------------------------------------------------

_EDITED = (
    "<This message was edited>",
    "<Diese Nachricht wurde bearbeitet>",
    "<Se editó este mensaje.>",
    "<Mensagem editada>",
    "<Ce message a été modifié>",
    "<Questo messaggio è stato modificato>",
    "<Dit bericht is bewerkt>",
)

#: "You deleted this message": a recall by the exporter (and the sender's name is the exporter's)
_YOU_DELETED = {
    "You deleted this message", "Du hast diese Nachricht gelöscht", "Eliminaste este mensaje",
    "Você apagou esta mensagem", "Vous avez supprimé ce message", "Hai eliminato questo messaggio",
    "Je hebt dit bericht verwijderd", "你删除了此消息", "您删除了此消息", "你删除了这条消息",
}
_YOU_DELETED_ENDINGS = tuple({s[-4:] for s in _YOU_DELETED} | {s[-4:] + "." for s in _YOU_DELETED})
_RECALLS = _YOU_DELETED | {
    "This message was deleted", "Diese Nachricht wurde gelöscht", "Se eliminó este mensaje",
    "Mensagem apagada", "Esta mensagem foi apagada", "Ce message a été supprimé",
    "Questo messaggio è stato eliminato", "Dit bericht is verwijderd", "此消息已删除", "这条消息已删除",
    "此訊息已刪除",
}
#: Android "<Media omitted>": no file, type unknown
_MEDIA_OMITTED = {
    "<Media omitted>", "<Medien ausgeschlossen>", "<Multimedia omitido>", "<Mídia oculta>",
    "<Médias omis>", "<Media omessi>", "<Media weggelaten>", "<省略影音内容>", "<省略影音內容>",
}
#: iOS "image omitted" & co.: no file, type known
_OMITTED = {
    "image omitted": Kind.IMAGE, "video omitted": Kind.VIDEO, "audio omitted": Kind.VOICE,
    "sticker omitted": Kind.STICKER, "GIF omitted": Kind.IMAGE, "Contact card omitted": Kind.CONTACT,
    "document omitted": Kind.FILE,
    "Bild weggelassen": Kind.IMAGE, "Video weggelassen": Kind.VIDEO, "Audio weggelassen": Kind.VOICE,
    "Sticker weggelassen": Kind.STICKER,
    "imagen omitida": Kind.IMAGE, "video omitido": Kind.VIDEO, "audio omitido": Kind.VOICE,
    "sticker omitido": Kind.STICKER,
    "imagem ocultada": Kind.IMAGE, "vídeo ocultado": Kind.VIDEO, "áudio ocultado": Kind.VOICE,
    "figurinha omitida": Kind.STICKER,
}
#: iOS with media: "<attached: 00000012-PHOTO-2026-03-12-15-23-05.jpg>" ("<Anhang: …>", "<附件：…>")
_ATTACHED = re.compile(r"^<([^<>:：]{1,25}?)\s?[:：]\s?([^<>]+?\.[A-Za-z0-9]{1,5})\s?>$")
#: Android with media: "IMG-20260312-WA0001.jpg (file attached)" ("(Datei angehängt)", …)
_FILE_ATTACHED = re.compile(r"^(.+?\.[A-Za-z0-9]{1,5}) \(([^()]{2,40})\)$")
_FILE_ATTACHED_LABELS = {
    "file attached", "Datei angehängt", "archivo adjunto", "arquivo anexado", "fichier joint",
    "file allegato", "bestand bijgevoegd", "文件已附加", "附件",
}
_ANDROID_MEDIA_NAME = re.compile(r"^(IMG|VID|PTT|AUD|STK|DOC)-\d{8}-WA\d+", re.I)
_LOCATION = re.compile(
    r"^[^\s:：]{1,20}\s?[:：]\s?(?P<url>https?://(?:maps\.google\.[^\s/]+|www\.google\.[^\s/]+/maps"
    r"|maps\.apple\.com|goo\.gl/maps|maps\.app\.goo\.gl)\S*)$"
)
_LATLON = re.compile(r"[?&](?:q|ll)=(-?\d+(?:\.\d+)?),\s*(-?\d+(?:\.\d+)?)")
_POLL_HEADS = ("POLL:", "ENCUESTA:", "ENQUETE:", "UMFRAGE:", "SONDAGE :", "SONDAGGIO:", "投票：")
_VOTES = re.compile(r"\((\d+) [^()]+\)$")

#: whole first lines (after marks are stripped and trailing dots dropped) with a fixed meaning
_EXACT: dict[str, tuple] = {}
_EXACT.update({s: (Kind.RECALL, s in _YOU_DELETED) for s in _RECALLS})
_EXACT.update({s: (Kind.FILE, "omitted") for s in _MEDIA_OMITTED})
_EXACT.update({s: (Kind.LOCATION, None) for s in ("live location shared", "Live location shared",
                                                   "Live location ended")})
_EXACT.update({s.rstrip("."): (Kind.POLL, None) for s in _POLL_HEADS})
_EXACT["null"] = (Kind.OTHER, "null")  # what old Android exports wrote for some calls / view-once media
_SPECIAL_ENDINGS = (")", ">") + tuple(_OMITTED)
_SPECIAL_PREFIXES = ("This message was deleted by admin", "Waiting for this message")

_CALL = re.compile(
    r"^(?:Silenced )?(?:Missed )?(?:group )?(?:voice|video) call\b"
    r"|^Verpasste[rs]? (?:Sprach|Video)anruf|^(?:Sprach|Video)anruf"
    r"|^Llamada (?:de voz |de video |)perdida|^Chamada de (?:voz|vídeo) perdida"
    r"|^Appel (?:vocal|vidéo) manqué|^未接(?:语音|视频)通话|^(?:语音|视频)通话",
    re.I,
)
#: a call notice written under a name (a whole one-line message), not typed text
_CALL_LINE = re.compile(r"^(?:Silenced )?Missed (?:group )?(?:voice|video) call(?:, Tap to call back)?\.?$", re.I)
_GROUP_CUES = re.compile(
    r"created group|created this group|\badded\b|\bremoved\b|\bleft$|joined using|changed the subject"
    r"|changed this group|changed the group|were added|now an admin|group's (?:icon|settings|description)"
    r"|Gruppe|hinzugefügt|grupo|añadió|adicionou|groupe|a ajouté|gruppo|ha aggiunto|groep"
    r"|群组|群組|添加了|退出了|移除了",
)
_YOU_SYSTEM = re.compile(r"^You (?!were |are |re )|^You'(?!re )")

_KIND_BY_IOS_TAG = {"PHOTO": Kind.IMAGE, "VIDEO": Kind.VIDEO, "AUDIO": Kind.VOICE, "STICKER": Kind.STICKER,
                    "GIF": Kind.IMAGE, "DOCUMENT": Kind.FILE}
_KIND_BY_ANDROID_PREFIX = {"IMG": Kind.IMAGE, "VID": Kind.VIDEO, "PTT": Kind.VOICE, "AUD": Kind.VOICE,
                           "STK": Kind.STICKER, "DOC": Kind.FILE}
_KIND_BY_EXT = {
    **dict.fromkeys(("jpg", "jpeg", "png", "heic", "heif", "gif", "bmp"), Kind.IMAGE),
    **dict.fromkeys(("mp4", "mov", "3gp", "m4v", "avi", "mkv"), Kind.VIDEO),
    **dict.fromkeys(("opus", "ogg", "m4a", "mp3", "aac", "amr", "wav"), Kind.VOICE),
    "webp": Kind.STICKER,
    "vcf": Kind.CONTACT,
}
_IOS_TAG = re.compile(r"^\d{8}-([A-Z]+)-")

#: the built-in table only (not the machine's /etc/mime.types): the MIME type is part of the content hash
_MIMETYPES = mimetypes.MimeTypes()
_MIME_EXTRA = {"opus": "audio/ogg", "webp": "image/webp", "heic": "image/heic", "vcf": "text/vcard",
               "m4a": "audio/mp4", "amr": "audio/amr", "3gp": "video/3gpp", "aac": "audio/aac"}


def _mime(name: str) -> str | None:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return _MIME_EXTRA.get(ext) or _MIMETYPES.guess_type(name, strict=False)[0]


def _kind_of_file(name: str) -> Kind:
    tag = _IOS_TAG.match(name)
    if tag and tag.group(1) in _KIND_BY_IOS_TAG:
        return _KIND_BY_IOS_TAG[tag.group(1)]
    prefix = _ANDROID_MEDIA_NAME.match(name)
    if prefix:
        return _KIND_BY_ANDROID_PREFIX[prefix.group(1).upper()]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return _KIND_BY_EXT.get(ext, Kind.FILE)


def _special(first: str) -> tuple | None:
    """(kind, detail) when a message's first line (marks stripped) is a WhatsApp placeholder."""
    hit = _EXACT.get(first.rstrip(".") if first.endswith(".") else first)
    if hit is not None:
        return hit
    if first.endswith(_SPECIAL_ENDINGS):
        if first.endswith(">"):
            m = _ATTACHED.match(first)
            if m:
                return (None, ("attached", m.group(2).strip(_BLANK)))
        elif first.endswith(")"):
            m = _FILE_ATTACHED.match(first)
            if m and (_ANDROID_MEDIA_NAME.match(m.group(1)) or m.group(2) in _FILE_ATTACHED_LABELS):
                return (None, ("attached", m.group(1).strip(_BLANK)))
        else:
            for suffix, kind in _OMITTED.items():
                if first.endswith(suffix):
                    name = first[: -len(suffix)].strip(_BLANK)
                    if "•" in name:  # "Report.pdf • 3 pages document omitted"
                        name = name.split("•", 1)[0].strip(_BLANK)
                    return (kind, ("omitted", name or None))
    if "://" in first:
        m = _LOCATION.match(first)
        if m:
            return (Kind.LOCATION, m.group("url"))
    if first.startswith(_SPECIAL_PREFIXES):
        if first.startswith("This"):
            return (Kind.RECALL, False)
        return (Kind.OTHER, "undecryptable")
    return None


def _is_notice(text: str) -> bool:
    """An iOS U+200E-marked text that is a system notice (not media, a recall, a call, a poll …)."""
    first = text.split("\n", 1)[0].strip(_BLANK)
    return _special(first) is None and _CALL.match(first) is None


# ---- file names ---------------------------------------------------------------------------------

_NAME_PATTERNS = [
    re.compile(p, re.I)
    for p in (
        r"^WhatsApp Chat with (?P<n>.+)$",
        r"^WhatsApp Chat - (?P<n>.+)$",
        r"^WhatsApp-Chat mit (?P<n>.+)$",
        r"^Chat de WhatsApp con (?P<n>.+)$",
        r"^Conversa do WhatsApp com (?P<n>.+)$",
        r"^Discussion WhatsApp avec (?P<n>.+)$",
        r"^Chat WhatsApp con (?P<n>.+)$",
        r"^WhatsApp[- ]chat met (?P<n>.+)$",
        r"^Чат WhatsApp с (?P<n>.+)$",
        r"^[与和與](?P<n>.+?)的 ?WhatsApp ?(?:聊天|對話|对话)(?:记录|紀錄)?$",
    )
]


def name_from_filename(path: Path | str) -> str | None:
    """The chat name an export's file name carries ("WhatsApp Chat with Alice (1).txt" -> "Alice")."""
    path = Path(path)
    stem = path.stem if path.suffix.lower() == ".txt" else path.name
    stem = re.sub(r"(?:\s*\(\d+\)|\.\d+)$", "", stem.strip())  # copies: "… (1).txt", "….1.txt"
    for pattern in _NAME_PATTERNS:
        m = pattern.match(stem)
        if m:
            return m.group("n").strip() or None
    return None


# ---- reading lines ------------------------------------------------------------------------------

class _LineSource:
    """``enumerate`` over the decoded lines (ending at LF only, like ``formats.numbered_lines``).

    Iterating a text file directly is much faster than a generator per line; a decoding error is
    re-located by ``numbered_lines``, which raises a ParseError naming the exact line. Lines keep
    their line end: callers strip it.
    """

    def __init__(self, path: Path, encoding: str):
        self.path, self.encoding, self.handle = path, encoding, None

    def __enter__(self):
        if self.encoding.startswith("utf-16"):
            return numbered_lines(self.path, self.encoding)
        self.handle = open(self.path, encoding=self.encoding, errors="strict", newline="\n")
        return enumerate(self.handle, 1)

    def __exit__(self, kind, error, trace):
        if self.handle is not None:
            self.handle.close()
        if isinstance(error, UnicodeDecodeError):
            for _ in numbered_lines(self.path, self.encoding):  # raises ParseError at the bad line
                pass
            raise ParseError(str(self.path), None, f"cannot decode text as {self.encoding}: {error.reason}")
        return False


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 4))
        tail = handle.read()
    return size == 0 or tail.endswith((b"\n", b"\n\x00"))


def _shape(text: str) -> str:
    return re.sub(r"\d+", "0", text)


# ---- pass 1: the layout, the day/month order, the conversation ---------------------------------

@dataclass
class ChatInfo:
    """What the first pass learned about one export file."""

    layout: Layout
    encoding: str
    first_line: int  # the line of the first header
    order: str  # "DMY" | "MDY" | "YMD" | "YDM"
    order_source: str  # "file" (a field > 12 decided), "option", "locale" or "default"
    order_line: int | None  # the line whose date decided the order
    senders: list[str] = field(default_factory=list)  # in order of first appearance
    me_names: set[str] = field(default_factory=set)
    group_cues: bool = False
    attributions: Counter = field(default_factory=Counter)  # iOS: whom notices are attributed to
    header_count: int = 0
    conversation_id: str = ""
    title: str | None = None
    type: ConversationType = ConversationType.UNKNOWN
    truncated_line: int | None = None  # the last line: a header cut short
    date_lines: dict = field(default_factory=dict, repr=False)  # distinct date fields -> first line


def inspect(path: Path, options: ParseOptions | None = None) -> ChatInfo:
    """First pass: layout, day/month order (and why), senders and the conversation's identity."""
    options = options or ParseOptions()
    path = Path(path)
    with open(path, "rb") as handle:
        encoding = sniff_encoding(handle.read(HEAD_BYTES))
    with _LineSource(path, encoding) as lines:
        return _scan(path, encoding, lines, options)


def _scan(path: Path, encoding: str, lines, options: ParseOptions) -> ChatInfo:
    layout = None
    first_line, first_text = 0, ""
    for number, line in lines:
        line = line.rstrip("\r\n")
        if not line.strip(_BLANK):
            continue
        probe = _PROBE.match(line)
        if probe is None or not _plausible(probe):
            raise ParseError(str(path), number, "not a WhatsApp chat export: the first line is not a message header")
        layout, first_line, first_text = _layout_of(probe), number, line
        break
    if layout is None:
        raise ParseError(str(path), None, "empty file: no WhatsApp message in it")

    match = layout.compile().match
    senders: dict[str, None] = {}
    me_names: set[str] = set()
    attributions: Counter = Counter()
    group_cues = False
    decided: tuple[bool, int] | None = None
    shapes: list[str] = []
    headers = 0
    date_lines: dict[tuple[str, str, str], int] = {}
    a_name, b_name = ("d2", "d3") if layout.year_first else ("d1", "d2")  # the two non-year fields
    post_marker = None
    last_number, last_line, last_m = first_line, first_text, None

    for number, line in chain(((first_line, first_text),), lines):
        line = line.rstrip("\r\n")
        m = match(line)
        if m is None:
            last_number, last_line, last_m = number, line, None
            continue
        last_number, last_line, last_m = number, line, m
        headers += 1
        dkey = m.group("d1", "d2", "d3")
        if dkey not in date_lines:
            date_lines[dkey] = number
            if decided is None:
                hint = day_first_of(int(m.group(a_name)), int(m.group(b_name)))
                if hint is not None:
                    decided = (hint, number)  # True: the first non-year field is the day
        if post_marker is None and headers <= 1000:
            post_marker = m.group("post")
        if headers <= 200 and len(shapes) < 8:
            shape = _shape(line[: m.start("body")].strip(_BLANK))
            if shape not in shapes:
                shapes.append(shape)
        name, text = m.group("name", "text")
        if name is None:
            if _GROUP_CUES.search(text):
                group_cues = True
            continue
        if name[0] in MARK_SET or name[-1] in MARK_SET or name[0] == " " or name[-1] == " ":
            name = _sender(name)
            if name is None:
                continue
        if text[:1] in MARK_SET and _is_notice(text):
            attributions[name] += 1
            if _GROUP_CUES.search(text):
                group_cues = True
            continue
        if name not in senders:
            senders[name] = None
        if text.endswith(_YOU_DELETED_ENDINGS) and text.strip(_BLANK).rstrip(".") in _YOU_DELETED:
            me_names.add(name)

    forced = str((options.extra or {}).get("date_order", "")).upper()
    if forced in ("DMY", "MDY", "YMD", "YDM"):
        order, source, order_line = forced, "option", None
    elif decided is not None:
        day_first, order_line = decided
        order = ("YDM" if day_first else "YMD") if layout.year_first else ("DMY" if day_first else "MDY")
        source = "file"
    else:
        order, source, order_line = _guess_order(layout, post_marker) + (None,)

    if options.me:
        me_names.add(options.me.strip())

    info = ChatInfo(
        layout=layout, encoding=encoding, first_line=first_line, order=order, order_source=source,
        order_line=order_line, senders=list(senders), me_names=me_names, group_cues=group_cues,
        attributions=attributions, header_count=headers, date_lines=date_lines,
    )
    if not _ends_with_newline(path):
        info.truncated_line = _truncated(last_number, last_line, last_m, shapes)
    _identify(path, info)
    return info


def _guess_order(layout: Layout, post_marker: str | None) -> tuple[str, str]:
    """No date > 12 in the whole file: the order the exporter's locale most likely used."""
    if layout.year_first:
        return "YMD", "locale"
    if layout.date_sep == "/" and post_marker and post_marker.translate(_MARKER_SQUEEZE) in ("AM", "PM"):
        return "MDY", "locale"  # en-US: 3/12/26, 3:23 PM (en-GB, en-IN, en-AU write 24 h or "pm")
    if layout.date_sep in ".-":
        return "DMY", "locale"  # dotted and dashed day.month.year: de, ru, fi, nl, …
    return "DMY", "default"


def _truncated(number: int, line: str, m: re.Match[str] | None, shapes: list[str]) -> int | None:
    """The last line (no newline after it) when it is a header cut short: "12/03/2026, 15:"."""
    if m is not None:
        return number if m.group("name") is None and not m.group("text").strip(_BLANK) else None
    stripped = line.strip(_BLANK)
    date_only = re.match(r"^\[?\d+\D{1,3}\d+\D{1,3}\d+", stripped)
    if date_only is None or len(stripped) <= date_only.end():
        return None  # at most a date: may well be the text of the last message
    shape = _shape(stripped)
    return number if any(s.startswith(shape) and s != shape for s in shapes) else None


def _identify(path: Path, info: ChatInfo) -> None:
    """conversation_id, title and type (the rule is in the module docstring)."""
    senders = info.senders
    is_group = len(senders) > 2 or info.group_cues
    info.type = ConversationType.GROUP if is_group else ConversationType.PRIVATE
    named = name_from_filename(path)
    if named:
        info.conversation_id = info.title = named
        return
    if info.attributions:
        info.conversation_id = info.title = info.attributions.most_common(1)[0][0]
        return
    others = [s for s in senders if s not in info.me_names]
    if not is_group and info.me_names and len(others) == 1:
        info.conversation_id = info.title = others[0]
        return
    info.conversation_id = "participants:" + ", ".join(sorted(senders))
    info.title = ", ".join(senders) or None


def date_order(path: Path, options: ParseOptions | None = None) -> tuple[str, str]:
    """("DMY" | "MDY" | "YMD" | "YDM", "file" | "option" | "locale" | "default") of an export."""
    info = inspect(path, options)
    return info.order, info.order_source


# ---- pass 2: the messages --------------------------------------------------------------------------

def _marker_of(post: str | None, gap: str | None) -> str | None:
    """"a" (before noon), "p" (after noon), "n" (中午, around noon) or None (a 24 h clock)."""
    if post:
        return _POST_MARKERS.get(post.translate(_MARKER_SQUEEZE).lower()) or _PRE_MARKERS.get(post)
    if gap:
        return _PRE_MARKERS.get(gap.strip(_GAP_STRIP))
    return None


class _Builder:
    def __init__(self, path: Path, info: ChatInfo, options: ParseOptions):
        self.path = path
        self.info = info
        self.tz = options.tz
        # (year, month, day) positions among (d1, d2, d3)
        self.pos = {"DMY": (2, 1, 0), "MDY": (2, 0, 1), "YMD": (0, 1, 2), "YDM": (0, 2, 1)}[info.order]
        self.dates: dict[tuple[str, str, str], tuple[int, int, int]] = {}
        for key, number in info.date_lines.items():  # in line order: the first bad date is reported
            self.dates[key] = self.date(key, number)
        self.markers: dict[str, str | None] = {}
        self.me = info.me_names
        self.base_extras = (
            {"date_order": info.order, "date_order_source": info.order_source}
            if info.order_source in ("locale", "default") else None
        )
        self.folder = path.parent

    def fail(self, number: int, message: str):
        raise ParseError(str(self.path), number, message)

    def date(self, key: tuple[str, str, str], number: int) -> tuple[int, int, int]:
        y_i, m_i, d_i = self.pos
        ys = key[y_i]
        if len(ys) == 3 or len(ys) == 1:
            self.fail(number, f"impossible year {ys!r} in {'/'.join(key)} (the file is {self.info.order})")
        year = int(ys) + (2000 if len(ys) == 2 else 0)
        month, day = int(key[m_i]), int(key[d_i])
        if not 1 <= month <= 12:
            self.fail(number, f"impossible date {'/'.join(key)}: month {month} (the file is {self.info.order})")
        try:
            datetime(year, month, day)
        except ValueError:
            self.fail(number, f"impossible date {'/'.join(key)}: day {day} of month {month} "
                              f"(the file is {self.info.order})")
        return year, month, day

    def attachment(self, name: str) -> Attachment:
        """The exported file beside the chat, hashed when it is there."""
        size = digest = None
        candidate = self.folder / name
        try:
            if "/" not in name and "\\" not in name and candidate.is_file():  # never a FIFO or device
                hasher = hashlib.sha256()
                with open(candidate, "rb") as handle:
                    for chunk in iter(lambda: handle.read(1 << 20), b""):
                        hasher.update(chunk)
                size, digest = candidate.stat().st_size, hasher.hexdigest()
        except OSError:  # a name too long for the file system, unreadable: the file is not there for us
            size = digest = None
        return Attachment(name=name, size=size, sha256=digest, mime=_mime(name), path=name)

    def build(self, number: int, m: re.Match[str], more: list[str]) -> Message:
        d1, d2, d3, gap, hh, mm, ss, post, name, text = m.group(
            "d1", "d2", "d3", "gap", "H", "M", "S", "post", "name", "text")

        # when: every date was validated before the first message; the clock may be 12 h
        hour = int(hh)
        if post is not None or (gap != ", " and gap != " " and gap):
            key = post if post is not None else "|" + gap
            marker = self.markers.get(key, "?")
            if marker == "?":
                marker = self.markers[key] = _marker_of(post, gap)
            if marker == "a":
                if hour == 12:
                    hour = 0
            elif marker == "p":
                if hour < 12:
                    hour += 12
            elif marker == "n" and hour < 11:
                hour += 12
        # model.localize(naive, tz) is naive.replace(tzinfo=tz); building it aware directly is the same
        try:
            sent_at = datetime(*self.dates[d1, d2, d3], hour, int(mm), int(ss) if ss else 0, tzinfo=self.tz)
        except ValueError:
            self.fail(number, f"impossible time {hh}:{mm}" + (f":{ss}" if ss else ""))

        # what
        if name is not None and (name[0] in MARK_SET or name[-1] in MARK_SET or name[0] == " " or name[-1] == " "):
            name = _sender(name)
        if more:
            while more and not more[-1].strip(_BLANK):
                more.pop()  # blank lines before the next header belong to no message
            if more:
                text = text + "\n" + "\n".join(more)
        extras: dict = dict(self.base_extras) if self.base_extras else {}
        kind = Kind.TEXT
        attachments: tuple[Attachment, ...] = ()
        is_me = (name in self.me) if (name is not None and self.me) else None

        if text.endswith(">"):
            for suffix in _EDITED:
                if text.endswith(suffix):
                    text = text[: -len(suffix)].rstrip(_BLANK)
                    extras["edited"] = True  # when is not in the export: edited_at stays None
                    break

        if more:
            first, nl, rest = text.partition("\n")
        else:
            first, nl, rest = text, "", ""
        first_clean = first.strip(_BLANK) if (first[:1] in MARK_SET or first[-1:] in MARK_SET
                                             or first[:1] == " " or first[-1:] == " ") else first
        special = _special(first_clean)

        if special is not None:
            what, detail = special
            if what is Kind.RECALL:
                kind, text = Kind.RECALL, text.strip(_BLANK)
                if detail:  # "You deleted this message": the exporter's own message
                    is_me = True
            elif what is Kind.LOCATION:
                kind, text = Kind.LOCATION, text.strip(_BLANK)
                if detail:
                    extras["url"] = detail
                    ll = _LATLON.search(detail)
                    if ll:
                        extras["latitude"], extras["longitude"] = ll.group(1), ll.group(2)
                else:
                    extras["live"] = True
            elif what is Kind.POLL:
                kind = Kind.POLL
                lines = [ln.strip(_BLANK) for ln in rest.split("\n")] if nl else []
                options = []
                for ln in lines[1:]:
                    label, colon, option = ln.partition(":")
                    if colon and label.isupper():
                        option = option.strip()
                        votes = _VOTES.search(option)
                        options.append({
                            "text": option[: votes.start()].strip() if votes else option,
                            "votes": int(votes.group(1)) if votes else None,
                        })
                extras["poll"] = {"question": lines[0] if lines else "", "options": options}
                text = "\n".join([first_clean] + lines)
            elif what is Kind.OTHER:
                kind = Kind.OTHER
                extras["placeholder"] = detail
                text = text.strip(_BLANK)
            else:
                # media: the placeholder is the first line, what follows is the caption
                caption = rest.strip("\n") if nl else ""
                placeholder = first_clean
                if detail == "omitted":  # Android "<Media omitted>": a file of unknown type
                    kind = Kind.FILE
                    extras["media_omitted"] = True
                elif detail[0] == "omitted":  # iOS "image omitted"
                    kind = what
                    extras["media_omitted"] = True
                    if detail[1]:
                        attachments = (Attachment(name=detail[1], mime=_mime(detail[1])),)
                else:  # "<attached: …>" / "… (file attached)": the file came with the export
                    placeholder = detail[1]
                    kind = _kind_of_file(placeholder)
                    attachments = (self.attachment(placeholder),)
                if caption:
                    extras["placeholder"] = placeholder
                    text = caption
                else:
                    text = placeholder
        elif name is None or first[:1] in MARK_SET:
            text = text.strip(_BLANK)
            if _CALL.match(first_clean):
                kind = Kind.CALL  # a name (iOS) is the caller's
            else:
                # a notice: no sender (Android), or an iOS U+200E line attributed to the chat's name
                kind = Kind.SYSTEM
                if name is not None:
                    extras["attributed_to"] = name
                    name = None
                is_me = True if _YOU_SYSTEM.match(text) else None
        elif not nl and first_clean[:1] in "MmSs" and _CALL_LINE.match(first_clean):
            kind = Kind.CALL

        if kind is not Kind.TEXT:
            text = text.translate(_NO_MARKS)  # WhatsApp's own marks inside its notices / placeholders
        return Message(
            platform=PLATFORM,
            conversation_id=self.info.conversation_id,
            conversation_title=self.info.title,
            sent_at=sent_at,
            kind=kind,
            text=text,
            sender_id=name,
            sender_name=name,
            attachments=attachments,
            is_me=is_me,
            position=number,
            extras=extras,
        )


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    path = Path(path)
    info = inspect(path, options)
    if info.truncated_line is not None:
        raise ParseError(str(path), info.truncated_line, "truncated file: the last message header is cut short")
    builder = _Builder(path, info, options)  # validates every date before anything is yielded
    yield Conversation(
        platform=PLATFORM,
        conversation_id=info.conversation_id,
        title=info.title,
        type=info.type,
        members=tuple((name, name) for name in info.senders),
    )
    build = builder.build
    match = info.layout.compile().match
    current = None
    current_number = 0
    more: list[str] = []
    with _LineSource(path, info.encoding) as lines:
        for number, line in lines:
            line = line.rstrip("\r\n")
            m = match(line)
            if m is None:
                if current is not None:
                    more.append(line)
                continue
            if current is not None:
                yield build(current_number, current, more)
                if more:
                    more = []
            current, current_number = m, number
    if current is not None:
        yield build(current_number, current, more)


# ---- detection ------------------------------------------------------------------------------------

_CUES = (
    "end-to-end encrypted", "Ende-zu-Ende", "de extremo a extremo", "criptografia de ponta a ponta",
    "chiffrés de bout en bout", "端到端加密", "<Media omitted>", " omitted", "(file attached)", "<attached:",
    "This message was deleted", "<This message was edited>",
)


def detect(path: Path, head: bytes) -> float:
    """0 unless the first non-empty line is a WhatsApp header; 0.9+ for the classic layouts."""
    try:
        if not head:
            return 0.0
        text = head_text(head)
        lines = text.split("\n")
        first, index = None, 0
        for index, line in enumerate(lines):
            if line.strip(_BLANK + "\r"):
                first = line.rstrip("\r")
                break
        if first is None:
            return 0.0
        probe = _PROBE.match(first)
        if probe is None or not _plausible(probe):
            return 0.0
        layout = _layout_of(probe)
        match = layout.compile().match
        headers = sum(1 for line in lines[index: index + 40] if match(line.rstrip("\r")))
        if layout.end == "bracket":
            score = 0.85 if probe.group("S") else 0.65  # iOS always writes seconds
        elif layout.end == "dash":
            score = 0.85 if "," in probe.group("gap") or probe.group("post") else 0.75
        else:
            score = 0.55
        name = Path(path).name if path else ""
        if name_from_filename(name) or name.lower() in ("_chat.txt", "chat.txt"):
            score += 0.1
        if any(cue in text for cue in _CUES):
            score += 0.06
        if headers >= 2:
            score += 0.03
        if probe.group("name") is not None:
            score += 0.02
        return min(score, 0.99)
    except Exception:
        return 0.0
