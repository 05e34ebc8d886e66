"""Per-message NLP: sentiment, typos, sensitive words, questions, confirmations, politeness.

All offline, all from editable lexicons (``data/``): multi-word lookups run on Aho-Corasick
automata (pyahocorasick); 的/地/得 misuse is found by a few explicit patterns. Sentiment is the
lexicon's; snownlp's naive-Bayes model (trained on product reviews) can fill in messages without a
lexicon word (``use_snownlp``), but on labelled service chats it lowers accuracy (it reads plain
questions as negative — README accuracy table), so it is off by default. Results are cached per message content hash and analyzer
version in ``quality_nlp``, so a second report only analyses new messages.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from dataclasses import dataclass
from typing import Iterable

import ahocorasick
import orjson

from ..store.sqlite import BUSY_SNAPSHOT, OPERATIONAL_ERRORS
from .config import Lexicons

CODE_VERSION = "1"  # bump when the analysis below changes: the cache is keyed on it

QUESTION, CONFIRM, POLITE, CURT = 1, 2, 4, 8

LATIN = re.compile(r"[a-z0-9]")


def normalize(text: str) -> str:
    """NFKC (full-width digits and latin become ASCII) and lower case: what lexicons match against."""
    return unicodedata.normalize("NFKC", str(text)).lower()


@dataclass(frozen=True)
class Analysis:
    sentiment: float  # -1 .. 1
    flags: int
    typos: tuple[tuple[str, str, int], ...]  # (wrong, right, offset)
    sensitive: tuple[tuple[str, str, int], ...]  # (category, word, offset)

    @property
    def question(self) -> bool:
        return bool(self.flags & QUESTION)


def _automaton(entries: Iterable[tuple[str, object]]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    count = 0
    for word, value in entries:
        if word:
            automaton.add_word(word, (word, value))
            count += 1
    if count == 0:
        automaton.add_word("\x00", ("\x00", None))
    automaton.make_automaton()
    return automaton


def _longest_matches(automaton: ahocorasick.Automaton, text: str) -> list[tuple[int, str, object]]:
    """Non-overlapping matches, longest first at each position; latin words must stand alone."""
    found = []
    for end, (word, value) in automaton.iter(text):
        start = end - len(word) + 1
        if LATIN.match(word[0]) and start > 0 and LATIN.match(text[start - 1]):
            continue
        if LATIN.match(word[-1]) and end + 1 < len(text) and LATIN.match(text[end + 1]):
            continue
        found.append((start, word, value))
    found.sort(key=lambda m: (m[0], -len(m[1])))
    chosen, reach = [], -1
    for start, word, value in found:
        if start > reach:
            chosen.append((start, word, value))
            reach = start + len(word) - 1
    return chosen


_DEGREE = "很|非常|太|特别|挺|十分|比较|相当|更加|这么|那么|真"
_VERBS = ("处理|解决|回复|说|讲|写|做|弄|办|修|改|查|算|想|等|卖|用|洗|穿|跑|发|送|来|变|长|学|过|解释|安排"
          "|包装|设计|打包|配送|做工|恢复|更新|完成|准备|考虑|了解|理解")
_ADVERBIAL = "尽快|耐心|认真|仔细|及时|积极|努力|热情|主动|详细|快速|迅速|高效|不断|慢慢|好好|稍微|准确|妥善|尽量|全力"
_ACTIONS = ("处理|解答|解决|回复|核实|查询|跟进|为您|帮您|给您|说明|解释|检查|确认|安排|沟通|对待|联系|反馈|记录"
            "|登记|催促|协调|补发|退款|办理")
_PRONOUNS = "我们|你们|他们|她们|咱们|我|你|您|他|她"
_NOUNS = ("订单|快递|包裹|问题|商品|宝贝|衣服|东西|账号|账户|地址|退款|发票|电话|手机|意思|心情|反馈|需求|要求"
          "|建议|情况|申请|售后|物流|货|钱|款|名字|信息")

# (pattern, group holding the wrong character, right character) — 的/地/得 as grammar books teach it
DDD_RULES = [
    (re.compile(f"(?:{_VERBS})(的)(?:{_DEGREE})"), "得"),                      # 处理的很快 → 处理得很快
    (re.compile(f"(?:说|讲|写|做|弄|算|猜|想)(的)(?:对|没错|不错)(?=[，。！？,.!?~\\s]|$)"), "得"),  # 说的对 → 说得对
    (re.compile(f"(?:{_PRONOUNS})(得)(?:{_NOUNS})"), "的"),                    # 您得订单 → 您的订单
    (re.compile(f"(?:{_PRONOUNS})(地)(?!址|方|区|点|图|铁|板|毯|上|下|里)"), "的"),  # 我地订单 → 我的订单
    (re.compile(f"(?:{_ADVERBIAL})(的|得)(?:{_ACTIONS})"), "地"),              # 尽快的处理 → 尽快地处理
]


class SnowBayes:
    """snownlp's sentiment model (naive Bayes over words, shipped in the package) with jieba's words.

    snownlp's own character-based segmenter costs ~4 ms a message and importing the package loads
    every model it has, so only the model file and stop words are read (no import of snownlp) and
    jieba segments — ~20× faster; the classifier's arithmetic is snownlp's (add-one smoothing).
    """

    def __init__(self) -> None:
        import gzip
        import importlib.util
        import marshal
        from pathlib import Path

        spec = importlib.util.find_spec("snownlp")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("snownlp is not installed")
        root = Path(list(spec.submodule_search_locations)[0])
        with gzip.open(root / "sentiment" / "sentiment.marshal.3", "rb") as handle:
            model = marshal.loads(handle.read())
        self.total = model["total"]
        self.classes = {name: (c["d"], c["total"], c["none"]) for name, c in model["d"].items()}
        self.stop = set((root / "normal" / "stopwords.txt").read_text(encoding="utf-8").split())

    def classify(self, text: str) -> float:
        """Probability that the text is positive (0..1)."""
        import math

        import jieba

        words = [w for w in jieba.lcut(text) if w not in self.stop]
        scores = {}
        for name, (counts, total, none) in self.classes.items():
            score = math.log(total) - math.log(self.total)
            for word in words:
                score += math.log(counts.get(word, none) / total)
            scores[name] = score
        try:
            return 1.0 / (1.0 + math.exp(scores["neg"] - scores["pos"]))
        except OverflowError:
            return 0.0


class Analyzer:
    """One set of lexicons compiled once; :meth:`analyze` is a pure function of the text."""

    def __init__(self, lexicons: Lexicons, use_snownlp: bool = False):
        self.lexicons = lexicons
        self.version = f"{CODE_VERSION}-{lexicons.fingerprint}-{'s' if use_snownlp else 'l'}"
        sentiment = lexicons.sentiment
        weights: list[tuple[str, float]] = []
        for sign, key in ((1, "positive"), (-1, "negative")):
            for weight, words in (sentiment.get(key) or {}).items():
                weights.extend((normalize(w), sign * float(weight)) for w in words)
        self.sentiment_words = _automaton(weights)
        self.negations = tuple(normalize(w) for w in sentiment.get("negation") or [])
        self.curt = _automaton((normalize(w), 1) for w in sentiment.get("agent_negative") or [])
        self.polite = _automaton((normalize(w), 1) for w in sentiment.get("agent_polite") or [])
        resolution = lexicons.resolution
        self.confirm = _automaton((normalize(w), 1) for w in resolution.get("confirm") or [])
        self.question_markers = _automaton((normalize(w), 1) for w in resolution.get("question_markers") or [])
        sensitive_entries = []
        self.exceptions: list[str] = []
        for category, spec in lexicons.sensitive.items():
            sensitive_entries.extend((normalize(w), category) for w in spec["words"])
            self.exceptions.extend(normalize(w) for w in spec.get("except") or [])
        self.sensitive = _automaton(sensitive_entries)
        self.typos = _automaton((wrong, right) for wrong, right in lexicons.typos)
        self.snownlp = SnowBayes() if use_snownlp else None

    # ---- parts ------------------------------------------------------------------------------

    def sentiment(self, text: str) -> float:
        norm = normalize(text)
        score, hits = 0.0, 0
        for start, word, weight in _longest_matches(self.sentiment_words, norm):
            before = norm[max(0, start - 2):start]
            negated = any(before.endswith(n) for n in self.negations)
            score += -weight if negated else weight
            hits += 1
        if hits:
            return max(-1.0, min(1.0, score))
        if self.snownlp is not None and re.search(r"[\u4e00-\u9fff]", text):
            # no lexicon word: the Bayes model's leaning, damped (it was trained on reviews, and
            # plain questions lean negative there)
            probability = self.snownlp.classify(text)
            return round(max(-1.0, min(1.0, (probability - 0.5) * 0.6)), 4)
        return 0.0

    def typo_hits(self, text: str) -> list[tuple[str, str, int]]:
        hits = [(word, right, start) for start, word, right in _longest_matches(self.typos, text)]
        for pattern, right in DDD_RULES:
            for match in pattern.finditer(text):
                hits.append((match.group(1), right, match.start(1)))
        return sorted(set(hits), key=lambda h: h[2])

    def sensitive_hits(self, text: str) -> list[tuple[str, str, int]]:
        norm = normalize(text)
        hits = []
        for start, word, category in _longest_matches(self.sensitive, norm):
            if any(_covers(norm, exception, start, len(word)) for exception in self.exceptions):
                continue
            hits.append((category, word, start))
        return hits

    def flags(self, text: str) -> int:
        norm = normalize(text).strip()
        flags = 0
        if norm.endswith(("?", "？")) or "?" in norm or _longest_matches(self.question_markers, norm):
            flags |= QUESTION
        if _longest_matches(self.confirm, norm):
            flags |= CONFIRM
        if _longest_matches(self.polite, norm):
            flags |= POLITE
        if _longest_matches(self.curt, norm):
            flags |= CURT
        return flags

    def analyze(self, text: str) -> Analysis:
        return Analysis(round(self.sentiment(text), 4), self.flags(text), tuple(self.typo_hits(text)),
                        tuple(self.sensitive_hits(text)))


def _covers(text: str, exception: str, start: int, length: int) -> bool:
    """Does an occurrence of ``exception`` in ``text`` contain the match at start..start+length?"""
    lo = max(0, start + length - len(exception))
    position = text.find(exception, lo)
    return position != -1 and position <= start and position + len(exception) >= start + length


class Cache:
    """NLP results per (content hash, analyzer version) in the archive's ``quality_nlp`` table.

    New analyses are held (up to :data:`FLUSH_ROWS`) and written sorted by content hash, in one
    transaction, not a batch at a time: content hashes are random, so a batch of 20,000 written to a
    table of millions touched a page per row (a 10M-message report wrote 44 GB of WAL while its read
    was open). Sorted, a write touches each page once."""

    FLUSH_ROWS = 500_000

    def __init__(self, db: sqlite3.Connection, analyzer: Analyzer):
        self.db, self.analyzer = db, analyzer
        self.analyzed = 0
        self.cached = 0
        self.unsaved = 0  # analysed but not cached (another writer moved the archive past this read)
        self.pending: dict[bytes, Analysis] = {}  # analysed, not yet written

    def lookup(self, hashes: list[bytes]) -> dict[bytes, Analysis]:
        found: dict[bytes, Analysis] = {}
        for i in range(0, len(hashes), 900):
            chunk = hashes[i:i + 900]
            rows = self.db.execute(
                f"SELECT content_hash, sentiment, flags, typos, sensitive FROM quality_nlp"
                f" WHERE analyzer = ? AND content_hash IN ({','.join('?' * len(chunk))})",
                [self.analyzer.version, *chunk],
            ).fetchall()
            for h, sentiment, flags, typos, sensitive in rows:
                found[h] = Analysis(sentiment, flags,
                                    tuple(tuple(t) for t in orjson.loads(typos)) if typos else (),
                                    tuple(tuple(s) for s in orjson.loads(sensitive)) if sensitive else ())
        return found

    def analyze_all(self, items: list[tuple[bytes, str]]) -> dict[bytes, Analysis]:
        """Analyses for (content hash, text) pairs: cached ones read, the rest computed (and kept
        for :meth:`flush`, which runs by itself every :data:`FLUSH_ROWS`)."""
        wanted = list({h: None for h, _ in items})
        results = {h: self.pending[h] for h in wanted if h in self.pending}
        results.update(self.lookup([h for h in wanted if h not in results]))
        self.cached += len(results)
        seen_text: dict[str, Analysis] = {}
        for h, text in items:
            if h in results:
                continue
            analysis = seen_text.get(text) or self.analyzer.analyze(text)
            seen_text[text] = analysis
            results[h] = analysis
            self.pending[h] = analysis
            self.analyzed += 1
        if len(self.pending) >= self.FLUSH_ROWS:
            self.flush()
        return results

    def flush(self) -> None:
        """Write the held analyses, in content-hash order, in one transaction. From a read snapshot
        another writer has moved past (a second `quality`), they are counted unsaved, not retried."""
        if not self.pending:
            return
        version = self.analyzer.version
        rows = [(h, version, a.sentiment, a.flags, orjson.dumps(a.typos).decode() if a.typos else None,
                 orjson.dumps(a.sensitive).decode() if a.sensitive else None) for h, a in sorted(self.pending.items())]
        self.pending = {}
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except OPERATIONAL_ERRORS as error:
            if getattr(error, "sqlite_errorcode", None) != BUSY_SNAPSHOT:
                raise
            # this connection is streaming texts from a snapshot another writer has since moved
            # past: the cache is only a cache, the analyses stand
            self.unsaved += len(rows)
            return
        try:
            self.db.executemany("INSERT OR REPLACE INTO quality_nlp (content_hash, analyzer, sentiment, flags, typos,"
                                " sensitive) VALUES (?, ?, ?, ?, ?, ?)", rows)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
