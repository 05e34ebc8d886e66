"""Redaction of texts, message dicts and export files: the output bytes hold none of the found values."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from chataudit.importer import import_paths
from chataudit.privacy import (
    Redactor, decrypt_text, find, load_policy, policy_from_toml, redact_files, redact_message, redact_text,
)
from chataudit.privacy.commands import pii, redact
from chataudit.store import Archive

PII = Path(__file__).parent / "fixtures" / "pii"
sys.path.insert(0, str(PII))
import labelled  # noqa: E402

POLICIES = {
    "default": None,
    "hash": 'default = "hash"\nsenders = "hash"',
    "encrypt": 'default = "encrypt"\nsenders = "encrypt"',
    "replace": 'default = "replace"\nsenders = "replace"',
    "mask": 'default = "mask"\nsenders = "mask"',
    "generalize": 'default = "generalize"\nsenders = "hash"',
}


@pytest.fixture(autouse=True)
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "keys"
    monkeypatch.setenv("CHATAUDIT_KEYS", str(folder))
    return folder


def policy_of(name: str):
    text = POLICIES[name]
    return load_policy(None) if text is None else policy_from_toml(text, name)


def planted_values() -> set[str]:
    values = {e["value"] for e in json.loads((PII / "dispute.expected.json").read_text(encoding="utf-8"))}
    return values | {"张伟", "wxid_zhangwei88", "客服小李"}


@pytest.mark.parametrize("name", list(POLICIES))
def test_redacted_file_bytes_hold_none_of_the_found_values(tmp_path: Path, name: str) -> None:
    results = redact_files([PII / "dispute.jsonl", PII / "张伟.txt"], tmp_path / "out", policy_of(name),
                           tz="Asia/Shanghai")
    assert [r.error for r in results] == [None, None]
    assert [r.format for r in results] == ["generic", "wechat-txt"]
    assert results[0].messages == 10 and results[1].messages == 5
    # everything the recognizers find in the originals, plus what was planted and the senders
    values = set(planted_values())
    for line in (PII / "dispute.jsonl").read_text(encoding="utf-8").splitlines():
        values.update(f.value for f in find(json.loads(line)["text"]))
    values.update(f.value for f in find((PII / "张伟.txt").read_text(encoding="utf-8")))
    values.update({"36011319520920092X", "5240910967929083", "+86 139-1234-5678", "wei.zhang@example.com"})
    for result in results:
        data = Path(result.out).read_bytes()
        for value in values:
            assert value.encode() not in data, (name, value)
        # decoys stay readable
        assert "6217787789328792172".encode() in data and "SF1234567890123".encode() in data
    assert results[0].findings["id_card"] == 1


def test_redacted_file_is_generic_jsonl_that_imports(tmp_path: Path) -> None:
    [result] = redact_files([PII / "dispute.jsonl"], tmp_path / "out", tz="Asia/Shanghai")
    assert result.out.endswith("dispute.jsonl.redacted.jsonl")
    rows = [json.loads(line) for line in Path(result.out).read_text(encoding="utf-8").splitlines()]
    assert rows[2]["text"].startswith("身份证<身份证>，银行卡***************0165，手机138 **** 8000")
    assert rows[0]["sender_name"] == rows[2]["sender_name"] != "张伟"
    assert rows[0]["sender_name"].startswith("<姓名:")
    assert rows[8]["attachments"][0]["name"].endswith("身份证正面.jpg") and "张伟" not in rows[8]["attachments"][0]["name"]
    with Archive(tmp_path / "redacted.db") as archive:
        summary = import_paths(archive, [result.out])
        assert not summary.errors and summary.as_dict()["new"] == 10


def test_encrypted_output_decrypts_to_the_original_values(tmp_path: Path) -> None:
    [result] = redact_files([PII / "dispute.jsonl"], tmp_path / "out", policy_of("encrypt"))
    redacted = Path(result.out).read_text(encoding="utf-8")
    clear = decrypt_text(redacted)
    rows = [json.loads(line) for line in clear.splitlines()]
    originals = [json.loads(line) for line in (PII / "dispute.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in rows] == [o["text"] for o in originals]
    assert [r["sender_name"] for r in rows] == [o["sender_name"] for o in originals]


def test_redact_message_replaces_a_found_value_in_every_field() -> None:
    message = {
        "id": 7, "message_id": "123456789", "content_hash": "ab" * 32, "sender_id": "wxid_zhangwei88",
        "sender_name": "张伟", "conversation_title": "张伟", "text": "QQ：123456789，找张伟",
        "extras": {"quoted": "我的QQ 123456789"}, "source_path": "WeChat Files/wxid_zhangwei88/MSG0.db",
        "snippet": "QQ：<mark>123456789</mark>", "highlights": [[3, 12]], "sent_at": "2026-03-12T09:00:00+08:00",
    }
    out = redact_message(message)
    blob = json.dumps(out, ensure_ascii=False)
    for value in ("张伟", "wxid_zhangwei88"):
        assert value not in blob
    assert "123456789" not in json.dumps({k: v for k, v in out.items() if k != "message_id"}, ensure_ascii=False)
    assert out["message_id"] == "123456789" and out["id"] == 7 and out["content_hash"] == "ab" * 32
    assert out["highlights"] == [] and "<mark>" not in out["snippet"]
    assert out["sender_name"] in out["text"]  # the same pseudonym in the field and in the text
    assert message["text"] == "QQ：123456789，找张伟"  # the input is not modified


def test_a_value_learnt_once_is_replaced_later_without_its_context() -> None:
    redactor = Redactor(policy_of("replace"))
    assert redactor.text("我的QQ：123456789") == "我的QQ：<QQ>"
    assert redactor.text("就是123456789") == "就是<QQ>"
    redactor.learn_names(["李雷"])
    assert redactor.text("李雷今天没来") == "<姓名>今天没来"


def test_keep_leaves_values_and_types_only_limits(tmp_path: Path) -> None:
    policy = policy_from_toml('default = "keep"\nsenders = "keep"\nallow_keep_sensitive = true\n[types]\nmobile = "replace"')
    assert redact_text("手机13812345678，邮箱a@b.cn", policy) == "手机<手机号>，邮箱a@b.cn"
    only = policy_from_toml('types_only = ["email"]')
    assert redact_text("手机13812345678，邮箱a@b.cn", only) == "手机13812345678，邮箱<邮箱>"


@click.group()
@click.option("--db")
@click.pass_context
def root(ctx: click.Context, db: str) -> None:
    ctx.obj = {"db": db}


root.add_command(pii)
root.add_command(redact)


def test_cli_redact_decrypt_and_policy(tmp_path: Path) -> None:
    runner = CliRunner()
    policy = tmp_path / "p.toml"
    policy.write_text('default = "encrypt"\n', encoding="utf-8")
    out = runner.invoke(root, ["redact", str(PII / "dispute.jsonl"), "--out", str(tmp_path / "o"),
                               "--policy", str(policy), "--json"])
    assert out.exit_code == 0, out.output
    [row] = json.loads(out.output)
    assert set(row) == {"path", "format", "out", "messages", "findings", "error"} and row["messages"] == 10
    assert b"362325195307144042" not in Path(row["out"]).read_bytes()
    clear = runner.invoke(root, ["pii", "decrypt", row["out"]])
    assert clear.exit_code == 0 and "362325195307144042" in clear.output
    plain = runner.invoke(root, ["redact", str(PII / "张伟.txt"), "--out", str(tmp_path / "o2"), "--tz", "Asia/Shanghai"])
    assert plain.exit_code == 0 and "wechat-txt, 5 messages" in plain.output
    printed = runner.invoke(root, ["pii", "policy"])
    assert printed.exit_code == 0 and 'senders = "hash"' in printed.output
    checked = runner.invoke(root, ["pii", "policy", str(policy), "--json"])
    assert json.loads(checked.output)["default"] == "encrypt"
    bad = runner.invoke(root, ["redact", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o3")])
    assert bad.exit_code == 1 and "no such file" in bad.output
    refused = tmp_path / "keep.toml"
    refused.write_text('[types]\nbank_card = "keep"\n', encoding="utf-8")
    no = runner.invoke(root, ["redact", str(PII / "dispute.jsonl"), "--out", str(tmp_path / "o4"), "--policy", str(refused)])
    assert no.exit_code == 1 and "bank_card would be kept" in no.output and not (tmp_path / "o4").exists()


SENTENCE_MAKERS = [(kind, make, templates) for kind, (make, templates) in labelled.TEMPLATES.items()
                   if make is not None and kind not in ("person", "address")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**32), st.sampled_from(list(POLICIES)))
def test_redacted_text_never_contains_a_found_value(seed: int, name: str) -> None:
    rng = random.Random(seed)
    parts = []
    for _ in range(rng.randint(1, 4)):
        kind, make, templates = rng.choice(SENTENCE_MAKERS)
        parts.append(rng.choice(templates).replace("{v}", make(rng)).replace("{order}", "1" * 19))
    text = "；".join(parts)
    values = [f.value for f in find(text)]
    out = Redactor(policy_of(name)).text(text)
    for value in values:
        assert value not in out
