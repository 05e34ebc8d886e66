"""Supervision policy files (YAML or TOML): parse, validate, and store each new one as a version.

A file is a list of ``policies``; each has a ``name``, a ``category``, a ``label``, a ``severity``,
a ``scope`` (whose messages it watches) and ``rules``, each rule one of ``lexicon``, ``regex``,
``pii``, ``attachments``, ``after_hours`` or ``near`` (README: "Compliance supervision"). The
parsed file becomes a *definition*: canonical JSON with every default filled in, every lexicon
borrowed from the quality lexicons (``use: sensitive:legal``) copied in, and each pinyin-marked
term's spellings computed — so a stored version means the same thing forever, whatever later
happens to the package's data. Its SHA-256 is what the version's audit entry records; setting a
file whose definition is already the current one adds nothing.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import yaml

from ..errors import ChatAuditError
from ..governance import audit, clock
from ..store import Archive
from . import normalize

SET_COMMAND = "supervise policy set"
SEVERITIES = ("low", "medium", "high", "critical")
SENDERS = ("any", "agent", "customer")
CHATS = ("any", "external", "internal")
RULE_KINDS = ("lexicon", "regex", "pii", "attachments", "after_hours", "near")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_WITHIN = 200
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class PolicyError(ChatAuditError):
    """A policy file that does not validate; the message names file:line."""


# ---- reading a file with its line numbers -----------------------------------------------------------

class _Lines(dict):
    """A mapping that remembers the line it started on (YAML only)."""

    line: int | None = None


class _LineLoader(yaml.SafeLoader):
    pass


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> _Lines:
    mapping = _Lines(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def read_source(text: str, where: str, fmt: str | None = None) -> dict[str, Any]:
    """The file's data: TOML when named *.toml (or fmt='toml'), else YAML."""
    fmt = fmt or ("toml" if where.lower().endswith(".toml") else "yaml")
    if fmt == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise PolicyError(f"{where}: not valid TOML ({error})") from None
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 — a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise PolicyError(f"{where}{line}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{where}: expected a mapping with `policies:` (a list of policies)")
    return data


@dataclass
class _Where:
    """Names file:line for an error: the YAML node's line, or in TOML the line that names the policy."""

    path: str
    text: str

    def __call__(self, node: Any, policy: str | None = None) -> str:
        line = getattr(node, "line", None)
        if line is None and policy:
            for number, content in enumerate(self.text.splitlines(), start=1):
                if re.match(r"\s*name\s*[=:]\s*['\"]?" + re.escape(policy) + r"['\"]?\s*$", content):
                    line = number
                    break
        return f"{self.path}:{line}" if line else self.path


# ---- validation into the canonical definition ------------------------------------------------------

def parse(text: str, where: str = "<policy>", fmt: str | None = None) -> dict[str, Any]:
    """The validated, canonical definition of a policy file's text (PolicyError naming file:line)."""
    data = read_source(text, where, fmt)
    at = _Where(where, text)
    policies = data.get("policies")
    if not isinstance(policies, list) or not policies:
        raise PolicyError(f"{at(data)}: `policies` must be a non-empty list")
    unknown = set(data) - {"policies", "description"}
    if unknown:
        raise PolicyError(f"{at(data)}: unknown key(s) {', '.join(sorted(map(str, unknown)))} (expected policies, description)")
    seen: set[str] = set()
    out = []
    for node in policies:
        policy = _policy(node, at)
        if policy["name"] in seen:
            raise PolicyError(f"{at(node, policy['name'])}: policy name {policy['name']!r} is used twice")
        seen.add(policy["name"])
        out.append(policy)
    return {"format": 1, "description": str(data.get("description") or ""), "policies": out}


