"""The Chinese matching people cannot dodge easily, with offsets back to what was written.

A message is *folded* before the lexicons see it: NFKC (full-width ＡＢ１ → AB1), lower case,
traditional → simplified one character at a time (違約 → 违约, from zhconv's MediaWiki table, so
the folded text keeps one character per written character), combining marks and zero-width
characters dropped, and spaces and symbols *inside a word* dropped (违 约, 违*约, 违-约, 违😀约 → 违约), and Cyrillic or Greek letters that
look latin read as latin (ѵх → vx).

What is not dropped is a boundary, so dodge-stripping does not join two sentences into a term:
newlines, sentence and clause punctuation (。，！？；：、 and their ASCII forms), and a run of more
than :data:`MAX_GAP` separators (a long gap is a new thought, not a dodge). Between two latin
letters a space stays a space (latin words are separated by spaces: "u sb" is not "usb"), except
between letters spelled out one by one ("v x", "t m d" → vx, tmd).

The fast path (:func:`fold`) is three C-level string operations; :func:`fold_map` does the same
character by character and also returns, for each folded character, the index of the written
character it came from — computed only for the few messages that hit something.

Pinyin: :func:`initials` and :func:`syllables` project a folded text into pinyin space (each
Chinese character → its initial letter, or its syllable; everything else unchanged), so a lexicon
term marked ``pinyin`` also matches "加我wx", "jiawo微信" or "TS" (投诉). Readings come from pypinyin's
character table (shipped in its wheel); the projections are built once per process, on first use.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

MAX_GAP = 3  # at most this many separators between two characters of one word
SEP = "\x1f"  # what a separator folds to before the gaps are measured (never in a written text we keep)
BOUNDARY = "\n"  # what a long gap becomes

# kept as boundaries: they end a sentence or a clause (folded forms: NFKC turns ，into , etc.)
_BOUNDARY_CHARS = set("\n\r\u2028\u2029\v\f\x85。.,!?;:、，！？；：｡､")
_BOUNDARY_CHARS.discard(".")  # 违.约 is a dodge; a sentence ends with 。 in Chinese
_SEPARATOR_PO = set("*·•'\"#&@%\\/…‥〃`‧∙・｀.")
_SEPARATOR_CATEGORIES = {"Zs", "Pd", "Pc", "Ps", "Pe", "Pi", "Pf", "Sm", "Sk", "So", "Cc"}
_DROP_CATEGORIES = {"Mn", "Me", "Cf"}  # invisible: never a gap, never a boundary


# Cyrillic and Greek letters that look like latin ones (ѵх for vx): read as the latin letter
CONFUSABLES = dict(zip("аеорсхуіјѕԛԝѵкмнтвαοιχνκτρυ", "aeopcxyijsqwvkmhtbaoixvktpu"))


def _traditional() -> dict[str, str]:
    """Single-character traditional → simplified pairs of zhconv's zh-hans table."""
    from zhconv import zhconv

    table = zhconv.getdict("zh-hans")
    return {k: v for k, v in table.items() if len(k) == 1 and len(v) == 1}


def _fold_one(char: str, simplified: dict[str, str]) -> str:
    """What one written character folds to: '' (dropped), SEP, or one or more characters."""
    if char in _BOUNDARY_CHARS:
        return "\n" if char in "\r\u2028\u2029\v\f\x85" else char
    category = unicodedata.category(char)
    if category in _DROP_CATEGORIES:
        return ""
    folded = unicodedata.normalize("NFKC", char)
    if folded != char:  # before the symbol test: ⓦ is a symbol whose NFKC is the letter w
        return "".join(_fold_one(c, simplified) for c in folded)
    if category in _SEPARATOR_CATEGORIES or char in _SEPARATOR_PO or char.isspace():
        return SEP
    folded = folded.lower()
    if len(folded) != 1:  # 'İ'.lower() is two characters: keep the character
        folded = char
    folded = CONFUSABLES.get(folded, folded)
    return simplified.get(folded, folded)


@lru_cache(maxsize=1)
def table() -> dict[int, str]:
    """The fold as a str.translate table over the Basic Multilingual Plane (entries that change only)."""
    simplified = _traditional()
    found: dict[int, str] = {}
    for code in range(0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        folded = _fold_one(char, simplified)
        if folded != char:
            found[code] = folded
    return found


def _char_class(codes: list[int]) -> str:
    """A regex character class of ``codes`` (sorted), as ranges."""
    parts, start, previous = [], None, None
    for code in codes:
        if start is None:
            start = previous = code
        elif code == previous + 1:
            previous = code
        else:
            parts.append((start, previous))
            start = previous = code
    if start is not None:
        parts.append((start, previous))
    return "[" + "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                         for a, b in parts) + "]"


