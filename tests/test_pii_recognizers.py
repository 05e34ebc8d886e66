"""Recognizers: each type on realistic sentences, look-alike decoys, boundaries, and properties."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from stdnum import luhn
from stdnum.cn import ric

from chataudit.privacy.recognizers import MASTER, SENSITIVE, TYPES, find, floor_pass, valid_id18

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "pii"))
import labelled  # noqa: E402


def found(text: str) -> list[tuple[str, str]]:
    return [(f.type, f.value) for f in find(text)]


@pytest.mark.parametrize("text, expected", [
    ("我的身份证号是110101199003071233，麻烦核实", [("id_card", "110101199003071233")]),
    ("身份证36011319520920092X", [("id_card", "36011319520920092X")]),
    ("证件110101 19900307 1233", [("id_card", "110101 19900307 1233")]),
    ("老身份证号是110101900307123", [("id_card_old", "110101900307123")]),
    ("退款打到6013820181590830165就行", [("bank_card", "6013820181590830165")]),
    ("卡号 5240 9109 6792 9083", [("bank_card", "5240 9109 6792 9083")]),
    ("信用代码91110000600037341L", [("uscc", "91110000600037341L")]),
    ("手机13800138000", [("mobile", "13800138000")]),
    ("电话：+86 138-0013-8000", [("mobile", "+86 138-0013-8000")]),
    ("打0086 13912345678找我", [("mobile", "0086 13912345678")]),
    ("008613912345678", [("mobile", "008613912345678")]),
    ("办公室(0755)88889999", [("landline", "(0755)88889999")]),
    ("座机010-62345678-801", [("landline", "010-62345678-801")]),
    ("护照号码是E12345678", [("passport", "E12345678")]),
    ("回乡证H12345678", [("travel_permit", "H12345678")]),
    ("台胞证：12345678", [("travel_permit", "12345678")]),
    ("车牌粤B·D12345", [("plate", "粤B·D12345")]),
    ("京A12345的车主请挪车", [("plate", "京A12345")]),
    ("沪AD12345是新能源", [("plate", "沪AD12345")]),
    ("邮箱zhang.san@example.com请查收", [("email", "zhang.san@example.com")]),
    ("IP是203.0.113.9", [("ip", "203.0.113.9")]),
    ("v6 地址 2001:db8::8a2e:370:7334", [("ip", "2001:db8::8a2e:370:7334")]),
    ("加我微信：zhang_san88", [("wechat_id", "zhang_san88")]),
    ("vx abc12345", [("wechat_id", "abc12345")]),
    ("wxid_a1b2c3d4e5", [("wechat_id", "wxid_a1b2c3d4e5")]),
    ("我的QQ：12345678", [("qq", "12345678")]),
    ("生日1990年5月6日", [("birth_date", "1990年5月6日")]),
    ("我妈有糖尿病", [("health", "糖尿病")]),
    ("位置31.230416,121.473701", [("location", "31.230416,121.473701")]),
    ("收件人：王小明", [("person", "王小明")]),
    ("寄到上海市浦东新区张江路123弄4号", [("address", "上海市浦东新区张江路123弄4号")]),
])
def test_each_type(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize("text", [
    "订单号：6217787789328792172，已发货",  # Luhn-valid order number, said to be an order
    "身份证号522327199604155960",  # right region and birth date, wrong check digit
    "110101199003071234",  # wrong check digit, no context at all
    "卡号是6013820181590830166吗",  # card with a wrong Luhn digit
    "顺丰单号SF1234567890123",
    "中通快递 75312345678901，明天到",
    "EMS单号 EA123456789CN",
    "时间戳1710489600123",
    "时间：2025-03-15 13:45:12",
    "日志 20250315134512",
    "金额：13800.00元",
    "一共13800138元",
    "验证码123456",
    "请升级到v1.2.3.4",
    "型号AB123456，库存还有",
    "QQ群：123456789",
    "运单号13812345678",
    "商品编码 6901234567892",
    "微信支付交易单号420000123456789012345678901234",
    "19:30:45 开会",
    "好的，明天上午十点前给您回复",
])
def test_decoys_are_not_flagged(text: str) -> None:
    assert found(text) == []


def test_no_word_boundary_between_chinese_and_digits() -> None:
    # Python's \b sees none between 号 and 1; the look-arounds still keep digit runs whole
    assert found("号码13800138000号") == [("mobile", "13800138000")]
    assert found("138001380001") == []  # 12 digits: no mobile inside
    assert found("a13800138000") == []  # glued to a latin letter: an id of something else
    assert found("x110101199003071233") == []


def test_context_from_another_sentence_does_not_count() -> None:
    assert found("订单已发货。我的手机13800138000") == [("mobile", "13800138000")]
    assert found("用护照办的。型号AB386256") == []


def test_e_mail_wins_over_the_number_inside_it() -> None:
    assert found("13800138000@163.com") == [("email", "13800138000@163.com")]


def test_types_filter_and_sensitive_flags() -> None:
    text = "身份证110101199003071233，手机13800138000"
    assert [f.type for f in find(text, {"mobile"})] == ["mobile"]
    first = find(text)[0]
    assert first.sensitive and first.as_dict()["sensitive"] is True
    assert {"id_card", "id_card_old", "bank_card", "passport", "travel_permit", "health", "location"} == set(SENSITIVE)
    assert set(TYPES) >= {"id_card", "mobile", "landline", "bank_card", "uscc", "passport", "travel_permit",
                          "plate", "email", "ip", "wechat_id", "qq", "person", "address"}


def test_floor_pass_counts_regex_candidates() -> None:
    assert floor_pass(["手机13800138000", "订单号6217787789328792172"]) == 2
    assert MASTER.search("没有") is None


# ---- properties -----------------------------------------------------------------------------

PREFIXES = st.sampled_from(["", "身份证", "我的证件号码是", "号码：", "好的，", "他的身份证号码为 ", "证件"])
SUFFIXES = st.sampled_from(["", "，谢谢", "。", " 请核实", "是对的吗", "号"])
CJK = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF), max_size=6)


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    return labelled.id18(random.Random(draw(st.integers(0, 2**32))))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_ids(), PREFIXES, SUFFIXES)
def test_valid_ids_are_always_found(number: str, prefix: str, suffix: str) -> None:
    text = prefix + number + suffix
    assert ("id_card", number) in found(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789", min_size=17, max_size=17), PREFIXES, SUFFIXES)
def test_eighteen_digits_with_a_wrong_check_digit_are_never_ids(body: str, prefix: str, suffix: str) -> None:
    right = ric.calc_check_digit(body + "0")
    for wrong in "0123456789X":
        if wrong == right:
            continue
        text = prefix + body + wrong + suffix
        assert all(f.type != "id_card" for f in find(text))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from(["卡号", "银行卡：", "转到", "", "我的信用卡 "]))
def test_valid_cards_are_always_found(seed: int, prefix: str) -> None:
    number = labelled.card(random.Random(seed))
    assert ("bank_card", number) in found(prefix + number + "，谢谢")


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["62", "4", "51", "35", "60"]), st.integers(16, 19), st.integers(0, 2**32),
       st.sampled_from(["卡号", "银行卡：", ""]))
def test_card_numbers_failing_luhn_are_never_cards(prefix: str, length: int, seed: int, context: str) -> None:
    rng = random.Random(seed)
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    right = luhn.calc_check_digit(body)
    wrong = str((int(right) + rng.randrange(1, 10)) % 10)
    assert all(f.type != "bank_card" for f in find(context + body + wrong))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_findings_are_exact_ordered_and_disjoint(text: str) -> None:
    result = find(text)
    end = 0
    for finding in result:
        assert text[finding.start:finding.end] == finding.value
        assert finding.start >= end
        end = finding.end


@settings(max_examples=200, deadline=None)
@given(valid_ids(), CJK, CJK)
def test_ids_between_any_chinese_text(number: str, before: str, after: str) -> None:
    assert valid_id18(number)
    assert ("id_card", number) in found(before + number + after)
