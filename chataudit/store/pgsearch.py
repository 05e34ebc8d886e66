"""Full-text search on PostgreSQL with the answers of the SQLite archive's FTS5 index.

The SQLite archive indexes :func:`chataudit.textindex.index_body` of each message with FTS5's
``unicode61`` tokenizer (``remove_diacritics 2``, token characters ``L* N* Co S*``, migration 0011).
Here the same tokens, with their positions, are a ``tsvector`` under a GIN index, and the FTS5
expression that :func:`chataudit.search.parse_query` makes becomes a ``tsquery``: a phrase is
``a <-> b``, a prefix ``a:*``, AND/OR/NOT are ``& | !``. So a 1-character Chinese query is a prefix
lookup and a longer one a phrase of bigrams, exactly as in FTS5 (pg_trgm cannot answer 1- or
2-character queries from its index: see bench/README.md).

Which characters are token characters and how each folds (case, diacritics) is asked of SQLite's
own FTS5 tokenizer, once per distinct character: the two stores cannot drift apart.

Limits (PostgreSQL's ``tsvector``): positions stop at 16,383 and at 256 per token, so a phrase
after the 16,383rd token of a message, or after a token's 256th occurrence in it, may be missed; a token longer than 2,046 bytes is not indexed.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from itertools import chain

from ..errors import ChatAuditError
from ..textindex import index_body

MAX_POSITION = 16383
MAX_POSITIONS = 256  # per token
MAX_LEXEME_BYTES = 2046

_fold: dict[str, str | None] = {" ": None}  # character → its folded form ('' dropped), None: a separator


class _Table(dict):
    """Each character's code → its folded form (a separator → a space), for str.translate (which
    runs in C); a character met for the first time is asked of FTS5 there and then, so the common
    case (every character known) costs no look at the body's characters in Python."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        _probe({char})
        folded = _fold[char]
        self[code] = " " if folded is None else folded
        return self[code]


_table = _Table({ord(" "): " "})
_probe_lock = threading.Lock()
_probe_db: sqlite3.Connection | None = None


def _probe(chars: set[str]) -> None:
    """Learn from FTS5 how its tokenizer treats each of ``chars``: each goes between two latin
    letters in a document of its own; one token back means a token character (folded as the
    middle of that token), two mean a separator."""
    global _probe_db
    with _probe_lock:
        if _probe_db is None:
            _probe_db = sqlite3.connect(":memory:", check_same_thread=False)
            _probe_db.execute("CREATE VIRTUAL TABLE probe USING fts5(body, tokenize='unicode61 remove_diacritics 2"
                              " categories ''L* N* Co S*''')")
            _probe_db.execute("CREATE VIRTUAL TABLE probe_vocab USING fts5vocab(probe, instance)")
        todo = sorted(c for c in chars if c not in _fold)
        if not todo:
            return
        db = _probe_db
        db.execute("DELETE FROM probe")
        db.executemany("INSERT INTO probe (rowid, body) VALUES (?, ?)",
                       [(ord(c), f"q{c}q") for c in todo])
        found: dict[int, list[str]] = {}
        for term, doc in db.execute("SELECT term, doc FROM probe_vocab ORDER BY doc, offset"):
            found.setdefault(doc, []).append(term)
        for c in todo:
            terms = found.get(ord(c), [])
            _fold[c] = terms[0][1:-1] if len(terms) == 1 else None


def tokens(body: str) -> list[str]:
    """The tokens FTS5's tokenizer makes of ``body`` (an index body or a query phrase), in order."""
    return body.translate(_table).split()


def index_text(text: str | None) -> str:
    """What the PostgreSQL store's full-text index is given of a message's text: the tsvector text of
    its index body (the importer's parsing process makes it, see Archive.index_text)."""
    return tsvector_text(index_body(text))


_POSITION_SUFFIXES = tuple(f"':{i} '" for i in range(1, MAX_POSITION + 1))


def _lexeme(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_text(body: str) -> str:
    """The ``tsvector`` input text of one index body: each token with its positions (1-based), as
    PostgreSQL keeps them (positions stop at 16,383, at most 256 per token), so that the stored
    index reads back exactly as this text (`verify` compares them)."""
    words = tokens(body)
    count = len(words)
    if not count:
        return ""
    if count <= MAX_POSITION and len(set(words)) == count:  # each token once (the common case): in C
        joined = "".join(words)
        if "'" not in joined and "\\" not in joined and (len(joined) <= MAX_LEXEME_BYTES // 4
                                                          or max(map(len, words)) <= MAX_LEXEME_BYTES // 4):
            # 'word':position, joined in C: each word followed by its position's suffix (':1 ' …)
            return "'" + "".join(chain.from_iterable(zip(words, _POSITION_SUFFIXES)))[:-2]
    positions: dict[str, list[int]] = {}
    for position, token in enumerate(words, 1):
        if len(token) > MAX_LEXEME_BYTES // 4 and len(token.encode()) > MAX_LEXEME_BYTES:
            continue
        seen = positions.get(token)
        if seen is None:
            positions[token] = [min(position, MAX_POSITION)]
        elif len(seen) < MAX_POSITIONS and seen[-1] < MAX_POSITION:
            seen.append(min(position, MAX_POSITION))
    quote = _lexeme if any("'" in t or "\\" in t for t in positions) else "'{}'".format
    return " ".join(f"{quote(t)}:{','.join(map(str, p))}" for t, p in positions.items())


_EXPRESSION = re.compile(r'\s*(?:(?P<phrase>"(?:[^"]|"")*"\*?)|(?P<op>AND|OR|NOT)\b|(?P<paren>[()]))')


def tsquery_text(expression: str) -> str:
    """The ``tsquery`` of an FTS5 expression as :func:`chataudit.search.parse_query` makes it:
    phrases (``"a b"``, ``"a"*``) joined by AND, OR, NOT and parentheses."""
    out: list[str] = []
    position = 0
    expression = expression.strip()
    while position < len(expression):
        match = _EXPRESSION.match(expression, position)
        if match is None or match.end() == position:
            raise ChatAuditError(f"search: cannot read the query expression at {expression[position:position + 20]!r}")
        position = match.end()
        if match.group("phrase"):
            text = match.group("phrase")
            prefix = text.endswith("*")
            words = tokens(text.rstrip("*")[1:-1].replace('""', '"'))
            if not words:
                out.append("''")  # FTS5: an empty phrase matches nothing
                continue
            parts = [_lexeme(w) for w in words]
            if prefix:
                parts[-1] += ":*"
            out.append("(" + " <-> ".join(parts) + ")")
        elif match.group("op"):
            out.append({"AND": "&", "OR": "|", "NOT": "& !"}[match.group("op")])
        else:
            out.append(match.group("paren"))
    return " ".join(out)
