"""Policy files (TOML): the default policy, shorthand and table rules, and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from chataudit.errors import ChatAuditError
from chataudit.privacy.policy import DEFAULT_POLICY_TOML, default_policy, load_policy, policy_from_toml
from chataudit.privacy.recognizers import SENSITIVE, TYPES


def test_default_policy_covers_every_type_and_keeps_nothing() -> None:
    policy = default_policy()
    assert load_policy(None) is policy and load_policy("default") is policy
    assert policy_from_toml(DEFAULT_POLICY_TOML, "default") == policy
    for kind in TYPES:
        assert policy.rule_for(kind).operator != "keep", kind
    for kind in SENSITIVE:
        assert policy.rule_for(kind).operator in ("replace", "mask", "encrypt"), kind
    assert policy.rule_for("mobile").settings == {"keep_first": 3, "keep_last": 4}
    assert policy.senders.operator == "hash"
    described = policy.describe()
    assert described["types"]["id_card"] == {"operator": "replace", "sensitive": True}


def test_shorthand_tables_default_and_types_only(tmp_path: Path) -> None:
    file = tmp_path / "policy.toml"
    file.write_text('default = "mask"\nsenders = "keep"\ntypes_only = ["mobile", "person"]\nkeys = "/tmp/k"\n'
                    '[types]\nmobile = "hash"\nperson = { operator = "generalize" }\n', encoding="utf-8")
    policy = load_policy(file)
    assert policy.rule_for("mobile").operator == "hash"
    assert policy.rule_for("person").operator == "generalize"
    assert policy.rule_for("email").operator == "mask"
    assert policy.types == frozenset({"mobile", "person"}) and policy.keys == "/tmp/k"
    assert policy.senders.operator == "keep"
    assert hash(policy) == hash(load_policy(file))


@pytest.mark.parametrize("text, message", [
    ('[types]\nidcard = "mask"', "unknown type 'idcard'"),
    ('[types]\nmobile = "blur"', "unknown operator 'blur'"),
    ('[types]\nmobile = { keep_last = 4 }', "needs operator"),
    ('[types]\nid_card = "keep"', "sensitive type(s) id_card would be kept"),
    ('default = "keep"', "sensitive type(s)"),
    ('colour = "red"', "unknown setting(s) colour"),
    ('types_only = ["nope"]', "types_only must list known types"),
    ("[types\n", "not a valid TOML policy"),
])
def test_bad_policies_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ChatAuditError, match=message.replace("(", r"\(").replace(")", r"\)")):
        policy_from_toml(text)


def test_keeping_sensitive_data_must_be_explicit() -> None:
    policy = policy_from_toml('default = "keep"\nallow_keep_sensitive = true')
    assert policy.rule_for("bank_card").operator == "keep"


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(ChatAuditError, match="cannot read policy"):
        load_policy(tmp_path / "nope.toml")
