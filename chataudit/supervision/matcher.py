"""The pure matcher: a policy definition → ``evaluate(message fields) -> hits``.

No archive, no clock, no I/O: a :class:`Matcher` is built from a definition (the canonical JSON of
a policy version) and pickles as that definition, so a Spark job can ship it to executors and run
it on partitions of messages. Every lexicon of every policy goes into one Aho-Corasick automaton
over the folded text (:mod:`.normalize`), so a message is folded once and read once whatever the
number of terms; most messages hit nothing and cost that one pass.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from datetime import datetime, timezone
from typing import Any, Iterable
from zoneinfo import ZoneInfo

import ahocorasick

from . import normalize

DELIMITER = "\ue000"  # between the texts of a batch: a private-use character folding leaves alone
_EIGHT_DIGITS = re.compile(r"\d{8}")
_LATIN_STRETCH = re.compile("[a-z][a-z ]*")
_ANCHORED = re.compile(r"(?<!\\)[$^]|\\[AZ]")  # a regex whose meaning changes inside a joined batch
NEGATION_GAP = 1  # characters allowed between a `not_after` word and the term it cancels (请勿私下转账, 不能给您保证)


@dataclass(frozen=True, slots=True)
class Hit:
    policy: str
    category: str
    severity: str
    rule: str  # the lexicon term, 're:<name>', 'pii:<type>', 'attachment:<type>', 'near:<a>~<b>', 'after_hours'
    matched: str | None  # as written in the message
    start: int | None  # offsets in the written text; None when the hit is not textual
    end: int | None


# roles of a word in the automaton
TERM, EXCEPT, NEAR_A, NEAR_B = range(4)


def _edge_ok(folded: str, start: int, end: int) -> bool:
    """A word that starts or ends with a latin letter (or digit) must not run on into more of them:
    'sb' is not in 'usb', '12315' is not in '4123156'."""
    first, last = folded[start], folded[end - 1]
    if start > 0:
        before = folded[start - 1]
        if ("a" <= first <= "z" and "a" <= before <= "z") or (first.isdigit() and before.isdigit()):
            return False
    if end < len(folded):
        after = folded[end]
        if ("a" <= last <= "z" and "a" <= after <= "z") or (last.isdigit() and after.isdigit()):
            return False
    return True


def _latin_count(folded: str, start: int, end: int) -> int:
    return sum(1 for c in folded[start:end] if "a" <= c <= "z")


class Matcher:
    """Evaluates one policy definition on messages."""

    def __init__(self, definition: dict[str, Any]):
        self.definition = definition
        self.policies = [p for p in definition["policies"] if p.get("enabled", True)]
        self._words = ahocorasick.Automaton()
        self._initials = ahocorasick.Automaton()
        self._syllables = ahocorasick.Automaton()
        entries: dict[str, list[tuple[int, int, int, str]]] = {}
        spelled_initials: dict[str, list[tuple[int, int, str]]] = {}
        spelled_syllables: dict[str, list[tuple[int, int, str]]] = {}
        self._regexes: list[list[tuple[int, str, Any, bool]]] = []
        self._negations: dict[tuple[int, int], tuple[str, ...]] = {}

        for p_index, policy in enumerate(self.policies):
            regexes = []
            for r_index, rule in enumerate(policy["rules"]):
                kind = rule["kind"]
                if kind == "lexicon":
                    for term in rule["terms"]:
                        entries.setdefault(term["term"], []).append((p_index, r_index, TERM, term["term"]))
                        for spelling in term.get("initials", ()):
                            spelled_initials.setdefault(spelling, []).append((p_index, r_index, term["term"]))
                        for spelling in term.get("syllables", ()):
                            spelled_syllables.setdefault(spelling, []).append((p_index, r_index, term["term"]))
                    for word in rule["except"]:
                        entries.setdefault(word, []).append((p_index, r_index, EXCEPT, word))
                    if rule.get("not_after"):
                        self._negations[(p_index, r_index)] = tuple(rule["not_after"])
                elif kind == "near":
                    if rule.get("not_after"):
                        self._negations[(p_index, r_index)] = tuple(rule["not_after"])
                    for word in rule["a"]:
                        entries.setdefault(word, []).append((p_index, r_index, NEAR_A, word))
                    for word in rule["b"]:
                        entries.setdefault(word, []).append((p_index, r_index, NEAR_B, word))
                elif kind == "regex":
                    regexes.append((r_index, rule["name"], re.compile(rule["pattern"]), rule.get("text") == "written"))
            self._regexes.append(regexes)
        # the words that can start a hit (terms and near rules' A words): the batch prefilter's automaton
        triggers = {word: [e for e in found if e[2] in (TERM, NEAR_A)] for word, found in entries.items()}
        triggers = {word: found for word, found in triggers.items() if found}
        # a spelling stands for a term's characters, so a hit reaches at most that many characters from
        # the latin letters it holds: how far the prefilter's windows reach around them
        self._reach = max((len(term) for found in (*spelled_initials.values(), *spelled_syllables.values())
                           for _p, _r, term in found), default=0)
        for automaton, table in ((self._words, entries), (self._initials, spelled_initials),
                                 (self._syllables, spelled_syllables)):
            for word, found in table.items():
                automaton.add_word(word, (len(word), tuple(found)))
            if table:
                automaton.make_automaton()
        self._has_words, self._has_initials = bool(entries), bool(spelled_initials)
        self._has_syllables = bool(spelled_syllables)
        self._needs_text = [any(r["kind"] in ("lexicon", "near", "regex") for r in p["rules"]) for p in self.policies]
        self._zones: dict[str, ZoneInfo] = {}
        # the batch prefilter (:meth:`candidates`): which rules it can pass over, and which make every
        # message a candidate (an after-hours rule, personal-data types without a cue, anchored regexes)
        self._pii_cues = []
        self._every_message = False
        for policy in self.policies:
            for rule in policy["rules"]:
                if rule["kind"] == "after_hours":
                    self._every_message = True
                elif rule["kind"] == "pii":
                    cue = _pii_cue(rule["types"])
                    if cue is None:
                        self._every_message = True
                    else:
                        self._pii_cues.append(cue)
                elif rule["kind"] == "regex" and _ANCHORED.search(rule["pattern"]):
                    self._every_message = True
        cue_words = {word for cue in self._pii_cues for word in cue.pattern.split("|") if not word.startswith("\\")}
        self._pii_digits = any(r"\d{8}" in cue.pattern for cue in self._pii_cues)
        # one automaton for the prefilter's words: the triggers and the personal-data context words,
        # so a batch is read once for both
        self._prefilter = ahocorasick.Automaton()
        for word in {*triggers, *cue_words}:
            self._prefilter.add_word(word, len(word))
        self._has_prefilter = bool(triggers) or bool(cue_words)
        if self._has_prefilter:
            self._prefilter.make_automaton()
        self._active_cache: dict[tuple[str, bool, str], tuple[int, ...]] = {}
        self._plans: dict[tuple[int, ...], tuple[Any, ...]] = {}

    def __reduce__(self) -> tuple[Any, ...]:  # pickles as its definition (Spark ships it to executors)
        return (Matcher, (self.definition,))

    # ---- scope -------------------------------------------------------------------------------------

    def active(self, sender: str, external: bool, platform: str) -> tuple[int, ...]:
        """Indices of the policies that watch a message of this sender role, chat and platform.
        ``sender`` is agent, customer, bot or unknown; an unknown sender (the archive cannot tell) is
        watched by agent and customer policies alike: better an alert to dismiss than a missed one."""
        key = (sender, external, platform)
        found = self._active_cache.get(key)
        if found is not None:
            return found
        chosen = []
        for index, policy in enumerate(self.policies):
            scope = policy["scope"]
            if sender == "bot":
                continue
            if scope["senders"] != "any" and sender not in (scope["senders"], "unknown"):
                continue
            if scope["chats"] == "external" and not external or scope["chats"] == "internal" and external:
                continue
            if scope["platforms"] and platform not in scope["platforms"]:
                continue
            chosen.append(index)
        found = self._active_cache[key] = tuple(chosen)
        return found

    # ---- the batch prefilter ---------------------------------------------------------------------------

    def candidates(self, texts: list[str]) -> list[tuple[int, str | None]]:
        """(index, folded text) of the texts that may hit something: a superset of those
        :meth:`evaluate` finds a textual hit in, found by folding and scanning the whole batch as one
        string (C speed), so the per-message work is spent only on the few that can hit. Attachments
        are the caller's to add."""
        count = len(texts)
        if self._every_message or count == 0:
            return [(index, None) for index in range(count)]
        joined = DELIMITER.join(texts)
        if joined.count(DELIMITER) != count - 1:
            return [(index, None) for index in range(count)]  # a text holds the delimiter itself
        folded = normalize.fold(joined)
        parts = folded.split(DELIMITER)
        if len(parts) != count:
            return [(index, None) for index in range(count)]
        ends = list(accumulate(len(part) + 1 for part in parts))
        found: set[int] = set()
        if self._has_prefilter:  # trigger words and personal-data context words
            found.update(bisect_right(ends, end) for end, _ in self._prefilter.iter(folded))
        if self._has_initials or self._has_syllables:
            self._latin_candidates(folded, ends, found)
        written_ends = None
        for regexes in self._regexes:
            for _r_index, _name, pattern, written in regexes:
                if written and written_ends is None:
                    written_ends = list(accumulate(len(text) + 1 for text in texts))
                scanned, where = (joined, written_ends) if written else (folded, ends)
                for match in pattern.finditer(scanned):
                    first, last = bisect_right(where, match.start()), bisect_right(where, max(match.end() - 1, 0))
                    found.update(range(first, last + 1))
        if self._pii_cues:  # the cues of every personal-data rule: eight digits, or a context word
            if self._pii_digits:
                for match in _EIGHT_DIGITS.finditer(folded):
                    found.add(bisect_right(ends, match.start()))
        return [(index, parts[index]) for index in sorted(found) if index < count]

    def _latin_candidates(self, folded: str, ends: list[int], found: set[int]) -> None:
        """Messages where a pinyin spelling may hit: around each stretch of latin letters (a hit must
        hold some), a window as wide as the longest spelling; the windows of the batch are joined,
        projected and scanned at once."""
        reach = self._reach
        windows: list[str] = []
        owners: list[int] = []
        for stretch in _LATIN_STRETCH.finditer(folded):
            message = bisect_right(ends, stretch.start())
            if message in found:
                continue
            low = max(stretch.start() - reach, 0 if message == 0 else ends[message - 1])
            high = min(stretch.end() + reach, ends[message] - 1)
            windows.append(folded[low:high])
            owners.append(message)
        if not windows:
            return
        joined = DELIMITER.join(windows)
        if self._has_initials:
            window_ends = list(accumulate(len(w) + 1 for w in windows))
            found.update(owners[bisect_right(window_ends, end)] for end, _ in
                         self._initials.iter(normalize.initials(joined)))
        if self._has_syllables:
            projected = normalize.syllables_text(joined)
            window_ends = list(accumulate(len(part) + 1 for part in projected.split(DELIMITER)))
            found.update(owners[bisect_right(window_ends, end)] for end, _ in self._syllables.iter(projected))

    # ---- evaluation ------------------------------------------------------------------------------------

    def _plan(self, active: tuple[int, ...]) -> tuple[Any, ...]:
        """What a message watched by ``active`` needs, worked out once per scope (not per message)."""
        plan = self._plans.get(active)
        if plan is None:
            others = [(self.policies[i], rule) for i in active for rule in self.policies[i]["rules"]
                      if rule["kind"] in ("pii", "attachments", "after_hours")]
            plan = self._plans[active] = (frozenset(active), any(self._needs_text[i] for i in active),
                                          tuple(i for i in active if self._regexes[i]), tuple(others))
        return plan

    def evaluate(self, text: str | None, *, sender: str = "unknown", external: bool = True, platform: str = "",
                 sent_at_ms: int | None = None, attachments: Iterable[dict[str, Any]] | None = None,
                 folded: str | None = None) -> list[Hit]:
        """Every hit of the policies that watch this message (see :meth:`active`), in policy order.
        ``folded``: normalize.fold(text) when the caller has it already (the batch prefilter)."""
        active = self._active_cache.get((sender, external, platform)) or self.active(sender, external, platform)
        if not active:
            return []
        active_set, needs_text, regex_policies, others = self._plan(active)
        hits: list[Hit] = []
        if text and needs_text:
            if folded is None:
                folded = normalize.fold(text)
            self._text_hits(text, folded, active_set, regex_policies, hits)
            if len(hits) > 1:
                hits = _outermost(hits)
        for policy, rule in others:
            kind = rule["kind"]
            if kind == "pii":
                if text:
                    self._pii(policy, rule, text, folded, hits)
            elif kind == "attachments":
                if attachments:
                    self._attachments(policy, rule, attachments, hits)
            elif sent_at_ms is not None:
                self._after_hours(policy, rule, sent_at_ms, hits)
        return hits

    def _text_hits(self, text: str, folded: str, active_set: frozenset[int], regex_policies: tuple[int, ...],
                   hits: list[Hit]) -> None:
        # (policy, rule) → role → [(start, end, word)] in folded offsets
        found: dict[tuple[int, int], dict[int, list[tuple[int, int, str]]]] = {}
        if self._has_words:
            for end, (length, entries) in self._words.iter(folded):
                start, stop = end - length + 1, end + 1
                if not _edge_ok(folded, start, stop):
                    continue
                for p_index, r_index, role, word in entries:
                    if p_index in active_set:
                        found.setdefault((p_index, r_index), {}).setdefault(role, []).append((start, stop, word))
        if (self._has_initials or self._has_syllables) and normalize.has_latin(folded):
            self._pinyin_hits(folded, active_set, found)
        if not found and not regex_policies:
            return
        mapped: list[tuple[str, list[int]]] = []

        def span(start: int, end: int) -> tuple[str, int, int]:
            if not mapped:
                mapped.append(normalize.fold_map(text))
            origin = mapped[0][1]
            first, last = normalize.original_span(origin, text, start, end)
            return text[first:last], first, last

        for (p_index, r_index), roles in sorted(found.items()):
            policy = self.policies[p_index]
            rule = policy["rules"][r_index]
            if rule["kind"] == "lexicon":
                for start, end, word in self._lexicon_hits(folded, roles, self._negations.get((p_index, r_index))):
                    hits.append(Hit(policy["name"], policy["category"], policy["severity"], word, *span(start, end)))
            elif rule["kind"] == "near":
                negations = self._negations.get((p_index, r_index))
                for start, end, label in self._near_hits(folded, roles, rule["within"], rule.get("ordered", False)):
                    if negations and _negated(folded, start, negations):
                        continue
                    hits.append(Hit(policy["name"], policy["category"], policy["severity"], label, *span(start, end)))
        for p_index in regex_policies:
            policy = self.policies[p_index]
            for _r_index, name, pattern, written in self._regexes[p_index]:
                for match in pattern.finditer(text if written else folded):
                    if match.end() == match.start():
                        continue
                    where = ((text[match.start():match.end()], match.start(), match.end()) if written
                             else span(match.start(), match.end()))
                    hits.append(Hit(policy["name"], policy["category"], policy["severity"], f"re:{name}", *where))

    def _pinyin_hits(self, folded: str, active: frozenset[int],
                     found: dict[tuple[int, int], dict[int, list[tuple[int, int, str]]]]) -> None:
        """Terms spelled (partly) in latin letters: 'ts' (投诉), '加我wx', 'jiawo微信'. A span must hold
        latin letters that were written as such — a purely Chinese span is the term itself or nothing."""
        if self._has_initials:
            projected = normalize.initials(folded)
            for end, (length, entries) in self._initials.iter(projected):
                start, stop = end - length + 1, end + 1
                latin = _latin_count(folded, start, stop)
                if not (latin >= 2 or (latin >= 1 and length >= 3)) or not _edge_ok(folded, start, stop):
                    continue
                for p_index, r_index, term in entries:
                    if p_index in active:
                        found.setdefault((p_index, r_index), {}).setdefault(TERM, []).append((start, stop, term))
        if self._has_syllables:
            projected = normalize.syllables_text(folded)
            matches = list(self._syllables.iter(projected))
            if not matches:
                return
            _, origin = normalize.syllables(folded)
            for end, (length, entries) in matches:
                start, last = end - length + 1, end
                # whole syllables only: the span starts and ends on a character of the folded text
                if start > 0 and origin[start - 1] == origin[start]:
                    continue
                if last + 1 < len(origin) and origin[last + 1] == origin[last]:
                    continue
                f_start, f_stop = origin[start], origin[last] + 1
                if _latin_count(folded, f_start, f_stop) == 0:
                    continue
                if length < 5 and not _edge_ok(folded, f_start, f_stop):
                    continue
                for p_index, r_index, term in entries:
                    if p_index in active:
                        found.setdefault((p_index, r_index), {}).setdefault(TERM, []).append((f_start, f_stop, term))

    @staticmethod
    def _lexicon_hits(folded: str, roles: dict[int, list[tuple[int, int, str]]],
                      negations: tuple[str, ...] | None) -> list[tuple[int, int, str]]:
        terms = roles.get(TERM)
        if not terms:
            return []
        excepted = roles.get(EXCEPT, [])
        kept = []
        for start, end, word in terms:
            if any(e_start <= start and end <= e_end for e_start, e_end, _ in excepted):
                continue  # inside a harmless longer word (滚筒 is not 滚)
            if negations and _negated(folded, start, negations):
                continue
            kept.append((start, end, word))
        if len(kept) > 1:  # a term inside a longer term of the same lexicon: the longer one says it
            kept.sort(key=lambda h: (h[0], -(h[1] - h[0])))
            kept = [h for h in kept if not any(o is not h and o[0] <= h[0] and h[1] <= o[1]
                                               and (o[1] - o[0]) > (h[1] - h[0]) for o in kept)]
            seen: set[tuple[int, str]] = set()
            kept = [h for h in kept if not ((h[0], h[2]) in seen or seen.add((h[0], h[2])))]
        return kept

    @staticmethod
    def _near_hits(folded: str, roles: dict[int, list[tuple[int, int, str]]],
                   within: int, ordered: bool) -> list[tuple[int, int, str]]:
        """An A word within ``within`` characters of a B word (on the same line; after it when
        ``ordered``, else in either order)."""
        a_hits, b_hits = roles.get(NEAR_A), roles.get(NEAR_B)
        if not a_hits or not b_hits:
            return []
        found = []
        for a_start, a_end, a_word in a_hits:
            best = None
            for b_start, b_end, b_word in b_hits:
                if b_start >= a_end:
                    gap, lo, hi = b_start - a_end, a_start, b_end
                elif a_start >= b_end and not ordered:
                    gap, lo, hi = a_start - b_end, b_start, a_end
                else:
                    continue  # the same characters read as both words
                if gap > within or "\n" in folded[lo:hi]:
                    continue
                if best is None or gap < best[0]:
                    best = (gap, lo, hi, b_word)
            if best is not None:
                found.append((best[1], best[2], f"near:{a_word}~{best[3]}"))
        return found

    @staticmethod
    def _pii(policy: dict[str, Any], rule: dict[str, Any], text: str, folded: str | None, hits: list[Hit]) -> None:
        from ..privacy.recognizers import find

        cue = _PII_CUES.get(tuple(rule["types"])) if tuple(rule["types"]) in _PII_CUES else _pii_cue(rule["types"])
        if cue is not None and not cue.search(folded if folded is not None else normalize.fold(text)):
            return  # nothing any of these types needs is there: the recognizers would find nothing
        for finding in find(text, rule["types"]):
            hits.append(Hit(policy["name"], policy["category"], policy["severity"], f"pii:{finding.type}",
                            finding.value, finding.start, finding.end))

    @staticmethod
    def _attachments(policy: dict[str, Any], rule: dict[str, Any], attachments: Iterable[dict[str, Any]],
                     hits: list[Hit]) -> None:
        wanted = set(rule["types"])
        for attachment in attachments:
            if not isinstance(attachment, dict):
                continue
            name = str(attachment.get("name") or attachment.get("path") or "")
            extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
            mime = str(attachment.get("mime") or "").lower()
            kind = extension if extension in wanted else mime if mime in wanted else None
            if kind:
                hits.append(Hit(policy["name"], policy["category"], policy["severity"], f"attachment:{kind}",
                                name or mime, None, None))

    def _after_hours(self, policy: dict[str, Any], rule: dict[str, Any], sent_at_ms: int, hits: list[Hit]) -> None:
        zone = self._zones.get(rule["tz"])
        if zone is None:
            zone = self._zones[rule["tz"]] = ZoneInfo(rule["tz"])
        local = datetime.fromtimestamp(sent_at_ms / 1000, timezone.utc).astimezone(zone)
        clock = local.strftime("%H:%M")
        if local.weekday() in rule["days"] and rule["start"] <= clock < rule["end"]:
            return
        hits.append(Hit(policy["name"], policy["category"], policy["severity"], "after_hours",
                        local.strftime("%Y-%m-%d %H:%M %a"), None, None))


