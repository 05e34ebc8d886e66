"""Precision and recall of each NLP part on the hand-labelled sets in ``data/labelled/``.

    python -m chataudit.quality.accuracy [--sighan PATH]

``--sighan`` also scores the typo checker on SIGHAN-15's test set (the ``sighan2015_test.tsv``
that pycorrector's wheel ships: wrong<TAB>right sentence pairs, learners' essays — not chat).
"""

from __future__ import annotations

import sys
from collections import Counter
from importlib import resources
from typing import Any

from . import config, nlp
from .scripts import ScriptMatcher
from .topics import TopicFinder


def _rows(name: str) -> list[list[str]]:
    text = (resources.files(__package__) / "data" / "labelled" / name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


def _pr(tp: int, fp: int, fn: int) -> dict[str, Any]:
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return {"tp": tp, "fp": fp, "fn": fn,
            "precision": None if precision is None else round(precision, 3),
            "recall": None if recall is None else round(recall, 3)}


def sentiment(analyzer: nlp.Analyzer, threshold: float = 0.2) -> dict[str, Any]:
    rows = _rows("sentiment.tsv")
    predicted = []
    for label, text in rows:
        score = analyzer.sentiment(text)
        predicted.append((label, "pos" if score > threshold else "neg" if score < -threshold else "neu"))
    out = {}
    for cls in ("neg", "pos"):
        tp = sum(1 for g, p in predicted if g == cls and p == cls)
        fp = sum(1 for g, p in predicted if g != cls and p == cls)
        fn = sum(1 for g, p in predicted if g == cls and p != cls)
        out[cls] = _pr(tp, fp, fn)
    out["accuracy"] = round(sum(g == p for g, p in predicted) / len(predicted), 3)
    out["n"] = len(predicted)
    return out


def typos(analyzer: nlp.Analyzer) -> dict[str, Any]:
    tp = fp = fn = 0
    rows = _rows("typos.tsv")
    for row in rows:
        text, gold = row[0], (row[1] if len(row) > 1 else "")
        expected = Counter(tuple(p.split(">")) for p in gold.split(",") if p)
        found = Counter((w, r) for w, r, _ in analyzer.typo_hits(text))
        tp += sum((expected & found).values())
        fp += sum((found - expected).values())
        fn += sum((expected - found).values())
    return {**_pr(tp, fp, fn), "n": len(rows)}


def sighan(analyzer: nlp.Analyzer, path: str) -> dict[str, Any]:
    """Sentence-level detection on SIGHAN-15: a sentence with an error counts as found when the
    checker flags anything in it; a flag in a correct sentence is a false positive."""
    tp = fp = fn = 0
    count = 0
    for line in open(path, encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 2:
            continue
        wrong, right = parts[0], parts[1]
        count += 1
        flagged = bool(analyzer.typo_hits(wrong))
        if wrong != right:
            tp += flagged
            fn += not flagged
        else:
            fp += flagged
    return {**_pr(tp, fp, fn), "n": count}


def sensitive(analyzer: nlp.Analyzer) -> dict[str, Any]:
    tp = fp = fn = 0
    rows = _rows("sensitive.tsv")
    for categories, role, text in rows:
        expected = set() if categories == "-" else set(categories.split(","))
        who = {name: spec.get("who", "any") for name, spec in analyzer.lexicons.sensitive.items()}
        found = {c for c, _, _ in analyzer.sensitive_hits(text) if who.get(c, "any") in ("any", role)}
        tp += len(expected & found)
        fp += len(found - expected)
        fn += len(expected - found)
    return {**_pr(tp, fp, fn), "n": len(rows)}


def scripts() -> dict[str, Any]:
    matcher = ScriptMatcher(config.load_scripts(None))
    tp = fp = fn = 0
    rows = _rows("scripts.tsv")
    for category, used, text in rows:
        hit = matcher.matches(category, text)
        tp += hit and used == "1"
        fp += hit and used == "0"
        fn += (not hit) and used == "1"
    return {**_pr(tp, fp, fn), "n": len(rows)}


def topics() -> dict[str, Any]:
    finder = TopicFinder(config.load_taxonomy(None))
    rows = _rows("topics.tsv")
    right = sum(1 for topic, text in rows if finder.classify(text) == topic)
    filed = sum(1 for _, text in rows if finder.classify(text) is not None)
    return {**_pr(right, filed - right, len(rows) - right), "n": len(rows)}


def measure(sighan_path: str | None = None) -> dict[str, Any]:
    lexicons = config.load_lexicons()
    full = nlp.Analyzer(lexicons)  # the default: lexicon only
    result = {"sentiment (lexicon, default)": sentiment(full)}
    try:
        snow = nlp.SnowBayes()
    except RuntimeError:  # snownlp not installed: only the default is measured
        snow = None
    if snow is not None:
        class SnowOnly:
            def sentiment(self, text: str) -> float:
                return (snow.classify(text) - 0.5) * 2

        result["sentiment (lexicon + snownlp fallback)"] = sentiment(nlp.Analyzer(lexicons, use_snownlp=True))
        result["sentiment (snownlp alone)"] = sentiment(SnowOnly())  # type: ignore[arg-type]
    result.update({
        "typos": typos(full),
        "sensitive words": sensitive(full),
        "scripts (near match)": scripts(),
        "topics (taxonomy)": topics(),
    })
    if sighan_path:
        result["typos on SIGHAN-15 (sentences)"] = sighan(full, sighan_path)
    return result


def main(argv: list[str]) -> None:
    path = argv[argv.index("--sighan") + 1] if "--sighan" in argv else None
    print("| part | n | precision | recall | notes |\n| --- | --- | --- | --- | --- |")
    for name, r in measure(path).items():
        if "neg" in r:
            print(f"| {name} | {r['n']} | neg {r['neg']['precision']} / pos {r['pos']['precision']} | "
                  f"neg {r['neg']['recall']} / pos {r['pos']['recall']} | accuracy {r['accuracy']} (3 classes) |")
        else:
            print(f"| {name} | {r['n']} | {r['precision']} | {r['recall']} | tp {r['tp']}, fp {r['fp']}, fn {r['fn']} |")


if __name__ == "__main__":
    main(sys.argv[1:])
