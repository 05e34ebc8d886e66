"""WeChat Pay bill (微信支付账单明细), as CSV or as the newer .xlsx.

WeChat → 我 → 服务 → 钱包 → 账单 → 下载账单 → 用于个人对账 mails a zip with
``微信支付账单(YYYYMMDD-YYYYMMDD).csv`` (older) or ``微信支付账单流水文件(…).xlsx`` (newer).
Both hold a 16-line preamble (nickname, period, export type and time, counts and totals of
收入/支出/中性交易, notes, a ``-----微信支付账单明细列表-----`` rule), then the table::

    交易时间,交易类型,交易对方,商品,收/支,金额(元),支付方式,当前状态,交易单号,商户单号,备注

Amounts are written ``¥28.16``; 收/支 is 收入, 支出 or ``/`` (neutral: top-ups, withdrawals,
零钱通 moves); ``/`` also stands for an empty cell; transaction numbers carry a trailing tab (or
space) so that Excel keeps them as text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..formats import head_text
from . import StatementOptions, Transaction
from .tabular import (Table, clean, csv_rows, data_rows, find_header, instant, is_xlsx, join_memo, money,
                      value, xlsx_head_rows, xlsx_rows)

NAME = "wechat-pay"
DESCRIPTION = "WeChat Pay bill 微信支付账单明细 (.csv, or the newer .xlsx)"

TITLE = "微信支付账单明细"
COLUMNS = ("交易时间", "交易类型", "交易对方", "商品", "收/支", "金额(元)", "支付方式", "当前状态", "交易单号", "商户单号", "备注")
DIRECTIONS = {"收入": "in", "支出": "out"}


def _is_header(keys: list[str]) -> bool:
    return len(keys) >= 6 and keys[0] == "交易时间" and "交易类型" in keys and "金额(元)" in keys and "收/支" in keys


def detect(path: Path, head: bytes) -> float:
    if not head:
        return 0.0
    if is_xlsx(path, head):
        rows = xlsx_head_rows(path, 20)
        if rows is None:
            return 0.3  # a damaged workbook: parse() says what is wrong with it
        texts = [cell for row in rows for cell in row[:1]]
        if any(TITLE in text for text in texts):
            return 0.95
        return 0.9 if any(_is_header([c.replace(" ", "") for c in row]) for row in rows) else 0.0
    text = head_text(head)
    if TITLE in text[:200] and "交易时间,交易类型,交易对方" in text:
        return 0.95
    return 0.85 if "交易时间,交易类型,交易对方,商品,收/支,金额(元)" in text else 0.0


def parse(path: Path, options: StatementOptions) -> Iterator[Transaction]:
    with open(path, "rb") as handle:
        head = handle.read(8)
    rows = xlsx_rows(path) if is_xlsx(path, head) else csv_rows(path)
    line, header = find_header(rows, path, _is_header, "交易时间,交易类型,…,金额(元),… (WeChat Pay)")
    table = Table(path, line, header)
    col = {name: table.index(name) for name in COLUMNS}
    missing = [name for name in ("交易时间", "收/支", "金额(元)") if col[name] is None]
    if missing:  # pragma: no cover - _is_header requires them
        raise ValueError(missing)
    width = max(index for index in col.values() if index is not None) + 1
    for line, row in data_rows(rows, table, col["交易时间"], width):
        def cell(name: str):
            index = col[name]
            return row[index] if index is not None and index < len(row) else None

        moment, date_only = instant(cell("交易时间"), options.tz, path, line, "交易时间")
        amount = abs(money(cell("金额(元)"), path, line, "金额(元)"))
        direction = DIRECTIONS.get(clean(cell("收/支")), "neutral")
        category = value(cell("交易类型"))
        counterparty = value(cell("交易对方"))
        if counterparty and category and "红包" in category and counterparty.startswith("发给"):
            counterparty = counterparty[2:] or None  # a sent red packet's counterparty reads 发给<name>
        yield Transaction(
            time=moment,
            amount=-amount if direction == "out" else amount,
            currency="CNY",
            counterparty=counterparty,
            memo=join_memo(value(cell("商品")), value(cell("备注"))),
            id=value(cell("交易单号")),
            direction=direction,
            source_line=line,
            source_path=str(path),
            format=NAME,
            category=category,
            status=value(cell("当前状态")),
            date_only=date_only,
        )
