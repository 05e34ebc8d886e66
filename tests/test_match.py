"""chataudit match: statement readers, amounts in chat text, claims, one-to-one pairing, CLI."""

from __future__ import annotations

import dataclasses
import importlib.util
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import cn2an
import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from chataudit import importer
from chataudit.errors import ChatAuditError, ParseError
from chataudit.match import claims_of, find_amounts, match, match_statements, same_name
from chataudit.match_command import match as match_command
from chataudit.statements import StatementOptions, Transaction, detect, read_statement
from chataudit.store import Archive

STATEMENTS = Path(__file__).parent / "fixtures" / "statements"
ALL_STATEMENTS = ["bank_statement.csv", "wechat_pay.csv", "wechat_pay.xlsx", "alipay.csv", "alipay_web.csv"]


def rows(name: str) -> list[tuple]:
    """The key fields of every transaction of a fixture statement."""
    return [(t.source_line, t.time.isoformat(), str(t.amount), t.direction, t.counterparty, t.id)
            for t in read_statement(STATEMENTS / name)]


# ---- statement readers ---------------------------------------------------------------------------

def test_wechat_pay_csv_reads_every_row_after_the_16_line_preamble():
    assert rows("wechat_pay.csv") == [
        (18, "2026-04-10T20:00:05+08:00", "-800.00", "out", "王建国", "1000050001202604100987654321"),
        (19, "2026-03-26T12:45:27+08:00", "-28.16", "out", "云膳过桥米线(传奇广场店)", "4200002026032612452701"),
        (20, "2026-03-20T20:00:05+08:00", "-200.00", "out", "王建国", "10000499012026032000112233"),
        (21, "2026-03-18T09:00:00+08:00", "2000.00", "neutral", "招商银行(1234)", "110190318100031243293946287587"),
        (22, "2026-03-15T10:01:12+08:00", "5000.00", "in", "王建国", "1000050001202603150123456789"),
        (23, "2026-03-05T18:30:00+08:00", "-15.00", "out", "小区便利店, 2号楼", "10001071012026030500123"),
    ]


def test_wechat_pay_csv_fields():
    first, _, red_packet, top_up, *_ = read_statement(STATEMENTS / "wechat_pay.csv")
    assert first.status == "对方已退还" and not first.settled  # a returned transfer moved no money
    assert first.category == "转账" and first.memo == "转账备注:物业费"
    assert red_packet.counterparty == "王建国"  # "发给王建国" names the receiver
    assert red_packet.memo is None  # "/" is WeChat's empty cell
    assert top_up.direction == "neutral" and top_up.amount == Decimal("2000.00")
    assert first.format == "wechat-pay" and first.currency == "CNY" and first.ref == "wechat_pay.csv:18"
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.amount = Decimal(1)  # type: ignore[misc]


