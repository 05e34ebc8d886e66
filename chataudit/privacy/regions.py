"""China's administrative divisions (GB/T 2260) as python-stdnum ships them (``stdnum/cn/loc.dat``).

Used to check the region code of a 居民身份证 and a 统一社会信用代码, and to generalize an address
to its city or province. Codes that were retired stay valid here: people keep their ID numbers when
a county is renamed or merged, so the period a code was in use is deliberately ignored.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

_LINE = re.compile(r'^(\s*)(\d+)\s+(\w+)="([^"]*)"')
_PERIOD = re.compile(r"\[[^\]]*\]")
_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "特別行政區", "特别行政区", "自治区", "自治州",
             "地区", "省", "市", "盟")


@dataclass(frozen=True)
class Division:
    code: str  # 6 digits
    name: str
    province: str
    city: str | None  # the prefecture-level city (or the municipality itself)


@dataclass(frozen=True)
class Regions:
    codes: frozenset[str]  # every 6-digit county-level code ever listed
    provinces: dict[str, str]  # 2-digit code → province name
    # a place name (full and short form) → the divisions it may mean (county names repeat across China)
    by_name: dict[str, tuple[Division, ...]]


def short_name(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


@functools.lru_cache(maxsize=1)
def regions() -> Regions:
    text = (resources.files("stdnum") / "cn" / "loc.dat").read_text(encoding="utf-8")
    codes: set[str] = set()
    provinces: dict[str, str] = {}
    cities: dict[str, str] = {}  # 4-digit prefecture code → its name
    entries: list[tuple[str, list[str]]] = []
    province = ""
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        indent, code, key, value = match.groups()
        if not indent and key == "province":
            province = code
            provinces[code] = value
            continue
        if not indent or key != "county":
            continue
        full = province + code
        names = [n for n in (_PERIOD.sub("", part) for part in value.split(",")) if n]
        codes.add(full)
        entries.append((full, names))
        if code.endswith("00") and code != "0000":
            cities[full[:4]] = names[-1]
    by_name: dict[str, list[Division]] = {}

    def add(name: str, division: Division) -> None:
        for key in {name, short_name(name)}:
            if len(key) >= 2 and key not in ("市辖区", "市辖", "县", "郊区", "城区", "矿区"):
                by_name.setdefault(key, []).append(division)

    for code, name in provinces.items():
        municipality = name.endswith("市")
        add(name, Division(code + "0000", name, name, name if municipality else None))
    for full, names in entries:
        province_name = provinces.get(full[:2], "")
        if province_name.endswith("市"):  # Beijing, Tianjin, Shanghai, Chongqing
            city = province_name
        else:
            city = cities.get(full[:4])
        for name in names:
            if name in ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"):
                continue
            add(name, Division(full, name, province_name, city))
    return Regions(frozenset(codes), provinces,
                   {k: tuple(dict.fromkeys(v)) for k, v in by_name.items()})


@functools.lru_cache(maxsize=8192)
def known_region(code: str) -> bool:
    """A 6-digit code that names a county-level division (at any time)."""
    return code in regions().codes


def province_of(code: str) -> str | None:
    return regions().provinces.get(code[:2])


_NOT_A_PLACE_AFTER = set("路街道巷弄桥村园湖山站港")
_NAME_CACHE: dict[str, re.Pattern[str]] = {}


def place_names_pattern() -> re.Pattern[str]:
    """One alternation of every known place name, longest first."""
    pattern = _NAME_CACHE.get("all")
    if pattern is None:
        names = sorted(regions().by_name, key=len, reverse=True)
        pattern = re.compile("|".join(map(re.escape, names)))
        _NAME_CACHE["all"] = pattern
    return pattern


def generalize_address(address: str, level: str = "city") -> str | None:
    """The city (or province) an address is in, from the place names it spells; None if unknown.

    Explicit names win (``广东省深圳市…`` → ``广东省深圳市``); a lone county name is used only when it
    names one place in all of China.
    """
    table = regions().by_name
    province: str | None = None
    city: str | None = None
    for match in place_names_pattern().finditer(address):
        if address[match.end():match.end() + 1] in _NOT_A_PLACE_AFTER:
            continue  # 中山路, 人民大道: a road named after a place
        candidates = table[match.group()]
        provinces = {d.province for d in candidates}
        cities = {d.city for d in candidates if d.city}
        if len(cities) > 1:  # a name that was once a county and is now the city itself
            cities = {d.city for d in candidates if d.city == d.name} or cities
        if province is not None:
            inside = [d for d in candidates if d.province == province]
            if inside:
                candidates = inside
                provinces = {province}
                cities = {d.city for d in inside if d.city}
        if len(provinces) == 1 and province is None:
            province = next(iter(provinces))
        if len(cities) == 1 and city is None and len(provinces) == 1:
            city = next(iter(cities))
        if city is not None:
            break
    if province is None:
        return None
    if level == "province" or city is None:
        return province
    return city if city == province else province + city
