"""Folding that dodges do not get past, with offsets that point at what was written."""

from __future__ import annotations

import pickle

from hypothesis import given, settings, strategies as st

from chataudit.supervision import normalize, policies
from chataudit.supervision.matcher import Matcher

SEPARATORS = [" ", "*", "-", "_", ".", "\u200b", "\u3000", "·", "~", "😀", "|", "/"]
TEXT = st.text(alphabet=st.sampled_from(list("违约赔偿投诉加我微信ab xyzＡＢ１違約賠償，。！\n\t*-_.\u200b😀") +
                                        [chr(c) for c in range(0x4E00, 0x4E20)]), max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_fold_map_folds_as_fold_does_and_each_character_has_its_origin(text: str) -> None:
    folded, origin = normalize.fold_map(text)
    assert folded == normalize.fold(text)
    assert len(origin) == len(folded)
    assert origin == sorted(origin)
    assert all(0 <= i < len(text) for i in origin)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_offsets_of_a_chinese_text_point_at_the_written_characters(text: str) -> None:
    folded, origin = normalize.fold_map(text)
    for index, char in enumerate(folded):
        written = text[origin[index]]
        if char not in (normalize.BOUNDARY, " "):
            assert normalize.fold(written) == char


TERMS = ["违约", "私下转账", "保证收益", "回扣"]
MATCHER = Matcher({"policies": [{"name": "p", "category": "c", "label": "c", "severity": "low", "enabled": True,
                                 "description": "", "scope": {"senders": "any", "chats": "any", "platforms": []},
                                 "rules": [{"kind": "lexicon", "except": [], "not_after": [],
                                            "terms": [{"term": t, "initials": [], "syllables": []} for t in TERMS]}]}]})


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(TERMS), st.lists(st.sampled_from(SEPARATORS), min_size=0, max_size=3),
       st.text(alphabet="您好请问订单号是多少谢谢", max_size=8), st.text(alphabet="您好请问订单号是多少谢谢", max_size=8),
       st.booleans())
def test_a_term_with_symbols_inside_is_found_and_points_at_what_was_written(term: str, gaps: list[str], before: str,
                                                                            after: str, traditional: bool) -> None:
    spelled = term[0] + "".join(gaps) + term[1:]
    if traditional:
        spelled = spelled.replace("违", "違").replace("约", "約").replace("转", "轉").replace("账", "賬")
    text = before + spelled + after
    hits = [h for h in MATCHER.evaluate(text) if h.rule == term]
    assert hits, text
    hit = hits[0]
    assert text[hit.start:hit.end] == hit.matched == spelled


def test_boundaries_are_not_crossed() -> None:
    assert normalize.fold("回\n扣") == "回\n扣"  # a new line is a new thought
    assert normalize.fold("违" + " " * (normalize.MAX_GAP + 1) + "约") == "违\n约"  # so is a long gap
    assert normalize.fold("寄回，扣了运费") == "寄回，扣了运费"  # a clause break stays
    assert normalize.fold("违 约") == "违约" and normalize.fold("違-約") == "违约" and normalize.fold("ＶＸ") == "vx"
    assert normalize.fold("u sb") == "u sb" and normalize.fold("v x") == "vx"  # words stay apart, letters join


def test_the_default_policy_catches_dodges_and_keeps_except_working() -> None:
    matcher = Matcher(policies.default_definition())

    def rules(text: str, sender: str = "agent") -> set[str]:
        return {h.rule for h in matcher.evaluate(text, sender=sender, external=True)}

    assert "违约" in rules("你们违 约了") and "违约" in rules("違約") and "违约" in rules("违*约")
    assert "投诉" in rules("我要TS你们") and "投诉" in rules("我要ｔｏｕｓｕ")
    assert "加我微信" in rules("加我wx") or "加我wx" in rules("加我wx")
    assert "加v" in rules("加V 123")
    assert "滚" not in rules("滚筒洗衣机") and "回扣" not in rules("寄回扣了运费")
    assert not rules("请勿私下转账") and not rules("我们不能保证收益")
    assert "sb" not in rules("USB接口") and not rules("订单4123156")
    assert rules("你们保证收益吗", sender="customer") == set()  # promises are an agent's


def test_a_matcher_pickles_as_its_definition() -> None:
    matcher = Matcher(policies.default_definition())
    again = pickle.loads(pickle.dumps(matcher))
    text = "加我vx详聊，保证收益"
    assert again.evaluate(text, sender="agent") == matcher.evaluate(text, sender="agent")


DEFAULT = Matcher(policies.default_definition())
PIECES = st.sampled_from(["违 约", "違約", "加我wx", "jia wo wei xin", "TS", "ts", "保证收益", "请勿私下转账", "一定",
                          "退款", "回*扣", "寄回扣", "sb", "usb", "12315", "13812345678", "+V", "，", "。", "\n", " ",
                          "您好", "订单", "abc", "ｗｘ", "😀", "\u200b", "E12345678", "护照", "转到我个人支付宝"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(PIECES, max_size=6).map("".join), min_size=1, max_size=12))
def test_the_batch_prefilter_never_drops_a_message_that_hits(texts: list[str]) -> None:
    chosen = dict(DEFAULT.candidates(texts))
    for index, text in enumerate(texts):
        if DEFAULT.evaluate(text, sender="unknown", external=True):
            assert index in chosen, (index, text)
            folded = chosen[index]
            if folded is not None:
                assert folded == normalize.fold(text)
                assert DEFAULT.evaluate(text, folded=folded) == DEFAULT.evaluate(text)
