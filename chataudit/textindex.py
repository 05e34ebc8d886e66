"""Full-text indexing of Chinese (and everything else) in SQLite FTS5.

FTS5's ``unicode61`` tokenizer treats a run of Chinese characters as one token, and its
``trigram`` tokenizer cannot answer 1- or 2-character queries (``退货``, ``赔``) from the index.
So before indexing, each run of CJK characters is rewritten as its overlapping bigrams followed by
its last character: ``我要退货`` → ``我要 要退 退货 货``. Then

* a 2+ character query is a phrase of consecutive bigrams (``退货`` → ``"退货"``,
  ``要退货`` → ``"要退 退货"``), exact and answered from the index;
* a 1-character query is a prefix query (``退`` → ``"退"*``): every occurrence of a character is
  either the start of a bigram or the last character of its run, and the ``prefix='1'`` index makes
  that a single index lookup.

Emoji and other symbols (Unicode categories S*: 😀 👍 ❤ ¥ © + …) are tokens of their own: the
tokenizer counts them as token characters (``categories 'L* N* Co S*'``, migration 0011) and
:func:`index_body` puts each one apart, so ``hi😀`` is indexed as ``hi`` ``😀``; a multi-character
emoji (👍🏽, 🇨🇳, 👨‍👩‍👧) is the phrase of its symbols (joiners and variation selectors are not indexed).

Latin words, digits and the rest pass through to ``unicode61`` unchanged (case- and accent-folded);
a query word ending in ``*`` is a prefix (``morn*`` finds morning).
"""

from __future__ import annotations

import re
import unicodedata
from operator import add

# Han (incl. extensions and compatibility), kana, Hangul syllables.
CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af\U00020000-\U0003134f"
CJK_RUN = re.compile(f"[{CJK_CLASS}]+")


def _symbols() -> frozenset[str]:
    """Every symbol (category S*) outside CJK runs. Symbols are assigned only in Unicode planes 0
    and 1; the set follows this Python's Unicode version (an upgrade that adds symbols changes
    index_body: see the README on rebuilding the index)."""
    return frozenset(chr(code) for code in range(0x20000)
                     if unicodedata.category(chr(code))[0] == "S" and not CJK_RUN.match(chr(code)))


SYMBOLS = _symbols()
# a regex class over planes 0–1 symbols stays fast only as one BMP charset plus one astral range;
# the astral candidates are checked against SYMBOLS one by one (they are rare: emoji, mostly)
SYMBOL_CANDIDATE = re.compile(
    "[" + "".join(re.escape(c) for c in sorted(SYMBOLS) if c <= "\uffff") + "\U00010000-\U0001ffff]"
)


def _apart(match: re.Match[str]) -> str:
    char = match.group(0)
    return f" {char} " if char in SYMBOLS else char


def _expand_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if len(run) == 1:
        return f" {run} "
    bigrams = " ".join(map(add, run, run[1:]))  # each character + the next (in C: the import runs it per message)
    return f" {bigrams} {run[-1]} "


def index_body(text: str | None) -> str:
    """The string handed to FTS5 for one message (registered as SQL function ``index_body``)."""
    if not text:
        return ""
    return SYMBOL_CANDIDATE.sub(_apart, CJK_RUN.sub(_expand_run, unicodedata.normalize("NFKC", text)))


WORD = re.compile(r"[^\W_]+")
TOKEN = re.compile(f"{WORD.pattern}|{SYMBOL_CANDIDATE.pattern}")


def term_expression(term: str) -> str | None:
    """The FTS5 phrase that finds ``term`` where it occurs: as a substring of CJK text, as whole
    latin words, as symbols, in that order; a term ending in ``*`` after a latin word is a prefix
    query (``morn*``).

    The phrase is the term's tokens as :func:`index_body` makes them: a CJK run is its bigrams, and
    (when more follows it in the term) its last character, the token the index puts at a run's end;
    a run that ends the term and is one character long is a prefix (``退`` begins ``退货``).
    Returns None when the term has nothing indexable (only punctuation).
    """
    term = unicodedata.normalize("NFKC", term)
    stem = term.rstrip("*")
    prefix = stem != term and bool(WORD.match(stem[-1:])) and not CJK_RUN.match(stem[-1:])
    if prefix:
        term = stem
    segments: list[tuple[bool, str]] = []  # (is a CJK run, text)
    position = 0
    for match in CJK_RUN.finditer(term):
        segments += [(False, term[position : match.start()]), (True, match.group(0))]
        position = match.end()
    segments.append((False, term[position:]))
    pieces = [[] if cjk else _tokens(text) for cjk, text in segments]
    for index, (cjk, run) in enumerate(segments):
        if not cjk:
            continue
        last = not any(pieces[index + 1 :])
        bigrams = [run[i : i + 2] for i in range(len(run) - 1)]
        if not last:
            pieces[index] = bigrams + [run[-1]]
        elif bigrams:
            pieces[index] = bigrams
        else:
            pieces[index], prefix = [run], True
    tokens = [token for piece in pieces for token in piece]
    if not tokens:
        return None
    return '"' + " ".join(tokens) + '"' + ("*" if prefix else "")


def _tokens(segment: str) -> list[str]:
    """Latin words and symbols of a non-CJK stretch, as the tokenizer sees them."""
    return [t for t in TOKEN.findall(segment) if t in SYMBOLS or WORD.fullmatch(t)]
