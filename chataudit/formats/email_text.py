"""Text helpers of the e-mail format: charsets, RFC 2047 words, HTML to text, quote splitting.

Kept apart from :mod:`chataudit.formats.email_mbox` so the rules (which are heuristics
about how mail clients write replies) can be read and tested on their own.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from html.parser import HTMLParser

# ---- charsets ------------------------------------------------------------------------------

# Mail declared gb2312 routinely carries GBK-only characters (镕, 喆, 𠮷 …): GB18030 is a
# superset of both and decodes every byte sequence they can produce.  Same idea for Big5
# (HKSCS extension), Korean (cp949 ⊃ EUC-KR) and Latin-1 (windows-1252 is what is really sent).
CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gb_2312": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "euc-cn": "gb18030",
    "euccn": "gb18030",
    "x-euc-cn": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "chinese": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
}
# Declared charsets that say nothing useful: try UTF-8, then GB18030.
_UNINFORMATIVE = {"", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "unknown", "default", "8bit", "binary"}


def codec_for(charset: str | None) -> str | None:
    """The Python codec to decode text declared as ``charset`` (None when unknown/uninformative)."""
    name = (charset or "").strip().strip('"').lower()
    if name in _UNINFORMATIVE:
        return None
    name = CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode ``data`` declared as ``charset``; returns (text, clean) — clean False when bytes were replaced."""
    codec = codec_for(charset)
    candidates = [codec] if codec else []
    candidates += [c for c in ("utf-8", "gb18030") if c not in candidates]
    for candidate in candidates:
        try:
            text = data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
        return text.lstrip("\ufeff"), True
    return data.decode(codec or "utf-8", errors="replace").lstrip("\ufeff"), False


