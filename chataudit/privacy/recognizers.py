"""Recognizers of personal data in chat text: one regex pass, then validation of each candidate.

Every candidate shape is one alternative of a single precompiled regex (``MASTER``), so a text is
read once whatever the number of types. A candidate is then *validated* — checksums from
python-stdnum (GB 11643 / ISO 7064 MOD 11-2 for the 居民身份证, GB 32100 for the 统一社会信用代码,
Luhn for bank cards), real birth dates, region codes from GB/T 2260, area codes, IIN prefixes,
``ipaddress`` — or confirmed by the words around it (passports, permits, WeChat ids and QQ numbers
only where the context says so). Look-alikes are turned down: order and tracking numbers (by the
words before them), timestamps and amounts (by shape), 18-digit strings with a wrong check digit.

Python's ``\\b`` sees no boundary between a Chinese character and a digit (both are word
characters), so every numeric candidate is delimited with explicit look-arounds such as
``(?<![0-9A-Za-z])`` instead.

Person names and addresses come from jieba's part-of-speech tags (``nr``, ``ns``), run only on
texts where a cue (收件人, 先生, 地址, 省/市/区 …) makes them likely — jieba is ~100× slower than
the regex pass.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import date
from typing import Callable, Collection, Iterable

from stdnum import luhn
from stdnum.cn import ric, uscc

from .regions import known_region

# Bump when recognizers change: stored findings of an older version are recomputed.
VERSION = "2"


@dataclass(frozen=True, slots=True)
class PiiType:
    name: str
    label: str  # what `replace` writes, e.g. <身份证>
    sensitive: bool  # PIPL art. 28 sensitive personal information
    validation: str  # checksum, structure, context, pos, lexicon
    description: str


TYPES: dict[str, PiiType] = {t.name: t for t in (
    PiiType("id_card", "身份证", True, "checksum", "居民身份证 (18 digits: region, birth date, MOD 11-2)"),
    PiiType("id_card_old", "身份证", True, "structure", "first-generation 居民身份证 (15 digits: region, birth date)"),
    PiiType("bank_card", "银行卡", True, "checksum", "bank card, 16–19 digits (Luhn, IIN prefix)"),
    PiiType("uscc", "统一社会信用代码", False, "checksum", "统一社会信用代码 (GB 32100 check character)"),
    PiiType("mobile", "手机号", False, "structure", "mainland mobile number (+86/0086, spaces, dashes)"),
    PiiType("landline", "座机", False, "structure", "landline with area code"),
    PiiType("passport", "护照", True, "context", "passport number (with 护照/passport nearby)"),
    PiiType("travel_permit", "通行证", True, "context", "HK/Macao/Taiwan travel permit (with 通行证/回乡证/台胞证 nearby)"),
    PiiType("plate", "车牌", False, "structure", "licence plate (new-energy 8-character plates included)"),
    PiiType("email", "邮箱", False, "structure", "e-mail address"),
    PiiType("ip", "IP", False, "structure", "IPv4 / IPv6 address"),
    PiiType("wechat_id", "微信号", False, "context", "WeChat id (after 微信/vx/wx, or a wxid_)"),
    PiiType("qq", "QQ", False, "context", "QQ number (after QQ/扣扣)"),
    PiiType("birth_date", "出生日期", False, "context", "birth date (after 出生/生日/DOB)"),
    PiiType("person", "姓名", False, "pos", "person name (jieba nr, common surname)"),
    PiiType("address", "地址", False, "pos", "postal address (jieba ns + road/number)"),
    PiiType("health", "健康信息", True, "lexicon", "health condition or treatment"),
    PiiType("location", "位置", True, "structure", "precise coordinates (latitude, longitude)"),
)}

SENSITIVE = frozenset(t.name for t in TYPES.values() if t.sensitive)


@dataclass(frozen=True, slots=True)
class Finding:
    type: str
    value: str  # exactly text[start:end]
    start: int
    end: int

    @property
    def sensitive(self) -> bool:
        return self.type in SENSITIVE

    def as_dict(self) -> dict:
        return {"type": self.type, "value": self.value, "start": self.start, "end": self.end,
                "sensitive": self.sensitive}


# ---- the single pass ------------------------------------------------------------------------

_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_CHARS = "A-HJ-NP-Z0-9"
_USCC_CHARS = "0-9A-HJ-NP-RTUWXY"
HEALTH_TERMS = (
    "糖尿病", "高血压", "心脏病", "冠心病", "心肌梗死", "心梗", "脑梗", "脑卒中", "中风", "癌症", "肺癌",
    "肝癌", "胃癌", "乳腺癌", "宫颈癌", "结肠癌", "鼻咽癌", "白血病", "淋巴瘤", "恶性肿瘤", "艾滋病",
    "HIV", "乙肝", "丙肝", "肝硬化", "肺结核", "梅毒", "性病", "尖锐湿疣", "抑郁症", "焦虑症",
    "精神分裂", "双相情感障碍", "躁郁症", "自闭症", "多动症", "癫痫", "哮喘", "帕金森", "阿尔茨海默",
    "老年痴呆", "尿毒症", "红斑狼疮", "不孕不育", "不孕症", "流产", "堕胎", "怀孕", "孕检",
    "化疗", "放疗", "透析", "病历", "诊断书", "残疾证", "残疾",
)

_PATTERNS: list[tuple[str, str]] = [
    # context-bound ids first: their context words must not be read as anything else
    ("wxid", _NOT_ALNUM_BEFORE + r"wxid_[a-z0-9]{6,24}(?![0-9A-Za-z_])"),
    ("wechat", r"(?:微信号?|微信ID|微信id|(?<![A-Za-z])(?:[VvWw][Xx]|[Vv]信|weixin|WeChat|wechat)|威信|薇信)"
               r"(?:号|ID|id)?\s{0,2}[:：]?\s{0,2}(?:是|为)?\s{0,2}"
               r"(?P<wechat_v>[A-Za-z][-_A-Za-z0-9]{5,19})(?![-_A-Za-z0-9@.])"),
    ("qq", r"(?:(?<![A-Za-z])(?:QQ|qq|Qq)|扣扣|企鹅号)(?!群)(?:号码?)?\s{0,2}[:：]?\s{0,2}(?:是|为)?\s{0,2}"
           r"(?P<qq_v>[1-9]\d{4,10})(?![0-9A-Za-z@.])"),
    ("birth", r"(?:出生日期|出生年月日?|出生于?|生日|生于|DOB|[Dd]ate of [Bb]irth|[Bb]irthday)\s{0,2}[:：是为在]?\s{0,2}"
              r"(?P<birth_v>(?:19|20)\d{2}(?:年\d{1,2}月\d{1,2}[日号]?|[-/.]\d{1,2}[-/.]\d{1,2}|\d{4}))(?!\d)"),
    ("taiwan", r"(?:台胞证|台湾居民来往大陆通行证)(?:号码?)?\s{0,2}[:：]?\s{0,2}(?:是|为)?\s{0,2}"
               r"(?P<taiwan_v>\d{8}(?:\d{2})?)(?!\d)"),
    ("email", r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@"
              r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?)*"
              r"\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])"),
    # 15–19 digits (ID, old ID, bank card, all-digit USCC); 6-8-4 spaced IDs; 4-4-4-4 spaced cards
    ("digits", _NOT_ALNUM_BEFORE + r"\d{14,18}[0-9Xx](?![0-9A-Za-z])"),
    ("spaced_id", _NOT_ALNUM_BEFORE + r"\d{6}[ -]\d{8}[ -]\d{3}[0-9Xx]" + _NOT_ALNUM_AFTER),
    ("spaced_card", _NOT_ALNUM_BEFORE + r"\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?(?![0-9A-Za-z]|[ -]\d)"),
    ("uscc", _NOT_ALNUM_BEFORE + rf"[0-9A-HJ-NP-RTUWXY]{{2}}\d{{6}}[{_USCC_CHARS}]{{10}}" + _NOT_ALNUM_AFTER),
    ("mobile", r"(?<![0-9A-Za-z+])(?:(?:\+|00)?86[\s-]?)?1[3-9]\d(?:\d{8}|[\s-]\d{4}[\s-]\d{4})(?![0-9A-Za-z])"),
    ("landline", r"(?<![0-9A-Za-z+])(?:(?:\+|00)86[\s-]?(?:\(0?\d{2,3}\)|0?\d{2,3})|\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3})"
                 r"[\s-]?[2-9]\d{6,7}(?P<extension>-\d{1,5})?(?![0-9A-Za-z])"),
    ("doc", _NOT_ALNUM_BEFORE + r"[A-Z]{1,2}\d{6,10}" + _NOT_ALNUM_AFTER),
    ("plate", rf"[{_PROVINCES}][A-HJ-NP-Z][·•・.\s-]?(?:[DF][{_PLATE_CHARS}]\d{{4}}|\d{{5}}[DF]"
              rf"|[{_PLATE_CHARS}]{{4}}[{_PLATE_CHARS}挂学警港澳])(?![0-9A-Za-z])"),
    ("ipv4", r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)"),
    ("ipv6", r"(?<![0-9A-Za-z:])(?:[0-9A-Fa-f]{1,4}:|::)(?:[0-9A-Fa-f]{0,4}:){1,6}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z:])"),
    ("coords", r"(?<![\d.])-?\d{1,2}\.\d{4,8}\s?[,，]\s?-?\d{1,3}\.\d{4,8}(?![\d.])"),
    ("health", "|".join(HEALTH_TERMS)),
    # cues that send the text to jieba for names and addresses (they yield no finding themselves)
    ("cue", r"地址|住址|住在|家住|寄到|送到|寄往|发到|收货|收件|寄件|签收|联系人|负责人|经办人|委托人|当事人|持卡人|"
            r"开户名|户主|姓名|名字|我叫|叫我|我是|转告|处理人|跟进人|对接人|@(?=[\u4e00-\u9fff])|先生|女士|小姐|老师|经理|律师|医生|师傅|同学|"
            r"[省市区县](?=[\u4e00-\u9fff]{1,12}(?:路|街|大道|巷|弄|胡同|村|镇|乡|号))"),
]

MASTER = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _PATTERNS))

# ---- context -----------------------------------------------------------------------------------

_ORDER_WORDS = re.compile(r"订单|单号|运单|快递单|物流|流水|交易号|编号|工单|票号|发票|合同号|批次|序列号|条码|"
                          r"[Oo]rder|[Tt]racking|[Ii]nvoice|SN|No\.|#")
_CARD_WORDS = re.compile(r"卡号|银行卡|信用卡|借记卡|储蓄卡|工资卡|[账帐]号|[账帐]户|卡|[Cc]ard")
_PHONE_WORDS = re.compile(r"电话|手机|联系|号码|致电|拨打|打|call|[Tt]el|[Pp]hone|[Mm]obile|微信|座机")
_LANDLINE_WORDS = re.compile(r"电话|座机|固话|总机|办公|联系|致电|拨打|[Tt]el|[Pp]hone|[Ff]ax|传真")
_PASSPORT_WORDS = re.compile(r"护照|[Pp]assport|PASSPORT")
_PERMIT_WORDS = re.compile(r"通行证|回乡证|台胞证|港澳|台湾|签注|入台证|[Pp]ermit")
_VERSION_WORDS = re.compile(r"(?:[Vv]|版本|[Vv]ersion)\s?$")
_WINDOW = 12


_SENTENCE_END = re.compile(r"[。！？!?;；\n]")


_CLAUSE_END = re.compile(r"[。！？!?;；\n，,、]")


def _before(text: str, start: int, width: int = _WINDOW) -> str:
    """The words just before a candidate, within its sentence."""
    window = text[max(0, start - width):start]
    ends = list(_SENTENCE_END.finditer(window))
    return window[ends[-1].end():] if ends else window


def _order_context(text: str, start: int) -> bool:
    """Order / tracking / reference words right before a number, in its own clause."""
    window = text[max(0, start - _WINDOW):start]
    ends = list(_CLAUSE_END.finditer(window))
    return bool(_ORDER_WORDS.search(window[ends[-1].end():] if ends else window))


# ---- validators --------------------------------------------------------------------------------

_TODAY = date.today()


def valid_id18(number: str) -> bool:
    """居民身份证: 17 digits + check (0-9 or X), a real birth date, a known region (GB 11643)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        if ric.calc_check_digit(number) != number[17].upper():
            return False
        born = ric.get_birth_date(number)
    except Exception:
        return False
    return date(1900, 1, 1) <= born <= _TODAY and known_region(number[:6])