def _load_xlsx_script():
    spec = importlib.util.spec_from_file_location("make_wechat_pay_xlsx", STATEMENTS / "make_wechat_pay_xlsx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wechat_pay_xlsx_committed_and_regenerated_read_alike(tmp_path):
    expected = [
        (18, "2026-04-20T12:01:44+08:00", "-36.00", "out", "美团", "4200002026042012014401"),
        (19, "2026-04-08T18:22:05+08:00", "-30.00", "out", "业主群", "10001071012026040800777"),  # date-time and number cells
        (20, "2026-04-01T09:10:30+08:00", "1200.50", "in", "王建国", "1000050001202604010555666777"),
    ]
    assert rows("wechat_pay.xlsx") == expected
    fresh = _load_xlsx_script().build(tmp_path / "bill.xlsx")
    assert [(t.source_line, t.time.isoformat(), str(t.amount), t.direction, t.counterparty, t.id)
            for t in read_statement(fresh)] == expected


def test_alipay_app_export_gbk_padded_with_trailing_comma():
    assert rows("alipay.csv") == [
        (26, "2026-03-28T16:40:11+08:00", "-12000.00", "out", "李*军", "20260328200040011100560012345678"),
        (27, "2026-03-26T09:15:02+08:00", "-59.90", "out", "某某旗舰店", "2026032622001400550012345678"),
        (28, "2026-03-20T06:07:22+08:00", "0.25", "neutral", "余额宝", "20260320363327858041"),
        (29, "2026-03-18T11:30:00+08:00", "50.00", "in", "某某旗舰店", "2026031822001400550087654321_1"),
    ]
    transfer = next(iter(read_statement(STATEMENTS / "alipay.csv")))
    assert transfer.category == "转账红包" and transfer.status == "交易成功" and transfer.memo == "转账"


def test_alipay_website_export_with_footer():
    assert rows("alipay_web.csv") == [
        (6, "2026-04-18T10:00:09+08:00", "2000.00", "in", "王建国", "2026041822001400550011112222"),  # 付款时间
        (7, "2026-04-05T21:12:44+08:00", "-35.00", "out", "某某书店", "2026040522001400550033334444"),
        (8, "2026-04-02T08:00:00+08:00", "1200.50", "neutral", "王建国", "2026040222001400550055556666"),  # unpaid: 创建时间
    ]
    closed = list(read_statement(STATEMENTS / "alipay_web.csv"))[2]
    assert closed.status == "交易关闭" and not closed.settled


def test_bank_csv_income_and_expense_columns_date_and_time():
    assert rows("bank_statement.csv") == [
        (6, "2026-03-02T09:15:20+08:00", "18500.00", "in", "某某科技有限公司", None),
        (7, "2026-03-12T14:03:27+08:00", "-300000.00", "out", "王建国", None),
        (8, "2026-03-12T14:03:28+08:00", "-3.00", "out", None, None),
        (9, "2026-03-25T19:40:02+08:00", "-520.00", "out", "某某餐饮管理有限公司", None),
    ]
    down_payment = list(read_statement(STATEMENTS / "bank_statement.csv"))[1]
    assert down_payment.memo == "转账汇款 / 首付款" and not down_payment.date_only


def test_bank_csv_icbc_style_padding_dashes_date_only():
    read = list(read_statement(STATEMENTS / "bank_icbc_style.csv"))
    assert [(t.source_line, str(t.amount), t.counterparty, t.memo, t.date_only) for t in read] == [
        (8, "300000.00", "张**", "他行汇入", True),
        (9, "-1234.56", "某某房地产开发有限公司", "网转", True),
        (10, "-13.40", "深圳市财付通支付科技有限公司", "消费", True),
    ]
    assert read[0].time == datetime(2026, 3, 12, tzinfo=read[0].time.tzinfo)
    assert read[0].as_dict()["time"] == "2026-03-12"


def test_bank_csv_signed_amount_with_debit_credit_column(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Date,Description,Amount,Debit/Credit,Payee,Currency\n"
                    "2026/03/12 14:03,Down payment,\"300,000.00\",Debit,Wang Jianguo,CNY\n"
                    "2026/03/15,Refund,50,Credit,Shop,USD\n", encoding="utf-8")
    read = list(read_statement(path))
    assert [(str(t.amount), t.direction, t.counterparty, t.currency, t.date_only) for t in read] == [
        ("-300000.00", "out", "Wang Jianguo", "CNY", False),
        ("50.00", "in", "Shop", "USD", True),
    ]


def test_statement_zone(tmp_path):
    utc = list(read_statement(STATEMENTS / "bank_statement.csv", StatementOptions(tz=timezone.utc)))
    assert utc[1].time.isoformat() == "2026-03-12T14:03:27+00:00"


@pytest.mark.parametrize("cell, clock, expected", [
    ("2026-03-12 14:03:27", None, "2026-03-12T14:03:27+08:00"),
    ("2026/3/12 14:03", None, "2026-03-12T14:03:00+08:00"),
    ("2026年03月12日 14:03:27", None, "2026-03-12T14:03:27+08:00"),
    ("20260312", "140327", "2026-03-12T14:03:27+08:00"),
    ("2026-03-12", "2026-03-12 14:03:27", "2026-03-12T14:03:27+08:00"),
    ("2026-03-12T06:03:27+00:00", None, "2026-03-12T06:03:27+00:00"),
    ("2026.03.12", "", "2026-03-12T00:00:00+08:00"),
])
def test_statement_times(cell, clock, expected):
    from chataudit.statements.tabular import instant

    moment, date_only = instant(cell, StatementOptions().tz, "s.csv", 1, "交易日期", clock)
    assert moment.isoformat() == expected and date_only == (expected.endswith("T00:00:00+08:00"))


@pytest.mark.parametrize("name, reader", [
    ("wechat_pay.csv", "wechat-pay"), ("wechat_pay.xlsx", "wechat-pay"), ("alipay.csv", "alipay"),
    ("alipay_web.csv", "alipay"), ("bank_statement.csv", "bank-csv"), ("bank_icbc_style.csv", "bank-csv"),
])
def test_detect(name, reader):
    module, confidence = detect(STATEMENTS / name)
    assert module.NAME == reader and confidence >= 0.6


def test_a_chat_export_is_no_statement():
    assert detect(STATEMENTS / "chat_zhang_wang.jsonl")[1] == 0.0
    with pytest.raises(ChatAuditError, match="not a statement chataudit reads"):
        list(read_statement(STATEMENTS / "chat_zhang_wang.jsonl"))


# ---- bad statements: one line, file:line ---------------------------------------------------------

def _edit(tmp_path, name, old, new, encoding="utf-8"):
    text = (STATEMENTS / name).read_bytes().decode(encoding)
    assert old in text
    path = tmp_path / name
    path.write_bytes(text.replace(old, new, 1).encode(encoding))
    return path


@pytest.mark.parametrize("name, old, new, encoding, line, message", [
    ("wechat_pay.csv", "¥28.16", "¥28.1a", "utf-8", 19, "金额(元) '¥28.1a' is not an amount"),
    ("wechat_pay.csv", "¥28.16", "¥28,16", "utf-8", 19, "12 cells, the header has 11 (a comma inside an unquoted cell?)"),
    ("wechat_pay.csv", "2026-03-20 20:00:05", "2026-03-40 20:00:05", "utf-8", 20, "交易时间 '2026-03-40 20:00:05' is not a date"),
    ("bank_statement.csv", "2026-03-25,19:40:02", "2026-03-25,25:40:02", "utf-8-sig", 9, "time '25:40:02' is not a time of day"),
    ("bank_statement.csv", ',,"300,000.00"', ',"1.00","300,000.00"', "utf-8-sig", 7, "both 收入金额 and 支出金额 are filled in"),
    ("alipay.csv", "2026-03-26 09:15:02", "昨天上午", "gbk", 27, "交易时间 '昨天上午' is not a date"),
    ("alipay_web.csv", "2026040522001400550033334444\t,", "随便写点什么\r\n2026040522001400550033334444\t,", "gbk", 7,
     "this line interrupts the table"),
])
def test_bad_statement_names_file_and_line(tmp_path, name, old, new, encoding, line, message):
    path = _edit(tmp_path, name, old, new, encoding)
    with pytest.raises(ParseError) as caught:
        list(read_statement(path))
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: ") and message in str(caught.value)


def test_truncated_statement(tmp_path):
    text = (STATEMENTS / "wechat_pay.csv").read_text(encoding="utf-8")
    path = tmp_path / "cut.csv"
    path.write_text(text[:text.index("¥5000.00")], encoding="utf-8")
    with pytest.raises(ParseError, match=r"cut\.csv:22: truncated line: 6 cells, the header has 11"):
        list(read_statement(path))


def test_damaged_xlsx(tmp_path):
    path = tmp_path / "bill.xlsx"
    path.write_bytes((STATEMENTS / "wechat_pay.xlsx").read_bytes()[:2000])
    with pytest.raises(ParseError, match=r"bill\.xlsx: not a readable \.xlsx workbook"):
        list(read_statement(path))


def test_statement_without_its_table(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("微信支付账单明细\n微信昵称：[张女士]\n交易时间,交易类型,交易对方\n", encoding="utf-8")
    with pytest.raises(ParseError, match="no 交易时间"):
        list(read_statement(path, format_name="wechat-pay"))


# ---- amounts written in chat ------------------------------------------------------------------------

@pytest.mark.parametrize("text, amounts", [
    ("已转5000元", ["5000.00"]),
    ("首付30万", ["300000.00"]),
    ("¥1,200.50", ["1200.50"]),
    ("转了五千", ["5000.00"]),
    ("3.5万", ["35000.00"]),
    ("1.2w", ["12000.00"]),
    ("5k", ["5000.00"]),
    ("3万5千", ["35000.00"]),
    ("3万5", ["35000.00"]),
    ("两万五", ["25000.00"]),
    ("一万二", ["12000.00"]),
    ("３０万", ["300000.00"]),
    ("五十块", ["50.00"]),
    ("一百二十三点四五元", ["123.45"]),
    ("RMB 300", ["300.00"]),
    ("30万元整", ["300000.00"]),
    ("1,200,000元", ["1200000.00"]),
    ("转账100", ["100.00"]),
    ("欠你¥ 88.8", ["88.80"]),
    ("转5000，另外2000给你", ["5000.00", "2000.00"]),
    ("上次说的3.5万装修款我下周转你", ["35000.00"]),
    ("5000，对，就是5000元", ["5000.00"]),
])
def test_amounts_in_text(text, amounts):
    assert [str(m.value) for m in find_amounts(text)] == amounts


@pytest.mark.parametrize("text", [
    "首付按我说的办，别动", "分红协议已签好", "3月12日下午3点在售楼处见，电话13812345678", "房子120平，首付比例30%",
    "千万别动", "万一不行呢", "给我3天", "一共5个人", "花了三千多", "打了3次电话", "十二点见", "3kg", "wxid_12345",
    "转到尾号1234的卡", "第一千零一夜", "好的", "走了一万步", "订单号2026031212345",
])
def test_no_amount_in_text(text):
    assert find_amounts(text) == []


def test_amount_mention_span_and_currency():
    [mention] = find_amounts("这个月分红¥1,200.50 已经打给你了")
    assert (mention.text, mention.start, mention.end, mention.currency) == ("¥1,200.50", 5, 14, "CNY")
    assert find_amounts("$100")[0].currency == "USD" and find_amounts("30万")[0].currency is None


cents = st.integers(min_value=1, max_value=10**10).map(lambda n: Decimal(n) / 100)


@settings(max_examples=300, deadline=None)
@given(amount=cents, style=st.sampled_from(["元", "¥", "comma", "转", "万", "w", "cn"]))
def test_written_amounts_read_back(amount, style):
    if style == "元":
        text = f"已转{amount}元"
    elif style == "¥":
        text = f"这是¥{amount}，收好"
    elif style == "comma":
        text = f"合计{amount:,.2f}"
    elif style == "转":
        text = f"刚转了{amount}给他"
    elif style in ("万", "w"):
        ten_thousands = (amount / 10000).normalize()
        if ten_thousands.as_tuple().exponent < -4:  # not written so in chat
            return
        text = f"首付{ten_thousands:f}{style}"
    else:
        if amount != amount.to_integral_value():
            return
        text = f"转了{cn2an.an2cn(str(int(amount)))}元"
    assert [m.value for m in find_amounts(text)] == [amount]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789.,，万千百十一二三五两wk元块¥$转付首付款年月日点个 abc:%")), max_size=40))
def test_find_amounts_never_fails_and_spans_fit(text):
    for mention in find_amounts(text):
        assert mention.value > 0
        assert text[mention.start:mention.end] == mention.text


# ---- claims and pairing on synthetic data ------------------------------------------------------------

def msg(id_, at, text="", *, kind="text", amount=None, is_me=False, extras=None, conversation=1,
        sender="王建国", title="王建国"):
    return {"id": id_, "conversation": conversation, "conversation_title": title,
            "sender_id": sender if not is_me else "wxid_zhang",
            "sender_name": sender if not is_me else "张女士", "sent_at": at, "kind": kind, "text": text,
            "amount": amount, "currency": "CNY" if amount else None, "is_me": is_me, "extras": extras or {}}


def tx(at, amount, *, direction=None, counterparty=None, line=1, date_only=False, status=None, category=None):
    amount = Decimal(amount)
    direction = direction or ("in" if amount > 0 else "out")
    return Transaction(time=datetime.fromisoformat(at), amount=amount, counterparty=counterparty,
                       direction=direction, source_line=line, source_path="s.csv", date_only=date_only,
                       status=status, category=category)


def test_directions_of_claims():
    claims = claims_of([
        msg(1, "2026-03-12T14:05:00+08:00", "首付30万已经从招行转给你了", is_me=True),
        msg(2, "2026-03-12T14:06:00+08:00", "3.5万我下周转你"),
        msg(3, "2026-03-12T14:07:00+08:00", "首付30万，要付给开发商"),
        msg(4, "2026-03-12T14:08:00+08:00", "5000收到了", is_me=True),
        msg(5, "2026-03-12T14:09:00+08:00", "[红包]", kind="red_packet", amount="88.00", is_me=True),
        msg(6, "2026-03-12T14:10:00+08:00", "[转账]", kind="transfer", amount="66.00",
            extras={"transfer_status": "sent"}),
        msg(7, "2026-03-12T14:11:00+08:00", "首付30万，你那边付给开发商", is_me=True),  # 首付 is no payment
        msg(8, "2026-03-12T14:12:00+08:00", "我刚付了2000定金", is_me=True),
        msg(9, "2026-03-12T14:13:00+08:00", "[转账]", kind="transfer", amount="66.00", is_me=None),
    ])
    assert [(c.message["id"], str(c.amount), c.direction, c.source) for c in claims] == [
        (1, "300000.00", "out", "text"), (2, "35000.00", "in", "text"), (3, "300000.00", None, "text"),
        (4, "5000.00", "in", "text"), (5, "88.00", "out", "red_packet"), (6, "66.00", "in", "transfer"),
        (7, "300000.00", None, "text"), (8, "2000.00", "out", "text"), (9, "66.00", None, "transfer"),
    ]


def test_a_transfer_and_its_receipt_are_one_claim():
    claims = claims_of([
        msg(1, "2026-03-15T10:00:00+08:00", "[转账]", kind="transfer", amount="5000.00",
            extras={"transfer_status": "sent", "paysubtype": 1}),
        msg(2, "2026-03-15T10:01:00+08:00", "[转账]", kind="transfer", amount="5000.00", is_me=True,
            extras={"transfer_status": "received", "paysubtype": 3}),
    ])
    assert len(claims) == 1 and claims[0].related == (2,) and claims[0].direction == "in"


def test_direction_must_agree():
    [claim] = claims_of([msg(1, "2026-03-12T14:05:00+08:00", "已转5000元", is_me=True)])
    assert not match([tx("2026-03-12T14:00:00+08:00", "5000")], [claim]).matched
    assert match([tx("2026-03-12T14:00:00+08:00", "-5000")], [claim]).matched


def test_one_to_one_closest_claim_wins_and_the_other_says_why():
    claims = claims_of([msg(1, "2026-03-10T20:00:00+08:00", "首付30万"),
                        msg(2, "2026-03-12T14:05:00+08:00", "首付30万转你了")])
    result = match([tx("2026-03-12T14:03:00+08:00", "300000", counterparty="王建国")], claims)
    assert [p.claim.message["id"] for p in result.matched] == [2]
    [(left, candidates)] = result.unmatched_claims
    assert left.message["id"] == 1 and candidates[0].transaction.source_line == 1


def test_one_claim_pairs_one_of_two_equal_transactions_the_closer_one():
    claims = claims_of([msg(1, "2026-03-12T14:05:00+08:00", "首付30万")])
    result = match([tx("2026-03-11T09:00:00+08:00", "300000", line=1),
                    tx("2026-03-12T14:00:00+08:00", "300000", line=2)], claims)
    assert [p.transaction.source_line for p in result.matched] == [2]
    assert [t.source_line for t in result.unmatched_transactions] == [1]


def test_counterparty_name_breaks_a_tie():
    claims = claims_of([msg(1, "2026-03-12T14:05:00+08:00", "转你5000")])
    result = match([tx("2026-03-12T14:00:00+08:00", "5000", counterparty="李四", line=1),
                    tx("2026-03-12T14:10:00+08:00", "5000", counterparty="王*国", line=2)], claims)
    assert [p.transaction.source_line for p in result.matched] == [2]
    assert "counterparty 王*国 is the chat partner" in result.matched[0].reasons


def test_window_and_date_only_lines():
    [claim] = claims_of([msg(1, "2026-03-12T23:30:00+08:00", "转你5000")])
    day = tx("2026-03-12T00:00:00+08:00", "5000", date_only=True)
    [pair] = match([day], [claim], window_hours=1).matched
    assert pair.delta_hours == 0.0  # the message falls within the line's day
    later = tx("2026-03-15T23:31:00+08:00", "5000")
    assert not match([later], [claim], window_hours=72).matched
    assert match([later], [claim], window_hours=72.1).matched


def test_near_amounts_only_with_tolerance_and_after_exact_ones():
    [claim] = claims_of([msg(1, "2026-03-12T14:05:00+08:00", "转你5000")])
    near = tx("2026-03-12T14:04:00+08:00", "4990", counterparty="王建国", line=1)
    exact_but_far = tx("2026-03-14T14:05:00+08:00", "5000", line=2)
    assert not match([near], [claim]).matched
    [pair] = match([near], [claim], tolerance=Decimal("0.01")).matched
    assert not pair.exact and "amount off by 0.20%" in pair.reasons
    [pair] = match([near, exact_but_far], [claim], tolerance=Decimal("0.01")).matched
    assert pair.transaction.source_line == 2


def test_an_unsettled_line_scores_lower():
    [claim] = claims_of([msg(1, "2026-04-10T20:00:00+08:00", "[转账]", kind="transfer", amount="800.00", is_me=True,
                             extras={"transfer_status": "sent"})])
    returned = tx("2026-04-10T20:00:05+08:00", "-800", status="对方已退还", category="转账", line=1)
    paid = tx("2026-04-10T21:00:00+08:00", "-800", status="支付成功", category="转账", line=2)
    assert [p.transaction.source_line for p in match([returned, paid], [claim]).matched] == [2]


@pytest.mark.parametrize("counterparty, name, same", [
    ("王建国", "王建国", True), ("建国", "王建国", True), ("王*国", "王建国", True), ("**国", "王建国", True),
    ("张**", "张女士", True), ("李*军", "王建国", False), ("王", "王建国", False), ("Wang Jianguo", "wang jianguo", True),
])
def test_same_name(counterparty, name, same):
    assert same_name(counterparty, name) is same


# ---- the user's case: 张女士, her partner 王建国, the down payment ---------------------------------------

@pytest.fixture
def story(tmp_path) -> Archive:
    with Archive(tmp_path / "archive.db") as archive:
        summary = importer.import_paths(archive, [STATEMENTS / "chat_zhang_wang.jsonl"], format_name="generic",
                                        tz="Asia/Shanghai")
        assert summary.as_dict()["new"] == 16
        yield archive


def _pairs(report):
    return [(p["transaction"]["ref"], p["message"]["message_id"]) for p in report["matched"]]


EXPECTED_PAIRS = [
    ("bank_statement.csv:7", "m05"),  # -300000 首付 ↔ "首付30万已经从招行转给你了"
    ("wechat_pay.csv:22", "m07"),  # +5000 transfer ↔ the transfer message (its receipt m08 rides along)
    ("wechat_pay.csv:20", "m09"),  # -200 red packet ↔ the red packet
    ("alipay.csv:26", "m11"),  # -12000 ↔ "我已转1.2w给装修队李师傅了"
    ("wechat_pay.xlsx:20", "m12"),  # +1200.50 ↔ "这个月分红¥1,200.50 已经打给你了"
    ("wechat_pay.csv:18", "m15"),  # -800 returned transfer ↔ the transfer message, flagged
]


def test_story_matches_exactly(story):
    report = match_statements(story, [STATEMENTS / name for name in ALL_STATEMENTS])
    assert _pairs(report) == EXPECTED_PAIRS
    by_message = {p["message"]["message_id"]: p for p in report["matched"]}
    assert by_message["m05"]["delta_hours"] == 0.03 and by_message["m05"]["score"] == 0.95
    assert by_message["m07"]["claim"]["related_messages"] == [story.db.execute(
        "SELECT id FROM messages WHERE message_id = 'm08'").fetchone()[0]]
    assert "status 对方已退还: the money did not move" in by_message["m15"]["reasons"]

    unmatched = {c["message"]["message_id"]: c for c in report["unmatched_claims"]}
    assert sorted(unmatched) == ["m01", "m10", "m14"]
    assert unmatched["m01"]["taken_by"][0]["transaction"] == "bank_statement.csv:7"  # the earlier "首付30万"
    assert unmatched["m10"]["reason"] == "no transaction of this amount within 72 h"  # 3.5万 promised, never paid
    assert unmatched["m14"]["claim"]["amount"] == "5000.00" and unmatched["m14"]["taken_by"] == []  # 转了五千: none

    claimed = {p["message"]["message_id"] for p in report["matched"]} | set(unmatched)
    for silent in ("m02", "m03", "m04", "m06", "m08", "m13", "m16"):  # 首付按我说的办，别动 · 分红协议已签好 …
        assert silent not in claimed
    assert [t["ref"] for t in report["unmatched_transactions"]] == [
        "bank_statement.csv:6", "bank_statement.csv:8", "bank_statement.csv:9",
        "wechat_pay.csv:19", "wechat_pay.csv:21", "wechat_pay.csv:23",
        "wechat_pay.xlsx:18", "wechat_pay.xlsx:19",
        "alipay.csv:27", "alipay.csv:28", "alipay.csv:29",
        "alipay_web.csv:6", "alipay_web.csv:7", "alipay_web.csv:8",  # the closed 1200.50 lost to the paid one
    ]
    assert report["summary"] == {
        "transactions": 20, "claims": 9, "matched": 6, "unmatched_claims": 3, "unmatched_transactions": 14,
        "window_hours": 72.0,
        "statements": [{"path": str(STATEMENTS / n), "format": f, "transactions": c} for n, f, c in [
            ("bank_statement.csv", "bank-csv", 4), ("wechat_pay.csv", "wechat-pay", 6),
            ("wechat_pay.xlsx", "wechat-pay", 3), ("alipay.csv", "alipay", 4), ("alipay_web.csv", "alipay", 3)]],
    }


def test_story_each_statement_on_its_own(story):
    for name, expected in [("bank_statement.csv", {"m05"}), ("alipay.csv", {"m11"}), ("wechat_pay.xlsx", {"m12"}),
                           ("wechat_pay.csv", {"m07", "m09", "m15"}), ("alipay_web.csv", {"m12"})]:
        report = match_statements(story, [STATEMENTS / name])
        assert {p["message"]["message_id"] for p in report["matched"]} == expected, name
    # alone, the website bill's closed 1200.50 is the only candidate for the dividend: paired, and flagged
    [pair] = match_statements(story, [STATEMENTS / "alipay_web.csv"])["matched"]
    assert pair["transaction"]["settled"] is False
    assert "status 交易关闭: the money did not move" in pair["reasons"]


def test_story_window(story):
    report = match_statements(story, [STATEMENTS / name for name in ALL_STATEMENTS], window_hours=0.05)
    assert ("alipay.csv:26", "m11") not in _pairs(report)  # said 5 minutes after paying
    assert len(report["matched"]) == 5


def test_story_scope_conversation_and_person(story, tmp_path):
    other = tmp_path / "group.jsonl"
    other.write_text(orjson.dumps({"platform": "wechat", "conversation_id": "team@chatroom", "conversation_title": "装修群",
                                   "sender_name": "李师傅", "is_me": False, "sent_at": "2026-03-28T16:41:00+08:00",
                                   "text": "1.2w收到了，谢谢张姐"}).decode() + "\n", encoding="utf-8")
    importer.import_paths(story, [other], format_name="generic", tz="Asia/Shanghai")
    statements = [STATEMENTS / "alipay.csv"]
    everything = match_statements(story, statements)
    assert [p["message"]["text"] for p in everything["matched"]] == ["1.2w收到了，谢谢张姐"]  # closer in time
    for scope in ({"conversation": "wxid_wangjianguo"}, {"person": "wechat:wxid_zhang"}):
        scoped = match_statements(story, statements, **scope)
        assert [p["message"]["message_id"] for p in scoped["matched"]] == ["m11"], scope
    with pytest.raises(ChatAuditError, match="no conversation"):
        match_statements(story, statements, conversation="nobody")


# ---- the command ---------------------------------------------------------------------------------------

def _run(story, *args):
    return CliRunner().invoke(match_command, list(args), obj={"db": story.path}, catch_exceptions=False)


def test_cli_json(story):
    args = [arg for name in ALL_STATEMENTS for arg in ("--statement", str(STATEMENTS / name))]
    result = _run(story, *args, "--conversation", "王建国", "--json")
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.output)
    assert list(data) == ["matched", "unmatched_claims", "unmatched_transactions", "summary"]
    assert {"transaction", "message", "delta_hours", "score"} <= set(data["matched"][0])
    assert _pairs(data) == EXPECTED_PAIRS
    assert {k: data["summary"][k] for k in ("transactions", "claims", "matched")} == \
        {"transactions": 20, "claims": 9, "matched": 6}
    assert data["matched"][0]["transaction"]["amount"] == "-300000.00"  # decimal strings, never floats
    assert data["matched"][0]["message"]["sender_name"] == "张女士"


def test_cli_table_and_window(story):
    result = _run(story, "--statement", str(STATEMENTS / "bank_statement.csv"), "--window", "24")
    assert result.exit_code == 0, result.output
    assert "Matched" in result.output and "Claims with no transaction" in result.output
    assert "bank_statement.csv:7" in result.output and "首付30万" in result.output
    assert result.output.strip().splitlines()[-1] == (
        "4 transactions, 5 claims: 1 matched, 4 claims and 3 transactions unmatched (window 24 h)")


def test_cli_bad_statement_is_one_line(story, tmp_path):
    path = _edit(tmp_path, "wechat_pay.csv", "¥28.16", "¥28.1a")
    result = _run(story, "--statement", str(path))
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {path}:19: 金额(元) '¥28.1a' is not an amount"


def test_cli_usage_errors(story):
    both = _run(story, "--statement", str(STATEMENTS / "alipay.csv"), "--conversation", "1", "--person", "x")
    assert both.exit_code == 2 and "at most one of --conversation or --person" in both.output
    missing = _run(story, "--statement", str(STATEMENTS / "nope.csv"))
    assert missing.exit_code == 1 and "no such statement file" in missing.output
    window = _run(story, "--statement", str(STATEMENTS / "alipay.csv"), "--window", "0")
    assert window.exit_code == 1 and "--window must be more than 0 hours" in window.output


def test_registered_on_the_main_command():
    import click

    from chataudit.cli import cli

    assert cli.get_command(click.Context(cli), "match") is match_command
