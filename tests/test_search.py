"""Search: Chinese of any length, latin words, phrases, exclusion, filters, ranking."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chataudit.errors import ChatAuditError
from chataudit.model import Message
from chataudit.search import highlights, parse_query, search_messages, snippet
from chataudit.store import Archive, SourceInfo
from chataudit.textindex import index_body

CST = timezone(timedelta(hours=8))
TEXTS = [
    ("wechat", "客服", "您好，请问有什么可以帮您？"),
    ("wechat", "王女士", "我想退货，衣服有瑕疵"),
    ("wechat", "客服", "好的，已为您办理退货退款"),
    ("telegram", "Tom", "Where is my refund? The refund policy says 7 days."),
    ("telegram", "客服", "如果违约，我们会按合同赔偿"),
    ("whatsapp", "Ana", "Pedido entregue, obrigado! 👍"),
    ("wechat", "王女士", "赔"),
]


@pytest.fixture
def filled(archive: Archive) -> Archive:
    records = [
        Message(platform=p, conversation_id=f"{p}-1", sender_id=s, sender_name=s, text=t,
                sent_at=datetime(2026, 3, 12, 9, i, tzinfo=CST))
        for i, (p, s, t) in enumerate(TEXTS)
    ]
    archive.import_records(SourceInfo("s", "0" * 64, 1, "test"), records)
    return archive


def texts(rows) -> list[str]:
    return [r["text"] for r in rows]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("退货", {"我想退货，衣服有瑕疵", "好的，已为您办理退货退款"}),
        ("赔", {"如果违约，我们会按合同赔偿", "赔"}),
        ("违约", {"如果违约，我们会按合同赔偿"}),
        ("按合同赔偿", {"如果违约，我们会按合同赔偿"}),
        ("退货退款", {"好的，已为您办理退货退款"}),
        ("refund", {"Where is my refund? The refund policy says 7 days."}),
        ('"refund policy"', {"Where is my refund? The refund policy says 7 days."}),
        ('"policy refund"', set()),
        ("REFUND", {"Where is my refund? The refund policy says 7 days."}),
        ("退货 -瑕疵", {"好的，已为您办理退货退款"}),
        ("瑕疵 OR 违约", {"我想退货，衣服有瑕疵", "如果违约，我们会按合同赔偿"}),
        ("obrigado", {"Pedido entregue, obrigado! 👍"}),
        ("款退", set()),  # order matters: not a substring anywhere
    ],
)
def test_query_classes(filled: Archive, query: str, expected: set[str]) -> None:
    assert set(texts(search_messages(filled, query))) == expected


def test_newest_first_and_limit(filled: Archive) -> None:
    rows = search_messages(filled, "好")
    assert [r["sent_at"] for r in rows] == sorted((r["sent_at"] for r in rows), reverse=True)
    assert len(search_messages(filled, "好", limit=1)) == 1


def test_filters_combine(filled: Archive) -> None:
    assert texts(search_messages(filled, "退货", sender="王女士")) == ["我想退货，衣服有瑕疵"]
    assert texts(search_messages(filled, "赔", platform="telegram")) == ["如果违约，我们会按合同赔偿"]
    start = int(datetime(2026, 3, 12, 9, 2, tzinfo=CST).timestamp() * 1000)
    end = int(datetime(2026, 3, 12, 9, 5, tzinfo=CST).timestamp() * 1000)
    assert texts(search_messages(filled, "退货 OR 赔 OR refund", since_ms=start, until_ms=end)) == [
        "如果违约，我们会按合同赔偿", "Where is my refund? The refund policy says 7 days.", "好的，已为您办理退货退款"]


def test_snippet_marks_matches_and_escapes_html() -> None:
    text = "<b>注意</b>：退货请在7天内申请退货"
    spans = highlights(text, ("退货",))
    assert spans == [(10, 12), (19, 21)]
    html = snippet(text, spans)
    assert "<mark>退货</mark>" in html and "&lt;b&gt;" in html
    assert snippet(text, spans, plain=True).count("[退货]") == 2


def test_query_without_searchable_terms_is_a_clear_error() -> None:
    with pytest.raises(ChatAuditError, match="no searchable term"):
        parse_query("？？ ！")


def test_index_body_splits_cjk_runs_into_bigrams_and_last_char() -> None:
    assert index_body("我要退货ok").split() == ["我要", "要退", "退货", "货", "ok"]


# Chinese with emoji and symbols among it (👍🏽 is two symbols, a hand and a skin tone)
CJK = st.text(alphabet=st.sampled_from("退货赔偿违约的了是我你好款客服物流😀👍🏽❤¥"), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts_=st.lists(CJK, min_size=1, max_size=6), data=st.data())
def test_every_substring_of_a_message_finds_it(tmp_path_factory, texts_: list[str], data) -> None:
    """Index and query agree: any substring (1+ chars, Chinese, emoji or both) finds exactly the
    messages containing it."""
    with Archive(tmp_path_factory.mktemp("h") / "a.db") as archive:
        records = [Message(platform="t", conversation_id="c", sender_id="s", text=t,
                           sent_at=datetime(2026, 1, 1, 0, i, tzinfo=CST)) for i, t in enumerate(texts_)]
        archive.import_records(SourceInfo("s", "1" * 64, 1, "test"), records)
        chosen = data.draw(st.sampled_from(texts_))
        start = data.draw(st.integers(0, len(chosen) - 1))
        end = data.draw(st.integers(start + 1, len(chosen)))
        needle = chosen[start:end]
        found = {r["id"] for r in search_messages(archive, needle, limit=100)}
        expected = {i + 1 for i, t in enumerate(texts_) if needle in t}
        assert found == expected
