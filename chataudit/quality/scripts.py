"""Standard-script use: did an agent say the greeting first, the closing last, … as people type them."""

from __future__ import annotations

import functools
import re
import unicodedata

from rapidfuzz import fuzz

from .config import ScriptCategory

# what people change when they type a script: punctuation, spaces, emoji, 您/你, modal particles
_DROP = re.compile(r"[\W_]+|[哦呢呀啊哈嘛噢~～]", re.UNICODE)
THRESHOLD = 80.0  # rapidfuzz partial_ratio, 0-100; chosen on the labelled set (README accuracy table)


@functools.lru_cache(maxsize=1 << 16)  # agents repeat their quick replies: most texts come back
def normalize_script(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("您", "你")
    return _DROP.sub("", text)


class ScriptMatcher:
    def __init__(self, categories: list[ScriptCategory], threshold: float = THRESHOLD):
        self.categories = categories
        self.threshold = threshold
        self.normalized = {c.name: [normalize_script(t) for t in c.texts if normalize_script(t)] for c in categories}
        self._matches: dict[tuple[str, str], bool] = {}  # (category, text) -> matches(); a pure function

    def similarity(self, script: str, text: str, message: str | None = None) -> float:
        """How well a message contains a (normalized) script: 0-100."""
        message = normalize_script(text) if message is None else message
        if not script or not message:
            return 0.0
        if len(message) < 0.6 * len(script):  # a fragment ("您好") is not the whole greeting
            return 0.0
        return fuzz.partial_ratio(script, message)

    def matches(self, category: str, text: str) -> bool:
        key = (category, text)
        found = self._matches.get(key)
        if found is None:
            message = normalize_script(text)
            found = any(self.similarity(s, text, message) >= self.threshold for s in self.normalized.get(category, ()))
            if len(self._matches) < 1 << 18:
                self._matches[key] = found
        return found

    def used(self, first_agent_text: str | None, last_agent_texts: list[str], agent_texts: list[str]) -> dict[str, bool]:
        """Per category: used where its position asks for it."""
        result = {}
        for category in self.categories:
            if category.position == "first":
                candidates = [first_agent_text] if first_agent_text else []
            elif category.position == "last":
                candidates = last_agent_texts
            else:
                candidates = agent_texts
            result[category.name] = any(self.matches(category.name, t) for t in candidates)
        return result
