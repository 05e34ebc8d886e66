"""The statements a dispute turns on: dates and deadlines, amounts, quantities, commitments,
refusals, instructions and claims that something is done — each with its message, sender and instant.

:func:`extract` reads one message's text (Chinese and English) against the message's own date in
its own offset, so "下周五" sent on Thursday 2026-03-12 is 2026-03-20 wherever the archive is read.
Hedges ("尽快", "大概", "应该可以", "左右" …) in the same sentence mark a fact as ``hedged``.
Chinese numerals are read by cn2an (一万五 → 15000); amounts are :class:`~decimal.Decimal`, never floats.

Rules a reader should know:
* A bare weekday ("周五前") is this week's when it is still ahead (or today), else next week's; 周末 is Saturday;
  "本周五" is always this week's, "下周五" next week's (weeks start on Monday).
* A month-day without a year ("3月20日", "3.20", "3/20") takes the year that puts it within six
  months of the message.
* "N个工作日内" counts Monday–Friday only (public holidays are not known).
* A bare number is an amount only next to a money word ("定金3000"), a currency sign or unit,
  or a 千/万/亿 multiplier ("3万"); with a measure word ("3万件") it is a quantity.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Iterable, Iterator

from ..errors import ChatAuditError
from ..store import Archive

TYPES = ("date", "amount", "quantity", "commitment", "refusal", "instruction", "completion")

# ---- text preparation -------------------------------------------------------------------------

# full-width ASCII (１２３，ＲＭＢ) to half-width, one character for one, so spans stay valid
_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def _prepare(text: str) -> str:
    return text.translate(_WIDTH)


# ---- numbers ----------------------------------------------------------------------------------

CN_DIGITS = "零〇一二两俩三四五六七八九壹贰叁肆伍陆柒捌玖"
CN_UNITS = "十百千万亿拾佰仟廿卅"
CN_NUMBER = f"[{CN_DIGITS}十拾廿卅][{CN_DIGITS}{CN_UNITS}]*(?:点[{CN_DIGITS}]+)?"
# arabic with thousands separators or decimals, then an optional multiplier and a tail digit ("1万5")
AR_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
MULTIPLIER = r"(?:千万|百万|亿|万|千|百|[kK](?![a-zA-Z])|[wW](?![a-zA-Z]))"
AR_WITH_MULT = rf"(?:{AR_NUMBER})(?:{MULTIPLIER}(?:\d(?![\d.]))?(?:千|百)?)?"

MULT_VALUE = {"百": 100, "千": 1000, "万": 10_000, "亿": 100_000_000, "百万": 1_000_000, "千万": 10_000_000,
              "k": 1000, "K": 1000, "w": 10_000, "W": 10_000}


def parse_number(text: str) -> Decimal | None:
    """A number as written in chat: 5000, 1,200.50, 1.2万, 1万5, 3千5, 5k, 一万五, 两千五, 三十万, 零点五."""
    text = text.strip().replace(",", "").replace("，", "")
    if not text:
        return None
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return Decimal(text)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(千万|百万|亿|万|千|百|[kKwW])(?:(\d)(千|百)?)?", text)
    if match:
        head, mult, tail, tail_unit = match.groups()
        value = Decimal(head) * MULT_VALUE[mult]
        if tail:
            # "1万5" is 15000 and "3千5" 3500: a lone tail digit is one order below the multiplier
            step = MULT_VALUE[tail_unit] if tail_unit else MULT_VALUE[mult] // 10
            if step < 1 or (tail_unit and MULT_VALUE[tail_unit] >= MULT_VALUE[mult]):
                return None
            value += Decimal(tail) * step
        return value
    if re.fullmatch(f"[{CN_DIGITS}{CN_UNITS}点]+", text):
        return _chinese_number(text)
    return None


def _chinese_number(text: str) -> Decimal | None:
    import cn2an

    text = text.replace("俩", "两").replace("〇", "零").replace("廿", "二十").replace("卅", "三十")
    if "点" in text and text[-1] in "万亿":  # 一点二万: cn2an reads no multiplier after a decimal
        head = _chinese_number(text[:-1])
        return None if head is None else head * MULT_VALUE[text[-1]]
    try:
        value = cn2an.cn2an(text, "smart")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def decimal_text(value: Decimal, money: bool = True) -> str:
    """The canonical decimal string: 15000, 1200.50 (money keeps cents), 3.5 (a count), never an exponent."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    text = format(value.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}" if money else text


# ---- amounts ----------------------------------------------------------------------------------