@lru_cache(maxsize=1)
def _fast() -> tuple[dict[int, str], Any, Any, Any, Any]:
    """fold()'s pieces: the table without separators, a regex of the characters it changes, and the
    separator regexes (a character class of everything that folds to SEP, SEP included)."""
    full = table()
    separators = sorted({code for code, value in full.items() if value == SEP} | {ord(SEP)})
    mapped = {code: value for code, value in full.items() if value != SEP}
    sep = _char_class(separators)
    return (mapped, re.compile(_char_class(sorted(mapped))), re.compile(sep + "+"),
            re.compile(sep + "{%d,}" % (MAX_GAP + 1)),
            # each starts with a separator (the engine skips ahead to them) and looks back at the letter
            # before it, so the replacement is a plain string: no per-match template expansion
            (re.compile(f"{sep}(?<=[a-z]{sep})(?<![a-z][a-z]{sep}){sep}*(?=[a-z](?![a-z]))"),
             re.compile(f"{sep}(?<=[a-z]{sep}){sep}*(?=[a-z])")))


LATIN_SPACE = "\ue001"  # marks a kept space between latin words until the other separators are gone


def _mapped_chars(text: str) -> str:
    """``text`` with every changing character mapped (full width, case, traditional, dropped marks):
    translate() for short texts or many changes, a substitution of just the changes otherwise (a
    batch of thousands of messages with a few changes each)."""
    mapped, changes, _separator, _long_gap, _latin = _fast()
    if not changes.search(text):
        return text
    if len(text) > 4096:
        count = len(changes.findall(text))
        if count * 16 < len(text):
            return changes.sub(lambda m: mapped[ord(m.group())], text)
    return text.translate(mapped)


def _astral(char: str) -> str:
    """Characters beyond the BMP (emoji, rare ideographs): folded one by one."""
    return _fold_one(char, {})


_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")
_HAS_LATIN = re.compile("[a-z]")


def _latin_gap(match: re.Match[str]) -> str:
    """A gap between two latin letters: a space between words, nothing between spelled-out letters
    (v x); any other gap: nothing."""
    text, start, end = match.string, match.start(), match.end()
    if start == 0 or end >= len(text) or not ("a" <= text[start - 1] <= "z" and "a" <= text[end] <= "z"):
        return ""
    before, after = start - 2, end + 1
    single_before = before < 0 or not ("a" <= text[before] <= "z")
    single_after = after >= len(text) or not ("a" <= text[after] <= "z")
    return "" if single_before and single_after else " "


def fold(text: str) -> str:
    """The folded text (see the module's docstring)."""
    _mapped, _changes, separator, long_gap, latin_gap = _fast()
    folded = _mapped_chars(text)
    if _ASTRAL.search(folded):
        folded = _ASTRAL.sub(lambda m: _astral(m.group()), folded)
    if separator.search(folded):
        folded = long_gap.sub(BOUNDARY, folded)
        if not _HAS_LATIN.search(folded):
            return separator.sub("", folded)
        if LATIN_SPACE in folded:  # the marker is in the text itself: decide at every gap instead
            return separator.sub(_latin_gap, folded)
        spelled, words = latin_gap
        folded = words.sub(LATIN_SPACE, spelled.sub("", folded))  # v x → vx; where is → where is
        folded = separator.sub("", folded).replace(LATIN_SPACE, " ")
    return folded


def fold_map(text: str) -> tuple[str, list[int]]:
    """The folded text and, for each of its characters, the index in ``text`` it came from."""
    _mapped, changes, separator, _long_gap, _ = _fast()
    if _ASTRAL.search(text) is None:
        translated = _mapped_chars(text)
        if len(translated) == len(text):  # one character for one: only the gaps move offsets
            return _gaps_map(translated)
    fold_table = table()
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        code = ord(char)
        folded = fold_table.get(code, char) if code < 0x10000 else _astral(char)
        for piece in folded:
            chars.append(piece)
            origin.append(index)
    # the gaps, as fold() treats them: runs of SEP
    out: list[str] = []
    out_origin: list[int] = []
    i, n = 0, len(chars)
    while i < n:
        if chars[i] != SEP:
            out.append(chars[i])
            out_origin.append(origin[i])
            i += 1
            continue
        j = i
        while j < n and chars[j] == SEP:
            j += 1
        if j - i > MAX_GAP:
            out.append(BOUNDARY)
            out_origin.append(origin[i])
        elif i > 0 and "a" <= chars[i - 1] <= "z" and j < n and "a" <= chars[j] <= "z":
            single_before = i < 2 or not ("a" <= chars[i - 2] <= "z")
            single_after = j + 1 >= n or not ("a" <= chars[j + 1] <= "z")
            if not (single_before and single_after):
                out.append(" ")
                out_origin.append(origin[i])
        i = j
    return "".join(out), out_origin