def valid_id15(number: str) -> bool:
    """First-generation 15-digit number (issued until 2004): region, YYMMDD of a 19xx birth date."""
    if len(number) != 15 or not number.isdigit() or not known_region(number[:6]):
        return False
    try:
        date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    except ValueError:
        return False
    return True


def id_like(number: str) -> bool:
    """An 18-character string with an ID's region and birth date, whatever its check digit."""
    if len(number) != 18 or not number[:17].isdigit() or not known_region(number[:6]):
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= _TODAY


# IIN prefixes a 16–19 digit card may start with, and the lengths each network issues
_IIN = (
    (re.compile(r"62"), range(16, 20)),  # UnionPay 银联
    (re.compile(r"4"), (16, 19)),  # Visa
    (re.compile(r"5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)"), (16,)),  # Mastercard
    (re.compile(r"35(?:2[89]|[3-8]\d)"), range(16, 20)),  # JCB
    (re.compile(r"60|65|64[4-9]"), range(16, 20)),  # Discover, 中国银行 6013
    (re.compile(r"9558|95599"), (19,)),  # 工商银行 / 农业银行 pre-UnionPay debit cards
)


def valid_card(digits: str) -> bool:
    if not 16 <= len(digits) <= 19 or not digits.isdigit():
        return False
    if not any(p.match(digits) and len(digits) in lengths for p, lengths in _IIN):
        return False
    return luhn.is_valid(digits)


