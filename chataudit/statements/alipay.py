"""Alipay bill (支付宝交易明细), in the layouts Alipay has shipped.

* **App export** (我的 → 账单 → … → 开具交易流水证明 → 用于个人对账, mailed as a zip): GBK CSV
  ``支付宝交易明细(YYYYMMDD-YYYYMMDD).csv``. A preamble of about 24 lines (导出信息, name, account,
  period, counts and totals, 特别提示 1–9, a ``-----支付宝（中国）网络技术有限公司  电子客户回单-----``
  rule), then space-padded columns ending in a comma::

      交易时间,交易分类,交易对方,对方账号,商品说明,收/支,金额,收/付款方式,交易状态,交易订单号,商家订单号,备注,

  Earlier app exports had the same columns in another order (``收/支`` first, ``交易时间`` last).
* **Website export** (支付宝交易记录明细查询, the older .txt/.csv): a 4-line preamble and::

      交易号,商家订单号,交易创建时间,付款时间,最近修改时间,交易来源地,类型,交易对方,商品名称,金额（元）,收/支,交易状态,服务费（元）,成功退款（元）,备注,资金状态,

  followed by a ``-----`` rule and footer lines (共N笔记录, 已收入/待收入/已支出/待支出, 导出时间).

收/支 is 收入, 支出 or 不计收支 (neutral: refunds, 余额宝 moves, own-account transfers; the
website layout may leave it empty and say 已收入/已支出 in 资金状态). Order numbers carry a trailing tab.
Columns are found by name, so any order works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..formats import head_text
from . import StatementOptions, Transaction
from .tabular import Table, clean, csv_rows, data_rows, find_header, instant, join_memo, money, value

NAME = "alipay"
DESCRIPTION = "Alipay bill 支付宝交易明细 (app export, GBK CSV; or the website's 交易记录明细查询)"

TIME_COLUMNS = ("付款时间", "交易时间", "交易创建时间")  # when the money moved, else when the order was made
AMOUNT_COLUMNS = ("金额", "金额(元)")
DIRECTIONS = {"收入": "in", "支出": "out"}
FUNDS = {"已收入": "in", "已支出": "out"}


def _is_header(keys: list[str]) -> bool:
    return ("收/支" in keys and any(k in keys for k in AMOUNT_COLUMNS)
            and any(k in keys for k in TIME_COLUMNS)
            and ("交易订单号" in keys or "交易号" in keys))


def detect(path: Path, head: bytes) -> float:
    if not head or head.startswith(b"PK"):
        return 0.0
    text = head_text(head)
    has_columns = "收/支" in text and ("交易订单号" in text or "交易号" in text) and "交易对方" in text
    if not has_columns:
        return 0.0
    return 0.95 if "支付宝" in text else 0.8


def parse(path: Path, options: StatementOptions) -> Iterator[Transaction]:
    rows = csv_rows(path)
    line, header = find_header(rows, path, _is_header, "交易时间/交易号 …,收/支,金额 (Alipay)")
    table = Table(path, line, header)
    time_columns = table.indexes(*TIME_COLUMNS)
    amount_column = table.index(*AMOUNT_COLUMNS)
    direction_column = table.index("收/支")
    col = {
        "counterparty": table.index("交易对方"),
        "item": table.index("商品说明", "商品名称"),
        "note": table.index("备注"),
        "id": table.index("交易订单号", "交易号"),
        "category": table.index("交易分类", "类型"),
        "status": table.index("交易状态"),
        "funds": table.index("资金状态"),
    }
    # the first time column is what tells a transaction line from a footer line
    first_time = min(time_columns)
    last_named = max(i for i, key in enumerate(table.keys) if key)  # the trailing comma adds an unnamed column
    for line, row in data_rows(rows, table, first_time, last_named + 1):
        def cell(index: int | None):
            return row[index] if index is not None and index < len(row) else None

        time_index = next(i for i in time_columns if value(row[i]))
        moment, date_only = instant(row[time_index], options.tz, path, line, table.name(time_index))
        amount = abs(money(cell(amount_column), path, line, table.name(amount_column)))
        direction = DIRECTIONS.get(clean(cell(direction_column))) or FUNDS.get(clean(cell(col["funds"])), "neutral")
        category = value(cell(col["category"]))
        yield Transaction(
            time=moment,
            amount=-amount if direction == "out" else amount,
            currency="CNY",
            counterparty=value(cell(col["counterparty"])),
            memo=join_memo(value(cell(col["item"])), value(cell(col["note"]))),
            id=value(cell(col["id"])),
            direction=direction,
            source_line=line,
            source_path=str(path),
            format=NAME,
            category=category,
            status=value(cell(col["status"])),
            date_only=date_only,
        )
