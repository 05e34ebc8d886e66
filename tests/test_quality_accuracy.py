"""Each NLP part measured on the hand-labelled sets (chataudit/quality/data/labelled/); the README's
accuracy table comes from `python -m chataudit.quality.accuracy`. Floors guard against regressions."""

from __future__ import annotations

from chataudit.quality import accuracy, config, nlp


def test_measured_precision_and_recall_hold():
    r = accuracy.measure()
    s = r["sentiment (lexicon, default)"]
    assert s["n"] >= 70 and s["accuracy"] >= 0.9
    assert s["neg"]["precision"] >= 0.9 and s["neg"]["recall"] >= 0.9
    assert r["typos"]["precision"] >= 0.8 and r["typos"]["recall"] >= 0.8
    assert r["sensitive words"]["precision"] >= 0.85 and r["sensitive words"]["recall"] >= 0.95
    assert r["scripts (near match)"]["precision"] >= 0.95 and r["scripts (near match)"]["recall"] >= 0.95
    assert r["topics (taxonomy)"]["precision"] >= 0.95 and r["topics (taxonomy)"]["recall"] >= 0.9


def test_lexicon_details():
    analyzer = nlp.Analyzer(config.load_lexicons())
    assert analyzer.sentiment("不满意") < 0 and analyzer.sentiment("满意") > 0  # negation flips
    assert [c for c, _, _ in analyzer.sensitive_hits("这个滚筒洗衣机")] == []  # 滚筒 is not 滚
    assert [c for c, _, _ in analyzer.sensitive_hits("USB线")] == []  # latin words stand alone
    assert [w for _, w, _ in analyzer.sensitive_hits("打１２３１５投诉")] == ["12315", "投诉"]  # full-width digits
    assert analyzer.typo_hits("我得先确认一下") == []  # děi, not a typo
    assert analyzer.flags("快递到哪了？") & nlp.QUESTION
