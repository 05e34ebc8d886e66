"""De-identify text, message dicts and export files with a policy.

The API other commands call when records leave the archive (``--redact[=POLICY]``)::

    from chataudit.privacy import Redactor, load_policy
    redactor = Redactor(load_policy(path_or_None))      # one per command run: it caches pseudonyms
    row = redactor.message(row)                          # a message dict (README shape) → redacted copy
    text = redactor.text(text)

or the one-shot functions :func:`redact_message` and :func:`redact_text`.

Guarantee: a value found anywhere in a message (its text, names, titles, paths, extras) is replaced
in *every* field of that message, and — for the rest of the run — in every later message too, so
that a number given once with its context words and repeated later without them does not leak.

One entity, one pseudonym: a sender id or name (and the ids and names a message carries in its
structure — a shared contact card, the authors of a forwarded chat history) is an *entity* whose
rendering depends on its value alone, so it reads the same as a sender, inside a text, in a title
or in a conversation id. :meth:`Redactor.learn_conversation` learns a conversation's entities before
the first row is written, so nothing printed early leaks a name that only a later row reveals.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import orjson

from .operators import OPERATORS, KeyRing
from .policy import Policy, default_policy, load_policy
from .recognizers import TYPES, Finding, find

# message keys that hold no personal data (ids, digests, instants, enumerations)
NEVER_REDACTED = {
    "id", "conversation", "message_id", "reply_to", "content_hash", "source_sha256", "sent_at",
    "edited_at", "kind", "platform", "amount", "currency", "position", "is_me", "sha256", "size",
    "mime", "type", "first_at", "last_at", "message_count", "highlights", "source_label",
}
SENDER_KEYS = ("sender_id", "sender_name")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# extras keys whose string values name a person or an account (a contact card's id, a WeCom user id,
# the author of a line of a forwarded chat history …): they are entities wherever they appear
IDENTITY_EXTRAS = frozenset({"card_id", "userid", "user_id", "username", "alias", "nickname", "from",
                             "from_id", "forwarded_from", "author", "display_name", "open_id", "union_id"})
_HISTORY_TITLE = re.compile(r"([^\n和与]{2,4})(?:[和与]([^\n和与]{2,4}))?的聊天记录")
_HISTORY_LINE = re.compile(r"(?<=\n)([^\n:：]{1,24})[:：] ")
_BRACKET_PREFIX = re.compile(r"^\s*\[[^\]\n]{1,8}\]\s*")  # [名片] / [位置] shown before a structured message


def _learnable(value: str) -> bool:
    """Long enough to be replaced wherever it appears without garbling unrelated words."""
    value = value.strip()
    return len(value) >= 2 and (bool(_CJK.search(value)) or len(value) >= 4)


@dataclass
class Redactor:
    """Applies one policy; remembers the values it found so that they are replaced everywhere."""

    policy: Policy = field(default_factory=default_policy)
    keys: KeyRing | None = None
    _known: dict[str, str] = field(default_factory=dict, init=False, repr=False)  # value → type or ENTITY
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False)
    _cache: dict[tuple[str, str], str] = field(default_factory=dict, init=False, repr=False)
    counts: dict[str, int] = field(default_factory=dict, init=False)  # recognizer findings by type

    def __post_init__(self) -> None:
        if self.keys is None:
            self.keys = KeyRing(self.policy.keys)

    # ---- values --------------------------------------------------------------------------------

    def replacement(self, kind: str, value: str) -> str:
        """What one found value becomes under the policy (an entity's the same whatever the type)."""
        if kind == ENTITY or self._known.get(value) == ENTITY:
            return self.sender("", value)
        rule = self.policy.rule_for(kind) if kind in TYPES else self.policy.senders
        if rule.operator == "encrypt":
            return OPERATORS["encrypt"](kind, value, rule.settings, self.keys)  # fresh nonce each time
        key = (kind, value)
        out = self._cache.get(key)
        if out is None:
            out = OPERATORS[rule.operator](kind, value, rule.settings, self.keys)
            if len(self._cache) < 200_000:
                self._cache[key] = out
        return out

    def learn(self, values: Iterable[tuple[str, str]]) -> None:
        """Values (type, value) to replace wherever they appear from now on, e.g. every sender name
        of a conversation before exporting it."""
        changed = False
        for kind, value in values:
            if value and _learnable(value) and value not in self._known and self._keeps(kind) is False:
                self._known[value] = kind
                changed = True
        if changed:
            self._pattern = None

    def learn_names(self, names: Iterable[str | None]) -> None:
        """Sender ids and names (any mix): entities, replaced wherever they appear from now on."""
        self.learn_entities(names)

    def learn_entities(self, values: Iterable[str | None]) -> None:
        if self.policy.senders.operator == "keep":
            return
        changed = False
        for value in values:
            if isinstance(value, str) and _learnable(value) and self._known.get(value) != ENTITY:
                self._known[value] = ENTITY
                changed = True
        if changed:
            self._pattern = None

    def learn_conversation(self, archive: Any, conversation_id: int) -> None:
        """Every entity of one conversation — its senders' ids and names as any copy showed them,
        and the title of a one-to-one chat (the other party's name) — before its rows are written."""
        self.learn_entities(conversation_entities(archive, conversation_id))
        for kind, text, extras in archive.db.execute(
                "SELECT kind, text, extras FROM messages WHERE conversation = ? AND kind IN ('contact', 'chat_history')",
                (conversation_id,)):
            try:
                extras = orjson.loads(extras) if extras else None
            except orjson.JSONDecodeError:
                extras = None
            self.learn_message({"kind": kind, "text": text, "extras": extras})

    def transform(self, archive: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """:meth:`message` for rows read from ``archive``: the entities of each row's conversation
        are learnt before its first row is redacted (search hits, a person's timeline)."""
        learnt: set[Any] = set()

        def redact(row: dict[str, Any]) -> dict[str, Any]:
            conversation = row.get("conversation")
            if isinstance(conversation, int) and conversation not in learnt:
                learnt.add(conversation)
                self.learn_conversation(archive, conversation)
            return self.message(row)

        return redact

    def learn_message(self, message: dict[str, Any]) -> None:
        """The entities one message names: its sender's id and name, and those its structure carries."""
        self.learn_entities(message.get(key) for key in SENDER_KEYS)
        self.learn_entities(_structured_entities(message))

    def _keeps(self, kind: str) -> bool:
        rule = self.policy.rule_for(kind) if kind in TYPES else self.policy.senders
        return rule.operator == "keep"

    # ---- text ----------------------------------------------------------------------------------

    def _recognized(self, text: str) -> list[Finding]:
        found = [f for f in find(text, self.policy.types) if not self._keeps(f.type)]
        for finding in found:
            self.counts[finding.type] = self.counts.get(finding.type, 0) + 1
        self.learn((f.type, f.value) for f in found)
        return found

    def _with_known(self, text: str, found: list[Finding]) -> list[Finding]:
        if not self._known:
            return found
        if self._pattern is None:
            self._pattern = re.compile("|".join(map(re.escape, sorted(self._known, key=len, reverse=True))))
        taken = [(f.start, f.end) for f in found]
        extra = [Finding(self._known[m.group()], m.group(), m.start(), m.end())
                 for m in self._pattern.finditer(text)
                 if not any(s < m.end() and m.start() < e for s, e in taken)]
        return sorted(found + extra, key=lambda f: f.start) if extra else found

    def findings(self, text: str) -> list[Finding]:
        """What the policy redacts in ``text``: recognizer findings plus known values, no overlaps."""
        return self._with_known(text, [f for f in find(text, self.policy.types) if not self._keeps(f.type)])

    def message_findings(self, message: dict[str, Any]) -> list[Finding]:
        """What :meth:`message` replaces in a message's ``text`` (what its structure names, what the
        recognizers find, values learnt before), no overlaps: to cut a span from the redacted text."""
        text = str(message.get("text") or "")
        recognized = [f for f in find(text, self.policy.types) if not self._keeps(f.type)]
        return self._with_known(text, _merge(_structured_findings(message).get(text, []), recognized))

    def _apply(self, text: str, found: list[Finding]) -> str:
        found = self._with_known(text, found)
        if not found:
            return text
        parts = []
        position = 0
        for finding in found:
            parts.append(text[position:finding.start])
            parts.append(self.replacement(finding.type, finding.value))
            position = finding.end
        parts.append(text[position:])
        return "".join(parts)

    def text(self, text: str) -> str:
        """``text`` with every finding (and every value learnt before) replaced."""
        if not text:
            return text
        return self._apply(text, self._recognized(text))

    def tree(self, value: Any, sender_keys: frozenset[str] = frozenset()) -> Any:
        """A report (nested dicts and lists) with every string de-identified; values under
        ``sender_keys`` (e.g. ``customer``) go through the sender rule, as sender fields do."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.tree(item, sender_keys) for item in value]
        if isinstance(value, tuple):
            return tuple(self.tree(item, sender_keys) for item in value)
        if isinstance(value, dict):
            return {
                key: (self.sender("sender_name", item) if key in sender_keys and isinstance(item, str)
                      else self.tree(item, sender_keys))
                for key, item in value.items()
            }
        return value

    # ---- messages ------------------------------------------------------------------------------

    def sender(self, key: str, value: Any) -> Any:
        """An entity (a sender id or name, wherever it appears) under the policy's sender rule; its
        rendering depends on the value alone, not on the field (``key``) it was read from."""
        rule = self.policy.senders
        if not isinstance(value, str) or not value or rule.operator == "keep":
            return value
        kind = entity_kind(value)
        if rule.operator == "encrypt":
            return OPERATORS["encrypt"](kind, value, rule.settings, self.keys)
        cached = ("entity", value)
        out = self._cache.get(cached)
        if out is None:
            out = self._cache[cached] = OPERATORS[rule.operator](kind, value, rule.settings, self.keys)
        return out

    def message(self, message: dict[str, Any]) -> dict[str, Any]:
        """A redacted copy of a message dict (the README's message shape, or any dict of strings)."""
        out = dict(message)
        self.learn_message(message)
        structured = _structured_findings(message)
        # first pass: find and learn everything, so that the second replaces it in every field
        seen: dict[str, list[Finding]] = {}

        def first(text: str) -> str:
            if text and text not in seen:
                seen[text] = _merge(structured.get(text, []), self._recognized(text))
            return text

        for key, value in message.items():
            if key not in NEVER_REDACTED and key not in SENDER_KEYS and key != "snippet":
                _walk(value, first)

        def second(text: str) -> str:
            if not text:
                return text
            return self._apply(text, seen[text] if text in seen else self._recognized(text))

        for key, value in message.items():
            if key in SENDER_KEYS:
                out[key] = self.sender(key, value)
            elif key == "snippet":
                # offsets and <mark> tags of the original no longer fit: show the redacted text plainly
                out[key] = html.escape(second(str(message.get("text") or "")))
            elif key not in NEVER_REDACTED:
                out[key] = _walk(value, second)
        if "highlights" in message:
            out["highlights"] = []
        if message.get("kind") == "location" and isinstance(message.get("extras"), dict):
            out["extras"] = self._coordinates(out["extras"])
        return out

    def _coordinates(self, extras: dict[str, Any]) -> dict[str, Any]:
        """A location's latitude/longitude extras under the ``location`` rule (numbers included)."""
        lat, lon = extras.get("latitude"), extras.get("longitude")
        if lat is None or lon is None or self._keeps("location"):
            return extras
        shown = self.replacement("location", f"{lat},{lon}")
        parts = shown.split(",")
        extras = dict(extras)
        if len(parts) == 2 and all(re.fullmatch(r"-?\d+(?:\.\d+)?", p) for p in parts):
            extras["latitude"], extras["longitude"] = parts
        else:
            extras["latitude"] = extras["longitude"] = shown
        return extras


ENTITY = "entity"  # the _known type of sender ids and names


def conversation_entities(archive: Any, conversation_id: int) -> list[str]:
    """Sender ids and names of a conversation as every copy showed them, its members, and the
    title of a one-to-one chat (which is the other party's name)."""
    db = archive.db
    values = [r[0] for r in db.execute(
        "SELECT sender_id FROM messages WHERE conversation = ? AND sender_id IS NOT NULL"
        " UNION SELECT sender_name FROM messages WHERE conversation = ? AND sender_name IS NOT NULL"
        " UNION SELECT s.sender_name FROM sightings s JOIN messages m ON m.id = s.message"
        "  WHERE m.conversation = ? AND s.sender_name IS NOT NULL",
        (conversation_id, conversation_id, conversation_id))]
    row = db.execute("SELECT type, title, members FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    if row is not None:
        if row[0] == "private" and row[1]:
            values.append(row[1])
        try:
            members = orjson.loads(row[2]) if row[2] else []
        except orjson.JSONDecodeError:
            members = []
        values += [v for member in members if isinstance(member, list) for v in member if isinstance(v, str)]
    return sorted(set(values))


def entity_kind(value: str) -> str:
    """The type an entity is labelled with, from its value alone: what the recognizers see in the
    whole value (a WeChat id, a mobile number, an e-mail), else an account id (latin letters with
    digits or ``_``, or a long token) or a person's name."""
    whole = [f for f in find(value) if f.start == 0 and f.end == len(value)]
    if whole:
        return whole[0].type
    if not _CJK.search(value) and " " not in value.strip() and (re.search(r"[\d_]", value) or len(value) >= 16):
        return "account"
    return "person"


def _structured_entities(message: dict[str, Any]) -> list[str]:
    """Ids and names a message carries in its structure: contact cards, chat-history authors …"""
    found: list[str] = []

    def walk(value: Any, key: str | None = None) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key in IDENTITY_EXTRAS and value.strip():
            found.append(value.strip())

    extras = message.get("extras")
    walk(extras)
    text = message.get("text") or ""
    if message.get("kind") == "chat_history" and isinstance(text, str):
        # a forwarded chat history prints one "name: text" line per message after its title
        found += [m.group(1).strip() for m in _HISTORY_LINE.finditer(text)]
        title = _HISTORY_TITLE.match(_BRACKET_PREFIX.sub("", text, count=1))
        if title:  # "张伟和客户的聊天记录": the names in the title WeChat and WeCom give a forwarded chat
            from .names import _name

            found += [part for part in title.groups() if part and _name(part) == part]
    if message.get("kind") == "contact" and isinstance(text, str):
        # the card's display name is what follows the [名片] prefix (minus a company name)
        name = _BRACKET_PREFIX.sub("", text, count=1)
        for company in ((extras or {}).get("corpname"), (extras or {}).get("company")) if isinstance(extras, dict) else ():
            if isinstance(company, str) and company:
                name = name.replace(company, " ")
        name = name.strip()
        if name and name not in found:
            found.append(name)
    return found


def _structured_findings(message: dict[str, Any]) -> dict[str, list[Finding]]:
    """A location message's place (landmark, address, house number) is one address, whatever
    the recognizers make of its parts: text → findings to apply before the recognizers'."""
    if message.get("kind") != "location":
        return {}
    out: dict[str, list[Finding]] = {}
    texts = [message.get("text")]
    extras = message.get("extras")
    if isinstance(extras, dict):
        texts += [extras.get(k) for k in ("address", "label", "poiname", "title", "name")]
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            continue
        prefix = _BRACKET_PREFIX.match(text)
        start = prefix.end() if prefix else 0
        end = len(text.rstrip())
        if end > start:
            out[text] = [Finding("address", text[start:end], start, end)]
    return out


def _merge(first: list[Finding], rest: list[Finding]) -> list[Finding]:
    if not first:
        return rest
    kept = list(first)
    kept += [f for f in rest if not any(k.start < f.end and f.start < k.end for k in first)]
    return sorted(kept, key=lambda f: f.start)


def _walk(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [_walk(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: (v if k in NEVER_REDACTED else _walk(v, fn)) for k, v in value.items()}
    return value


@functools.lru_cache(maxsize=8)
def _shared(policy: Policy) -> Redactor:
    return Redactor(policy)


def redact_text(text: str, policy: Policy | None = None) -> str:
    """``text`` with every finding replaced as the policy says (default policy when None)."""
    return _shared(policy or default_policy()).text(text)


def redact_message(message: dict[str, Any], policy: Policy | None = None) -> dict[str, Any]:
    """A redacted copy of one message dict (see :meth:`Redactor.message`)."""
    return _shared(policy or default_policy()).message(message)


# ---- export files ------------------------------------------------------------------------------

GENERIC_KEYS = ("platform", "conversation_id", "conversation_title", "message_id", "sender_id", "sender_name",
                "sent_at", "kind", "text", "reply_to", "edited_at", "amount", "currency", "is_me",
                "attachments", "extras")


@dataclass
class RedactedFile:
    path: str
    format: str | None
    out: str | None = None
    messages: int = 0
    findings: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "out": self.out, "messages": self.messages,
                "findings": dict(sorted(self.findings.items())), "error": self.error}


def redact_files(paths: Iterable[str | Path], out_dir: str | Path, policy: Policy | None = None, *,
                 format_name: str = "auto", tz: str | None = None) -> list[RedactedFile]:
    """De-identify export files outside the archive.

    Each file (or folder, or .zip — as ``import`` takes them) is read through the formats registry
    and written to ``out_dir`` as ``<name>.redacted.jsonl`` in the ``generic`` format (so it can be
    imported again); the original is never changed. A first pass learns every sender name and every
    found value, so that a value is replaced everywhere in the output — also before the message
    where its context words made it recognisable.
    """
    from .. import formats
    from ..errors import ParseError
    from ..formats import ParseOptions
    from ..importer import MIN_CONFIDENCE, _units
    from ..model import Conversation, Message, default_zone_name, zone

    out_folder = Path(out_dir)
    out_folder.mkdir(parents=True, exist_ok=True)
    redactor = Redactor(policy or default_policy())
    options = ParseOptions(tz=zone(tz or default_zone_name()), tz_given=bool(tz))
    forced = formats.get(format_name) if format_name != "auto" else None
    results: list[RedactedFile] = []
    used: set[str] = set()
    for given in paths:
        path = Path(given)
        if not path.exists():
            results.append(RedactedFile(str(path), None, error=f"{path}: no such file or folder"))
            continue
        for unit, shown, explicit in _units(path):
            module = forced
            if module is None:
                module, confidence = formats.detect(unit)
                if module is None or confidence < MIN_CONFIDENCE:
                    if explicit:
                        results.append(RedactedFile(shown, None, error=f"{shown}: unknown format (see `chataudit formats`)"))
                    continue
            result = RedactedFile(shown, module.NAME)
            target = _out_name(out_folder, shown, used)
            try:
                names = set()
                for record in module.parse(unit, options):
                    if isinstance(record, Message):
                        names.update(n for n in (record.sender_name, record.sender_id) if n)
                    elif isinstance(record, Conversation):
                        names.update(name for _, name in record.members if name)
                redactor.learn_names(sorted(names))
                # a first pass learns every value, so that one found late is also replaced where it
                # appeared earlier without its context words
                for record in module.parse(unit, options):
                    if isinstance(record, Message):
                        redactor.message(_generic_row(record))
                redactor.counts.clear()
                temporary = target.with_suffix(target.suffix + ".part")
                with open(temporary, "wb") as handle:
                    for record in module.parse(unit, options):
                        if not isinstance(record, Message):
                            continue
                        before = dict(redactor.counts)
                        handle.write(orjson.dumps(redactor.message(_generic_row(record))) + b"\n")
                        for kind, count in redactor.counts.items():
                            if count != before.get(kind, 0):
                                result.findings[kind] = result.findings.get(kind, 0) + count - before.get(kind, 0)
                        result.messages += 1
                temporary.replace(target)
                result.out = str(target)
            except ParseError as error:
                result.error = str(error)
            except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
                result.error = f"{shown}: cannot read as {module.NAME}: {type(error).__name__}: {error}"
            finally:
                leftover = target.with_suffix(target.suffix + ".part")
                if leftover.exists():
                    leftover.unlink()
            results.append(result)
    return results


def _out_name(folder: Path, shown: str, used: set[str]) -> Path:
    stem = re.sub(r"[^\w.\-]+", "_", shown.replace("\\", "/").rstrip("/").split("/")[-1]) or "export"
    name = f"{stem}.redacted.jsonl"
    number = 2
    while name in used:
        name = f"{stem}.{number}.redacted.jsonl"
        number += 1
    used.add(name)
    return folder / name


def _generic_row(message: Any) -> dict[str, Any]:
    """A parsed message as a line of chataudit's ``generic`` JSON Lines format."""
    return {
        "platform": message.platform,
        "conversation_id": message.conversation_id,
        "conversation_title": message.conversation_title,
        "message_id": message.message_id,
        "sender_id": message.sender_id,
        "sender_name": message.sender_name,
        "sent_at": message.sent_at.isoformat(),
        "kind": str(message.kind),
        "text": message.text,
        "reply_to": message.reply_to,
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "amount": message.amount,
        "currency": message.currency,
        "is_me": message.is_me,
        "attachments": [a.as_dict() for a in message.attachments],
        "extras": dict(message.extras),
    }


__all__ = ["Redactor", "redact_text", "redact_message", "redact_files", "RedactedFile", "load_policy"]