def _gaps_map(translated: str) -> tuple[str, list[int]]:
    """fold_map() of a text whose characters all map one for one (``translated``): walk its
    separator runs, as fold() treats them."""
    _mapped, _changes, separator, _long_gap, _latin = _fast()
    out: list[str] = []
    origin: list[int] = []
    previous = 0
    n = len(translated)
    for run in separator.finditer(translated):
        i, j = run.span()
        out.append(translated[previous:i])
        origin.extend(range(previous, i))
        previous = j
        if j - i > MAX_GAP:
            out.append(BOUNDARY)
            origin.append(i)
        elif i > 0 and "a" <= translated[i - 1] <= "z" and j < n and "a" <= translated[j] <= "z":
            single_before = i < 2 or not ("a" <= translated[i - 2] <= "z")
            single_after = j + 1 >= n or not ("a" <= translated[j + 1] <= "z")
            if not (single_before and single_after):
                out.append(" ")
                origin.append(i)
    out.append(translated[previous:])
    origin.extend(range(previous, n))
    return "".join(out), origin


def original_span(origin: list[int], text: str, start: int, end: int) -> tuple[int, int]:
    """The span of ``text`` that the folded characters [start, end) came from."""
    first = origin[start]
    last = origin[end - 1]
    return first, last + 1


# ---- pinyin ------------------------------------------------------------------------------------

def _plain(syllable: str) -> str:
    """A toned syllable as people type it: no tone marks, ü → v."""
    syllable = syllable.replace("ü", "v")
    return "".join(c for c in unicodedata.normalize("NFD", syllable) if not unicodedata.combining(c)).lower()


@lru_cache(maxsize=1)
def _readings() -> dict[int, str]:
    """Chinese character → its first (most common) reading, toneless."""
    from pypinyin.pinyin_dict import pinyin_dict

    return {code: _plain(value.split(",")[0]) for code, value in pinyin_dict.items() if code < 0x10000}


@lru_cache(maxsize=1)
def initials_table() -> dict[int, str]:
    return {code: reading[0] for code, reading in _readings().items() if reading}


@lru_cache(maxsize=1)
def syllables_table() -> dict[int, str]:
    return {code: reading for code, reading in _readings().items() if reading}


def initials(folded: str) -> str:
    """Each Chinese character → its initial letter (same length as ``folded``)."""
    return folded.translate(initials_table())


def syllables_text(folded: str) -> str:
    """The syllable projection alone (C speed); :func:`syllables` adds the offsets, for a hit."""
    return folded.replace(" ", "").translate(syllables_table())


def syllables(folded: str) -> tuple[str, list[int]]:
    """Each Chinese character → its syllable, spaces left out (jia wo wei xin); with each output
    character's index in ``folded``."""
    syllable_table = syllables_table()
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(folded):
        if char == " ":
            continue
        piece = syllable_table.get(ord(char), char)
        out.append(piece)
        origin.extend([index] * len(piece))
    return "".join(out), origin


def term_pinyin(term: str) -> tuple[set[str], set[str]]:
    """(initials, full syllables) spellings of a lexicon term: pypinyin's reading of the phrase and the
    per-character reading the text projection uses (they differ for some polyphones: 银行)."""
    from pypinyin import lazy_pinyin

    folded = fold(term)
    phrase = [_plain(s) for s in lazy_pinyin(folded, errors=lambda chars: list(chars))]
    per_char = [syllables_table().get(ord(c), c) for c in folded]
    initial_forms, full_forms = set(), set()
    for spelling in (phrase, per_char):
        initial_forms.add("".join(s[:1] for s in spelling))
        full_forms.add("".join(spelling))
    return initial_forms, full_forms


def is_latin(char: str) -> bool:
    return "a" <= char <= "z"


def has_latin(folded: str) -> bool:
    return _HAS_LATIN.search(folded) is not None
