"""A bank statement as CSV (or tab-separated text): any bank, found by its column names.

Online banking exports differ in every bank, but they all name a date (交易日期 / 记账日期 /
Date), optionally a time (交易时间), and the money either as one signed column (交易金额 / 金额 /
Amount), as an amount plus a direction column (借贷标志 / 收/支 / Debit/Credit), or as two columns
(收入金额 + 支出金额, 贷方发生额 + 借方发生额, 交易金额(收入) + 交易金额(支出), Credit + Debit).
The counterparty is 对方户名 / 对方名称 / 交易对方 / 对手信息 / Payee; the memo 摘要 / 用途 / 附言 /
备注 / Description. A preamble (account number, period) and a footer (合计) are skipped.
Amounts may be quoted with thousands separators (``"1,234.56"``); cells may be padded with spaces
and tabs (ICBC); ``-`` stands for an empty cell. Encodings: UTF-8 (with or without BOM), GBK/GB18030, UTF-16.
"""

from __future__ import annotations

from decimal import Decimal
import csv
from pathlib import Path
from typing import Iterator

from ..errors import ParseError
from ..formats import head_text
from . import StatementOptions, Transaction
from .tabular import (HEADER_SEARCH_LINES, Table, clean, csv_rows, currency_code, data_rows, find_header,
                      header_key, instant, join_memo, money, value)

NAME = "bank-csv"
DESCRIPTION = "Bank statement CSV: 交易日期/交易时间, 收入金额/支出金额 or a signed 交易金额, 对方户名, 摘要 (any bank, by column names)"

DATE = ("交易日期", "记账日期", "入账日期", "交易日", "日期", "date", "transaction date", "posting date",
        "booking date", "value date", "trans date")
TIME = ("交易时间", "时间", "记账时间", "交易日期时间", "time", "datetime", "transaction time")
SIGNED = ("交易金额", "金额", "发生额", "交易额", "金额(元)", "交易金额(元)", "记账金额", "amount",
          "transaction amount", "amount(cny)")
INCOME = ("收入金额", "收入", "收入(元)", "收入金额(元)", "交易金额(收入)", "记账金额(收入)", "贷方金额", "贷方发生额",
          "贷方", "存入金额", "存入", "转入金额", "credit", "credits", "credit amount", "deposit", "deposits",
          "paid in", "money in")
EXPENSE = ("支出金额", "支出", "支出(元)", "支出金额(元)", "交易金额(支出)", "记账金额(支出)", "借方金额", "借方发生额",
           "借方", "取出金额", "支取", "支取金额", "转出金额", "debit", "debits", "debit amount", "withdrawal",
           "withdrawals", "paid out", "money out")
DIRECTION = ("收/支", "收支", "收支类型", "借贷标志", "借贷", "借贷方向", "交易方向", "收付标志", "资金流向",
             "direction", "debit/credit", "dr/cr", "cr/dr", "d/c")
COUNTERPARTY = ("对方户名", "对方名称", "对方账户名称", "对方账户名", "对方姓名", "交易对方", "对手信息", "对方单位名称",
                "对方单位", "对手方名称", "对方", "收/付款方名称", "收(付)方名称", "收款人", "counterparty", "payee",
                "beneficiary", "name")
MEMO = ("摘要", "交易摘要", "用途", "附言", "备注", "交易备注", "客户摘要", "交易说明", "交易详情", "memo",
        "description", "narrative", "details", "remark", "remarks")
CATEGORY = ("交易类型", "业务类型", "交易名称", "type", "transaction type")
CURRENCY = ("币种", "交易币种", "货币", "币别", "记账币种", "currency")
IDENTIFIER = ("流水号", "交易流水号", "交易序号", "交易编号", "凭证号", "交易参考号", "transaction id", "reference", "id")

IN_WORDS = {"收", "收入", "贷", "贷方", "存入", "转入", "来账", "credit", "cr", "c", "in", "+"}
OUT_WORDS = {"支", "支出", "借", "借方", "支取", "转出", "往账", "debit", "dr", "d", "out", "-"}


