"""Search queries: the user's words → an FTS5 expression, and highlighted snippets.

Query language (documented in the README):
``退货 物流`` both terms · ``"refund policy"`` a phrase · ``-快递`` excludes · ``退货 OR 换货`` either ·
``morn*`` a prefix. Every term matches as a substring of Chinese text, as whole words of latin text
(or their prefix) and as symbols (emoji 😀, ¥, ©).
"""

from __future__ import annotations

import html
import re
import shlex
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from .errors import ChatAuditError
from .textindex import term_expression


@dataclass(frozen=True)
class Query:
    text: str
    expression: str
    terms: tuple[str, ...] = field(default_factory=tuple)  # positive terms, for highlighting


def parse_query(text: str) -> Query:
    """Turn a user query into an FTS5 expression; raise a one-line error when nothing is searchable."""
    try:
        words = shlex.split(text, posix=True)
    except ValueError:
        words = text.replace('"', " ").split()
    groups: list[list[str]] = [[]]  # OR-separated groups of AND-ed expressions
    excluded: list[str] = []
    positives: list[str] = []
    for word in words:
        if word == "OR":
            if groups[-1]:
                groups.append([])
            continue
        negative = word.startswith("-") and len(word) > 1
        term = word[1:] if negative else word
        expression = term_expression(term)
        if expression is None:
            continue
        if negative:
            excluded.append(expression)
        else:
            groups[-1].append(expression)
            positives.append(term.rstrip("*") or term)
    groups = [g for g in groups if g]
    if not groups and excluded:
        raise ChatAuditError(f"search: {text!r} only excludes; a query needs a word to find as well "
                             "(e.g. '退款 -退货')")
    if not groups:
        raise ChatAuditError(f"search: {text!r} has no searchable term (a query needs at least one word to find)")
    anded = [g[0] if len(g) == 1 else "(" + " AND ".join(g) + ")" for g in groups]
    expression = anded[0] if len(anded) == 1 else "(" + " OR ".join(anded) + ")"
    if excluded:
        expression = f"{expression} NOT ({' OR '.join(excluded)})"
    return Query(text, expression, tuple(positives))


