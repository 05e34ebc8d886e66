"""Operators (mask, replace, hash, encrypt, generalize, keep) and the key files behind hash/encrypt."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from chataudit.errors import ChatAuditError
from chataudit.privacy.operators import (
    ENCRYPTED, KeyRing, decrypt_text, encrypt, generalize, hash_operator, keep, mask, pseudonym, replace,
)


@pytest.fixture
def keys(tmp_path: Path) -> KeyRing:
    return KeyRing(tmp_path / "keys")


@pytest.mark.parametrize("kind, value, options, expected", [
    ("mobile", "13812345678", {}, "138****5678"),
    ("mobile", "+86 138-1234-5678", {}, "+86 138-****-5678"),
    ("bank_card", "6222020200112345678", {}, "***************5678"),
    ("bank_card", "6222 0202 0011 2345", {}, "**** **** **** 2345"),
    ("email", "zhang.san@example.com", {}, "z***@example.com"),
    ("person", "张伟", {}, "张*"),
    ("id_card", "110101199003071233", {"keep_first": 6, "keep_last": 0}, "110101************"),
    ("qq", "12345", {"keep_first": 3, "keep_last": 4, "char": "#"}, "1###5"),
])
def test_mask(keys: KeyRing, kind: str, value: str, options: dict, expected: str) -> None:
    assert mask(kind, value, options, keys) == expected


def test_mask_always_hides_enough(keys: KeyRing) -> None:
    # a policy asking to keep everything still hides at least four characters (or half)
    assert mask("qq", "123456789", {"keep_first": 9, "keep_last": 9}, keys).count("*") >= 4
    assert mask("person", "张伟", {"keep_first": 2}, keys) == "张*"


def test_replace_and_keep(keys: KeyRing) -> None:
    assert replace("id_card", "110101199003071233", {}, keys) == "<身份证>"
    assert replace("id_card", "x", {"with": "[已删除]"}, keys) == "[已删除]"
    assert keep("mobile", "13812345678", {}, keys) == "13812345678"


def test_hash_is_a_stable_keyed_pseudonym(keys: KeyRing, tmp_path: Path) -> None:
    one = hash_operator("mobile", "13812345678", {}, keys)
    assert one.startswith("<手机号:") and one == hash_operator("mobile", "+86 138 1234 5678", {}, keys)
    assert one != hash_operator("mobile", "13812345679", {}, keys)
    assert hash_operator("person", "张伟", {"format": "{type}-{pseudonym}"}, keys).startswith("person-")
    other_key = KeyRing(tmp_path / "elsewhere")
    assert pseudonym("mobile", "13812345678", keys) != pseudonym("mobile", "13812345678", other_key)
    assert pseudonym("mobile", "13812345678", keys).isalpha()  # no digits: cannot spell a number


def test_key_files_are_private_created_once_and_checked(keys: KeyRing) -> None:
    first = keys.pseudonym_key()
    path = keys.directory / "pseudonym.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyRing(keys.directory).pseudonym_key() == first
    os.chmod(path, 0o644)
    with pytest.raises(ChatAuditError, match="chmod 600"):
        KeyRing(keys.directory).pseudonym_key()
    os.chmod(path, 0o600)
    path.write_text("not a key\n")
    with pytest.raises(ChatAuditError, match="not a chataudit key"):
        KeyRing(keys.directory).pseudonym_key()


def test_encrypt_round_trip_and_wrong_key(keys: KeyRing, tmp_path: Path) -> None:
    token = encrypt("id_card", "110101199003071233", {}, keys)
    assert ENCRYPTED.fullmatch(token) and not any(c.isdigit() for c in token.split(":", 2)[2])
    assert token != encrypt("id_card", "110101199003071233", {}, keys)  # fresh nonce
    text = f"身份证{token}，完"
    assert decrypt_text(text, keys) == "身份证110101199003071233，完"
    stranger = KeyRing(tmp_path / "other")
    stranger.encryption_key()  # a key, but not the one used
    with pytest.raises(ChatAuditError, match="wrong key"):
        decrypt_text(text, stranger)
    with pytest.raises(ChatAuditError, match="no key"):
        decrypt_text(text, KeyRing(tmp_path / "none"))
    # the type is bound to the ciphertext: relabelling it fails
    with pytest.raises(ChatAuditError):
        decrypt_text(token.replace("<enc:id_card:", "<enc:mobile:"), keys)


@pytest.mark.parametrize("kind, value, options, expected", [
    ("birth_date", "1990年5月6日", {}, "1990年"),
    ("birth_date", "1990-05-06", {}, "1990年"),
    ("id_card", "110101199003071233", {}, "<身份证:北京市1990年生>"),
    ("id_card_old", "440305900307123", {}, "<身份证:广东省1990年生>"),
    ("address", "广东省深圳市南山区科技园路88号", {}, "广东省深圳市"),
    ("address", "广东省深圳市南山区科技园路88号", {"level": "province"}, "广东省"),
    ("address", "某某路88号", {}, "<地址>"),
    ("person", "欧阳娜娜", {}, "欧阳某"),
    ("person", "张伟", {}, "张某"),
    ("plate", "粤B·D12345", {}, "粤B*****"),
    ("ip", "203.0.113.77", {}, "203.0.113.0/24"),
    ("ip", "2001:db8:1:2::1", {}, "2001:db8:1::/48"),
    ("email", "a@qq.com", {}, "<邮箱@qq.com>"),
    ("location", "31.230416,121.473701", {}, "31.23,121.47"),
    ("landline", "0755-86001234", {}, "0755-********"),
    ("mobile", "13812345678", {}, "<手机号>"),  # nothing to generalize to: replaced
])
def test_generalize(keys: KeyRing, kind: str, value: str, options: dict, expected: str) -> None:
    assert generalize(kind, value, options, keys) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=5, max_size=19), st.integers(0, 8), st.integers(0, 8))
def test_masked_values_never_contain_the_value(value: str, first: int, last: int) -> None:
    masked = mask("qq", value, {"keep_first": first, "keep_last": last}, KeyRing("/nonexistent"))
    assert value not in masked and len(masked) == len(value)
