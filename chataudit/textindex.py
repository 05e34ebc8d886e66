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

Latin words, digits and the rest pass through to ``unicode61`` unchanged (case- and accent-folded).
"""

from __future__ import annotations

import re
import unicodedata

# Han (incl. extensions and compatibility), kana, Hangul syllables.
CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af\U00020000-\U0003134f"
CJK_RUN = re.compile(f"[{CJK_CLASS}]+")


def _expand_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if len(run) == 1:
        return f" {run} "
    bigrams = " ".join(run[i : i + 2] for i in range(len(run) - 1))
    return f" {bigrams} {run[-1]} "


def index_body(text: str | None) -> str:
    """The string handed to FTS5 for one message (registered as SQL function ``index_body``)."""
    if not text:
        return ""
    return CJK_RUN.sub(_expand_run, unicodedata.normalize("NFKC", text))


WORD = re.compile(r"[^\W_]+")


def term_expression(term: str) -> str | None:
    """The FTS5 expression that finds ``term`` as a substring of CJK text or as latin words.

    Returns None when the term has nothing indexable (only punctuation or emoji).
    """
    parts: list[str] = []
    term = unicodedata.normalize("NFKC", term)
    position = 0
    for match in CJK_RUN.finditer(term):
        parts.extend(_latin_parts(term[position : match.start()]))
        run = match.group(0)
        if len(run) == 1:
            parts.append(f'"{run}"*')
        else:
            parts.append('"' + " ".join(run[i : i + 2] for i in range(len(run) - 1)) + '"')
        position = match.end()
    parts.extend(_latin_parts(term[position:]))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def _latin_parts(segment: str) -> list[str]:
    words = WORD.findall(segment)
    if not words:
        return []
    return ['"' + " ".join(words) + '"']
