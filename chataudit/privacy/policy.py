"""De-identification policies: which operator each type of personal data gets (TOML, stdlib tomllib).

A policy file::

    default = "replace"          # operator for types the file does not name
    senders = "hash"             # sender_id / sender_name fields of messages
    # keys = "~/.config/chataudit"   # folder of pseudonym.key / encrypt.key
    # types_only = ["mobile", "id_card"]   # look for these types only
    # allow_keep_sensitive = false

    [types]
    mobile = "mask"                                      # 138****5678
    bank_card = { operator = "mask", keep_last = 4 }
    person = "hash"
    address = { operator = "generalize", level = "province" }
    id_card = { operator = "replace", with = "[身份证号]" }

Sensitive types (ID numbers, bank cards, passports and permits, health, precise location) may not
be kept unless the policy says ``allow_keep_sensitive = true``: a policy that would let them leave
the archive unchanged by mistake is refused.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ChatAuditError
from .operators import OPERATORS
from .recognizers import SENSITIVE, TYPES

DEFAULT_POLICY_TOML = """\
# chataudit de-identification policy (the built-in default; `chataudit pii policy` prints it).
# Operators: mask, replace, hash, encrypt, generalize, keep.  See README, "De-identification".
# Sensitive types (*) cannot be `keep` unless allow_keep_sensitive = true.

default = "replace"        # any type not listed below
senders = "hash"           # sender_id / sender_name: one stable pseudonym per person
# keys = "~/.config/chataudit"        # where pseudonym.key and encrypt.key live (never beside the archive)
# types_only = ["id_card", "mobile"]  # look for these types only (default: all)

[types]
id_card = "replace"                                        # * <身份证>
id_card_old = "replace"                                    # * <身份证>
bank_card = { operator = "mask", keep_last = 4 }           # * ***************1234
passport = "replace"                                       # * <护照>
travel_permit = "replace"                                  # * <通行证>
health = "replace"                                         # * <健康信息>
location = "replace"                                       # * <位置>
mobile = { operator = "mask", keep_first = 3, keep_last = 4 }   # 138****5678
landline = { operator = "mask", keep_last = 4 }            # ***-****5678
email = "mask"                                             # z***@example.com
uscc = "mask"                                              # 91****************
person = "hash"                                            # <姓名:kqzvbfxwmp>, same person same pseudonym
wechat_id = "hash"                                         # <微信号:…>
qq = "hash"                                                # <QQ:…>
address = { operator = "generalize", level = "city" }      # 广东省深圳市
birth_date = "generalize"                                  # 1990年
plate = "generalize"                                       # 粤B*****
ip = "generalize"                                          # 203.0.113.0/24
"""


@dataclass(frozen=True)
class Rule:
    operator: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.options)


@dataclass(frozen=True)
class Policy:
    rules: tuple[tuple[str, Rule], ...]
    default: Rule = Rule("replace")
    senders: Rule = Rule("hash")
    keys: str | None = None
    types_only: frozenset[str] | None = None
    allow_keep_sensitive: bool = False
    source: str = "default"
    _by_type: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        self._by_type.update(dict(self.rules))

    def rule_for(self, kind: str) -> Rule:
        return self._by_type.get(kind, self.default)

    @property
    def types(self) -> frozenset[str] | None:
        """The types to look for (None: all)."""
        return self.types_only

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "default": self.default.operator,
            "senders": self.senders.operator,
            "types": {kind: {"operator": self.rule_for(kind).operator, **self.rule_for(kind).settings,
                             "sensitive": kind in SENSITIVE}
                      for kind in TYPES if self.types_only is None or kind in self.types_only},
        }


def _rule(value: Any, where: str) -> Rule:
    if isinstance(value, str):
        operator, options = value, {}
    elif isinstance(value, dict):
        options = dict(value)
        operator = options.pop("operator", None)
        if not isinstance(operator, str):
            raise ChatAuditError(f"policy {where}: a table needs operator = \"mask|replace|hash|encrypt|generalize|keep\"")
    else:
        raise ChatAuditError(f"policy {where}: give an operator name or a table with operator = …")
    if operator not in OPERATORS:
        raise ChatAuditError(f"policy {where}: unknown operator {operator!r} (known: {', '.join(OPERATORS)})")
    return Rule(operator, tuple(sorted(options.items())))


KNOWN_KEYS = {"default", "senders", "keys", "types_only", "allow_keep_sensitive", "types"}


def policy_from_toml(text: str, source: str = "<policy>") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ChatAuditError(f"{source}: not a valid TOML policy: {error}") from None
    unknown = set(data) - KNOWN_KEYS
    if unknown:
        raise ChatAuditError(f"{source}: unknown setting(s) {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(sorted(KNOWN_KEYS))})")
    types = data.get("types", {})
    if not isinstance(types, dict):
        raise ChatAuditError(f"{source}: [types] must be a table of type = operator")
    rules = []
    for kind, value in types.items():
        if kind not in TYPES:
            raise ChatAuditError(f"{source}: unknown type {kind!r} (known: {', '.join(TYPES)})")
        rules.append((kind, _rule(value, f"{source} [types] {kind}")))
    only = data.get("types_only")
    if only is not None:
        if not isinstance(only, list) or any(t not in TYPES for t in only):
            raise ChatAuditError(f"{source}: types_only must list known types ({', '.join(TYPES)})")
        only = frozenset(only)
    policy = Policy(
        rules=tuple(sorted(rules)),
        default=_rule(data.get("default", "replace"), f"{source} default"),
        senders=_rule(data.get("senders", "hash"), f"{source} senders"),
        keys=str(data["keys"]) if data.get("keys") else None,
        types_only=only,
        allow_keep_sensitive=bool(data.get("allow_keep_sensitive", False)),
        source=source,
    )
    if not policy.allow_keep_sensitive:
        kept = sorted(k for k in SENSITIVE if policy.rule_for(k).operator == "keep")
        if kept:
            raise ChatAuditError(f"{source}: sensitive type(s) {', '.join(kept)} would be kept as they are; "
                                 "choose another operator or set allow_keep_sensitive = true")
    return policy


@functools.lru_cache(maxsize=1)
def default_policy() -> Policy:
    return policy_from_toml(DEFAULT_POLICY_TOML, "default")


def load_policy(path: str | Path | None = None) -> Policy:
    """A policy file, or the built-in default when ``path`` is None (or ``"default"``)."""
    if path is None or str(path) == "default":
        return default_policy()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ChatAuditError(f"cannot read policy {file}: {error.strerror}") from None
    return policy_from_toml(text, str(file))