_USCC_KINDS = {"1": "1239", "5": "1239", "9": "123"}  # 登记管理部门 → 机构类别 (GB 32100 table 1, common)


def valid_uscc(code: str) -> bool:
    code = code.upper()
    if len(code) != 18 or code[1] not in _USCC_KINDS.get(code[0], ""):
        return False
    return uscc.is_valid(code) and known_region(code[2:8])


_MOBILE_PREFIXES = re.compile(r"1(?:3\d|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8\d|9[0-35-9])")


def mobile_digits(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if len(digits) > 11 and digits.endswith(digits[-11:]) and digits[:-11] in ("86", "0086"):
        digits = digits[-11:]
    return digits


_BIG_CITY_CODES = re.compile(r"10|2\d")  # two-digit area codes (Beijing, 02x cities): 8-digit numbers


def _valid_landline(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    if digits.startswith("0086"):
        digits = "0" + digits[4:]
    elif digits.startswith("86"):
        digits = "0" + digits[2:]
    if not digits.startswith("0"):
        digits = "0" + digits
    rest = digits[1:]
    if _BIG_CITY_CODES.match(rest):
        return len(rest) - 2 == 8
    return rest[:1] in "3456789" and len(rest) - 3 in (7, 8)


_DOC_PASSPORT = re.compile(r"E[A-HJ-NP-Z]?\d{7,8}|[GDSP]E?\d{7,8}|[A-Z]{1,2}\d{6,9}")
_DOC_PERMIT = re.compile(r"C[A-HJ-NP-Z]?\d{7,8}|[HM]\d{8}(?:\d{2})?|[TLW]\d{8}")


def _valid_date(text: str) -> bool:
    parts = [int(p) for p in re.findall(r"\d+", text)]
    if len(parts) == 1 and len(text) == 8:
        parts = [int(text[:4]), int(text[4:6]), int(text[6:])]
    if len(parts) != 3:
        return False
    try:
        return date(1900, 1, 1) <= date(*parts) <= _TODAY
    except ValueError:
        return False


# ---- dispatch ----------------------------------------------------------------------------------

Emit = Callable[[str, int, int], None]


def _digits(text: str, match: re.Match[str], emit: Emit) -> None:
    value, start, end = match.group(), match.start(), match.end()
    n = len(value)
    if n == 18 and valid_id18(value):
        emit("id_card", start, end)
        return
    if n == 15 and valid_id15(value) and not _order_context(text, start):
        emit("id_card_old", start, end)
        return
    if not value.isdigit():
        return
    if n == 15 and value.startswith("0086"):
        _mobile(text, match, emit)  # 0086 13800138000 written without a space
        return
    context = _before(text, start)
    if n == 18 and valid_uscc(value):
        emit("uscc", start, end)
        return
    if valid_card(value):
        card_words = _CARD_WORDS.search(context)
        if _order_context(text, start) and not card_words:
            return
        if n == 18 and id_like(value) and not card_words:
            return  # an ID number with a wrong check digit, not a card
        emit("bank_card", start, end)


def _spaced_id(text: str, match: re.Match[str], emit: Emit) -> None:
    if valid_id18(re.sub(r"[ -]", "", match.group())):
        emit("id_card", match.start(), match.end())


def _spaced_card(text: str, match: re.Match[str], emit: Emit) -> None:
    digits = re.sub(r"[ -]", "", match.group())
    if valid_card(digits) and not (_order_context(text, match.start())
                                   and not _CARD_WORDS.search(_before(text, match.start()))):
        emit("bank_card", match.start(), match.end())


def _uscc(text: str, match: re.Match[str], emit: Emit) -> None:
    if valid_uscc(match.group()):
        emit("uscc", match.start(), match.end())


def _mobile(text: str, match: re.Match[str], emit: Emit) -> None:
    value = match.group()
    digits = mobile_digits(value)
    if len(digits) != 11 or not _MOBILE_PREFIXES.match(digits):
        return
    if _order_context(text, match.start()) and not _PHONE_WORDS.search(_before(text, match.start())):
        return
    emit("mobile", match.start(), match.end())


def _landline(text: str, match: re.Match[str], emit: Emit) -> None:
    value = match.group()
    if match.group("extension"):
        value = value[: -len(match.group("extension"))]
    if not _valid_landline(value):
        return
    context = _before(text, match.start())
    separated = not re.fullmatch(r"0\d{9,11}", value)
    if not separated and not _LANDLINE_WORDS.search(context):
        return  # a bare run of digits starting with 0 is a landline only when the text says so
    if _order_context(text, match.start()) and not _LANDLINE_WORDS.search(context):
        return
    emit("landline", match.start(), match.end())


def _doc(text: str, match: re.Match[str], emit: Emit) -> None:
    value, start = match.group(), match.start()
    after = text[match.end():match.end() + 6]
    around = _before(text, start, 20) + _SENTENCE_END.split(after, 1)[0]
    if _PERMIT_WORDS.search(around) and _DOC_PERMIT.fullmatch(value):
        emit("travel_permit", start, match.end())
    elif _PASSPORT_WORDS.search(around) and _DOC_PASSPORT.fullmatch(value):
        emit("passport", start, match.end())


def _plate(text: str, match: re.Match[str], emit: Emit) -> None:
    tail = re.sub(r"[·•・.\s-]", "", match.group())[2:]
    if sum(c.isdigit() for c in tail) >= 3:
        emit("plate", match.start(), match.end())


def _ipv4(text: str, match: re.Match[str], emit: Emit) -> None:
    try:
        ipaddress.IPv4Address(match.group())
    except ValueError:
        return
    if _VERSION_WORDS.search(_before(text, match.start(), 8)):
        return
    emit("ip", match.start(), match.end())


def _ipv6(text: str, match: re.Match[str], emit: Emit) -> None:
    value = match.group()
    if sum(c not in ":" for c in value) < 3:
        return
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return
    emit("ip", match.start(), match.end())


def _coords(text: str, match: re.Match[str], emit: Emit) -> None:
    lat, lon = (float(x) for x in re.split(r"\s?[,，]\s?", match.group()))
    if abs(lat) <= 90 and abs(lon) <= 180:
        emit("location", match.start(), match.end())


def _group(name: str, kind: str, check: Callable[[str], bool] | None = None):
    def handler(text: str, match: re.Match[str], emit: Emit) -> None:
        if check is None or check(match.group(name)):
            emit(kind, match.start(name), match.end(name))
    return handler


def _whole(kind: str):
    def handler(text: str, match: re.Match[str], emit: Emit) -> None:
        emit(kind, match.start(), match.end())
    return handler


_HANDLERS: dict[str, Callable[[str, re.Match[str], Emit], None]] = {
    "wxid": _whole("wechat_id"),
    "wechat": _group("wechat_v", "wechat_id"),
    "qq": _group("qq_v", "qq"),
    "birth": _group("birth_v", "birth_date", _valid_date),
    "taiwan": _group("taiwan_v", "travel_permit"),
    "email": _whole("email"),
    "digits": _digits,
    "spaced_id": _spaced_id,
    "spaced_card": _spaced_card,
    "uscc": _uscc,
    "mobile": _mobile,
    "landline": _landline,
    "doc": _doc,
    "plate": _plate,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "coords": _coords,
    "health": _whole("health"),
}

# which recognizer groups can yield which types (to skip work when only some types are wanted)
_YIELDS = {
    "wxid": {"wechat_id"}, "wechat": {"wechat_id"}, "qq": {"qq"}, "birth": {"birth_date"},
    "taiwan": {"travel_permit"}, "email": {"email"},
    "digits": {"id_card", "id_card_old", "uscc", "bank_card"}, "spaced_id": {"id_card"},
    "spaced_card": {"bank_card"}, "uscc": {"uscc"}, "mobile": {"mobile"}, "landline": {"landline"},
    "doc": {"passport", "travel_permit"}, "plate": {"plate"}, "ipv4": {"ip"}, "ipv6": {"ip"},
    "coords": {"location"}, "health": {"health"}, "cue": {"person", "address"},
}


def find(text: str, types: Collection[str] | None = None) -> list[Finding]:
    """Every personal-data finding in ``text``, in order, without overlaps."""
    if not text:
        return []
    wanted = None if types is None else frozenset(types)
    found: list[Finding] = []

    def emit(kind: str, start: int, end: int) -> None:
        if wanted is None or kind in wanted:
            found.append(Finding(kind, text[start:end], start, end))

    cued = False
    for match in MASTER.finditer(text):
        group = match.lastgroup
        if group == "cue":
            cued = True
            continue
        if wanted is not None and not (_YIELDS[group] & wanted):
            continue
        _HANDLERS[group](text, match, emit)
    if cued and (wanted is None or wanted & {"person", "address"}):
        from .names import names_and_addresses

        taken = [(f.start, f.end) for f in found]
        for finding in names_and_addresses(text, taken):
            if wanted is None or finding.type in wanted:
                found.append(finding)
    if len(found) > 1:
        found = _without_overlaps(found)
    return found


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    """Keep the earliest, then longest finding where two overlap."""
    found.sort(key=lambda f: (f.start, -(f.end - f.start)))
    kept: list[Finding] = []
    for finding in found:
        if kept and finding.start < kept[-1].end:
            continue
        kept.append(finding)
    return kept


def find_all(texts: Iterable[str], types: Collection[str] | None = None) -> list[list[Finding]]:
    return [find(t, types) for t in texts]


def floor_pass(texts: Iterable[str]) -> int:
    """The benchmark floor: the same single regex over the same texts, no validation."""
    count = 0
    finditer = MASTER.finditer
    for text in texts:
        for _ in finditer(text):
            count += 1
    return count
