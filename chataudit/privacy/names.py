"""Person names and postal addresses from jieba's part-of-speech tags (``nr`` person, ``ns`` place).

Offline: jieba ships its dictionary and HMM tables. jieba tags many words ``nr`` that are no name,
so a name must start with a common surname (single or compound) and is cut free of honorifics
(张伟先生 → 张伟). An address is a run of place-name (``ns``) and road/number tokens that reaches
below the county level (路, 号, 室 …) or names at least two administrative levels (广东省深圳市).
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Iterable

from .recognizers import Finding

SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
    "向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕"
    "单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚"
    "娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池"
    "查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴"
    "盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊乌母裘亓修邰赫杭况"
    "那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
)
COMPOUND_SURNAMES = {
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯",
    "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "百里", "呼延", "澹台", "公冶", "申屠", "太史", "钟离",
    "闻人", "赫连", "第五", "万俟", "单于",
}
HONORIFICS = ("先生", "女士", "小姐", "老师", "经理", "律师", "医生", "师傅", "同学", "总监", "主任", "阿姨",
              "叔叔", "总", "哥", "姐")
NAME_FLAGS = {"nr", "nrfg", "nrt"}
# words jieba's dictionary itself tags nr, or its HMM often does, that are no names
NOT_NAMES = {"谢谢", "银行", "银行卡", "高兴", "周末", "金额", "方便", "明白", "安全", "平安", "江湖", "常规",
             "和平", "成功", "华为", "向前", "时间", "文明", "司机", "包装", "邮费", "申请", "宁可", "万一",
             "于是", "齐全", "马上", "和气", "from", "任何", "任意", "程序", "文件", "常用", "甘心", "路上",
             "白色", "黄色", "蓝色", "红色", "金色", "关于", "关注", "师傅", "老板", "明天", "明年", "林子",
             "高速", "高端", "高级", "黄金", "钱包", "江南", "温馨", "温度", "宋体", "康复", "苏宁", "京东",
             "荣耀", "王者"}
# a name right after one of these is taken even when jieba does not tag it nr (我叫徐然 → 徐然/d)
NAME_CUES = re.compile(r"(?:我叫|我的名字是|姓名|名字叫|名字|收件人|收货人|联系人|寄件人|签收人|负责人|经办人|委托人|当事人|"
                       r"持卡人|开户名|户名|户主|转告|联系|客户|处理人|跟进人|对接人|@)\s{0,2}[:：]?\s{0,2}(?:是|为)?\s{0,2}$")
_NOT_GIVEN = set("说是的了在和与及等处吧呢吗啊呀哦也都就还要会能把被给让对向从到")

_ADMIN_END = re.compile(r"(?:省|市|区|县|旗|自治州|州|盟|镇|乡|街道)$")
_ROAD_END = re.compile(r"(?:路|街|大道|道|巷|弄|胡同|里|村|组|社区|小区|花园|公寓|大厦|广场|中心|苑|园|城|院|庄|屯"
                       r"|栋|幢|座|单元|室|楼|层|号楼|号院|段|期|号口|出口|入口|号门)$")
_NUMBER = re.compile(r"(?:\d+|[一二三四五六七八九十百零两]+)(?:号|栋|幢|单元|室|楼|层|弄|段|巷|排|组|期)?")
_CONTINUE_FLAGS = {"ns", "n", "nz", "nr", "nrt", "nrfg", "nt", "m", "eng", "f", "q", "s", "nsf", "a", "b", "ng"}
_JOINERS = {"-", "—", "#", "弄", "号", "之"}


@functools.lru_cache(maxsize=1)
def _posseg():
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    return jieba.posseg


def tokens(text: str) -> list[tuple[str, str, int]]:
    """(word, flag, start offset) for every jieba token of ``text``."""
    out = []
    position = 0
    for pair in _posseg().cut(text):
        word = pair.word
        start = text.find(word, position)
        if start < 0:
            continue
        out.append((word, pair.flag, start))
        position = start + len(word)
    return out


def _is_address_part(word: str, flag: str) -> bool:
    if word in _JOINERS or _NUMBER.fullmatch(word) or _ROAD_END.search(word):
        return True
    return flag in _CONTINUE_FLAGS and not word.isspace()


_SEPARATORS = {",", "，", "、", " ", "\u3000"}


_UNITS = {"号", "弄", "室", "栋", "幢", "单元", "楼", "层", "号楼"}


def _after_separators(toks: list[tuple[str, str, int]], k: int) -> int | None:
    """Separators from ``k`` on inside an address: the index of the token after them when it is a
    place, a road, or a house number right after a road (so "北京市，3个人" stays out), else None."""
    end = k
    while end < len(toks) and end - k < 3 and toks[end][0] in _SEPARATORS:
        end += 1
    if end == k or end >= len(toks):
        return None
    word, flag, _ = toks[end]
    previous = toks[k - 1][0] if k else ""
    if _ROAD_END.search(word) or _is_admin(word, flag):
        return end
    if _NUMBER.fullmatch(word) and _ROAD_END.search(previous):
        return end
    if word in _UNITS and _NUMBER.fullmatch(previous):
        return end
    return None


def _is_admin(word: str, flag: str) -> bool:
    return len(word) >= 2 and (flag == "ns" or (flag.startswith("n") and bool(_ADMIN_END.search(word))))


def _addresses(toks: list[tuple[str, str, int]]) -> list[tuple[int, int]]:
    spans = []
    i = 0
    while i < len(toks):
        word, flag, start = toks[i]
        if not _is_admin(word, flag):
            i += 1
            continue
        j = i
        while j + 1 < len(toks):
            if _is_address_part(toks[j + 1][0], toks[j + 1][1]):
                j += 1
            else:
                after = _after_separators(toks, j + 1)
                if after is None:
                    break
                j = after  # "上海市, 人民广场 3号口", "张杨路 500 号": a comma or space inside the address
        # trim back to the last token an address may end with
        while j > i:
            w, f, _ = toks[j]
            if _ROAD_END.search(w) or _NUMBER.fullmatch(w) or _is_admin(w, f) or w in ("号", "弄"):
                break
            j -= 1
        admins = sum(1 for w, f, _ in toks[i:j + 1] if _ADMIN_END.search(w) and len(w) >= 2)
        places = sum(1 for w, f, _ in toks[i:j + 1] if _is_admin(w, f))
        below = any((_ROAD_END.search(w) and not _ADMIN_END.search(w)) or _NUMBER.fullmatch(w)
                    for w, f, _ in toks[i + 1:j + 1])
        if (places >= 1 and below) or admins >= 2:
            end_word, _, end_start = toks[j]
            spans.append((start, end_start + len(end_word)))
            i = j + 1
        else:
            i += 1
    return spans


def _name(word: str) -> str | None:
    for honorific in HONORIFICS:
        if word.endswith(honorific) and len(word) > len(honorific):
            word = word[: -len(honorific)]
            break
    if word in NOT_NAMES or _ROAD_END.search(word) or _ADMIN_END.search(word):
        return None
    if word[:2] in COMPOUND_SURNAMES and 3 <= len(word) <= 4:
        return word
    if word[0] in SURNAMES and 2 <= len(word) <= 3:
        return word
    return None


def _cued_name(text: str, toks: list[tuple[str, str, int]], i: int) -> tuple[int, int] | None:
    """A name right after a cue word: the token(s) there, 2–3 characters (4 with a compound surname)."""
    word, flag, start = toks[i]
    if flag == "x" or not NAME_CUES.search(text[max(0, start - 8):start]):
        return None
    compound = word[:2] in COMPOUND_SURNAMES
    limit, shortest = (4, 3) if compound else (3, 2)
    name = word
    j = i + 1
    while len(name) < shortest and j < len(toks) and toks[j][1] != "x":
        name += toks[j][0]
        j += 1
    if (len(name) < limit and j < len(toks) and len(toks[j][0]) == 1 and toks[j][1] != "x"
            and toks[j][0] not in _NOT_GIVEN and len(name) + 1 <= limit):
        name += toks[j][0]
    if not 2 <= len(name) <= limit or not all("\u4e00" <= c <= "\u9fff" for c in name):
        return None
    if _name(name) != name:
        return None
    return start, start + len(name)


def _titled_name(toks: list[tuple[str, str, int]], i: int) -> tuple[int, int] | None:
    """A name right before an honorific (李英子先生, 萧娟经理), however jieba split it."""
    word, flag, start = toks[i]
    if flag == "x" or not (word[0] in SURNAMES or word[:2] in COMPOUND_SURNAMES):
        return None
    name = ""
    for j in range(i, min(i + 3, len(toks))):
        if toks[j][1] == "x":
            return None
        name += toks[j][0]
        if len(name) > 4:
            return None
        following = toks[j + 1][0] if j + 1 < len(toks) else ""
        if following in HONORIFICS and following not in ("总", "哥", "姐") and _name(name) == name:
            return start, start + len(name)
    return None


def _names(toks: list[tuple[str, str, int]], text: str) -> list[tuple[int, int]]:
    spans = []
    i = 0
    while i < len(toks):
        word, flag, start = toks[i]
        cued = _cued_name(text, toks, i) or _titled_name(toks, i)
        if cued is not None:
            spans.append(cued)
            while i < len(toks) and toks[i][2] < cued[1]:
                i += 1
            continue
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        # 欧阳/ns 娜娜/nrt, 王/nr 小明/nr: a surname token followed by a given-name token
        if nxt is not None and nxt[1] in NAME_FLAGS and 1 <= len(nxt[0]) <= 2 and (
            word in COMPOUND_SURNAMES or (len(word) == 1 and word in SURNAMES and flag in NAME_FLAGS)
        ):
            name = _name(word + nxt[0])
            if name:
                spans.append((start, start + len(name)))
                i += 2
                continue
        if flag in NAME_FLAGS:
            name = _name(word)
            if name:
                spans.append((start, start + len(name)))
        i += 1
    return spans


def names_and_addresses(text: str, taken: Iterable[tuple[int, int]] = ()) -> list[Finding]:
    """Person and address findings in ``text``; spans overlapping ``taken`` are left out."""
    toks = tokens(text)
    occupied = list(taken)
    found = []
    for start, end in _addresses(toks):
        if not any(s < end and start < e for s, e in occupied):
            found.append(Finding("address", text[start:end], start, end))
            occupied.append((start, end))
    for start, end in _names(toks, text):
        if not any(s < end and start < e for s, e in occupied):
            found.append(Finding("person", text[start:end], start, end))
    return found