# What each personal-data type needs in the folded text before its recognizer can find it: eight
# digits in a row (separators inside numbers are folded away: 138 1234 5678), or the context words
# the recognizer itself requires. Types not listed have no cheap cue: their rule always runs find().
_PII_NEEDS = {
    "id_card": r"\d{8}", "id_card_old": r"\d{8}", "bank_card": r"\d{8}", "mobile": r"\d{8}",
    "passport": "护照|passport", "travel_permit": "通行证|回乡证|台胞证|港澳|台湾|签注|入台证|permit",
    "wechat_id": "微信|wxid|vx|wx|weixin|威信|薇信", "qq": "qq|扣扣",
}
_PII_CUES: dict[tuple[str, ...], Any] = {}


def _pii_cue(types: list[str]) -> Any:
    """One regex for a rule's types (None: a type without a cue, so always run the recognizers)."""
    key = tuple(types)
    if any(t not in _PII_NEEDS for t in types):
        _PII_CUES[key] = None
    else:
        _PII_CUES[key] = re.compile("|".join(sorted({_PII_NEEDS[t] for t in types})))
    return _PII_CUES[key]


def _outermost(hits: list[Hit]) -> list[Hit]:
    """Within one policy, a hit inside another hit's span says nothing more: 保证收益 found by the
    lexicon and by a near rule is one alert; 加我wx read as itself and as 加我微信 in pinyin is one."""
    kept: list[Hit] = []
    for index, hit in enumerate(hits):
        inside = False
        for other_index, other in enumerate(hits):
            if other_index == index or other.policy != hit.policy:
                continue
            if other.start <= hit.start and hit.end <= other.end:  # type: ignore[operator]
                if (other.end - other.start) > (hit.end - hit.start) or other_index < index:  # type: ignore[operator]
                    inside = True
                    break
        if not inside:
            kept.append(hit)
    return kept


def _negated(folded: str, start: int, negations: tuple[str, ...]) -> bool:
    """Whether a `not_after` word (请勿, 不要 …) ends at most NEGATION_GAP characters before ``start``."""
    window = folded[max(0, start - 8 - NEGATION_GAP):start]
    for word in negations:
        at = window.rfind(word)
        if at >= 0 and len(window) - (at + len(word)) <= NEGATION_GAP:
            return True
    return False