CURRENCY_PREFIX = {
    "¥": "CNY", "￥": "CNY", "rmb": "CNY", "cny": "CNY", "人民币": "CNY",
    "us$": "USD", "usd": "USD", "$": "USD", "usd $": "USD", "usd$": "USD",
    "hk$": "HKD", "hkd": "HKD", "€": "EUR", "eur": "EUR", "£": "GBP", "gbp": "GBP",
}
CURRENCY_SUFFIX = {
    "元": "CNY", "块钱": "CNY", "块": "CNY", "圆": "CNY", "元钱": "CNY", "人民币": "CNY", "rmb": "CNY",
    "cny": "CNY", "yuan": "CNY", "美元": "USD", "美金": "USD", "usd": "USD", "dollars": "USD", "dollar": "USD",
    "港币": "HKD", "港元": "HKD", "hkd": "HKD", "欧元": "EUR", "eur": "EUR", "英镑": "GBP", "gbp": "GBP",
}
_PREFIX = "|".join(sorted((re.escape(k) for k in CURRENCY_PREFIX), key=len, reverse=True))
_SUFFIX = "|".join(sorted((re.escape(k) for k in CURRENCY_SUFFIX), key=len, reverse=True))
MONEY_WORDS = (
    "首付款|首付|定金|订金|尾款|押金|货款|价格|报价|总价|单价|费用|工资|退款|赔偿金|赔偿|转账|分红|租金|房租|欠款|"
    "借款|还款|利息|违约金|保证金|预付款|余款|差价|佣金|服务费|手续费|运费|price|fee|cost|deposit|refund|paid|pay"
)
CLASSIFIERS = (
    "平方米|平米|公斤|千克|件|台|箱|个|套|份|批|辆|吨|斤|米|瓶|盒|包|张|本|只|双|条|把|袋|桶|托|柜|卷|根|片|间|栋|"
    "层|户|人|名|单|pcs|pieces|units|unit|sets|boxes|kg|tons|ton"
)
NOT_A_COUNT_AFTER_GE = "月|工作日|小时|钟头|星期|礼拜|季度|多月|半月|半小时"  # "3个月" is a duration

_AMOUNT_RE = re.compile(
    # ¥1,200.50 / RMB 5000 / USD $100 / $1.2k / ¥3万
    rf"(?P<prefix>{_PREFIX})\s?(?P<pnum>{AR_WITH_MULT}|{CN_NUMBER})(?:\s?(?P<psuffix>{_SUFFIX}))?"
    # 5000元 / 1.2万元 / 五千块 / 100 USD / 3块5
    rf"|(?P<snum>{AR_WITH_MULT}|{CN_NUMBER})\s?(?P<suffix>{_SUFFIX})(?P<jiao>(?<=块)[0-9一二两三四五六七八九](?![\d{CN_UNITS}]))?"
    # 3万 / 5千 / 一万五 / 30万 — a multiplier alone means money here unless a measure word follows
    rf"|(?P<mnum>\d+(?:\.\d+)?(?:千万|百万|亿|万|千|[wW](?![a-zA-Z]))(?:\d(?![\d.]))?(?:千)?"
    rf"|[一二两三四五六七八九十][{CN_DIGITS}十百]*[万千亿][{CN_DIGITS}{CN_UNITS}]*)"
    # 定金3000 / 首付是50万 / refund of 200
    rf"|(?P<word>{MONEY_WORDS})\s?(?:是|为|共|共计|一共|总共|了|给|要|:|of|is)?\s?(?P<wnum>{AR_WITH_MULT}|[{CN_DIGITS}十][{CN_DIGITS}十]*[十百千万亿][{CN_DIGITS}{CN_UNITS}]*)"
    rf"(?![\d%‰折成倍])(?:\s?(?P<wsuffix>{_SUFFIX}))?",
    re.IGNORECASE,
)
_QUANTITY_RE = re.compile(
    rf"(?P<num>{AR_WITH_MULT}|{CN_NUMBER})\s?(?P<unit>{CLASSIFIERS})(?![a-zA-Z])", re.IGNORECASE)


# ---- dates ------------------------------------------------------------------------------------

WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5,
           "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