def _keys(aliases: tuple[str, ...]) -> set[str]:
    return {header_key(a) for a in aliases}


def _is_header(keys: list[str]) -> bool:
    present = set(keys)
    when = present & (_keys(DATE) | _keys(TIME))
    signed = present & _keys(SIGNED)
    pair = present & _keys(INCOME) and present & _keys(EXPENSE)
    return bool(when) and bool(signed or pair)


def detect(path: Path, head: bytes) -> float:
    if not head or head.startswith(b"PK"):
        return 0.0
    text = head_text(head)

    lines = text.splitlines()[:HEADER_SEARCH_LINES]
    for line in lines:
        delimiter = "\t" if line.count("\t") > line.count(",") else ","
        try:
            cells = next(csv.reader([line], delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        if _is_header([header_key(c) for c in cells]):
            return 0.6
    return 0.0


def parse(path: Path, options: StatementOptions) -> Iterator[Transaction]:
    rows = csv_rows(path)
    line, header = find_header(rows, path, _is_header, "bank statement (a date column and an amount column)")
    table = Table(path, line, header)
    date_column = table.index(*DATE)
    time_column = table.index(*TIME)
    when_column = date_column if date_column is not None else time_column
    signed = table.index(*SIGNED)
    income = table.indexes(*INCOME)
    expense = table.indexes(*EXPENSE)
    direction_column = table.index(*DIRECTION)
    counterparty = table.indexes(*COUNTERPARTY)
    memo = table.indexes(*MEMO)
    category = table.index(*CATEGORY)
    currency = table.index(*CURRENCY)
    identifier = table.index(*IDENTIFIER)
    width = max(i for i, key in enumerate(table.keys) if key) + 1
    for line, row in data_rows(rows, table, when_column, width):
        def cell(index: int | None):
            return row[index] if index is not None and index < len(row) else None

        def first(indexes: list[int]) -> tuple[int | None, str | None]:
            for index in indexes:
                text = value(cell(index))
                if text is not None:
                    return index, text
            return None, None

        clock = cell(time_column) if date_column is not None and time_column is not None else None
        moment, date_only = instant(cell(when_column), options.tz, path, line, table.name(when_column), clock)
        amount = _amount(path, line, table, cell, first, signed, income, expense, direction_column)
        direction = "in" if amount > 0 else "out" if amount < 0 else "neutral"
        yield Transaction(
            time=moment,
            amount=amount,
            currency=currency_code(cell(currency)),
            counterparty=first(counterparty)[1],
            memo=join_memo(*(value(cell(i)) for i in memo)),
            id=value(cell(identifier)),
            direction=direction,
            source_line=line,
            source_path=str(path),
            format=NAME,
            category=value(cell(category)),
            status=None,
            date_only=date_only,
        )


def _amount(path, line, table, cell, first, signed, income, expense, direction_column) -> Decimal:
    if income and expense:
        in_index, in_text = first(income)
        out_index, out_text = first(expense)
        credit = abs(money(in_text, path, line, table.name(in_index))) if in_text is not None else Decimal(0)
        debit = abs(money(out_text, path, line, table.name(out_index))) if out_text is not None else Decimal(0)
        if credit and debit:
            raise ParseError(str(path), line, f"both {table.name(in_index)} and {table.name(out_index)} are filled in")
        if in_text is not None or out_text is not None:
            return credit - debit
        if signed is None:
            names = "/".join(table.name(i) for i in (income[0], expense[0]))
            raise ParseError(str(path), line, f"no amount in {names}")
    text = value(cell(signed))
    if text is None:
        raise ParseError(str(path), line, f"no amount in {table.name(signed)}")
    amount = money(text, path, line, table.name(signed))
    if direction_column is not None:
        word = clean(cell(direction_column)).lower()
        if word in IN_WORDS:
            return abs(amount)
        if word in OUT_WORDS:
            return -abs(amount)
        if word:
            raise ParseError(str(path), line, f"{table.name(direction_column)} {clean(cell(direction_column))!r} is neither in nor out")
    return amount
