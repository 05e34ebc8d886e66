"""Top customer questions: filed under a taxonomy's topics, the rest grouped by their key words."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

import ahocorasick
import jieba

jieba.setLogLevel(logging.WARNING)

_NOISE = re.compile(r"#\d+|\d{4,}|[\W_]+", re.UNICODE)
# words that carry no topic: question forms, pronouns, politeness, particles
STOP = set("""请问 你好 您好 一下 这个 那个 什么 怎么 怎么办 怎样 如何 多少 为什么 为啥 可以 能不能 可不可以 是不是
有没有 我们 你们 他们 我的 你的 您的 现在 还是 已经 还有 就是 一个 没有 知道 时候 啥时候 吗 呢 吧 啊 了 的 我 你 您 他
她 它 是 在 有 和 要 想 能 会 就 都 也 还 又 再 很 太 好 不 没 给 让 把 被 这 那 哪 谁 几 个 下 上 中 里 去 来 到 说 问
亲 哦 呀 嗯 好的 谢谢 麻烦 帮 帮忙 一直 到底 今天 明天 昨天 the a an is are my your to of and or it i you we what when
where how why can could please""".split())


def keywords(text: str) -> list[str]:
    cleaned = _NOISE.sub(" ", unicodedata.normalize("NFKC", text).lower())
    return [w for w in jieba.lcut(cleaned) if len(w.strip()) > 1 and w not in STOP]


@dataclass
class Topic:
    name: str
    source: str  # taxonomy | discovered
    keywords: list[str]
    count: int = 0
    texts: Counter = field(default_factory=Counter)
    sessions: list[str] = field(default_factory=list)


class TopicFinder:
    def __init__(self, taxonomy: dict[str, list[str]]):
        self.taxonomy = taxonomy
        self.order = {name: i for i, name in enumerate(taxonomy)}
        owners: dict[str, tuple[str, ...]] = {}
        for name, words in taxonomy.items():
            for word in words:
                key = unicodedata.normalize("NFKC", str(word)).lower()
                owners[key] = owners.get(key, ()) + (name,)
        automaton = ahocorasick.Automaton()
        for key, names in (owners or {"\x00": ()}).items():
            automaton.add_word(key, (key, names))
        automaton.make_automaton()
        self.automaton = automaton

    def classify(self, text: str) -> str | None:
        """The taxonomy topic with the most key-word hits in the text (ties: the one listed first)."""
        norm = unicodedata.normalize("NFKC", text).lower()
        hits: Counter = Counter()
        for _, (word, names) in self.automaton.iter(norm):
            for name in names:
                hits[name] += 1
        if not hits:
            return None
        return min(hits, key=lambda n: (-hits[n], self.order[n]))

    def group(self, questions: list[tuple[str, str, str | None, list[str] | None]],
              top: int) -> tuple[list[dict], dict[str, str]]:
        """(text, session id, taxonomy topic, key words) -> the top topics, and each session's first topic.
        Each question comes filed where it was found (``TextFold``: on Spark, the executors) — its
        taxonomy topic (:meth:`classify`), or when it has none its :func:`keywords` — so that grouping
        here is only counting."""
        topics: dict[str, Topic] = {}
        unfiled: list[tuple[str, str, list[str]]] = []
        session_topic: dict[str, str] = {}
        for text, session, name, words in questions:
            if name is None:
                if words:
                    unfiled.append((text, session, words))
                continue
            topic = topics.setdefault(name, Topic(name, "taxonomy", list(self.taxonomy[name])))
            _add(topic, text, session)
            session_topic.setdefault(session, name)
        for topic in discover(unfiled):
            topics[topic.name] = topic
            for session in topic.sessions:
                session_topic.setdefault(session, topic.name)
        total = sum(t.count for t in topics.values()) or 1
        ranked = sorted(topics.values(), key=lambda t: (-t.count, t.name))[:top]
        return [
            {"topic": t.name, "source": t.source, "keywords": t.keywords[:8], "count": t.count,
             "share": round(t.count / total, 4),
             "examples": [{"text": x, "count": n} for x, n in t.texts.most_common(3)],
             "sessions": list(dict.fromkeys(t.sessions))}
            for t in ranked
        ], session_topic


def _add(topic: Topic, text: str, session: str) -> None:
    topic.count += 1
    topic.texts[_NOISE.sub(" ", text).strip() or text] += 1
    topic.sessions.append(session)


def discover(unfiled: list[tuple[str, str, list[str]]]) -> list[Topic]:
    """Near-duplicate questions merged: grouped by their two most frequent key words."""
    frequency = Counter(w for _, _, words in unfiled for w in set(words))
    # 直播间 and 直播 are one key word: a word containing a shorter frequent one becomes that one —
    # the shortest, then the most frequent, then the first in code-point order: a total order (ties
    # once fell to the order of a set of strings, which changes with every process's hash seed)
    frequent = sorted((w for w, n in frequency.items() if n >= 2), key=lambda w: (len(w), -frequency[w], w))
    canonical = {}
    for word in frequency:
        canonical[word] = next((v for v in frequent if len(v) >= 2 and v != word and v in word), word)
    unfiled = [(text, session, [canonical[w] for w in words]) for text, session, words in unfiled]
    frequency = Counter(w for _, _, words in unfiled for w in set(words))
    groups: dict[tuple[str, ...], Topic] = {}
    for text, session, words in unfiled:
        ranked = sorted(set(words), key=lambda w: (-frequency[w], w))
        key = tuple(sorted(ranked[:2]))
        topic = groups.get(key)
        if topic is None:
            topic = groups[key] = Topic("/".join(key), "discovered", list(key))
        _add(topic, text, session)
    return [t for t in groups.values() if t.count >= 2]
