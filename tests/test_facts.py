"""`facts`: dates, amounts, quantities, commitments and refusals from realistic dispute chats."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import cn2an
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from chataudit.cli import cli
from chataudit.errors import ChatAuditError
from chataudit.facts import TYPES, extract, facts, parse_number, topic_terms
from chataudit.facts.commands import facts_command
from chataudit.importer import import_paths
from chataudit.store import Archive

FIXTURES = Path(__file__).parent / "fixtures" / "facts"
cli.add_command(facts_command)  # cli.py registers it too; adding the same command twice is harmless
THURSDAY = datetime(2026, 3, 12, 16, 40, tzinfo=timezone(timedelta(hours=8)))


def found(text: str, when: datetime | date = THURSDAY) -> list[tuple[str, str]]:
    return [(f.type, f.value) for f in extract(text, when)]


def brief(rows: list[dict]) -> list[tuple[str, str, str, str]]:
    return [(r["message"]["sent_at"][:10], r["message"]["sender"], r["type"], r["value"]) for r in rows]


@pytest.fixture
def loaded(archive: Archive) -> Archive:
    summary = import_paths(archive, [FIXTURES], tz="Asia/Shanghai")
    assert not summary.as_dict()["errors"] and summary.as_dict()["files"] == 4
    return archive


# ---- the user's case and realistic chats ------------------------------------------------------

def test_down_payment_and_dividend_dispute(loaded: Archive) -> None:
    rows = facts(loaded, conversation="wxid_zhangsan")
    assert brief(rows) == [
        ("2026-03-12", "张三", "instruction", "按我说的办"),
        ("2026-03-12", "张三", "instruction", "别动"),
        ("2026-03-12", "李四", "amount", "500000"),
        ("2026-03-13", "李四", "completion", "已转"),
        ("2026-03-13", "李四", "amount", "500000"),
        ("2026-04-05", "张三", "completion", "已签好"),
        ("2026-04-05", "李四", "date", "2026-04-30"),
        ("2026-04-05", "张三", "refusal", "不可能"),
    ]
    first = rows[0]
    assert first["message"]["text"] == "首付按我说的办，别动"
    assert first["message"]["sent_at"] == "2026-03-12T20:15:00+08:00"
    assert first["normalized"] == "首付按我说的办" and first["span"] == [2, 7]
    signed = rows[5]
    assert signed["message"]["text"] == "分红协议已签好" and signed["normalized"] == "分红协议已签好"
    transfer = rows[4]
    assert transfer["span"] is None and transfer["currency"] == "CNY" and transfer["normalized"] == "500000 CNY"
    assert rows[6]["normalized"] == "by 2026-04-30" and rows[6]["deadline"] is True


def test_renovation_delivery_topic_keeps_neighbours(loaded: Archive) -> None:
    rows = facts(loaded, conversation="王女士-装修", topic="交付")
    assert brief(rows) == [
        ("2026-03-12", "陈经理", "date", "2026-03-20"),      # 交付时间是下周五, sent Thursday 3-12
        ("2026-03-12", "王女士", "refusal", "不行"),
        ("2026-03-12", "王女士", "date", "2026-03-20"),      # 20号
        ("2026-03-12", "王女士", "refusal", "不能"),
        ("2026-03-12", "陈经理", "date", "2026-03-13"),      # 周五前, hedged
        ("2026-03-12", "陈经理", "commitment", "可以"),      # 应该可以
        ("2026-03-20", "王女士", "date", "2026-03-20"),      # 今天
        ("2026-03-20", "陈经理", "date", "2026-04-05"),      # 最晚下个月5号前
        ("2026-03-20", "陈经理", "amount", "500"),
        ("2026-03-20", "王女士", "refusal", "不同意"),
    ]
    hedged = {r["value"]: r["hedges"] for r in rows if r["hedged"]}
    assert hedged == {"2026-03-13": ["尽量", "争取", "应该可以"], "可以": ["尽量", "争取", "应该可以"]}
    assert rows[0]["text"] == "下周五" and rows[0]["relative"] is True and rows[0]["weekday"] == "周五"
    assert rows[7]["normalized"] == "by 2026-04-05"


def test_whole_renovation_chat(loaded: Archive) -> None:
    rows = facts(loaded, conversation="wxid_wang_nv_shi", types=["amount", "commitment"])
    assert [(r["type"], r["normalized"]) for r in rows] == [
        ("commitment", "王姐您放心"),
        ("commitment", "我们一定按时完成"),
        ("amount", "50000 CNY"),       # 尾款5万元
        ("amount", "3000"),            # 定金3000
        ("commitment", "应该可以"),
        ("amount", "500 CNY"),         # 延期一天赔偿500元 — "你保证一下" asks for a promise, makes none
        ("commitment", "没问题"),
        ("amount", "500 CNY"),
    ]


def test_wecom_order_from_a_gbk_csv(loaded: Archive) -> None:
    rows = facts(loaded, conversation="wrOgQhDgAAxx_order")
    assert [(r["type"], r["value"], r["hedges"]) for r in rows] == [
        ("quantity", "100件", []), ("quantity", "3台", []), ("quantity", "2箱", []),
        ("commitment", "可以", []),
        ("amount", "1200.50", []),
        ("amount", "120000", ["大概", "左右"]),
        ("date", "2026-03-05", []),   # 3个工作日内 from Monday 3-02
        ("date", "2026-03-10", []),   # 最晚3/10前
        ("amount", "36000", []),      # 预付款30% is no amount; 3.6万元 is
        ("date", "2026-03-02", []),
        ("date", "2026-03-10", []),
        ("commitment", "负责", []), ("date", "2026-03-12", []), ("commitment", "一定", []),
        ("date", "2026-03-12", []), ("refusal", "不接受", []),
    ]
    assert rows[4]["normalized"] == "1200.50 CNY" and rows[4]["text"] == "¥1,200.50"
    assert all(r["message"]["platform"] == "wecom" for r in rows)


def test_telegram_english_and_own_offset(loaded: Archive) -> None:
    rows = facts(loaded, conversation="telegram:5550001111")
    assert [(r["type"], r["value"]) for r in rows] == [
        ("quantity", "200 units"), ("date", "2026-03-20"),
        ("commitment", "I promise"), ("date", "2026-03-20"), ("amount", "4500"),
        ("refusal", "can't"), ("amount", "4000"),
        ("date", "2026-03-26"), ("commitment", "I will"),
        ("date", "2026-03-14"),
    ]
    # "明天交货" sent 2026-03-12T16:30Z is 00:30 on the 13th in Shanghai: tomorrow is the 14th
    assert rows[-1]["message"]["sent_at"] == "2026-03-13T00:30:00+08:00"
    assert rows[-3]["hedges"] == ["maybe", "try to", "asap"] and rows[-2]["hedged"] is True
    assert rows[4]["currency"] == "USD"


def test_person_and_platform_wide(loaded: Archive) -> None:
    by_person = facts(loaded, person="wechat:zhangsan")
    assert brief(by_person) == brief(facts(loaded, conversation="wxid_zhangsan"))  # a private chat: both sides
    everything = facts(loaded)
    assert {r["message"]["platform"] for r in everything} == {"wechat", "wecom", "telegram"}
    assert [r["message"]["sent_at"] for r in everything] == sorted(
        (r["message"]["sent_at"] for r in everything), key=lambda s: datetime.fromisoformat(s))
    with pytest.raises(ChatAuditError, match="not both"):
        facts(loaded, conversation="wxid_zhangsan", person="wechat:zhangsan")
    with pytest.raises(ChatAuditError, match="unknown fact type"):
        facts(loaded, types=["promise"])


def test_cli_json_keys_and_spans(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(db), "import", str(FIXTURES), "--tz", "Asia/Shanghai"]).exit_code == 0
    result = runner.invoke(cli, ["--db", str(db), "facts", "--topic", "首付", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows and all(r["type"] in TYPES for r in rows)
    for row in rows:
        assert {"type", "value", "normalized", "hedged", "hedges", "message", "span"} <= set(row)
        assert {"id", "platform", "conversation", "sender", "sent_at", "text"} <= set(row["message"])
        if row["span"]:
            start, end = row["span"]
            assert row["message"]["text"][start:end] == row["text"]
    assert ("2026-03-12", "张三", "instruction", "别动") in brief(rows)
    table = runner.invoke(cli, ["--db", str(db), "facts", "--conversation", "wxid_zhangsan"])
    assert table.exit_code == 0 and "分红协议【已签好】" in table.output and "by 2026-04-30" in table.output
    bad = runner.invoke(cli, ["--db", str(db), "facts", "--conversation", "nobody"])
    assert bad.exit_code == 1 and "no conversation 'nobody'" in bad.output


# ---- the extractor, sentence by sentence ------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("交付时间是下周五", "2026-03-20"),
    ("周五前给我答复", "2026-03-13"),
    ("本周一已经说过了", "2026-03-09"),
    ("上周三你答应的", "2026-03-04"),
    ("明天", "2026-03-13"), ("后天", "2026-03-14"), ("大后天", "2026-03-15"), ("昨天", "2026-03-11"),
    ("下个月5号付款", "2026-04-05"), ("月底前结清", "2026-03-31"), ("下个月底", "2026-04-30"),
    ("年底分红", "2026-12-31"), ("明年年底", "2027-12-31"),
    ("3月20日交房", "2026-03-20"), ("三月二十日交房", "2026-03-20"), ("3.20之前", "2026-03-20"),
    ("3/20到货", "2026-03-20"), ("2026-03-20", "2026-03-20"), ("2026年4月5日签约", "2026-04-05"),
    ("20号前", "2026-03-20"), ("10号前", "2026-04-10"), ("3天内", "2026-03-15"), ("两周内", "2026-03-26"),
    ("3个工作日内", "2026-03-17"), ("in two weeks", "2026-03-26"), ("next Friday", "2026-03-20"),
    ("by Friday", "2026-03-13"), ("tomorrow", "2026-03-13"), ("March 20th", "2026-03-20"),
    ("end of the month", "2026-03-31"), ("星期天", "2026-03-15"), ("下礼拜二", "2026-03-17"),
    ("这周内要付给开发商", "2026-03-15"), ("下个月底", "2026-04-30"), ("交付2026-03-20", "2026-03-20"),
])
def test_dates_against_thursday_2026_03_12(text: str, expected: str) -> None:
    dates = [f.value for f in extract(text, THURSDAY) if f.type == "date"]
    assert dates == [expected]


def test_month_day_without_year_takes_the_nearest_year() -> None:
    assert found("1月5日前付款", date(2026, 12, 28)) == [("date", "2027-01-05")]
    assert found("12月30日说好的", date(2027, 1, 3)) == [("date", "2026-12-30")]


@pytest.mark.parametrize("text, expected", [
    ("定金5000元", [("amount", "5000")]),
    ("¥5000", [("amount", "5000")]),
    ("尾款¥1,200.50", [("amount", "1200.50")]),
    ("5千", [("amount", "5000")]),
    ("3万", [("amount", "30000")]),
    ("首付30万", [("amount", "300000")]),
    ("1.2万元", [("amount", "12000")]),
    ("一万五", [("amount", "15000")]),
    ("五千块", [("amount", "5000")]),
    ("RMB 8800", [("amount", "8800")]),
    ("USD $120", [("amount", "120")]),
    ("1万5", [("amount", "15000")]),
    ("两千五百元", [("amount", "2500")]),
    ("3块5", [("amount", "3.50")]),
    ("100件", [("quantity", "100件")]),
    ("3台", [("quantity", "3台")]),
    ("两箱", [("quantity", "2箱")]),
    ("3万件", [("quantity", "30000件")]),
    ("3个月", []),                      # a duration, not a count
    ("一个问题", []),                   # an article
    ("千万别动", [("instruction", "别动")]),  # 千万 = "by all means"
    ("一块去吃饭吧", []),
    ("订单号12345，已付款", [("completion", "已付款")]),
    ("身份证后四位 0417", []),
    ("00000012-PHOTO-2026-03-07-10-02-30.jpg", []),   # a file name, not a date
    ("这 10 个地方一定要去", [("quantity", "10个")]),  # 一定要: "must", no promise
])
def test_amounts_and_quantities(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("我保证3月20日前发货", [("commitment", "保证"), ("date", "2026-03-20")]),
    ("我们会在下周五前交付", [("commitment", "会在下周五前"), ("date", "2026-03-20")]),
    ("这个我负责", [("commitment", "负责")]),
    ("好的，没问题", [("commitment", "没问题")]),
    ("可以的", [("commitment", "可以")]),
    ("你可以把照片发我", []),
    ("可以吗？", []),
    ("不行", [("refusal", "不行")]),
    ("我们不同意退款", [("refusal", "不同意")]),
    ("拒绝赔偿", [("refusal", "拒绝")]),
    ("这不可能", [("refusal", "不可能")]),
    ("我做不到", [("refusal", "做不到")]),
    ("不能退", [("refusal", "不能")]),
    ("能不能便宜点？", []),
    ("如果不行的话就算了", []),
    ("不保证", [("refusal", "不保证")]),
    ("不一定能到", []),
    ("首付按我说的办，别动", [("instruction", "按我说的办"), ("instruction", "别动")]),
    ("分红协议已签好", [("completion", "已签好")]),
    ("协议签好了吗？", []),
])
def test_commitments_refusals_instructions(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize("text, hedges", [
    ("我尽快发货，明天应该可以到", ["尽快", "应该可以"]),
    ("大概5000元左右", ["大概", "左右"]),
    ("争取月底前交付", ["争取"]),
    ("可能下周五，我再确认一下", ["可能", "再确认"]),
    ("我们保证下周五交付", []),
])
def test_hedged_statements(text: str, hedges: list[str]) -> None:
    facts_found = extract(text, THURSDAY)
    assert facts_found
    assert all(set(f.hedges) == set(hedges) and f.hedged == bool(hedges) for f in facts_found)


def test_topic_terms_use_jieba_words() -> None:
    assert topic_terms("交付") == [["交付"]]
    assert topic_terms("交付时间 退款") == [["交付时间"], ["交付", "时间"], ["退款"]]


# ---- properties -------------------------------------------------------------------------------

@st.composite
def written_amounts(draw: st.DrawFn) -> tuple[Decimal, str]:
    whole = draw(st.integers(min_value=1, max_value=99_999_999))
    cents = draw(st.integers(min_value=0, max_value=99))
    value = Decimal(whole) + Decimal(cents) / 100
    forms = [f"¥{value}", f"￥{value:,}", f"RMB {value}", f"{value}元", f"人民币{value}元", f"USD ${value:,}"]
    if cents == 0:
        forms += [f"{whole}块", f"{whole}块钱", f"{cn2an.an2cn(whole)}元", f"{cn2an.an2cn(whole)}块钱"]
        if whole % 10_000 == 0:
            forms += [f"{whole // 10_000}万", f"{cn2an.an2cn(whole // 10_000)}万"]
        elif whole % 1000 == 0 and whole > 10_000:
            forms.append(f"{Decimal(whole) / 10_000}万元")
        if whole % 1000 == 0 and whole < 10_000:
            forms += [f"{whole // 1000}千", f"{whole // 1000}千块"]
    form = draw(st.sampled_from(forms))
    context = draw(st.sampled_from(["{}", "定金{}", "一共{}，谢谢", "尾款是{}，月底前付清"]))
    return value, context.format(form)


@settings(max_examples=300, deadline=None)
@given(written_amounts())
def test_amounts_in_any_form_round_trip_to_the_same_decimal(case: tuple[Decimal, str]) -> None:
    value, text = case
    amounts = [f for f in extract(text, THURSDAY) if f.type == "amount"]
    assert len(amounts) == 1, (text, amounts)
    assert Decimal(amounts[0].value) == value
    assert "e" not in amounts[0].value.lower()


@settings(max_examples=200, deadline=None)
@given(number=st.integers(min_value=1, max_value=10**12))
def test_parse_number_reads_cn2an_chinese(number: int) -> None:
    assert parse_number(cn2an.an2cn(number)) == number


@settings(max_examples=200, deadline=None)
@given(moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)),
       offset=st.integers(min_value=-12 * 60, max_value=14 * 60),
       weekday=st.sampled_from(list("一二三四五六日")))
def test_relative_days_use_the_messages_own_calendar(moment: datetime, offset: int, weekday: str) -> None:
    sent = moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
    today = sent.date()
    assert [f.value for f in extract("明天", sent)] == [(today + timedelta(days=1)).isoformat()]
    next_week = date.fromisoformat(extract(f"下周{weekday}", sent)[0].value)
    assert next_week.weekday() == "一二三四五六日".index(weekday)
    monday = today - timedelta(days=today.weekday())
    assert 7 <= (next_week - monday).days <= 13
    bare = date.fromisoformat(extract(f"周{weekday}前", sent)[0].value)
    assert 0 <= (bare - today).days <= 6


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("0123456789.,/-¥$元块万千号月日周下个一二三五十前后明天不行可以吗？，。 abcYesnotFriday")),
                    max_size=40))
def test_extract_never_crashes_and_spans_are_honest(text: str) -> None:
    for fact in extract(text, THURSDAY):
        assert fact.type in TYPES
        start, end = fact.span
        assert 0 <= start < end <= len(text) and text[start:end] == fact.text
        if fact.type == "date":
            date.fromisoformat(fact.value)
        if fact.type == "amount":
            Decimal(fact.value)


def test_files_and_links_say_nothing_and_transfers_count_once(archive: Archive, tmp_path: Path) -> None:
    rows = [
        {"sent_at": "2026-03-12T10:00:00+08:00", "conversation_id": "c", "sender_name": "甲", "kind": "file",
         "text": "补充协议2026-03-20版.pdf"},
        {"sent_at": "2026-03-12T10:01:00+08:00", "conversation_id": "c", "sender_name": "甲", "kind": "link",
         "text": "装修合同范本：保证金5000元怎么退"},
        {"sent_at": "2026-03-12T10:02:00+08:00", "conversation_id": "c", "sender_name": "甲", "kind": "transfer",
         "text": "[转账] ￥5,000.00 房租", "amount": "5000.00", "currency": "CNY"},
        {"sent_at": "2026-03-12T10:03:00+08:00", "conversation_id": "c", "sender_name": "乙", "kind": "red_packet",
         "text": "[红包] 恭喜发财", "amount": "88.00", "currency": "CNY"},
    ]
    path = tmp_path / "kinds.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert not import_paths(archive, [path], format_name="generic").as_dict()["errors"]
    found_rows = facts(archive, conversation="c")
    assert [(r["type"], r["value"], r["text"], r["span"]) for r in found_rows] == [
        ("amount", "5000", "￥5,000.00", [5, 14]),
        ("amount", "88", "red_packet", None),
    ]


@pytest.mark.parametrize("text, value", [("找你5块5", "5.50"), ("一共0块0", "0"), ("5块5毛", "5.50")])
def test_yuan_and_jiao_stay_decimal(text: str, value: str) -> None:
    amounts = [f for f in extract(text, date(2026, 3, 12)) if f.type == "amount"]
    assert [a.value for a in amounts] == [value]