EN_WEEKDAY = {name: i for i, name in enumerate(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])}
EN_MONTH = {name: i + 1 for i, name in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
EN_NUMBER = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
             "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1}
DAY_WORDS = {"大前天": -3, "前天": -2, "昨天": -1, "昨日": -1, "今天": 0, "今日": 0, "今晚": 0, "今早": 0,
             "明天": 1, "明日": 1, "明早": 1, "明晚": 1, "后天": 2, "大后天": 3}
CN_SMALL = "[0-9一二两三四五六七八九十廿卅]{1,3}"

DEADLINE_AFTER = re.compile(r"\s?(?:之前|以前|前|为止|截止|之内|以内|内|at the latest\b)", re.IGNORECASE)
DEADLINE_BEFORE = re.compile(r"(?:截止|截至|最晚|最迟|不晚于|不迟于|之前|by|before|no later than|until)\s?(?:到|在|是)?\s?$",
                             re.IGNORECASE)
NOT_A_DATE_AFTER = rf"(?!\s?(?:{_SUFFIX}|万|千|%|折|倍|分|米|寸|斤|小时|天|个|号线|号楼|楼|栋|{CLASSIFIERS}))"

_DATE_RE = re.compile(
    rf"(?P<ymd>(?<![A-Za-z0-9_\-])(?P<y>(?:19|20)\d\d)\s?[-/.年]\s?(?P<ym>\d{{1,2}})\s?[-/.月]\s?(?P<yd>\d{{1,2}})(?![\d\-])[日号]?)"
    rf"|(?P<md>(?<![\d.])(?P<m>\d{{1,2}}|十[一二]?|[一二三四五六七八九])月(?:(?P<d>{CN_SMALL})[日号]|(?P<d2>\d{{1,2}})(?![\d万千元块.])))"
    rf"|(?P<mdot>(?<![\d.¥$￥a-zA-Z/])(?P<dm>\d{{1,2}})(?P<sep>[./])(?P<dd>\d{{1,2}})(?![\d./]){NOT_A_DATE_AFTER}(?:[日号])?)"
    r"|(?P<weekin>(?P<wiq>本|这个|这|下个|下)(?:周|星期|礼拜)(?:之内|以内|内))"
    rf"|(?P<week>(?P<wq>上上|上|下下|下|本|这|这个|下个|上个|每)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天末1-7]))"
    r"|(?P<dayword>大前天|大后天|前天|昨天|昨日|今天|今日|今晚|今早|明天|明日|明早|明晚|后天)"
    rf"|(?P<span>(?P<sn>\d+|[一二两三四五六七八九十半]+)\s?(?:个)?(?P<su>工作日|天|日|周|星期|礼拜|月)\s?(?P<sw>之内|以内|内|之后|以后|后))"
    rf"|(?P<range>(?P<ra>\d+)\s?[-~到至]\s?(?P<rb>\d+)\s?个?(?P<ru>工作日|天))"
    rf"|(?P<monthday>(?P<mq>下下个?月|下个?月|本月|这个?月)(?P<mdn>{CN_SMALL})[号日])"
    rf"|(?P<bareday>(?<![\d月/.\-])(?P<bd>\d{{1,2}})号(?=\s?(?:之前|以前|前|交|发|到|付|当天|那天|晚|上午|下午|早|左右|[,，。.!！?？;；、\s]|$)))"
    r"|(?P<monthend>(?P<meq>下下个?月?|下个?月?|本月?|这个?月?)?月(?:底|末))"
    r"|(?P<yearend>(?P<yeq>明年|今年)?(?:年底|年末))"
    r"|(?P<en_in>\b(?:in|within)\s+(?P<en_n>\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a|an)"
    r"\s+(?P<en_u>business days?|working days?|days?|weeks?|months?)\b)"
    r"|(?P<en_week>\b(?P<en_q>next|this|by|on|before|until)\s+(?P<en_wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b)"
    r"|(?P<en_day>\b(?:the day after tomorrow|tomorrow|today|tonight|yesterday)\b)"
    r"|(?P<en_md>\b(?P<en_mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?P<en_mday>\d{1,2})(?:st|nd|rd|th)?\b"
    r"(?:,?\s+(?P<en_year>(?:19|20)\d\d))?)"
    r"|(?P<en_dm>\b(?P<en_dday>\d{1,2})(?:st|nd|rd|th)?\s+(?P<en_mon2>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b"
    r"(?:,?\s+(?P<en_year2>(?:19|20)\d\d))?)"
    r"|(?P<en_end>\bend of (?:the )?(?P<en_end_u>month|year)\b)",
    re.IGNORECASE,
)


def _small(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    value = _chinese_number(text)
    return int(value) if value is not None and value == value.to_integral_value() else None


def _nearest_year(month: int, day: int, today: date) -> date | None:
    """The month-day within six months of the message (a year is rarely written in chat)."""
    for year in (today.year, today.year + 1, today.year - 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if abs((candidate - today).days) <= 183:
            return candidate
    return None


def _month_shift(today: date, months: int, day: int | None) -> date | None:
    month_index = today.month - 1 + months
    year, month = today.year + month_index // 12, month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    if day is None:
        return date(year, month, last)
    if day > last:
        return None if day > 31 else date(year, month, last)
    return date(year, month, day)


def _add_business_days(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def _week_day(today: date, weekday: int, weeks_ahead: int) -> date:
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(weeks=weeks_ahead, days=weekday)


def _resolve_date(m: re.Match[str], today: date) -> tuple[date, bool] | None:
    """(date, relative?) of one date match, or None when it names no single valid day."""
    g = m.groupdict()
    try:
        if g["ymd"]:
            return date(int(g["y"]), int(g["ym"]), int(g["yd"])), False
        if g["md"]:
            month, day = _small(g["m"]), _small(g["d"] or g["d2"])
            if month is None or day is None:
                return None
            found = _nearest_year(month, day, today)
            return (found, False) if found else None
        if g["mdot"]:
            month, day = int(g["dm"]), int(g["dd"])
            found = _nearest_year(month, day, today) if 1 <= month <= 12 else None
            return (found, False) if found else None
        if g["weekin"]:
            return _week_day(today, 6, 1 if g["wiq"].startswith("下") else 0), True
        if g["week"]:
            if g["wq"] == "每":
                return None  # every Friday: a habit, not a date
            weekday = WEEKDAY[g["wd"]]
            shift = {"上上": -2, "上": -1, "上个": -1, "本": 0, "这": 0, "这个": 0, "下": 1, "下个": 1, "下下": 2}
            if g["wq"]:
                return _week_day(today, weekday, shift[g["wq"]]), True
            this_week = _week_day(today, weekday, 0)
            return (this_week if this_week >= today else this_week + timedelta(weeks=1)), True
        if g["dayword"]:
            return today + timedelta(days=DAY_WORDS[g["dayword"]]), True
        if g["span"]:
            if g["sn"] == "半":
                count = 0.5
            else:
                count = _small(g["sn"])
            if count is None:
                return None
            unit = g["su"]
            if unit == "工作日":
                return _add_business_days(today, int(count)), True
            if unit in ("天", "日"):
                return today + timedelta(days=int(count)), True
            if unit in ("周", "星期", "礼拜"):
                return today + timedelta(days=int(count * 7)), True
            if count != int(count):
                return today + timedelta(days=15), True
            return _month_shift(today, int(count), min(today.day, 28) if today.day > 28 else today.day), True
        if g["range"]:
            upper = int(g["rb"])
            if g["ru"] == "工作日":
                return _add_business_days(today, upper), True
            return today + timedelta(days=upper), True
        if g["monthday"]:
            shift = 2 if g["mq"].startswith("下下") else 1 if g["mq"].startswith("下") else 0
            day = _small(g["mdn"])
            found = _month_shift(today, shift, day) if day else None
            return (found, True) if found else None
        if g["bareday"]:
            day = int(g["bd"])
            if not 1 <= day <= 31:
                return None
            found = _month_shift(today, 0, day)
            if found is None or found < today:
                found = _month_shift(today, 1, day)
            return (found, True) if found else None
        if g["monthend"]:
            q = g["meq"] or ""
            shift = 2 if q.startswith("下下") else 1 if q.startswith("下") else 0
            return _month_shift(today, shift, None), True
        if g["yearend"]:
            return date(today.year + (1 if g["yeq"] == "明年" else 0), 12, 31), True
        if g["en_in"]:
            n = g["en_n"].lower()
            count = int(n) if n.isdigit() else EN_NUMBER[n]
            unit = g["en_u"].lower()
            if unit.startswith(("business", "working")):
                return _add_business_days(today, count), True
            if unit.startswith("day"):
                return today + timedelta(days=count), True
            if unit.startswith("week"):
                return today + timedelta(weeks=count), True
            return _month_shift(today, count, today.day), True
        if g["en_week"]:
            weekday = EN_WEEKDAY[g["en_wd"].lower()]
            q = g["en_q"].lower()
            if q == "next":
                return _week_day(today, weekday, 1), True
            if q == "this":
                return _week_day(today, weekday, 0), True
            this_week = _week_day(today, weekday, 0)
            return (this_week if this_week >= today else this_week + timedelta(weeks=1)), True
        if g["en_day"]:
            word = g["en_day"].lower()
            offset = {"the day after tomorrow": 2, "tomorrow": 1, "today": 0, "tonight": 0, "yesterday": -1}[word]
            return today + timedelta(days=offset), True
        if g["en_md"] or g["en_dm"]:
            month = EN_MONTH[(g["en_mon"] or g["en_mon2"]).lower()[:3]]
            day = int(g["en_mday"] or g["en_dday"])
            year = g["en_year"] or g["en_year2"]
            if year:
                return date(int(year), month, day), False
            found = _nearest_year(month, day, today)
            return (found, False) if found else None
        if g["en_end"]:
            if g["en_end_u"].lower() == "month":
                return _month_shift(today, 0, None), True
            return date(today.year, 12, 31), True
    except (ValueError, OverflowError):
        return None
    return None


# ---- commitments, refusals, instructions, completions, hedges ---------------------------------

_COMMITMENT_RE = re.compile(
    r"会在.{1,16}?(?:之前|以前|前)|一言为定|说到做到|没问题|保证|承诺|确保|答应|负责(?!人)|一定(?!程度|要)|肯定(?:会|能|给|可以)"
    r"|放心|可以"
    r"|\bI promise\b|\bwe promise\b|\bguarantee[sd]?\b|\bno problem\b|\b(?:I|we)(?:'ll| will)\b|\bwill definitely\b"
    r"|\bcommit(?:ted)? to\b|\bsure thing\b",
    re.IGNORECASE,
)
_REFUSAL_RE = re.compile(
    r"不同意|不可能|做不到|办不到|不可以|不接受|不答应|不负责|不保证|不承诺|没办法|无法|拒绝|不行|不能"
    r"|\bcan(?:no|')t\b|\bwon't\b|\bwill not\b|\brefuse[sd]?\b|\bno way\b|\bnot possible\b|\bimpossible\b"
    r"|\bunable to\b|\bdisagree\b|\bdo not agree\b|\bdon't agree\b",
    re.IGNORECASE,
)
_INSTRUCTION_RE = re.compile(
    r"按(?:我|我们)说的(?:办|做|来)|照我说的(?:办|做)?|按我的意思(?:办|做|来)?|听我的|别动|不要动|别碰|不要碰|别改|不要改"
    r"|不准|不许|务必|\bdo as I say\b|\bdon't touch\b|\bdo not touch\b",
    re.IGNORECASE,
)
_COMPLETION_RE = re.compile(
    r"已(?:经)?(?:签好|签署|签字|签了|签|付清|付款|支付|付|转账|转|打款|发货|发出|寄出|发|交付|交|完成|办好|办妥|到账|退款|退|收到|盖章|确认)了?"
    r"|(?:签|付|转|发|办|弄|搞|谈|做)好了|(?:付|转|打|签)过了"
    r"|\balready (?:signed|paid|sent|shipped|done|transferred|delivered)\b"
    r"|\b(?:has|have) been (?:signed|paid|sent|shipped|transferred|delivered)\b",
    re.IGNORECASE,
)
_HEDGE_RE = re.compile(
    r"应该可以|应该没问题|应该|尽快|尽量|尽早|左右|再确认|大概|大约|(?<!不)可能|争取|也许|或许|估计|差不多|看情况|原则上|不一定|说不定|基本上"
    r"|\basap\b|\bas soon as possible\b|\btry to\b|\bprobably\b|\bmaybe\b|\bperhaps\b|\bshould be\b|\baround\b"
    r"|\bapproximately\b|\broughly\b|\bhopefully\b|\btentatively\b|\btbc\b|\bto be confirmed\b",
    re.IGNORECASE,
)
NEGATED_BEFORE = re.compile(r"(?:不|没|别|无法|不能|没法|未)$")
CONDITIONAL_BEFORE = re.compile(r"(?:如果|要是|万一|假如|假设|若|if)\S*$", re.IGNORECASE)
A_NOT_A = re.compile(r"能不能|行不行|可不可以|同不同意|是不是|会不会|好不好")

SENTENCE_END = re.compile(r"[。！？!?\n；;.]")
CLAUSE_END = re.compile(r"[，,。！？!?\n；;、~～.]")
# hedges that qualify the number or date next to them, not the whole sentence
LOCAL_HEDGES = {"左右", "大概", "大约", "差不多", "around", "approximately", "roughly"}


@dataclass
class Fact:
    type: str
    value: str
    normalized: str
    text: str  # the words as written
    span: tuple[int, int] | None
    hedges: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def hedged(self) -> bool:
        return bool(self.hedges)


def _is_boundary(text: str, index: int, boundary: re.Pattern[str]) -> bool:
    char = text[index]
    if char in ",." and 0 < index < len(text) - 1 and text[index - 1].isdigit() and text[index + 1].isdigit():
        return False  # 4,500 and 3.5 are numbers, not clause ends
    if char == "." and index + 1 < len(text) and not text[index + 1].isspace():
        return False
    return bool(boundary.match(char))


@lru_cache(maxsize=256)
def _boundary_indexes(text: str, boundary: re.Pattern[str]) -> tuple[int, ...]:
    return tuple(m.start() for m in boundary.finditer(text) if _is_boundary(text, m.start(), boundary))


def _bounds(text: str, start: int, end: int, boundary: re.Pattern[str]) -> tuple[int, int]:
    """The clause (or sentence) around text[start:end]: from after the previous boundary to the next."""
    indexes = _boundary_indexes(text, boundary)
    before = bisect_left(indexes, start)
    left = indexes[before - 1] + 1 if before else 0
    after = bisect_left(indexes, end)
    right = indexes[after] if after < len(indexes) else len(text)
    return left, right


def _is_question(text: str, start: int, end: int) -> bool:
    left, right = _bounds(text, start, end, CLAUSE_END)
    clause = text[left:right].rstrip()
    if right < len(text) and text[right] in "?？":
        return True
    if A_NOT_A.search(clause):
        return True
    return bool(re.search(r"[吗么嘛]$|\?$", clause))


def _clause(text: str, start: int, end: int) -> str:
    left, right = _bounds(text, start, end, CLAUSE_END)
    return text[left:right].strip()


def sentence_of(text: str, span: tuple[int, int] | None) -> tuple[str, list[int] | None]:
    """The sentence of ``text`` around ``span`` (with its closing punctuation) and the span within it,
    so that a fact is read in its sentence ("3月20日" alone does not say what is due on that day).
    Without a span (a transfer's own amount) the whole text."""
    if span is None:
        return text.strip(), None
    left, right = _bounds(text, span[0], span[1], SENTENCE_END)
    if right < len(text) and text[right] != "\n":
        right += 1
    while left < span[0] and text[left].isspace():
        left += 1
    while right > span[1] and text[right - 1].isspace():
        right -= 1
    return text[left:right], [span[0] - left, span[1] - left]


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < b and a < span[1] for a, b in taken)


def extract(text: str, sent_at: datetime | date) -> list[Fact]:
    """Every fact in one message's text; relative dates against ``sent_at``'s own calendar day."""
    if not text:
        return []
    today = sent_at.date() if isinstance(sent_at, datetime) else sent_at
    prepared = _prepare(text)
    facts: list[Fact] = []
    taken: list[tuple[int, int]] = []  # value spans (dates, amounts, quantities) never overlap

    for m in _QUANTITY_RE.finditer(prepared):
        unit = m["unit"]
        if unit == "个" and re.match(NOT_A_COUNT_AFTER_GE, prepared[m.end():]):
            continue
        number_text = m["num"]
        if re.fullmatch(f"[{CN_DIGITS}]", number_text) and number_text in "一":
            continue  # "一个问题", "一件事": an article, not a count
        if re.match(r"\s?(?:月|号|日)", prepared[m.end():]) or re.search(r"[./]\d*$", prepared[:m.start()]):
            continue
        number = parse_number(number_text)
        if number is None:
            continue
        count = decimal_text(number, money=False)
        joined = f"{count} {unit.lower()}" if unit.isascii() else f"{count}{unit}"
        facts.append(Fact("quantity", joined, f"{count} {unit.lower()}",
                          text[m.start():m.end()], (m.start(), m.end()), extra={"number": count, "unit": unit}))
        taken.append((m.start(), m.end()))

    for m in _DATE_RE.finditer(prepared):
        if _overlaps((m.start(), m.end()), taken):
            continue
        resolved = _resolve_date(m, today)
        if resolved is None:
            continue
        day, relative = resolved
        if m["mdot"]:
            if m["sep"] == "." and len(m["dd"]) == 1 and not m.group(0).endswith(("日", "号")) \
                    and not DEADLINE_AFTER.match(prepared, m.end()):
                continue  # "3.5" alone is more often a number than 5 March
            if re.search(rf"(?:{MONEY_WORDS}|{_PREFIX})\s?(?:是|为|:)?\s?$", prepared[:m.start()], re.IGNORECASE):
                continue  # "定金3.20" is money
        deadline = bool(DEADLINE_AFTER.match(prepared, m.end())) or bool(
            DEADLINE_BEFORE.search(prepared[max(0, m.start() - 14):m.start()])) or (
            bool(m["en_q"]) and m["en_q"].lower() in ("by", "before", "until")) or (
            m.group(0).endswith("内")) or bool(m["range"]) or bool(m["en_in"] and m["en_in"].lower().startswith("within"))
        iso = day.isoformat()
        facts.append(Fact("date", iso, f"by {iso}" if deadline else iso, text[m.start():m.end()],
                          (m.start(), m.end()),
                          extra={"relative": relative, "deadline": deadline,
                                 "weekday": ["周一", "周二", "周三", "周四", "周五", "周六", "周日"][day.weekday()]}))
        taken.append((m.start(), m.end()))

    for m in _AMOUNT_RE.finditer(prepared):
        span = (m.start(), m.end())
        if _overlaps(span, taken):
            continue
        number_text = m["pnum"] or m["snum"] or m["mnum"] or m["wnum"]
        if m["mnum"] and re.match(rf"\s?(?:{CLASSIFIERS})", prepared[m.end():], re.IGNORECASE):
            continue
        if m["word"]:
            span = (m.start("wnum"), m.end())
            # "首付3月20日": a money word before a date is not an amount
            if re.match(r"\s?(?:月|号|日|点|[./]\d)", prepared[m.end():]):
                continue
        number = parse_number(number_text)
        if number is None:
            continue
        if m["suffix"] == "块" and m["snum"] in ("一", "几"):
            continue  # 一块儿, 一块去: "together"
        if m["jiao"]:
            jiao = parse_number(m["jiao"])
            number += Decimal(str(jiao or 0)) / 10  # 5块5 = 5.5: stay in Decimal
        currency = None
        if m["prefix"]:
            currency = CURRENCY_PREFIX.get(m["prefix"].lower())
        suffix = m["psuffix"] or m["suffix"] or m["wsuffix"]
        if suffix:
            currency = CURRENCY_SUFFIX.get(suffix.lower(), currency)
        if m["prefix"] and m["prefix"].lower() in ("usd", "usd $", "usd$") and currency is None:
            currency = "USD"
        value = decimal_text(number)
        facts.append(Fact("amount", value, f"{value} {currency}" if currency else value,
                          text[span[0]:span[1]], span, extra={"currency": currency}))
        taken.append(span)

    facts.extend(_phrases(prepared, text))
    for fact in facts:
        if fact.span is None:
            continue
        left, right = _bounds(prepared, fact.span[0], fact.span[1], SENTENCE_END)
        clause_left, clause_right = _bounds(prepared, fact.span[0], fact.span[1], CLAUSE_END)
        hedges = []
        for h in _HEDGE_RE.finditer(prepared, left, right):
            if fact.type == "refusal" and h.start() >= fact.span[0] and h.end() <= fact.span[1]:
                continue
            if h.group(0).lower() in LOCAL_HEDGES and not (clause_left <= h.start() and h.end() <= clause_right):
                continue
            hedges.append(h.group(0))
        fact.hedges = list(dict.fromkeys(hedges))
    facts.sort(key=lambda f: (f.span or (0, 0), TYPES.index(f.type)))
    return facts


def _phrases(prepared: str, original: str) -> Iterator[Fact]:
    refusal_spans: list[tuple[int, int]] = []
    for m in _REFUSAL_RE.finditer(prepared):
        before = prepared[max(0, m.start() - 6):m.start()]
        if A_NOT_A.search(prepared[max(0, m.start() - 2):m.end() + 2]) or _is_question(prepared, m.start(), m.end()):
            continue
        if CONDITIONAL_BEFORE.search(before) or prepared.startswith("的话", m.end()):
            continue
        if prepared.startswith("不", m.end()) and m.group(0) in ("不能", "不可以"):
            continue  # 不能不: a double negative means "must"
        refusal_spans.append((m.start(), m.end()))
        yield Fact("refusal", m.group(0), _clause(prepared, m.start(), m.end()), original[m.start():m.end()],
                   (m.start(), m.end()))
    for m in _COMMITMENT_RE.finditer(prepared):
        word = m.group(0)
        if _overlaps((m.start(), m.end()), refusal_spans) or _is_question(prepared, m.start(), m.end()):
            continue
        before = prepared[max(0, m.start() - 3):m.start()]
        if NEGATED_BEFORE.search(before):
            continue  # 不保证, 不一定, 没答应: not a commitment (a hedge or a refusal)
        clause_start = _bounds(prepared, m.start(), m.end(), CLAUSE_END)[0]
        head = prepared[clause_start:m.start()]
        if word != "放心" and re.search(r"[你您他她]|\byou\b", head, re.IGNORECASE):
            continue  # "你可以…" gives permission and "你保证一下" asks for a promise: neither is one
        if word == "可以" and re.search(r"可$|不$", head):
            continue
        yield Fact("commitment", word, _clause(prepared, m.start(), m.end()), original[m.start():m.end()],
                   (m.start(), m.end()))
    for m in _INSTRUCTION_RE.finditer(prepared):
        yield Fact("instruction", m.group(0), _clause(prepared, m.start(), m.end()), original[m.start():m.end()],
                   (m.start(), m.end()))
    for m in _COMPLETION_RE.finditer(prepared):
        if _is_question(prepared, m.start(), m.end()):
            continue
        yield Fact("completion", m.group(0), _clause(prepared, m.start(), m.end()), original[m.start():m.end()],
                   (m.start(), m.end()))


# ---- over the archive ------------------------------------------------------------------------

# what people wrote; file names, link titles and system lines say nothing anyone committed to
TEXT_KINDS = ("text", "transfer", "red_packet", "other")
TOPIC_WINDOW_MESSAGES = 2  # neighbours on each side of a message that names the topic
TOPIC_WINDOW_MS = 30 * 60 * 1000  # … within half an hour of it


def topic_terms(topic: str) -> list[list[str]]:
    """Alternatives, each a list of words that must all occur: "交付 延期" → [["交付"], ["延期"]];
    a longer Chinese phrase also matches when jieba's words of it all occur ("交付时间" → 交付 + 时间)."""
    alternatives: list[list[str]] = []
    for word in topic.split():
        word = word.strip().casefold()
        if not word:
            continue
        alternatives.append([word])
        if len(word) > 2 and re.search(r"[\u4e00-\u9fff]", word):
            words = [w for w in _segment(word) if len(w) >= 2 or re.match(r"[\u4e00-\u9fff]", w) is None]
            if len(words) > 1:
                alternatives.append(words)
    return alternatives


def _segment(text: str) -> list[str]:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return [w.strip() for w in jieba.lcut(text) if w.strip()]


def _matches(text: str, alternatives: list[list[str]]) -> bool:
    folded = (text or "").casefold()
    return any(all(word in folded for word in words) for words in alternatives)


def _with_neighbours(rows: Iterable[dict[str, Any]], alternatives: list[list[str]]) -> Iterator[dict[str, Any]]:
    """Messages naming the topic and up to two before and after them in the same conversation and
    within half an hour: "交付时间是下周五" / "好的没问题" belong together."""
    by_conversation: dict[int, list[dict[str, Any]]] = {}
    order: list[dict[str, Any]] = []
    for row in rows:
        by_conversation.setdefault(row["conversation"], []).append(row)
        order.append(row)
    keep: set[int] = set()
    for messages in by_conversation.values():
        for index, row in enumerate(messages):
            if not _matches(row["text"], alternatives):
                continue
            keep.add(row["id"])
            instant = _instant(row)
            for step in (-1, 1):
                for offset in range(1, TOPIC_WINDOW_MESSAGES + 1):
                    other = index + step * offset
                    if not 0 <= other < len(messages):
                        break
                    if abs((_instant(messages[other]) - instant).total_seconds()) * 1000 > TOPIC_WINDOW_MS:
                        break
                    keep.add(messages[other]["id"])
    return (row for row in order if row["id"] in keep)


def _instant(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["sent_at"])


def _message_rows(archive: Archive, conversation: str | None, person: str | None,
                  since_ms: int | None, until_ms: int | None) -> Iterator[dict[str, Any]]:
    if conversation and person:
        raise ChatAuditError("give --conversation or --person, not both")
    if conversation:
        row = archive.resolve_conversation(conversation)
        return archive.timeline(row["id"], since_ms, until_ms)
    if person:
        from ..people import person_timeline

        return person_timeline(archive, person, since_ms, until_ms)
    return archive.select_messages(since_ms=since_ms, until_ms=until_ms)


def message_facts(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The facts of one stored message (its text, and the amount of a transfer or red packet)."""
    sent_at = _instant(row)
    message = {
        "id": row["id"], "platform": row["platform"], "conversation": row["conversation"],
        "conversation_title": row.get("conversation_title"),
        "sender": row.get("sender_name") or row.get("sender_id"), "sent_at": row["sent_at"], "text": row["text"],
    }
    out = []
    found = extract(row["text"] or "", sent_at) if row.get("kind") in TEXT_KINDS else []
    if row.get("amount") and row.get("kind") in ("transfer", "red_packet"):
        try:
            value = decimal_text(Decimal(row["amount"]))
        except InvalidOperation:
            value = None
        if value is not None and not any(f.type == "amount" and f.value == value for f in found):
            currency = row.get("currency")
            found.insert(0, Fact("amount", value, f"{value} {currency}" if currency else value, row["kind"], None,
                                 extra={"currency": currency, "structured": True}))
    for fact in found:
        sentence, sentence_span = sentence_of(row["text"] or "", fact.span)
        out.append({
            "type": fact.type, "value": fact.value, "normalized": fact.normalized, "text": fact.text,
            "hedged": fact.hedged, "hedges": fact.hedges, **fact.extra,
            "message": message, "span": list(fact.span) if fact.span else None,
            "sentence": sentence, "sentence_span": sentence_span,
        })
    return out


def facts(
    archive: Archive,
    *,
    conversation: str | None = None,
    person: str | None = None,
    topic: str | None = None,
    types: Iterable[str] | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    tally: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Facts of one conversation, one person's merged timeline or the whole archive, in time order;
    ``topic`` keeps messages naming it and their near neighbours. ``tally``, when given, receives
    how many ``messages`` of how many ``conversations`` were read (an empty result says so)."""
    wanted = set(types) if types else set(TYPES)
    unknown = wanted - set(TYPES)
    if unknown:
        raise ChatAuditError(f"unknown fact type {sorted(unknown)[0]!r} (one of: {', '.join(TYPES)})")
    rows: Iterable[dict[str, Any]] = _message_rows(archive, conversation, person, since_ms, until_ms)
    if topic:
        alternatives = topic_terms(topic)
        if not alternatives:
            raise ChatAuditError("--topic needs at least one word")
        rows = _with_neighbours(rows, alternatives)
    out = []
    read, conversations = 0, set()
    for row in rows:
        read += 1
        conversations.add(row["conversation"])
        out.extend(f for f in message_facts(row) if f["type"] in wanted)
    if tally is not None:
        tally.update(messages=read, conversations=len(conversations))
    return out
