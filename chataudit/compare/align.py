"""Aligning two copies of one conversation without trusting message ids or display names.

Two exports of the same chat agree on *what* was said and *when* (as an instant), not on ids
(each party's client numbers its own messages), names (each side shows the other under its own
contact name) or printed local times (each export prints its own zone, and one may have been read
with the wrong ``--tz``). So the alignment works on normalized text and UTC instants only:

1. **Clock.** Texts that occur exactly once in each copy pair up regardless of time; when most of
   those pairs are a whole number of quarter-hours apart (``+8 h`` exactly), that constant is a
   clock offset between the copies: reported once and subtracted before anything else.
2. **Senders.** Pairs of equal text at the same instant (within the tolerance) that are the only
   candidates for each other vote for "A's sender X is B's sender Y"; the best votes make a
   one-to-one mapping, senders nobody voted for keep their own key when the other copy has it.
3. **Anchors.** Equal (mapped sender, kind, normalized text) within the tolerance, unique in that
   time window on both sides — repeated short texts ("好的") anchor only where time tells them apart.
   Found by hashing in linear time.
4. **Order.** The longest increasing run of anchors (patience / LIS, ``O(k log k)``) is the spine;
   anchors off the spine are *reordered*.
5. **Moves.** A distinctive text (long, or said once) left unpaired once on each side, beyond the
   tolerance or in different gaps of the spine, is one message that moved: *retimed* beyond the
   tolerance, else *reordered*. Paired before gap filling, so a neighbour of its old place is not
   taken for an alteration of it, nor its crossing an edit nearby hides that edit.
6. **Gaps.** Between consecutive spine anchors, a small weighted alignment pairs the rest: equal
   text at another instant is *retimed*, the same sender's similar text (rapidfuzz) or any text at
   the same instant is *altered*, a different kind at the same instant (a recall) is
   *kind_changed*. Large gaps only consider pairs near in time or equal in text, so memory and
   time stay linear in practice.
   What gap filling leaves is checked for moves once more; the rest is missing on one side.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable, Mapping, Sequence

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

DAY_MS = 86_400_000
QUARTER_HOUR_MS = 900_000
MAX_CLOCK_OFFSET_MS = 26 * 3_600_000  # zone offsets span -12..+14 h
FULL_GAP_PAIRS = 2_500  # gaps up to this many (a, b) pairs are scored exhaustively
WINDOW_CANDIDATES = 32  # in larger gaps, at most this many time neighbours per message
SIMILAR = 0.6  # rapidfuzz ratio from which the same sender's text counts as an alteration
DISTINCTIVE_CHARS = 6  # a text this long is specific enough to follow when it moved
RECALL_WINDOW_MS = 180_000  # a recall event may follow the recalled message by this much (WeChat: 2 min)

# ---- normalization ---------------------------------------------------------------------------

# What NFKC leaves alone but exporters and keyboards still vary: CJK punctuation, quotes, dashes,
# invisible characters (zero-width spaces, BOM, emoji variation selectors, soft hyphens).
_PUNCTUATION = str.maketrans({
    "。": ".", "、": ",", "“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "「": '"', "」": '"',
    "『": '"', "』": '"', "【": "[", "】": "]", "〔": "[", "〕": "]", "《": "<", "》": ">",
    "〈": "<", "〉": ">", "—": "-", "–": "-", "―": "-", "‐": "-", "〜": "~", "・": "·",
    "\u200b": None, "\u200c": None, "\u2060": None, "\ufeff": None, "\ufe0f": None,
    "\ufe0e": None, "\u00ad": None,
})
_TAG = re.compile(
    r"<\s*/?\s*(?:b|i|u|s|em|strong|a|span|font|code|pre|p|div|br|del|ins|mark|sub|sup|strike|"
    r"blockquote|tg-spoiler|img)\b[^<>]*>",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"^\s*[\[【(（<《][^\]】)）>》]{0,40}[\]】)）>》]\s*$")
# kinds whose text is the exporter's description of the thing ("[图片]", "[photo]", "X 撤回了一条消息"),
# which differs between exporters for the same message
DESCRIBED_KINDS = frozenset({"image", "voice", "video", "sticker", "recall"})


# The same mapping, applied before NFKC where it is cheap: the punctuation of almost every Chinese
# message by str.replace, the rest (full-width forms, the ideographic space) by one regex; NFKC
# itself only runs when something is left that it would change.
_COMMON = (("，", ","), ("。", "."), ("！", "!"), ("？", "?"), ("：", ":"), ("；", ";"), ("（", "("),
           ("）", ")"), ("、", ","), ("“", '"'), ("”", '"'))
_EARLY = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}  # full-width ASCII, as NFKC maps it
_EARLY["\u3000"] = " "
_EARLY.update({chr(k): (chr(v) if isinstance(v, int) else (v or "")) for k, v in _PUNCTUATION.items()})
_EARLY_RE = re.compile("[" + re.escape("".join(_EARLY)) + "]")


def _early(match: re.Match) -> str:
    return _EARLY[match.group()]


def normalize(text: str) -> str:
    """The comparison form of a text: what a writer said, not how an exporter spelled it.

    Rich-text markup removed and entities decoded, NFKC (full-width letters, digits and
    punctuation become half-width), CJK punctuation and quotes mapped to ASCII, invisible
    characters dropped, and all whitespace ignored. Equal to
    ``"".join(unicodedata.normalize("NFKC", text).translate(_PUNCTUATION).split())`` after the
    markup step, only faster.
    """
    if not text:
        return ""
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii():
        for old, new in _COMMON:
            if old in text:
                text = text.replace(old, new)
        if _EARLY_RE.search(text):
            text = _EARLY_RE.sub(_early, text)
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text).translate(_PUNCTUATION)
    return "".join(text.split())


def comparison_text(kind: str, text: str) -> str:
    if kind in DESCRIBED_KINDS and (kind == "recall" or _PLACEHOLDER.match(text or "")):
        return ""
    return normalize(text)


# ---- one copy ---------------------------------------------------------------------------------

class Side:
    """One copy as parallel columns (cheap for 100k+ messages), in conversation order.

    ``ms`` are UTC milliseconds; ``sender`` a stable key (sender id, else display name);
    ``names`` the display names; ``offsets`` the UTC offset in minutes the export showed.
    """

    __slots__ = ("ms", "sender", "names", "kind", "text", "norm", "offsets", "ids", "positions", "_display")

    def __init__(
        self,
        ms: Sequence[int],
        sender: Sequence[str | None],
        kind: Sequence[str],
        text: Sequence[str],
        *,
        names: Sequence[str | None] | None = None,
        offsets: Sequence[int] | None = None,
        ids: Sequence[Any] | None = None,
        positions: Sequence[Any] | None = None,
    ):
        self.ms = list(ms)
        self.sender = [s or "" for s in sender]
        self.kind = list(kind)
        self.text = list(text)
        self.names = list(names) if names is not None else list(self.sender)
        self.offsets = list(offsets) if offsets is not None else [0] * len(self.ms)
        self.ids = list(ids) if ids is not None else [None] * len(self.ms)
        self.positions = list(positions) if positions is not None else [None] * len(self.ms)
        self.norm = [comparison_text(k, t) for k, t in zip(self.kind, self.text)]
        self._display: dict[str, str] | None = None
        if not (len(self.ms) == len(self.sender) == len(self.kind) == len(self.text)):
            raise ValueError("Side columns must have equal lengths")

    def __len__(self) -> int:
        return len(self.ms)

    def display_name(self, key: str) -> str:
        """The name the copy shows for a sender key (its first message's)."""
        if self._display is None:
            self._display = {}
            for sender, name in zip(self.sender, self.names):
                self._display.setdefault(sender, name or sender)
        return self._display.get(key, key)


# ---- result -----------------------------------------------------------------------------------

MATCHED, ALTERED, RETIMED, REORDERED, KIND_CHANGED = "matched", "altered", "retimed", "reordered", "kind_changed"
PAIR_STATUSES = (MATCHED, ALTERED, RETIMED, REORDERED, KIND_CHANGED)


@dataclass
class Alignment:
    """Which message of A is which of B. Indices refer to the two :class:`Side` objects."""

    pairs: list[tuple[int, int, str]]  # (i in A, j in B, status), sorted by i
    only_a: list[int]  # in A, not in B ("missing_in_b")
    only_b: list[int]  # in B, not in A ("missing_in_a")
    clock_offset_ms: int  # B's instants minus A's for the same message (0 = same clock)
    sender_mapping: dict[str, str]  # A's sender key -> B's sender key
    tolerance_ms: int
    anchors: int = 0  # size of the spine (for diagnostics)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)


# ---- the algorithm ----------------------------------------------------------------------------

def align(a: Side, b: Side, tolerance_s: float = 60.0) -> Alignment:
    """Pair the messages of two copies; see the module docstring for the steps."""
    tol = max(0, int(round(tolerance_s * 1000)))
    ta = a.ms
    loose_a = _index(list(zip(a.kind, a.norm)))
    loose_b = _index(list(zip(b.kind, b.norm)))

    offset = estimate_clock_offset(loose_a, loose_b, ta, b.ms, tol)
    tb = [t - offset for t in b.ms] if offset else b.ms

    # senders, learned from text-and-instant anchors that ignore who sent them
    votes: Counter[tuple[str, str]] = Counter()
    loose_pairs = _unique_pairs(loose_a, loose_b, ta, tb, tol)
    for i, j in loose_pairs:
        votes[(a.sender[i], b.sender[j])] += 1
    mapping = learn_sender_mapping(votes, set(a.sender), set(b.sender))
    mapped = [mapping.get(s, ("unmapped", s)) for s in a.sender]

    keys_a: list[Hashable] = list(zip(mapped, a.kind, a.norm))
    keys_b: list[Hashable] = list(zip(b.sender, b.kind, b.norm))
    # anchors: the text-and-instant pairs whose senders agree with the mapping (the others, and
    # texts that only the sender makes unique in their window, are left to gap filling)
    b_sender = b.sender
    anchors = [(i, j) for i, j in loose_pairs if mapped[i] == b_sender[j]]
    spine = longest_increasing(anchors)

    status_a: dict[int, tuple[int, str]] = {}
    on_spine = set(spine)
    displaced_a, displaced_b = set(), set()
    for i, j in anchors:
        if (i, j) in on_spine:
            status_a[i] = (j, MATCHED)
        else:
            status_a[i] = (j, REORDERED)
            displaced_a.add(i)
            displaced_b.add(j)

    # messages that moved out of their gap: the same distinctive text in another gap of the other copy.
    # Paired first, so that a neighbour in the old gap cannot be mistaken for an alteration of it.
    spine_a = [i for i, _ in spine]
    spine_b = [j for _, j in spine]
    free_a = [i for i in range(len(a)) if i not in status_a]
    free_b = sorted(set(range(len(b))) - {j for j, _ in status_a.values()})
    for i, j in _moved(free_a, free_b, keys_a, keys_b, loose_a, loose_b):
        retimed = abs(tb[j] - ta[i]) > tol
        # in another gap it moved; in the same gap, re-timed, it may still cross an edit there
        if retimed or bisect_left(spine_a, i) != bisect_left(spine_b, j):
            status_a[i] = (j, RETIMED if retimed else REORDERED)
            displaced_a.add(i)
            displaced_b.add(j)

    context = _Context(a, b, ta, tb, keys_a, keys_b, mapped, tol)
    left_a: list[int] = []
    left_b: list[int] = []
    previous = (-1, -1)
    for anchor in spine + [(len(a), len(b))]:
        if anchor[0] == previous[0] + 1 and anchor[1] == previous[1] + 1:
            previous = anchor
            continue
        gap_a = [i for i in range(previous[0] + 1, anchor[0]) if i not in displaced_a]
        gap_b = [j for j in range(previous[1] + 1, anchor[1]) if j not in displaced_b]
        if gap_a and gap_b:
            paired = context.fill_gap(gap_a, gap_b)
            taken_a, taken_b = set(), set()
            for i, j, status in paired:
                status_a[i] = (j, status)
                taken_a.add(i)
                taken_b.add(j)
            left_a.extend(i for i in gap_a if i not in taken_a)
            left_b.extend(j for j in gap_b if j not in taken_b)
        else:
            left_a.extend(gap_a)
            left_b.extend(gap_b)
        previous = anchor

    # what gap filling left: the same distinctive text once more on each side is one moved message
    paired_a, paired_b = set(), set()
    for i, j in _moved(left_a, left_b, keys_a, keys_b, loose_a, loose_b):
        status_a[i] = (j, RETIMED if abs(tb[j] - ta[i]) > tol else REORDERED)
        paired_a.add(i)
        paired_b.add(j)

    # a recall event is stamped when it happened, after messages that followed the recalled one
    rest_a = [i for i in left_a if i not in paired_a]
    rest_b = [j for j in left_b if j not in paired_b]
    for i, j in context.recalls(rest_a, rest_b):
        status_a[i] = (j, KIND_CHANGED)
        paired_a.add(i)
        paired_b.add(j)

    pairs = sorted((i, j, status) for i, (j, status) in status_a.items())
    only_a = sorted(i for i in left_a if i not in paired_a)
    only_b = sorted(j for j in left_b if j not in paired_b)
    counts = Counter(status for _, _, status in pairs)
    counts["missing_in_b"] = len(only_a)
    counts["missing_in_a"] = len(only_b)
    return Alignment(pairs, only_a, only_b, offset, dict(mapping), tol, len(spine), dict(counts))


def _moved(
    free_a: Iterable[int], free_b: Iterable[int], keys_a: Sequence[Hashable], keys_b: Sequence[Hashable],
    index_a: Mapping[Hashable, list[int]], index_b: Mapping[Hashable, list[int]],
) -> list[tuple[int, int]]:
    """(i, j) of equal keys that are each the only unpaired one of their key, and distinctive.

    A short text said many times ("好的") deleted here and inserted there are two events, not one
    message that moved; a longer or a once-only text is followed.
    """
    by_key_a: dict[Hashable, list[int]] = defaultdict(list)
    by_key_b: dict[Hashable, list[int]] = defaultdict(list)
    for i in free_a:
        by_key_a[keys_a[i]].append(i)
    for j in free_b:
        by_key_b[keys_b[j]].append(j)
    found = []
    for key, candidates_a in by_key_a.items():
        candidates_b = by_key_b.get(key)
        if not candidates_b or len(candidates_a) != 1 or len(candidates_b) != 1:
            continue
        text_key = key[1:]  # (kind, text): said by anyone
        if len(key[2]) < DISTINCTIVE_CHARS and (len(index_a[text_key]) > 1 or len(index_b[text_key]) > 1):
            continue
        found.append((candidates_a[0], candidates_b[0]))
    return found


def _index(keys: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    found: dict[Hashable, list[int]] = defaultdict(list)
    for position, key in enumerate(keys):
        found[key].append(position)
    return found


def estimate_clock_offset(
    index_a: Mapping[Hashable, list[int]], index_b: Mapping[Hashable, list[int]],
    ta: Sequence[int], tb: Sequence[int], tol: int,
) -> int:
    """B minus A, in ms: the quarter-hour multiple that more texts unique in both copies are apart by
    (to within the tolerance) than any other multiple, zero included; at least two of them."""
    deltas = []
    for key, positions_a in index_a.items():
        if len(positions_a) != 1 or not key[1]:
            continue
        positions_b = index_b.get(key)
        if positions_b is not None and len(positions_b) == 1:
            deltas.append(tb[positions_b[0]] - ta[positions_a[0]])
    if len(deltas) < 2:
        return 0
    # each quarter-hour multiple (0 included) is supported by the deltas that equal it to within the
    # tolerance; re-timed messages scatter, so the clock offset is the one value most deltas share
    slack = max(tol, 1000)
    deltas.sort()
    support: Counter[int] = Counter()
    for quarter in {round(d / QUARTER_HOUR_MS) for d in deltas}:
        offset = quarter * QUARTER_HOUR_MS
        support[offset] = bisect_right(deltas, offset + slack) - bisect_left(deltas, offset - slack)
    ranked = support.most_common(2)
    offset, exact = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    if offset == 0 or abs(offset) > MAX_CLOCK_OFFSET_MS or exact < 2 or exact <= runner_up:
        return 0
    return offset


def _unique_pairs(
    index_a: Mapping[Hashable, list[int]], index_b: Mapping[Hashable, list[int]],
    ta: Sequence[int], tb: Sequence[int], tol: int,
) -> list[tuple[int, int]]:
    """(i, j) with equal keys within ``tol``, each the other's only candidate in that window."""
    pairs: list[tuple[int, int]] = []
    for key, positions_a in index_a.items():
        positions_b = index_b.get(key)
        if positions_b is None:
            continue
        if len(positions_a) == 1 and len(positions_b) == 1:
            i, j = positions_a[0], positions_b[0]
            if abs(tb[j] - ta[i]) <= tol:
                pairs.append((i, j))
            continue
        timed_a = sorted((ta[i], i) for i in positions_a)
        timed_b = sorted((tb[j], j) for j in positions_b)
        times_a = [t for t, _ in timed_a]
        times_b = [t for t, _ in timed_b]
        for t, i in timed_a:
            low = bisect_left(times_b, t - tol)
            if bisect_right(times_b, t + tol) - low != 1:
                continue
            t_b, j = timed_b[low]
            if bisect_right(times_a, t_b + tol) - bisect_left(times_a, t_b - tol) == 1:
                pairs.append((i, j))
    pairs.sort()
    return pairs


def learn_sender_mapping(votes: Counter, senders_a: set[str], senders_b: set[str]) -> dict[str, str]:
    """One-to-one, most votes first; unvoted senders keep their key if the other copy has it free."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for (sender_a, sender_b), _ in sorted(votes.items(), key=lambda item: (-item[1], item[0])):
        if sender_a in mapping or sender_b in taken:
            continue
        mapping[sender_a] = sender_b
        taken.add(sender_b)
    for sender in sorted(senders_a):
        if sender not in mapping and sender in senders_b and sender not in taken:
            mapping[sender] = sender
            taken.add(sender)
    return mapping


def longest_increasing(pairs: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of ``pairs`` (sorted by i, i distinct) with increasing j: patience sorting."""
    tails: list[int] = []  # smallest j ending a run of each length
    tail_at: list[int] = []  # index into pairs of that run's end
    before = [-1] * len(pairs)
    for index, (_, j) in enumerate(pairs):
        length = bisect_left(tails, j)
        if length == len(tails):
            tails.append(j)
            tail_at.append(index)
        else:
            tails[length] = j
            tail_at[length] = index
        before[index] = tail_at[length - 1] if length else -1
    run = []
    index = tail_at[-1] if tail_at else -1
    while index >= 0:
        run.append(pairs[index])
        index = before[index]
    run.reverse()
    return run


class _Context:
    """What gap filling needs, gathered once."""

    def __init__(self, a: Side, b: Side, ta, tb, keys_a, keys_b, mapped, tol: int):
        self.a, self.b, self.ta, self.tb = a, b, ta, tb
        self.keys_a, self.keys_b, self.mapped, self.tol = keys_a, keys_b, mapped, tol

    def score(self, i: int, j: int) -> tuple[float, str] | None:
        """How strongly A[i] and B[j] are one message, and how it differs; None when they are not."""
        a, b = self.a, self.b
        distance = abs(self.tb[j] - self.ta[i])
        near = distance <= self.tol
        # among equally good candidates the nearer in time wins
        closeness = 0.25 * min(1.0, distance / DAY_MS)
        if self.keys_a[i] == self.keys_b[j]:
            return 3.0 - closeness, (MATCHED if near else RETIMED)
        same_sender = self.mapped[i] == b.sender[j]
        if a.kind[i] != b.kind[j]:
            if not (same_sender or not a.sender[i] or not b.sender[j]):
                return None
            if near or self._recalled_later(i, j):
                return 1.2 - closeness, KIND_CHANGED
            return None
        if not same_sender:
            return None
        similarity = fuzz.ratio(a.norm[i], b.norm[j]) / 100.0
        if near or similarity >= SIMILAR:
            return 1.0 + similarity - closeness, ALTERED
        return None

    def _recalled_later(self, i: int, j: int) -> bool:
        """A recall event carries the instant of the recall, which may follow the message by minutes."""
        if self.b.kind[j] == "recall":
            later = self.tb[j] - self.ta[i]
        elif self.a.kind[i] == "recall":
            later = self.ta[i] - self.tb[j]
        else:
            return False
        return 0 <= later <= self.tol + RECALL_WINDOW_MS

    def recalls(self, rest_a: list[int], rest_b: list[int]) -> list[tuple[int, int]]:
        """Unpaired recall events of one copy with the unpaired message they recalled in the other.

        The recalled message is the latest one of the same sender at most the recall window before
        the event (or within the tolerance either way).
        """
        found: list[tuple[int, int]] = []
        for events, messages, event_times, message_times, event_kind, message_kind, flip in (
            (rest_b, rest_a, self.tb, self.ta, self.b.kind, self.a.kind, True),
            (rest_a, rest_b, self.ta, self.tb, self.a.kind, self.b.kind, False),
        ):
            recall_events = [e for e in events if event_kind[e] == "recall"]
            if not recall_events:
                continue
            taken = {pair[0] if flip else pair[1] for pair in found}
            candidates = sorted((message_times[m], m) for m in messages if message_kind[m] != "recall" and m not in taken)
            times = [t for t, _ in candidates]
            for event in recall_events:
                moment = event_times[event]
                low = bisect_left(times, moment - self.tol - RECALL_WINDOW_MS)
                high = bisect_right(times, moment + self.tol)
                for position in range(high - 1, low - 1, -1):
                    message_index = candidates[position][1]
                    if message_index in taken:
                        continue
                    i, j = (message_index, event) if flip else (event, message_index)
                    if self.mapped[i] == self.b.sender[j] or not self.a.sender[i] or not self.b.sender[j]:
                        found.append((i, j))
                        taken.add(message_index)
                        break
        return found

    def fill_gap(self, gap_a: list[int], gap_b: list[int]) -> list[tuple[int, int, str]]:
        """The best order-preserving pairing of two gaps (a weighted longest chain)."""
        if len(gap_a) == 1 and len(gap_b) == 1:
            scored = self.score(gap_a[0], gap_b[0])
            return [(gap_a[0], gap_b[0], scored[1])] if scored else []
        candidates: list[tuple[int, int, float, str]] = []  # (rank a, rank b, score, status)
        if len(gap_a) * len(gap_b) <= FULL_GAP_PAIRS:
            for rank_a, i in enumerate(gap_a):
                for rank_b, j in enumerate(gap_b):
                    scored = self.score(i, j)
                    if scored:
                        candidates.append((rank_a, rank_b, scored[0], scored[1]))
        else:
            candidates = self._sparse_candidates(gap_a, gap_b)
        if not candidates:
            return []
        chain = _heaviest_chain(candidates, len(gap_b))
        return [(gap_a[rank_a], gap_b[rank_b], status) for rank_a, rank_b, _, status in chain]

    def _sparse_candidates(self, gap_a: list[int], gap_b: list[int]) -> list[tuple[int, int, float, str]]:
        by_key: dict[Hashable, list[int]] = defaultdict(list)
        for rank_b, j in enumerate(gap_b):
            by_key[self.keys_b[j]].append(rank_b)
        timed = sorted((self.tb[j], rank_b) for rank_b, j in enumerate(gap_b))
        times = [t for t, _ in timed]
        found = []
        for rank_a, i in enumerate(gap_a):
            ranks = set(by_key.get(self.keys_a[i], ()))
            t = self.ta[i]
            low, high = bisect_left(times, t - self.tol), bisect_right(times, t + self.tol)
            if high - low > WINDOW_CANDIDATES:  # a burst: keep the nearest in time
                middle = bisect_left(times, t)
                low = max(low, middle - WINDOW_CANDIDATES // 2)
                high = min(high, low + WINDOW_CANDIDATES)
            ranks.update(rank_b for _, rank_b in timed[low:high])
            for rank_b in ranks:
                scored = self.score(i, gap_b[rank_b])
                if scored:
                    found.append((rank_a, rank_b, scored[0], scored[1]))
        return found


def _heaviest_chain(candidates: list[tuple[int, int, float, str]], width: int) -> list[tuple[int, int, float, str]]:
    """Max-weight subset strictly increasing in both ranks (Fenwick tree of prefix maxima)."""
    candidates.sort(key=lambda c: (c[0], -c[1]))  # same a: larger b first, so two never chain
    tree_score = [0.0] * (width + 1)
    tree_at = [-1] * (width + 1)
    total = [0.0] * len(candidates)
    before = [-1] * len(candidates)
    for index, (_, rank_b, score, _) in enumerate(candidates):
        best, best_at = 0.0, -1
        position = rank_b  # prefix over ranks < rank_b (1-based positions 1..rank_b)
        while position > 0:
            if tree_score[position] > best:
                best, best_at = tree_score[position], tree_at[position]
            position -= position & -position
        total[index] = best + score
        before[index] = best_at
        position = rank_b + 1
        while position <= width:
            if total[index] > tree_score[position]:
                tree_score[position], tree_at[position] = total[index], index
            position += position & -position
    index = max(range(len(candidates)), key=total.__getitem__)
    chain = []
    while index >= 0:
        chain.append(candidates[index])
        index = before[index]
    chain.reverse()
    return chain


# ---- character diff --------------------------------------------------------------------------

def char_diff(old: str, new: str) -> list[dict[str, str]]:
    """Character-level diff as ``[{op: equal|delete|insert, text}]``, tidied for reading.

    An equal run of one character between two changes is folded into them, so a rewritten
    phrase reads as one deletion and one insertion rather than confetti.
    """
    segments: list[list[str]] = []
    for op in Indel.opcodes(old, new):
        if op.tag == "equal":
            segments.append(["equal", old[op.src_start:op.src_end]])
        elif op.tag == "delete":
            segments.append(["delete", old[op.src_start:op.src_end]])
        elif op.tag == "insert":
            segments.append(["insert", new[op.dest_start:op.dest_end]])
        else:  # replace (not produced by Indel, kept for safety)
            segments.append(["delete", old[op.src_start:op.src_end]])
            segments.append(["insert", new[op.dest_start:op.dest_end]])
    tidy: list[list[str]] = []
    for index, (op, text) in enumerate(segments):
        inner = 0 < index < len(segments) - 1
        if op == "equal" and inner and len(text) == 1 and text.strip():
            tidy.append(["delete", text])
            tidy.append(["insert", text])
            continue
        tidy.append([op, text])
    # merge runs: all deletions then all insertions between two equal runs
    merged: list[dict[str, str]] = []
    pending = {"delete": "", "insert": ""}
    for op, text in tidy:
        if op == "equal":
            for name in ("delete", "insert"):
                if pending[name]:
                    merged.append({"op": name, "text": pending[name]})
                    pending[name] = ""
            if merged and merged[-1]["op"] == "equal":
                merged[-1]["text"] += text
            else:
                merged.append({"op": "equal", "text": text})
        else:
            pending[op] += text
    for name in ("delete", "insert"):
        if pending[name]:
            merged.append({"op": name, "text": pending[name]})
    return merged