def _policy(node: Any, at: _Where) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise PolicyError(f"{at(node)}: each policy is a mapping (name, category, severity, rules)")
    name = node.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise PolicyError(f"{at(node)}: a policy needs a `name` (letters, digits, _ . -), got {name!r}")
    here = at(node, name)
    unknown = set(node) - {"name", "category", "label", "severity", "scope", "rules", "enabled", "description"}
    if unknown:
        raise PolicyError(f"{here}: policy {name}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    category = node.get("category", name)
    if not isinstance(category, str) or not _NAME.match(category):
        raise PolicyError(f"{here}: policy {name}: `category` must be a short name (e.g. legal, bribery)")
    severity = node.get("severity", "medium")
    if severity not in SEVERITIES:
        raise PolicyError(f"{here}: policy {name}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    rules = node.get("rules")
    if not isinstance(rules, list) or not rules:
        raise PolicyError(f"{here}: policy {name}: `rules` must be a non-empty list")
    return {"name": name, "category": category, "label": str(node.get("label") or category),
            "severity": severity, "enabled": bool(node.get("enabled", True)),
            "description": str(node.get("description") or ""),
            "scope": _scope(node.get("scope") or {}, here, name),
            "rules": [_rule(rule, at, name) for rule in rules]}


def _scope(node: Any, here: str, name: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise PolicyError(f"{here}: policy {name}: `scope` is a mapping (senders, chats, platforms)")
    unknown = set(node) - {"senders", "chats", "platforms"}
    if unknown:
        raise PolicyError(f"{here}: policy {name}: unknown scope key(s) {', '.join(sorted(unknown))}")
    senders, chats = node.get("senders", "any"), node.get("chats", "any")
    if senders not in SENDERS:
        raise PolicyError(f"{here}: policy {name}: scope.senders must be one of {', '.join(SENDERS)}")
    if chats not in CHATS:
        raise PolicyError(f"{here}: policy {name}: scope.chats must be one of {', '.join(CHATS)}")
    platforms = node.get("platforms") or []
    if isinstance(platforms, str):
        platforms = [platforms]
    if not isinstance(platforms, list) or not all(isinstance(p, str) and p for p in platforms):
        raise PolicyError(f"{here}: policy {name}: scope.platforms is a list of platform names (wecom, wechat …)")
    return {"senders": senders, "chats": chats, "platforms": sorted(set(platforms))}


def _rule(node: Any, at: _Where, policy: str) -> dict[str, Any]:
    here = at(node, policy)
    if not isinstance(node, dict) or len(node) != 1 or next(iter(node)) not in RULE_KINDS:
        raise PolicyError(f"{here}: policy {policy}: each rule is one of {', '.join(RULE_KINDS)} "
                          f"(a mapping with one of those keys), got {_short(node)}")
    kind, body = next(iter(node.items()))
    here = at(body, policy) if getattr(body, "line", None) else here
    return {"kind": kind, **_RULES[kind](body, here, policy)}


def _short(value: Any) -> str:
    text = repr(dict(value) if isinstance(value, dict) else value)
    return text if len(text) < 60 else text[:57] + "…"


def _lexicon(body: Any, here: str, policy: str) -> dict[str, Any]:
    if isinstance(body, list):
        body = {"terms": body}
    if not isinstance(body, dict):
        raise PolicyError(f"{here}: policy {policy}: a lexicon is a mapping (terms, except, pinyin, use)")
    unknown = set(body) - {"terms", "except", "pinyin", "use", "not_after"}
    if unknown:
        raise PolicyError(f"{here}: policy {policy}: unknown lexicon key(s) {', '.join(sorted(unknown))}")
    all_pinyin = body.get("pinyin", False)
    if not isinstance(all_pinyin, bool):
        raise PolicyError(f"{here}: policy {policy}: lexicon `pinyin` is true or false (per term: "
                          "{term: 投诉, pinyin: true} or pinyin: [ts])")
    raw_terms: list[Any] = []
    raw_except: list[Any] = list(body.get("except") or [])
    uses = body.get("use") or []
    for use in [uses] if isinstance(uses, str) else uses:
        words, excepted = _borrowed(use, here, policy)
        raw_terms += words
        raw_except += excepted
    terms = body.get("terms") or []
    if not isinstance(terms, list):
        raise PolicyError(f"{here}: policy {policy}: lexicon `terms` is a list")
    raw_terms += terms
    if not raw_terms:
        raise PolicyError(f"{here}: policy {policy}: a lexicon needs `terms` (or `use: sensitive:<category>`)")
    found: dict[str, dict[str, Any]] = {}
    for raw in raw_terms:
        term = _term(raw, all_pinyin, here, policy)
        if term["term"] in found:  # the same word twice (e.g. borrowed and listed): spellings merged
            previous = found[term["term"]]
            previous["initials"] = sorted(set(previous["initials"]) | set(term["initials"]))
            previous["syllables"] = sorted(set(previous["syllables"]) | set(term["syllables"]))
        else:
            found[term["term"]] = term
    excepted = sorted({_word(w, here, policy, "except") for w in raw_except})
    negations = body.get("not_after") or []
    if not isinstance(negations, list):
        raise PolicyError(f"{here}: policy {policy}: lexicon `not_after` is a list of words (请勿, 不要 …)")
    return {"terms": [found[k] for k in sorted(found)], "except": excepted,
            "not_after": sorted({_word(w, here, policy, "not_after") for w in negations})}


def _borrowed(use: Any, here: str, policy: str) -> tuple[list[str], list[str]]:
    """The words and `except` of a category of the quality lexicons (quality/data/sensitive.yaml)."""
    if not isinstance(use, str) or not use.startswith("sensitive:"):
        raise PolicyError(f"{here}: policy {policy}: `use` names a quality lexicon as sensitive:<category>")
    from ..quality.config import data_text, load_yaml

    lexicons = load_yaml(data_text("sensitive.yaml"), "sensitive.yaml") or {}
    category = use.split(":", 1)[1]
    if category not in lexicons:
        raise PolicyError(f"{here}: policy {policy}: no quality lexicon {category!r} (known: "
                          f"{', '.join(sorted(lexicons))})")
    entry = lexicons[category]
    return [str(w) for w in entry.get("words") or []], [str(w) for w in entry.get("except") or []]


def _word(raw: Any, here: str, policy: str, what: str) -> str:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip():
        raise PolicyError(f"{here}: policy {policy}: {what} word {raw!r} is not a word")
    folded = normalize.fold(raw).strip()
    if not folded or any(c in folded for c in "\n,，。!?！？;；:：、"):
        raise PolicyError(f"{here}: policy {policy}: {what} word {raw!r} could never match (it holds a sentence "
                          "or clause break, which matching never crosses)")
    return folded


def _term(raw: Any, all_pinyin: bool, here: str, policy: str) -> dict[str, Any]:
    pinyin: Any = all_pinyin
    if isinstance(raw, dict):
        unknown = set(raw) - {"term", "pinyin"}
        if unknown or "term" not in raw:
            raise PolicyError(f"{here}: policy {policy}: a term is a word or {{term: 违约, pinyin: true|[wy]}}")
        pinyin = raw.get("pinyin", all_pinyin)
        raw = raw["term"]
    word = _word(raw, here, policy, "lexicon")
    initials: set[str] = set()
    syllables: set[str] = set()
    if pinyin is True:
        if any("\u4e00" <= c <= "\u9fff" for c in word):
            initials, syllables = normalize.term_pinyin(word)
    elif isinstance(pinyin, (list, str)):
        for spelling in [pinyin] if isinstance(pinyin, str) else pinyin:
            spelled = normalize.fold(str(spelling)).replace(" ", "")
            if not spelled.isascii() or not spelled.isalpha():
                raise PolicyError(f"{here}: policy {policy}: pinyin spelling {spelling!r} of {word} is not latin letters")
            (initials if len(spelled) <= len(word) else syllables).add(spelled)
    elif pinyin is not False:
        raise PolicyError(f"{here}: policy {policy}: pinyin of {word} is true, false or a list of spellings")
    # a spelling of one letter would match every lone letter: not a spelling
    return {"term": word, "initials": sorted(s for s in initials if len(s) >= 2),
            "syllables": sorted(s for s in syllables if len(s) >= 2)}


def _regex(body: Any, here: str, policy: str) -> dict[str, Any]:
    if isinstance(body, str):
        body = {"pattern": body}
    if not isinstance(body, dict) or not isinstance(body.get("pattern"), str):
        raise PolicyError(f"{here}: policy {policy}: a regex is a pattern or {{name, pattern}}")
    unknown = set(body) - {"name", "pattern", "text"}
    if unknown:
        raise PolicyError(f"{here}: policy {policy}: unknown regex key(s) {', '.join(sorted(map(str, unknown)))}")
    try:
        compiled = re.compile(body["pattern"])
    except re.error as error:
        raise PolicyError(f"{here}: policy {policy}: regex {body['pattern']!r} does not compile ({error})") from None
    if compiled.match(""):
        raise PolicyError(f"{here}: policy {policy}: regex {body['pattern']!r} matches the empty text")
    text = body.get("text", "folded")
    if text not in ("folded", "written"):
        raise PolicyError(f"{here}: policy {policy}: regex `text` is folded (the default) or written")
    return {"name": str(body.get("name") or body["pattern"]), "pattern": body["pattern"], "text": text}


def _pii(body: Any, here: str, policy: str) -> dict[str, Any]:
    from ..privacy.recognizers import TYPES

    types = body.get("types") if isinstance(body, dict) else body
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list) or not types:
        raise PolicyError(f"{here}: policy {policy}: pii is a list of personal-data types ({', '.join(TYPES)})")
    unknown = [t for t in types if t not in TYPES]
    if unknown:
        raise PolicyError(f"{here}: policy {policy}: unknown personal-data type(s) {', '.join(map(str, unknown))} "
                          f"(known: {', '.join(TYPES)})")
    return {"types": sorted(set(types))}


def _attachments(body: Any, here: str, policy: str) -> dict[str, Any]:
    types = body.get("types") if isinstance(body, dict) else body
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list) or not types or not all(isinstance(t, str) and t.strip() for t in types):
        raise PolicyError(f"{here}: policy {policy}: attachments is a list of file extensions or MIME types "
                          "(exe, apk, application/zip …)")
    return {"types": sorted({t.strip().lower().lstrip(".") for t in types})}


def _clock(value: Any, here: str, policy: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:  # YAML reads 09:00 as 540
        return f"{value // 60:02d}:{value % 60:02d}"
    try:
        return time.fromisoformat(str(value)).strftime("%H:%M")
    except ValueError:
        raise PolicyError(f"{here}: policy {policy}: after_hours time {value!r} is not HH:MM") from None


def _after_hours(body: Any, here: str, policy: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise PolicyError(f"{here}: policy {policy}: after_hours is {{start: '09:00', end: '18:00', days: [mon, …], "
                          "tz: Asia/Shanghai}")
    unknown = set(body) - {"start", "end", "days", "tz"}
    if unknown:
        raise PolicyError(f"{here}: policy {policy}: unknown after_hours key(s) {', '.join(sorted(unknown))}")
    start, end = _clock(body.get("start", "09:00"), here, policy), _clock(body.get("end", "18:00"), here, policy)
    if start >= end:
        raise PolicyError(f"{here}: policy {policy}: business hours start ({start}) must be before they end ({end})")
    days = body.get("days", list(DAYS[:5]))
    if not isinstance(days, list) or not all(str(d).lower()[:3] in DAYS for d in days):
        raise PolicyError(f"{here}: policy {policy}: after_hours days are mon … sun")
    tz = body.get("tz", "Asia/Shanghai")
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError(f"{here}: policy {policy}: unknown time zone {tz!r}") from None
    return {"start": start, "end": end, "days": sorted({DAYS.index(str(d).lower()[:3]) for d in days}), "tz": str(tz)}


def _near(body: Any, here: str, policy: str) -> dict[str, Any]:
    if not isinstance(body, dict) or not {"a", "b"} <= set(body):
        raise PolicyError(f"{here}: policy {policy}: near is {{a: [words], b: [words], within: N}}")
    unknown = set(body) - {"a", "b", "within", "not_after", "ordered"}
    if unknown:
        raise PolicyError(f"{here}: policy {policy}: unknown near key(s) {', '.join(sorted(unknown))}")
    within = body.get("within", 10)
    if not isinstance(within, int) or isinstance(within, bool) or not 0 <= within <= MAX_WITHIN:
        raise PolicyError(f"{here}: policy {policy}: near.within is a number of characters, 0 … {MAX_WITHIN}")
    sides = {}
    for side in ("a", "b"):
        words = body[side]
        if isinstance(words, str):
            words = [words]
        if not isinstance(words, list) or not words:
            raise PolicyError(f"{here}: policy {policy}: near.{side} is a list of words")
        sides[side] = sorted({_word(w, here, policy, f"near.{side}") for w in words})
    negations = body.get("not_after") or []
    if not isinstance(negations, list):
        raise PolicyError(f"{here}: policy {policy}: near `not_after` is a list of words (不能, 不 …)")
    if not isinstance(body.get("ordered", False), bool):
        raise PolicyError(f"{here}: policy {policy}: near `ordered` is true (a before b) or false (either order)")
    return {"a": sides["a"], "b": sides["b"], "within": within, "ordered": body.get("ordered", False),
            "not_after": sorted({_word(w, here, policy, "not_after") for w in negations})}


_RULES = {"lexicon": _lexicon, "regex": _regex, "pii": _pii, "attachments": _attachments,
          "after_hours": _after_hours, "near": _near}


# ---- the stored versions -------------------------------------------------------------------------------

def canonical(definition: dict[str, Any]) -> str:
    return audit.canonical_json(definition)


def digest(definition: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(definition).encode()).hexdigest()


def default_text() -> str:
    """The policy file shipped with chataudit (used until a policy is set)."""
    return (resources.files(__package__) / "data" / "default_policy.yaml").read_text(encoding="utf-8")


def default_definition() -> dict[str, Any]:
    return parse(default_text(), "default_policy.yaml")


VERSION_KEYS = ("version", "sha256", "loaded_at", "loaded_by", "audit_entry")


def set_policies(archive: Archive, text: str, where: str, *, operator: str, params: dict[str, Any],
                 fmt: str | None = None) -> dict[str, Any]:
    """Store the file as a new version (and its audit entry) unless its definition is the current one.
    Returns the version with ``created`` (false when nothing was stored)."""
    definition = parse(text, where, fmt)
    sha256 = digest(definition)
    db = archive.db
    with audit.transaction(db):
        current = db.execute("SELECT version, sha256 FROM supervision_policy_sets ORDER BY version DESC LIMIT 1"
                             ).fetchone()
        if current is not None and current[1] == sha256:
            return {**version(archive, current[0], with_text=False), "created": False}
        number = (current[0] if current else 0) + 1
        loaded_at = clock.iso()
        entry = audit.record(archive, operator=operator, command=SET_COMMAND, params=params,
                             facts={"version": number, "sha256": sha256, "policies": len(definition["policies"]),
                                    "source": where, "loaded_at": loaded_at})
        db.execute("INSERT INTO supervision_policy_sets (version, sha256, definition, source_text, loaded_at,"
                   " loaded_by, audit_entry) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (number, sha256, canonical(definition), text, loaded_at, operator, entry))
    return {**version(archive, number, with_text=False), "created": True}


def versions(archive: Archive) -> list[dict[str, Any]]:
    """Every stored version, oldest first, with its number of policies."""
    rows = archive.db.execute(f"SELECT {', '.join(VERSION_KEYS)}, definition FROM supervision_policy_sets"
                              " ORDER BY version").fetchall()
    return [_version_row(row, with_text=False) for row in rows]


def _version_row(row: Any, with_text: bool, source_text: str | None = None) -> dict[str, Any]:
    found = dict(zip(VERSION_KEYS, row[:len(VERSION_KEYS)]))
    try:
        definition = orjson.loads(row[len(VERSION_KEYS)])
    except orjson.JSONDecodeError:
        definition = {"policies": []}
    found["policies"] = [p["name"] for p in definition.get("policies", [])]
    if with_text:
        found["definition"] = definition
        found["source_text"] = source_text
    return found


def version(archive: Archive, number: int | None = None, *, with_text: bool = True) -> dict[str, Any]:
    """One version (the current one when ``number`` is None) with its definition and the text as given."""
    sql = f"SELECT {', '.join(VERSION_KEYS)}, definition, source_text FROM supervision_policy_sets"
    row = (archive.db.execute(sql + " ORDER BY version DESC LIMIT 1").fetchone() if number is None
           else archive.db.execute(sql + " WHERE version = ?", (number,)).fetchone())
    if row is None:
        if number is None:
            raise ChatAuditError("no supervision policy is set (see `chataudit supervise policy set FILE`)")
        raise ChatAuditError(f"no policy version {number} (see `chataudit supervise policy list`)")
    return _version_row(tuple(row), with_text, row[len(VERSION_KEYS) + 1])


def current(archive: Archive) -> tuple[int, dict[str, Any]] | None:
    """(version, definition) of the current policy set, or None."""
    row = archive.db.execute("SELECT version, definition FROM supervision_policy_sets ORDER BY version DESC LIMIT 1"
                             ).fetchone()
    return (row[0], orjson.loads(row[1])) if row else None


# ---- verify ------------------------------------------------------------------------------------------

def discrepancies(archive: Archive) -> list[str]:
    """Each policy version whose row disagrees with the `supervise policy set` entry that recorded it."""
    entries: dict[int, tuple[int, dict[str, Any]]] = {}
    for entry_id, facts_text in archive.db.execute(
            "SELECT id, facts FROM governance_audit WHERE command = ? AND json_valid(facts) ORDER BY id",
            (SET_COMMAND,)):
        facts = orjson.loads(facts_text)
        if isinstance(facts.get("version"), int):
            entries[facts["version"]] = (entry_id, facts)
    found = []
    rows = {row[0]: row for row in archive.db.execute(
        "SELECT version, sha256, definition, audit_entry FROM supervision_policy_sets ORDER BY version")}
    for number in sorted(set(rows) | set(entries)):
        row, recorded = rows.get(number), entries.get(number)
        if row is None:
            found.append(f"policy version {number}: `supervise policy set` recorded it (audit entry "
                         f"{recorded[0]}), but it is missing from supervision_policy_sets")  # type: ignore[index]
            continue
        if recorded is None:
            found.append(f"policy version {number}: no `supervise policy set` entry of the audit trail records it: "
                         "added behind the tool's back")
            continue
        entry_id, facts = recorded
        actual = hashlib.sha256(row[2].encode()).hexdigest()
        if actual != row[1] or row[1] != facts.get("sha256"):
            found.append(f"policy version {number}: its definition (SHA-256 {actual[:12]}…) differs from what "
                         f"`supervise policy set` recorded (audit entry {entry_id}: {str(facts.get('sha256'))[:12]}…)")
        elif row[3] != entry_id:
            found.append(f"policy version {number}: it names audit entry {row[3]}, but entry {entry_id} recorded it")
    return found