def highlights(text: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    """Where the terms occur in ``text`` (case-insensitive), as merged [start, end) offsets."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if len(folded) != len(text):  # normalization changed lengths: fall back to plain casefold
        folded = text.casefold()
    spans: list[tuple[int, int]] = []
    for term in terms:
        for piece in re.split(r"\s+", unicodedata.normalize("NFKC", term).casefold()):
            if not piece:
                continue
            start = folded.find(piece)
            while start != -1:
                spans.append((start, start + len(piece)))
                start = folded.find(piece, start + len(piece))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet(text: str, spans: list[tuple[int, int]], width: int = 40, *, plain: bool = False) -> str:
    """The text around the first match: an HTML fragment (escaped, matches in ``<mark>``), or with
    ``plain`` the raw text with matches in ``[`` ``]`` for terminals."""
    escape = (lambda s: s) if plain else html.escape
    opening, closing = ("[", "]") if plain else ("<mark>", "</mark>")
    if not spans:
        body = text[: width * 2]
        return escape(body) + ("…" if len(text) > len(body) else "")
    start = max(0, spans[0][0] - width)
    end = min(len(text), spans[0][1] + width)
    pieces = ["…" if start > 0 else ""]
    cursor = start
    for span_start, span_end in spans:
        if span_start >= end:
            break
        if span_start < cursor:
            continue
        pieces.append(escape(text[cursor:span_start]))
        pieces.append(opening + escape(text[span_start:span_end]) + closing)
        cursor = span_end
    pieces.append(escape(text[cursor:end]))
    if end < len(text):
        pieces.append("…")
    return "".join(pieces).replace("\n", " ")


def search_messages(archive: Any, query: str, transform: Any = None, **filters: Any) -> list[dict[str, Any]]:
    """Search the archive: stored message dicts plus ``snippet`` (HTML) and ``highlights`` (offsets).

    ``transform`` (e.g. a redactor) is applied to each row before highlighting, so snippets and
    offsets describe the text that is shown, and never cut through a hidden value.
    """
    parsed = parse_query(query)
    rows = archive.search(parsed.expression, **filters)
    if transform is not None:
        rows = [transform(row) for row in rows]
    for row in rows:
        spans = highlights(row["text"], parsed.terms)
        row["highlights"] = [list(span) for span in spans]
        row["snippet"] = snippet(row["text"], spans)
    return rows


def searched_scope(archive: Any, *, platform: str | None = None, sender: str | None = None,
                   conversation: int | None = None, since_ms: int | None = None,
                   until_ms: int | None = None, **_: Any) -> dict[str, int]:
    """How many messages and conversations a search with these filters looked through, so that an
    empty result says what was searched ("nothing in 0 messages" and "nothing in 40,000" differ)."""
    conditions, params = ["1"], []
    for clause, value in (("m.platform = ?", platform), ("m.conversation = ?", conversation),
                          ("m.sent_at_ms >= ?", since_ms), ("m.sent_at_ms < ?", until_ms)):
        if value is not None:
            conditions.append(clause)
            params.append(value)
    if sender:
        conditions.append("(m.sender_id = ? OR m.sender_name = ?)")
        params += [sender, sender]
    messages, conversations = archive.db.execute(
        f"SELECT count(*), count(DISTINCT m.conversation) FROM messages m WHERE {' AND '.join(conditions)}",
        params).fetchone()
    return {"messages": messages, "conversations": conversations}


def nothing_found(what: str, counts: dict[str, int], filters: dict[str, Any]) -> str:
    """The line an empty listing prints instead of a bare "(nothing)"."""
    given = ", ".join(f"{name} {value}" for name, value in filters.items() if value not in (None, (), ""))
    def many(count: int, noun: str) -> str:
        return f"{count:,} {noun}{'' if count == 1 else 's'}"

    return (f"No {what} in {many(counts['messages'], 'message')} of {many(counts['conversations'], 'conversation')}"
            + (f" ({given})" if given else "") + ".")


# ---- the index against the messages -----------------------------------------------------------------

@dataclass
class IndexDifference:
    """One index row that does not say what its message says (``message`` None: no message has it)."""

    rowid: int
    message: int | None
    missing: list[str] = field(default_factory=list)  # tokens of the text the index lacks
    extra: list[str] = field(default_factory=list)    # tokens the index holds that the text has not


def _index_tokenizer(db: Any) -> str:
    """The tokenizer the archive's index was built with, as its SQL literal (the check must tokenize alike)."""
    (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'message_fts'").fetchone()
    found = re.search(r"tokenize\s*=\s*('(?:[^']|'')*')", sql)
    return found.group(1) if found else "'unicode61'"


def index_differences(db: Any) -> list[IndexDifference]:
    """Rebuild the full-text index of every message in a temporary table and compare the two, token
    instance by token instance (term, row, offset), in SQL.

    The index is contentless (it cannot be read back as text), so the only way to know it says
    what the messages say is to index the messages again: a row dropped hides a message from
    search, a poisoned row makes it match words it does not contain. Runs in the caller's
    transaction; the temporary tables are dropped again.
    """
    if getattr(db, "dialect", "sqlite") == "postgresql":
        from .store.postgres import index_differences as postgres_differences

        return postgres_differences(db)
    from .store.sqlite import ROWID_SHIFT

    check, real, fresh = "temp.chataudit_index_check", "temp.chataudit_index_real", "temp.chataudit_index_fresh"
    statements = [
        f"CREATE VIRTUAL TABLE {check} USING fts5(body, content='', tokenize={_index_tokenizer(db)})",
        f"INSERT INTO {check} (rowid, body) SELECT (sent_at_ms / 1000) * {ROWID_SHIFT} + id, index_body(text)"
        " FROM messages WHERE text <> ''",
        f"CREATE VIRTUAL TABLE {real} USING fts5vocab(main, message_fts, instance)",
        f"CREATE VIRTUAL TABLE {fresh} USING fts5vocab(temp, chataudit_index_check, instance)",
    ]
    try:
        for statement in statements:
            db.execute(statement)
        cursor = db.cursor()
        cursor.row_factory = None
        real_count = cursor.execute(f"SELECT count(*) FROM {real}").fetchone()[0]
        fresh_count = cursor.execute(f"SELECT count(*) FROM {fresh}").fetchone()[0]
        columns = "term, doc, offset"  # the order the index yields them in: the EXCEPT appends in order
        rows = [(doc, term, 1) for term, doc, _ in cursor.execute(
            f"SELECT {columns} FROM {real} EXCEPT SELECT {columns} FROM {fresh}")]
        # a token instance (term, row, offset) is unique in an index, so when every instance but the
        # extra ones is also in the fresh index and the counts agree, nothing is missing: the
        # costlier second difference runs only when something is
        if real_count - len(rows) != fresh_count:
            rows += [(doc, term, 2) for term, doc, _ in cursor.execute(
                f"SELECT {columns} FROM {fresh} EXCEPT SELECT {columns} FROM {real}")]
        rows.sort(key=lambda row: row[0])
        found: dict[int, IndexDifference] = {}
        for doc, term, side in rows:
            difference = found.get(doc)
            if difference is None:
                message_id = doc & (ROWID_SHIFT - 1)  # what search joins an index row to
                exists = cursor.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone()
                difference = found[doc] = IndexDifference(doc, message_id if exists else None)
            (difference.extra if side == 1 else difference.missing).append(term)
        return list(found.values())
    finally:
        for table in (fresh, real, check):
            db.execute(f"DROP TABLE IF EXISTS {table}")