def unsurrogate(value: str) -> str:
    """Header text the byte parser read as ASCII+surrogateescape: recover raw 8-bit (UTF-8 or GBK) headers."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("ascii", "surrogateescape")
    return decode_bytes(raw, None)[0]


_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def decode_words(value: str | None) -> str:
    """A header value with RFC 2047 encoded words (=?GB2312?B?…?=, =?utf-8?Q?…?=) decoded, unfolded.

    Charsets go through :data:`CHARSET_ALIASES` (so gb2312 is read as GB18030); raw 8-bit
    headers (UTF-8 or GBK sent without encoding, common in Chinese mail) are recovered too.
    """
    if not value:
        return ""
    value = unsurrogate(value)
    value = re.sub(r"\r?\n[ \t]+", " ", value).replace("\r", "").replace("\n", "")
    if not _ENCODED_WORD.search(value):
        return value.strip()
    # encoded words wrongly placed inside quotes ("=?utf-8?B?…?=" <a@b>) still decode
    value = re.sub(r'"(=\?[^"]*\?=)"', r"\1", value)
    # RFC 2047: blanks between two encoded words are dropped, all other text is kept as written
    # (email.header.decode_header loses or invents blanks around encoded words: "0  =?…?=" → "0 é")
    out: list[str] = []
    last_end, previous_was_word = 0, False
    for found in _ENCODED_WORD.finditer(value):
        between = value[last_end:found.start()]
        if not (previous_was_word and not between.strip(" \t")):
            out.append(between)
        out.append(_decode_word(found.group(0)))
        last_end, previous_was_word = found.end(), True
    out.append(value[last_end:])
    return "".join(out).strip()


def _decode_word(word: str) -> str:
    """One encoded word ``=?charset?B|Q?text?=``; a broken one is kept as written."""
    try:
        charset, encoding, text = word[2:-2].split("?", 2)
        charset = charset.split("*", 1)[0]  # RFC 2231 language suffix
        if encoding in "bB":
            data = base64.b64decode(text + "=" * (-len(text) % 4))
        else:
            data = quopri.decodestring(text.replace("_", " ").encode("ascii"), header=True)
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return word
    return decode_bytes(data, charset)[0]


# ---- subjects ------------------------------------------------------------------------------

# Reply/forward prefixes mail clients add, by language: en Re/Fw/Fwd, de AW/WG/Antw, nordic SV/VS/VB/VL,
# fr Réf./TR, es/pt RV/Enc/RES, it R/RIF/I, nl Doorst, pl Odp/PD, tr YNT/İLT, zh 回复/答复/转发 …;
# a counter may follow (RE[2]:, Re(3):, Re^2:), the colon may be full-width (回复：).
_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:re|fw|fwd|aw|wg|sv|vs|vb|vl|antw|antwort|réf|ref|rif|tr|rv|enc|res|r|i|doorst|odp|pd|ynt|i̇lt|"
    r"回复|回覆|答复|答覆|转发|轉發|转寄|轉寄)\.?\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]\s*",
    re.IGNORECASE,
)


def normalize_subject(subject: str) -> str:
    """The subject without reply/forward prefixes (Re:, RE:, Fwd:, FW:, 回复:, 答复:, 转发: … repeated) and extra blanks."""
    text = re.sub(r"\s+", " ", subject or "").strip()
    while True:
        stripped = _SUBJECT_PREFIX.sub("", text, count=1)
        if stripped == text:
            return text.strip()
        text = stripped


# ---- HTML to text --------------------------------------------------------------------------

_BLOCK = {
    "div", "li", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "pre", "hr", "section", "article", "header", "footer", "dd", "dt", "dl", "address", "center",
    "form", "fieldset", "figure", "figcaption", "main", "nav", "aside", "tbody", "thead",
}
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"}
_SKIP = {"script", "style", "head", "title", "template", "noscript"}


class _TextMaker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.prefix = ""
        self.skip = 0
        self.quote = 0
        self.pre = 0

    # a line is "open" once text was added; its quote prefix is fixed at that moment
    def _add(self, text: str) -> None:
        if not self.current:
            self.prefix = "> " * self.quote
        self.current.append(text)

    def _end_line(self, force: bool = False) -> None:
        line = "".join(self.current).strip(" ") if not self.pre else "".join(self.current)
        if self.current or force:
            self.lines.append((self.prefix if self.current else "> " * self.quote) + line)
        self.current = []

    def _blank(self) -> None:
        self._end_line()
        if self.lines and self.lines[-1].strip("> ") != "":
            self.lines.append("> " * self.quote)

    def handle_starttag(self, tag: str, attrs) -> None:  # noqa: ANN001
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self._end_line(force=True)
        elif tag in _BLOCK or tag == "p":
            if tag in _PARAGRAPH:
                self._blank()
            else:
                self._end_line()
            if tag == "blockquote":
                self.quote += 1
            elif tag == "pre":
                self.pre += 1
            elif tag == "li":
                self._add("- ")
            elif tag == "hr":
                self._add("----")
                self._end_line()
        elif tag in ("td", "th"):
            if self.current:
                self._add(" ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self.skip:
                self._add(alt)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK or tag == "p":
            if tag in _PARAGRAPH:
                self._blank()
            else:
                self._end_line()
            if tag == "blockquote":
                self.quote = max(0, self.quote - 1)
            elif tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        data = data.replace("\xa0", " ")
        if self.pre:
            parts = data.split("\n")
            for index, part in enumerate(parts):
                if index:
                    self._end_line(force=True)
                if part:
                    self._add(part)
            return
        data = re.sub(r"[ \t\r\n\f]+", " ", data)
        if not self.current:
            data = data.lstrip(" ")
        if data:
            self._add(data)

    def text(self) -> str:
        self._end_line()
        out = "\n".join(line.rstrip() for line in self.lines)
        out = re.sub(r"\n(?:[> ]*\n){2,}", "\n\n", out)
        return out.strip("\n")


def html_to_text(html: str) -> str:
    """Readable text of an HTML mail body: block elements and <br> become line breaks,
    <blockquote> lines get a "> " prefix (so quoted history is recognised like plain-text quoting),
    scripts/styles are dropped and entities decoded."""
    maker = _TextMaker()
    try:
        maker.feed(html)
        maker.close()
    except Exception:  # html.parser is lenient; this is only a guard against pathological input
        return re.sub(r"<[^>]*>", "", html)
    return maker.text()


# ---- format=flowed (RFC 3676) --------------------------------------------------------------

def unflow(text: str, delsp: bool = False) -> str:
    """Join the soft line breaks of a text/plain; format=flowed body."""
    out: list[str] = []
    buffer: str | None = None
    depth_of_buffer = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        if buffer is not None and depth != depth_of_buffer:
            out.append(("> " * depth_of_buffer) + buffer)
            buffer = None
        buffer = content if buffer is None else buffer + content
        depth_of_buffer = depth
        if content.endswith(" ") and content != "-- ":
            if delsp:
                buffer = buffer[:-1]
            continue
        out.append(("> " * depth) + buffer)
        buffer = None
    if buffer is not None:
        out.append(("> " * depth_of_buffer) + buffer)
    return "\n".join(out)


# ---- quoted replies and signatures ---------------------------------------------------------

# Lines that start a quoted original the way top-posting clients write it: everything below is history.
_HISTORY_MARKERS = [
    re.compile(r"^\s*-{2,}\s*原始邮件\s*-{2,}\s*$"),  # QQ Mail, Foxmail
    re.compile(r"^\s*-{2,}\s*原始郵件\s*-{2,}\s*$"),
    re.compile(r"^\s*-{2,}\s*(?:Original(?: Message)?|Ursprüngliche Nachricht|Message d'origine)\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*-{2,}\s*(?:Forwarded message|转发的邮件|转发邮件信息)\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*Begin forwarded message:\s*$", re.I),  # Apple Mail
]
_SEPARATOR_RULE = re.compile(r"^\s*(?:_{8,}|-{4,})\s*$")  # Outlook's rule (or <hr>) above its From:/Sent: block
_BLOCK_FROM = re.compile(r"^\s*\*?\s*(?:发件人|寄件者|From)\s*\*?\s*[:：]", re.I)
_BLOCK_WHEN = re.compile(r"^\s*\*?\s*(?:发送时间|发送日期|日期|時間|寄件日期|Sent|Date)\s*\*?\s*[:：]", re.I)
_BLOCK_OTHER = re.compile(r"^\s*\*?\s*(?:收件人|收件者|抄送|主题|主旨|To|Cc|Subject)\s*\*?\s*[:：]", re.I)
# "On Tue, 3 Mar 2026 at 10:00, Alice <a@x> wrote:", "在 2026年3月3日 10:00，Alice 写道：", "Alice <a@x> 于2026年3月3日周二 上午10:00写道："
_ATTRIBUTION_ONE = re.compile(r"^\s*(?:On\b.*\bwrote|.*(?:写道|寫道)|.*\bschrieb|.*\ba écrit)\s*[:：]\s*$", re.I)
_ATTRIBUTION_START = re.compile(r"^\s*(?:On|在)\s", re.I)
_ATTRIBUTION_END = re.compile(r"(?:\bwrote|写道|寫道)\s*[:：]\s*$", re.I)
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(?:Sent from my \w.*|Get Outlook for \w.*|发自我的\s*\S.*|来自我的\s*\S.*|發自我的\s*\S.*|"
    r"Sent from (?:Mail|Outlook|Yahoo Mail) for .*)\s*$",
    re.I,
)


def _is_history_start(lines: list[str], index: int) -> bool:
    line = lines[index]
    if any(marker.match(line) for marker in _HISTORY_MARKERS):
        return True
    probe = index
    if _SEPARATOR_RULE.match(line):
        probe = index + 1
        while probe < len(lines) and not lines[probe].strip():
            probe += 1
        if probe >= len(lines):
            return False
    if _BLOCK_FROM.match(lines[probe]):
        window = lines[probe + 1: probe + 6]
        return any(_BLOCK_WHEN.match(w) for w in window) and any(_BLOCK_OTHER.match(w) for w in window)
    return False


def _attribution_length(lines: list[str], index: int) -> int:
    """1 or 2 when an "X wrote:" attribution starts at ``index`` (Gmail wraps it over two lines), else 0."""
    line = lines[index]
    if len(line) > 300:
        return 0
    if _ATTRIBUTION_ONE.match(line):
        return 1
    if (_ATTRIBUTION_START.match(line) and index + 1 < len(lines)
            and _ATTRIBUTION_END.search(lines[index + 1]) and len(lines[index + 1]) < 200):
        return 2
    return 0


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _tidy(lines: list[str], collapse: bool = True) -> str:
    text = "\n".join(line.rstrip() for line in lines)
    if collapse:  # blank lines left where quoted lines were taken out
        text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


def split_reply(text: str) -> tuple[str, str, str]:
    """(new text, quoted history, signature) of a mail body.

    Rules, in order:

    1. The first history marker starts the quoted part, which runs to the end: QQ Mail/Foxmail's
       ``------------------ 原始邮件 ------------------``, ``-----Original Message-----``,
       forwarded-message banners, and Outlook's ``发件人:/From:`` header block (recognised only
       with a ``发送时间:/Sent:/Date:`` line and a ``收件人:/To:/主题:/Subject:`` line right after it).
    2. Above it, ``>``-quoted lines are quoted, and so is an ``On … wrote:`` / ``… 写道：``
       attribution directly followed by quoted lines (bottom-posted and interleaved answers stay new text).
    3. In what is left, a ``-- `` line (RFC 3676) starts the signature; a last line like
       "Sent from my iPhone" / "发自我的iPhone" is a signature too.

    When nothing but quoting is left, the whole body is returned as the new text.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = next((i for i in range(len(lines)) if _is_history_start(lines, i)), len(lines))
    head, tail = lines[:cut], lines[cut:]
    new: list[str] = []
    quoted: list[str] = []
    index = 0
    while index < len(head):
        length = _attribution_length(head, index)
        if length:
            after = index + length
            while after < len(head) and not head[after].strip():
                after += 1
            if after >= len(head) or _is_quoted(head[after]):
                quoted.extend(head[index: index + length])
                index += length
                continue
        line = head[index]
        (quoted if _is_quoted(line) else new).append(line)
        index += 1
    signature: list[str] = []
    for position, line in enumerate(new):
        if line in ("-- ", "--"):
            signature = new[position + 1:]
            new = new[:position]
            break
    else:
        nonblank = [i for i, line in enumerate(new) if line.strip()]
        if len(nonblank) > 1 and _MOBILE_SIGNATURE.match(new[nonblank[-1]]):
            signature = [new[nonblank[-1]]]
            new = new[: nonblank[-1]]
    quoted.extend(tail)
    if not quoted and not signature:
        return _tidy(lines, collapse=False), "", ""
    new_text = _tidy(new)
    if not new_text.strip():
        return _tidy(lines, collapse=False), "", ""
    return new_text, _tidy(quoted), _tidy(signature)
