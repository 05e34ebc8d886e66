"""Auto-detection across every format: each fixture is claimed by its own format and no other,
and a mixed folder of several platforms imports in one command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from chataudit import formats
from chataudit.cli import cli

FIXTURES = Path(__file__).parent / "fixtures"

GOOD = {
    "telegram/personal_result.json": "telegram-json",
    "telegram/full_result.json": "telegram-json",
    "telegram/old_result.json": "telegram-json",
    "whatsapp/WhatsApp Chat with Alice.txt": "whatsapp-txt",
    "whatsapp/与李雷的 WhatsApp 聊天.txt": "whatsapp-txt",
    "whatsapp/ios_group/_chat.txt": "whatsapp-txt",
    "wechat/memotrace/梅梅_utf8.csv": "wechat-csv",
    "wechat/memotrace/项目组_utf8.csv": "wechat-csv",
    "wechat/pywxdump_old/wxid_hanmeimei01_0_6.csv": "wechat-csv",
    "wechat/db/MSG0.db": "wechat-db",
    "wechat/txt/项目组.txt": "wechat-txt",
    "wecom/archive.jsonl": "wecom-archive",
    "wecom/array_bom.json": "wecom-archive",
    "feishu/pages.jsonl": "feishu-json",
    "feishu/page_pretty.json": "feishu-json",
    "dingtalk/callbacks.jsonl": "dingtalk-json",
    "dingtalk/array_gbk.json": "dingtalk-json",
    "email/quote_cn.eml": "email",
    "email/thread_en.mbox": "email",
    "email/eml_folder/01-inquiry.eml": "email",
    "slack/acme_export": "slack-export",
    "generic/service_chat.csv": "generic",
    "generic/family.jsonl": "generic",
}


@pytest.mark.parametrize("relative, expected", sorted(GOOD.items()))
def test_each_fixture_is_detected_as_its_format(relative: str, expected: str) -> None:
    if expected not in formats.registry():
        pytest.skip(f"format {expected} not built")
    path = FIXTURES / relative
    module, confidence = formats.detect(path)
    assert module is not None and module.NAME == expected, (relative, module and module.NAME, confidence)
    assert confidence >= 0.5
    head = formats.read_head(path)
    rivals = {m.NAME: m.detect(path, head) for m in formats.registry().values() if m.NAME != expected}
    assert all(score < confidence for score in rivals.values()), rivals


def test_non_exports_are_claimed_by_no_format(tmp_path: Path) -> None:
    samples = {
        "notes.txt": "买菜\n牛奶 2 盒\n鸡蛋\n",
        "data.json": '{"name": "x", "items": [1, 2, 3]}',
        "table.csv": "id,name,price\n1,苹果,3.5\n",
        "log.txt": "2026-03-12 15:23:05 INFO server started\n2026-03-12 15:23:06 INFO listening on :8080\n",
    }
    for name, text in samples.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        module, confidence = formats.detect(path)
        assert confidence < 0.5, (name, module and module.NAME, confidence)


def test_mixed_folder_imports_every_platform_in_one_command(tmp_path: Path) -> None:
    mixed = tmp_path / "exports"
    mixed.mkdir()
    for relative in ["telegram/personal_result.json", "wechat/memotrace/梅梅_utf8.csv", "wecom/archive.jsonl",
                     "feishu/pages.jsonl", "dingtalk/callbacks.jsonl", "email/thread_en.mbox",
                     "generic/service_chat.csv", "whatsapp/WhatsApp Chat with Alice.txt"]:
        source = FIXTURES / relative
        if source.exists():
            shutil.copy(source, mixed / source.name)
    shutil.copytree(FIXTURES / "slack/acme_export", mixed / "slack")
    db = tmp_path / "mixed.db"
    result = CliRunner().invoke(cli, ["--db", str(db), "import", str(mixed), "--tz", "Asia/Shanghai", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    imported = {s["format"] for s in summary["sources"] if not s["error"] and not s["skipped"]}
    expected = {"telegram-json", "wechat-csv", "wecom-archive", "feishu-json", "dingtalk-json", "email",
                "generic", "slack-export", "whatsapp-txt"} & set(formats.registry())
    assert imported == expected
    platforms = {c["platform"] for c in json.loads(
        CliRunner().invoke(cli, ["--db", str(db), "conversations", "--json"]).output)}
    assert {"telegram", "wechat", "wecom", "feishu", "dingtalk", "email", "slack"} <= platforms
    again = json.loads(CliRunner().invoke(cli, ["--db", str(db), "import", str(mixed), "--json"]).output)
    assert again["new"] == 0
