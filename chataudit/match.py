"""Pair statement transactions with the chat messages that claim or reflect them.

A *claim* is a payment a message speaks of: a transfer or red-packet message with its amount, or an
amount written in text ("已转5000元", "首付30万", "¥1,200.50", "转了五千", "3.5万", "1.2w").
Each transaction is paired with at most one claim and each claim with at most one transaction:
candidate pairs (same amount, compatible currency and direction, within the time window) are
scored — exact amount, closeness in time, matching counterparty name, matching kind — and taken
greedily, best score first. What is left over is reported as claims with no transaction and
transactions with no claim.

Directions are read from the statement holder's side, who is taken to be the ``is_me`` side of the
chat (``--me`` at import): a transfer the holder sent is money out, one they received money in.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from .errors import ChatAuditError
from .statements import StatementOptions, Transaction, read_statement
from .store import Archive
from .store.sqlite import MESSAGE_SELECT, message_dict

DEFAULT_WINDOW_HOURS = 72.0

# ---- amounts written in text ------------------------------------------------------------------

_FULL_WIDTH = str.maketrans("０１２３４５６７８９．＄", "0123456789.$")
_UNIT = r"(?:[万萬亿億千仟百佰]|[wWkK](?![A-Za-z]))"
_ARABIC = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
# after the number: units ("30万", "3万5千", "1.2w") and the colloquial tail digit ("3万5" = 35000)
_REST = (rf"(?:{_UNIT}(?:\d+(?:\.\d+)?(?={_UNIT}))?)*"
         r"(?:(?<=[万萬千仟])\d(?![\d.,月日号点时年个次人]))?")
_CN_RUN = r"[零〇一二两兩三四五六七八九十拾百佰千仟万萬亿億壹贰叁肆伍陆柒捌玖]+(?:点[零〇一二两三四五六七八九]+)?"
_PREFIX = r"US\$|HK\$|[¥￥$]|RMB|CNY|USD|HKD|人民币"
_SUFFIX = r"元|块|圆|人民币|RMB|CNY|美元|美金|刀|港币|港元|HKD|USD|yuan|dollars?"
_MENTION = re.compile(
    rf"(?P<pre>{_PREFIX})?[ \t]*(?:(?P<num>{_ARABIC})(?P<rest>{_REST})|(?P<cn>{_CN_RUN}))(?:[ \t]*(?P<suf>{_SUFFIX}))?"
)
_UNIT_VALUE = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8, "千": 1000, "仟": 1000, "百": 100, "佰": 100,
               "w": 10**4, "W": 10**4, "k": 1000, "K": 1000}
_CURRENCY = {"¥": "CNY", "￥": "CNY", "RMB": "CNY", "CNY": "CNY", "人民币": "CNY", "元": "CNY", "块": "CNY", "圆": "CNY",
             "yuan": "CNY", "$": "USD", "US$": "USD", "USD": "USD", "美元": "USD", "美金": "USD", "刀": "USD",
             "dollar": "USD", "dollars": "USD", "HK$": "HKD", "HKD": "HKD", "港币": "HKD", "港元": "HKD"}
# words around a number that make it money ("转", "首付", "装修款" …)
_MONEY_BEFORE = re.compile(r"(?:[转付汇打给收还借欠退赔交存取花垫]|报销|红包|首付|定金|订金|押金|尾款|房租|租金|工资|薪|货款|款|"
                           r"金额|费|钱|价|共计|合计|总共|一共|总计|分红|利润|投资|入股|贷|本金|利息|彩礼|预算|成本|余额|报价)")
_MONEY_AFTER = re.compile(r"款|钱|费|金|租|红包|工资|报酬|薪|^\s?(?:[给转打汇还][你我]|收到|已收|到账)")
# what follows a number that is not money: dates, times, counts, measures, percentages, approximations
_NOT_MONEY_AFTER = re.compile(
    r"[月日号點点时時分秒年岁歲周天个個次人位名楼樓层層米里斤克吨噸平度%％条條件本张張台部辆輛套间間栋棟户戶家只份杯瓶句字页頁章集期届级級倍成折室路站步多余几"
    r"A-Za-z:：/\-~～]"
)
_NOT_MONEY_BEFORE = re.compile(r"(?:第|周|星期|礼拜|尾号|卡号|账号|单号|编号|号码|电话|手机|工号|房号|订单|No\.?|#)\s*$")
_SENTENCE_END = re.compile(r"[。！？!?\n]")
_CLAUSE = re.compile(r"[^。！？!?\n；;，,]+")
_MAGNITUDE_CN = set("十拾百佰千仟万萬亿億")
_CN_LEADING_UNIT = set("千仟万萬亿億百佰")


@dataclass(frozen=True, slots=True)
class AmountMention:
    """An amount of money written in a text, where it is and how it was written."""

    value: Decimal  # > 0
    currency: str | None  # ISO 4217 when the text says (¥, 元, 美元 …), else None
    start: int
    end: int
    text: str  # text[start:end]


def find_amounts(text: str) -> list[AmountMention]:
    """Every amount of money written in ``text``, in order, each value once.

    A number counts as money when it has a currency sign or unit (¥, 元, 块, RMB …), a magnitude that
    people only use so for money in chat (万, 千, w, k, 亿 — "首付30万", "1.2w"), or a money word close
    before or after it ("已转5000", "5000装修款"). Dates, times, counts, measures, percentages, phone,
    card and order numbers are not money.
    """
    if not text:
        return []
    normalized = text.translate(_FULL_WIDTH)
    found: list[AmountMention] = []
    seen: set[Decimal] = set()
    for match in _MENTION.finditer(normalized):
        mention = _mention(normalized, match)
        if mention is None or mention.value in seen:
            continue
        seen.add(mention.value)
        found.append(AmountMention(mention.value, mention.currency, mention.start, mention.end,
                                   text[mention.start:mention.end]))
    return found


def _mention(text: str, match: re.Match[str]) -> AmountMention | None:
    pre, suf = match.group("pre"), match.group("suf")
    start, end = match.start(), match.end()
    # numbers inside identifiers (wxid_123, A5000, 13812345678's middle) are not amounts
    first_char = match.start("num") if match.group("num") else match.start("cn")
    if first_char > 0 and not pre and re.match(r"[\w.]", text[first_char - 1]) and not _is_cjk(text[first_char - 1]):
        return None
    if end < len(text) and match.group("num") and not suf and re.match(r"[\d.]", text[end]):
        return None
    following = text[end:end + 1] if not suf else ""
    if following and _NOT_MONEY_AFTER.match(following):
        return None
    before = text[max(0, start - 6):start]
    before = _SENTENCE_END.split(before)[-1]
    if not pre and _NOT_MONEY_BEFORE.search(before):
        return None
    if match.group("num"):
        digits = match.group("num").replace(",", "")
        rest = match.group("rest") or ""
        if not rest and not pre and not suf and "." not in digits and (
                len(digits) >= 12 or (len(digits) == 11 and digits[0] == "1")):
            return None  # mobile, card, account and order numbers
        value = _arabic_value(Decimal(digits), rest)
        big_unit = any(ch in rest for ch in "万萬亿億千仟wWkK")
    else:
        run = match.group("cn")
        if run[0] in _CN_LEADING_UNIT:
            return None  # 千万 ("by all means"), 万一 ("in case")
        if not (_MAGNITUDE_CN & set(run)) and not suf:
            return None  # 一, 两, 三 … are counts unless a currency follows
        value = _chinese_value(run)
        if value is None:
            return None
        big_unit = any(ch in run for ch in "万萬亿億千仟")
    if value <= 0 or value >= Decimal(10) ** 12:
        return None
    money_words = bool(_MONEY_BEFORE.search(before)) or bool(_MONEY_AFTER.search(text[end:end + 4]))
    if not (pre or suf or big_unit or money_words):
        return None
    currency = _CURRENCY.get(pre or "") or _CURRENCY.get(suf or "")
    value = value.quantize(Decimal("0.01")) if value == value.quantize(Decimal("0.01")) else value
    return AmountMention(value, currency, start, end, text[start:end])


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


def _arabic_value(number: Decimal, rest: str) -> Decimal:
    """30 + 万 → 300000; 3 + 万5千 → 35000; 3 + 万5 → 35000 (colloquial); 3 + 千万 → 30000000."""
    total = Decimal(0)
    current: Decimal | None = number
    last_unit: int | None = None
    for token in re.findall(r"\d+(?:\.\d+)?|[^\d.\s]", rest):
        if token[0].isdigit():
            current = Decimal(token)
            continue
        unit = _UNIT_VALUE[token]
        if current is None:
            total *= unit
        else:
            total += current * unit
        current, last_unit = None, unit
    if current is not None:
        total += current if last_unit is None else current * (last_unit // 10)
    return total


def _chinese_value(run: str) -> Decimal | None:
    import cn2an

    normalized = run.replace("萬", "万").replace("億", "亿").replace("兩", "两")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            number = cn2an.cn2an(normalized, "normal")
        except (ValueError, KeyError, IndexError, TypeError):
            return None
    try:
        return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
    except InvalidOperation:  # pragma: no cover - cn2an returns int or float
        return None


# ---- claims ---------------------------------------------------------------------------------------

_RECEIVED = re.compile(r"收到|已收|收了|到账|收款|入账")
_TO_YOU = re.compile(r"[转给打汇还付][了过]?给?你|你[查]?收一?下|查收|请收")
_TO_ME = re.compile(r"[转给打汇还付][了过]?给?我")
# the writer's own payment: 我…转, 已转, 刚付, 转了 (not the 付 of 首付, not "你那边付")
_PAID = re.compile(r"(?:我|已经?|刚)[^你他她]{0,6}?[转付打汇还垫交]|[转付打汇还垫交][了过]|发了?红包")
_TRANSFER_RECEIVED = {"received"}


@dataclass(frozen=True)
class Claim:
    """A payment a message speaks of."""

    message: dict[str, Any]
    amount: Decimal  # > 0
    currency: str | None
    direction: str | None  # in | out from the statement holder's (is_me) side; None when the chat does not say
    source: str  # transfer | red_packet | text
    at: datetime
    text: str | None = None  # the amount as written, for text claims
    related: tuple[int, ...] = ()  # other messages about the same payment (a transfer's receipt)
    names: frozenset[str] = frozenset()  # who the other side is, for counterparty matching

    def as_dict(self) -> dict[str, Any]:
        return {
            "amount": str(self.amount),
            "currency": self.currency,
            "direction": self.direction,
            "source": self.source,
            "text": self.text,
            "related_messages": list(self.related),
        }


def claims_of(messages: Iterable[dict[str, Any]]) -> list[Claim]:
    """The claims in a stream of messages (as :func:`~chataudit.store.sqlite.message_dict` gives them).

    One pass: who each conversation's other side is comes from all messages; only messages that
    can hold an amount are kept.
    """
    names: dict[int, set[str]] = {}
    candidates: list[dict[str, Any]] = []
    for message in messages:
        _add_names(names, message)
        if (message.get("kind") in ("transfer", "red_packet") and message.get("amount")) or \
                _MAY_HOLD_AMOUNT.search(message.get("text") or ""):
            candidates.append(message)
    claims: list[Claim] = []
    open_transfers: list[Claim] = []  # sent transfers still waiting for their receipt
    for message in candidates:
        at = datetime.fromisoformat(message["sent_at"])
        other_side = _other_side(message, names)
        kind = message.get("kind")
        if kind in ("transfer", "red_packet") and message.get("amount"):
            try:
                amount = abs(Decimal(message["amount"]))
            except InvalidOperation:
                continue
            if amount == 0:
                continue
            extras = message.get("extras") or {}
            status = extras.get("transfer_status")
            claim = Claim(message, amount, message.get("currency"), _structured_direction(message, status),
                          str(kind), at, names=other_side)
            if kind == "transfer" and status in _TRANSFER_RECEIVED:
                sent = _receipt_of(open_transfers, claim)
                if sent is not None:  # the receipt is the same payment: one claim, two messages
                    index = next(i for i, c in enumerate(claims) if c is sent)
                    claims[index] = dataclasses.replace(sent, related=sent.related + (message["id"],))
                    open_transfers.remove(sent)
                    continue
            claims.append(claim)
            if kind == "transfer" and status not in _TRANSFER_RECEIVED:
                open_transfers.append(claim)
            continue
        for mention in find_amounts(message.get("text") or ""):
            claims.append(Claim(message, mention.value, mention.currency,
                                _text_direction(message, message["text"], mention), "text", at,
                                text=mention.text, names=other_side))
    return claims


_MAY_HOLD_AMOUNT = re.compile(r"[0-9０-９零〇一二两兩三四五六七八九十拾百佰千仟万萬亿億壹贰叁肆伍陆柒捌玖]")


def _structured_direction(message: dict[str, Any], status: str | None) -> str | None:
    is_me = message.get("is_me")
    if is_me is None:
        return None
    if status in _TRANSFER_RECEIVED:  # the receiver's confirmation: its sender got the money
        return "in" if is_me else "out"
    if status == "returned":  # returned by its sender: the money goes back to the payer
        return None if is_me else "in"
    return "out" if is_me else "in"  # a transfer or red packet sent by the message's sender


def _text_direction(message: dict[str, Any], text: str, mention: AmountMention) -> str | None:
    is_me = message.get("is_me")
    if is_me is None:
        return None
    clause = next((c.group(0) for c in _CLAUSE.finditer(text) if c.start() <= mention.start < c.end()), text)
    for scope in (clause, text):
        if _RECEIVED.search(scope):
            return "in" if is_me else "out"
        if _TO_YOU.search(scope):
            return "out" if is_me else "in"
        if _TO_ME.search(scope):
            return "in" if is_me else "out"
        if is_me and _PAID.search(scope):
            return "out"
    return None


def _receipt_of(open_transfers: list[Claim], receipt: Claim) -> Claim | None:
    """The sent transfer a receipt confirms: same transfer id, else same conversation and amount, at most a
    day earlier (WeChat returns a transfer not accepted within 24 h)."""
    transfer_id = (receipt.message.get("extras") or {}).get("transfer_id")
    for sent in open_transfers:
        if transfer_id and (sent.message.get("extras") or {}).get("transfer_id") == transfer_id:
            return sent
    for sent in open_transfers:
        if (sent.message["conversation"] == receipt.message["conversation"] and sent.amount == receipt.amount
                and timedelta(0) <= receipt.at - sent.at <= timedelta(days=1)
                and _sender(sent.message) != _sender(receipt.message)):
            return sent
    return None


def _sender(message: dict[str, Any]) -> str | None:
    return message.get("sender_id") or message.get("sender_name")


def _add_names(names: dict[int, set[str]], message: dict[str, Any]) -> None:
    """Collect the names each conversation's other side goes by: its title and the others' sender names."""
    bucket = names.setdefault(message["conversation"], set())
    if message.get("conversation_title"):
        bucket.add(message["conversation_title"])
    if message.get("is_me") is False:
        bucket.update(n for n in (message.get("sender_name"), message.get("sender_id")) if n)


def _other_side(message: dict[str, Any], names: dict[int, set[str]]) -> frozenset[str]:
    if message.get("is_me"):
        return frozenset(names.get(message["conversation"], set()))
    own = {n for n in (message.get("sender_name"), message.get("sender_id")) if n}
    return frozenset(own or names.get(message["conversation"], set()))


# ---- matching --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pair:
    transaction: Transaction
    claim: Claim
    delta_hours: float  # message instant − transaction instant (0 when a date-only line's day holds the message)
    score: float
    reasons: tuple[str, ...]
    exact: bool = True  # same amount to the cent (else within --tolerance)


@dataclass
class MatchResult:
    matched: list[Pair] = field(default_factory=list)
    unmatched_claims: list[tuple[Claim, list[Pair]]] = field(default_factory=list)  # with the candidates others took
    unmatched_transactions: list[Transaction] = field(default_factory=list)
    transactions: int = 0
    claims: int = 0


def match(transactions: Sequence[Transaction], claims: Sequence[Claim], *,
          window_hours: float = DEFAULT_WINDOW_HOURS, tolerance: Decimal = Decimal(0)) -> MatchResult:
    """One-to-one pairing of transactions and claims, best-scored candidate pairs first."""
    if window_hours <= 0:
        raise ValueError("the window must be more than 0 hours")
    tolerance = Decimal(str(tolerance))
    window = timedelta(hours=window_hours)
    # transactions by size, so each claim meets only those of its amount (± tolerance)
    by_size = sorted(range(len(transactions)), key=lambda i: abs(transactions[i].amount))
    sizes = [abs(transactions[i].amount) for i in by_size]
    candidates: list[tuple[tuple, Pair, int, int]] = []
    by_claim: dict[int, list[Pair]] = {}
    for c_index, claim in enumerate(claims):
        low = bisect_left(sizes, claim.amount * (1 - tolerance))
        high = bisect_right(sizes, claim.amount * (1 + tolerance))
        for t_index in by_size[low:high]:
            pair = _candidate(transactions[t_index], claim, window, tolerance)
            if pair is None:
                continue
            by_claim.setdefault(c_index, []).append(pair)
            # an exact amount always goes first: a near amount only pairs what no exact one explains
            order = (not pair.exact, -pair.score, abs(pair.delta_hours), t_index, c_index)
            candidates.append((order, pair, t_index, c_index))
    candidates.sort(key=lambda item: item[0])
    taken_transactions: set[int] = set()
    taken_claims: set[int] = set()
    result = MatchResult(transactions=len(transactions), claims=len(claims))
    for _, pair, t_index, c_index in candidates:
        if t_index in taken_transactions or c_index in taken_claims:
            continue
        taken_transactions.add(t_index)
        taken_claims.add(c_index)
        result.matched.append(pair)
    result.matched.sort(key=lambda p: (p.transaction.time, p.claim.at))
    result.unmatched_claims = [(claim, sorted(by_claim.get(i, []), key=lambda p: -p.score))
                               for i, claim in enumerate(claims) if i not in taken_claims]
    result.unmatched_transactions = [t for i, t in enumerate(transactions) if i not in taken_transactions]
    return result


def _candidate(transaction: Transaction, claim: Claim, window: timedelta, tolerance: Decimal) -> Pair | None:
    if claim.currency and transaction.currency and claim.currency != transaction.currency:
        return None
    if claim.direction and transaction.direction != "neutral" and claim.direction != transaction.direction:
        return None
    delta = _delta(transaction, claim.at)
    if abs(delta) > window:
        return None
    size = abs(transaction.amount)
    reasons: list[str] = []
    if size == claim.amount:
        score = 0.5
        reasons.append("same amount")
    else:
        if not tolerance or not claim.amount:
            return None
        off = abs(size - claim.amount) / claim.amount
        if off > tolerance:
            return None
        score = 0.2 * float(1 - off / tolerance)
        reasons.append(f"amount off by {off:.2%}")
    hours = delta.total_seconds() / 3600
    score += 0.3 * (1 - abs(delta) / window)
    reasons.append(f"{abs(hours):.2f} h {'after' if hours >= 0 else 'before'} the transaction")
    if transaction.counterparty and any(same_name(transaction.counterparty, name) for name in claim.names):
        score += 0.15
        reasons.append(f"counterparty {transaction.counterparty} is the chat partner")
    category = transaction.category or ""
    if (claim.source == "transfer" and "转账" in category) or (claim.source == "red_packet" and "红包" in category):
        score += 0.05
        reasons.append(f"{claim.source} message and {category} line")
    if not transaction.settled:
        score -= 0.2
        reasons.append(f"status {transaction.status}: the money did not move")
    return Pair(transaction, claim, round(hours, 2) + 0.0, round(max(score, 0.01), 3), tuple(reasons),
                exact=size == claim.amount)


def _delta(transaction: Transaction, at: datetime) -> timedelta:
    """How long after the transaction the message was sent; a date-only line spans its whole day."""
    if not transaction.date_only:
        return at - transaction.time
    start = transaction.time
    end = start + timedelta(days=1)
    if at < start:
        return at - start
    if at >= end:
        return at - end
    return timedelta(0)


def same_name(counterparty: str, name: str) -> bool:
    """``王建国`` ~ ``王建国``, ``建国`` (a nickname within the name), ``王*国`` / ``**国`` (masked by the statement)."""
    a = re.sub(r"\s+", "", counterparty).casefold()
    b = re.sub(r"\s+", "", name).casefold()
    if not a or not b:
        return False
    if "*" in a:
        pattern = "^" + ".+".join(re.escape(part) for part in re.split(r"\*+", a)) + "$"
        visible = a.replace("*", "")
        return len(visible) >= 1 and re.match(pattern, b) is not None
    if a == b:
        return True
    shorter, longer = sorted((a, b), key=len)
    return len(shorter) >= 2 and shorter in longer


# ---- the archive side ----------------------------------------------------------------------------

def load_transactions(paths: Sequence[str | Path], tz=None) -> tuple[list[Transaction], list[dict[str, Any]]]:
    """Every transaction of the given statements, and per file what was read."""
    options = StatementOptions(tz=tz) if tz is not None else StatementOptions()
    transactions: list[Transaction] = []
    files: list[dict[str, Any]] = []
    for path in paths:
        read = list(read_statement(path, options))
        transactions.extend(read)
        files.append({"path": str(path), "format": read[0].format if read else None, "transactions": len(read)})
    return transactions, files


def messages_in(archive: Archive, since_ms: int, until_ms: int, *, conversation: str | None = None,
                person: str | None = None) -> Iterator[dict[str, Any]]:
    """The messages a match looks at: one conversation, one person, or the whole archive, in the period."""
    if conversation and person:
        raise ChatAuditError("give at most one of --conversation or --person")
    if conversation:
        row = archive.resolve_conversation(conversation)
        return archive.timeline(row["id"], since_ms, until_ms)
    if person:
        from .people import person_timeline

        return person_timeline(archive, person, since_ms, until_ms)
    sql = MESSAGE_SELECT + " WHERE m.sent_at_ms >= ? AND m.sent_at_ms < ? ORDER BY m.sent_at_ms, m.id"
    return (message_dict(row) for row in archive.db.execute(sql, (since_ms, until_ms)))


def match_statements(archive: Archive, statements: Sequence[str | Path], *, conversation: str | None = None,
                     person: str | None = None, window_hours: float = DEFAULT_WINDOW_HOURS,
                     tz=None, tolerance: Decimal = Decimal(0)) -> dict[str, Any]:
    """Read the statements, find the claims in the chat of the same period (± window), pair them.

    Returns the report as documented (``matched``, ``unmatched_claims``, ``unmatched_transactions``,
    ``summary``), ready for JSON.
    """
    from .model import utc_ms

    if window_hours <= 0:
        raise ChatAuditError("--window must be more than 0 hours")
    transactions, files = load_transactions(statements, tz)
    claims: list[Claim] = []
    if transactions:
        window = timedelta(hours=window_hours)
        since = min(t.time for t in transactions) - window
        until = max(t.time + (timedelta(days=1) if t.date_only else timedelta(0)) for t in transactions) + window
        claims = claims_of(messages_in(archive, utc_ms(since), utc_ms(until) + 1,
                                       conversation=conversation, person=person))
    result = match(transactions, claims, window_hours=window_hours, tolerance=tolerance)
    return report(result, files, window_hours)


def report(result: MatchResult, files: list[dict[str, Any]], window_hours: float) -> dict[str, Any]:
    return {
        "matched": [
            {
                "transaction": pair.transaction.as_dict(),
                "message": pair.claim.message,
                "claim": pair.claim.as_dict(),
                "delta_hours": pair.delta_hours,
                "score": pair.score,
                "reasons": list(pair.reasons),
            }
            for pair in result.matched
        ],
        "unmatched_claims": [
            {
                "message": claim.message,
                "claim": claim.as_dict(),
                "reason": _unmatched_reason(candidates, result, window_hours),
                "taken_by": [_taken_by(pair, result) for pair in candidates],
            }
            for claim, candidates in result.unmatched_claims
        ],
        "unmatched_transactions": [t.as_dict() for t in result.unmatched_transactions],
        "summary": {
            "transactions": result.transactions,
            "claims": result.claims,
            "matched": len(result.matched),
            "unmatched_claims": len(result.unmatched_claims),
            "unmatched_transactions": len(result.unmatched_transactions),
            "window_hours": window_hours,
            "statements": files,
        },
    }


def _unmatched_reason(candidates: list[Pair], result: MatchResult, window_hours: float) -> str:
    if not candidates:
        return f"no transaction of this amount within {window_hours:g} h"
    best = _taken_by(candidates[0], result)
    return (f"its transaction {best['transaction']} was paired with message {best['message']}, "
            f"a better match (score {best['score']} against {best['this_score']})")


def _taken_by(candidate: Pair, result: MatchResult) -> dict[str, Any]:
    winner = next(p for p in result.matched if p.transaction is candidate.transaction)
    return {"transaction": candidate.transaction.ref, "message": winner.claim.message["id"],
            "score": winner.score, "this_score": candidate.score}
