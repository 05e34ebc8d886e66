"""Statement readers: bank and payment-app exports turned into one :class:`Transaction` record.

A statement module defines

* ``NAME`` (``"wechat-pay"``) and ``DESCRIPTION`` (what it reads),
* ``detect(path: Path, head: bytes) -> float`` — confidence 0..1 (``head`` is the first 64 KiB), and
* ``parse(path: Path, options: StatementOptions) -> Iterator[Transaction]`` — a *streaming* reader
  that raises :class:`~chataudit.errors.ParseError` with the file and line of anything malformed.

This mirrors :mod:`chataudit.formats` (chat exports); third parties add statement formats through
the ``chataudit.statements`` entry-point group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from ..errors import ChatAuditError
from ..formats import load_modules, most_confident

BUILTIN = ["wechat_pay", "alipay", "bank_csv"]
DEFAULT_ZONE = "Asia/Shanghai"  # Chinese bank and payment-app statements print Beijing time

# a status that says no money ended up moving (closed, failed, returned, fully refunded)
UNSETTLED_WORDS = ("对方已退还", "已退还", "已全额退款", "交易关闭", "已关闭", "失败", "等待", "未支付", "已撤销", "已退回")


@dataclass(frozen=True, slots=True)
class Transaction:
    """One line of a statement: money that moved (or was meant to) at an instant."""

    time: datetime  # aware; wall-clock times are read in the statement's zone (--tz)
    amount: Decimal  # signed from the account holder's side: + money in, − money out (neutral: as written)
    currency: str = "CNY"
    counterparty: str | None = None
    memo: str | None = None
    id: str | None = None  # the statement's own transaction number, when it has one
    direction: str = "neutral"  # in | out | neutral (transfers between own accounts, top-ups …)
    source_line: int | None = None  # 1-based line (CSV) or row (xlsx) in the statement file
    source_path: str | None = None
    format: str | None = None
    category: str | None = None  # the statement's own type: 转账, 微信红包, 商户消费, 摘要 …
    status: str | None = None  # 支付成功, 已存入零钱, 对方已退还, 交易关闭 …
    date_only: bool = False  # the statement gives only a day (many bank CSVs): time is 00:00 of it

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError("Transaction.time must be timezone-aware")

    @property
    def settled(self) -> bool:
        """False when the statement says the money did not (or no longer) move."""
        return not (self.status and any(word in self.status for word in UNSETTLED_WORDS))

    @property
    def ref(self) -> str:
        """Where the line is: ``file:line``, stable even when the statement has no transaction id."""
        name = Path(self.source_path).name if self.source_path else "?"
        return f"{name}:{self.source_line}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "format": self.format,
            "path": self.source_path,
            "line": self.source_line,
            "id": self.id,
            "time": self.time.date().isoformat() if self.date_only else self.time.isoformat(),
            "date_only": self.date_only,
            "amount": str(self.amount),
            "currency": self.currency,
            "direction": self.direction,
            "counterparty": self.counterparty,
            "memo": self.memo,
            "category": self.category,
            "status": self.status,
            "settled": self.settled,
        }


@dataclass(frozen=True)
class StatementOptions:
    tz: ZoneInfo | timezone = field(default_factory=lambda: ZoneInfo(DEFAULT_ZONE))


_registry: dict[str, ModuleType] | None = None


def registry() -> dict[str, ModuleType]:
    """Every statement reader by name: the built-ins, then entry-point plugins."""
    global _registry
    if _registry is None:
        _registry = load_modules(__name__, BUILTIN, "chataudit.statements")
    return _registry


def detect(path: Path) -> tuple[ModuleType | None, float]:
    """The most confident reader for ``path``."""
    return most_confident(registry().values(), path)


def read_statement(path: str | Path, options: StatementOptions | None = None,
                   format_name: str | None = None) -> Iterator[Transaction]:
    """The transactions of one statement file, in file order (streamed)."""
    path = Path(path)
    if not path.is_file():
        raise ChatAuditError(f"{path}: no such statement file")
    if format_name:
        try:
            module = registry()[format_name]
        except KeyError:
            known = ", ".join(sorted(registry()))
            raise ChatAuditError(f"unknown statement format {format_name!r} (known: {known})") from None
    else:
        module, confidence = detect(path)
        if module is None or confidence < 0.3:
            raise ChatAuditError(
                f"{path}: not a statement chataudit reads (WeChat Pay bill, Alipay bill, or a bank CSV "
                "with a date column and an amount or income/expense columns)"
            )
    return module.parse(path, options or StatementOptions())
