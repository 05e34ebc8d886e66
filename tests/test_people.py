"""Cross-platform identity: list, suggest, link, merged timeline."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

from chataudit import people
from chataudit.cli import cli
from chataudit.model import Message
from chataudit.store import Archive, SourceInfo

CST = timezone(timedelta(hours=8))


def m(platform: str, conversation: str, sender: str, name: str, minute: int, text: str) -> Message:
    return Message(platform=platform, conversation_id=conversation, sender_id=sender, sender_name=name,
                   sent_at=datetime(2026, 3, 12, 15, minute, tzinfo=CST), text=text)


def fill(archive: Archive) -> None:
    archive.import_records(SourceInfo("a", "a" * 64, 1, "t"), [
        m("wechat", "wxid_li", "wxid_li", "小李", 1, "交付时间是3月20日"),
        m("wechat", "wxid_li", "wxid_me", "我", 2, "好的，确认3月20日"),
        m("dingtalk", "cid-1", "staff-007", "小李", 3, "交付可能要推迟"),
        m("email", "thread-1", "li@example.com", "Li Ming 小李 138-0013-8000", 4, "附件是合同"),
        m("wecom", "room-1", "li.ming", "李明 13800138000", 5, "群里说一下"),
        m("wecom", "room-1", "wang", "王五", 6, "收到"),
        m("wecom", "room-1", "zhao", "赵六", 7, "收到"),
    ])


def test_suggestions_find_same_name_and_phone_across_platforms(archive: Archive) -> None:
    fill(archive)
    pairs = {(tuple(s["identities"]), s["reason"]) for s in people.suggestions(archive)}
    assert (("dingtalk:staff-007", "wechat:wxid_li"), "name") in pairs
    assert (("email:li@example.com", "wecom:li.ming"), "phone") in pairs
    assert not any("wecom:wang" in ids for ids, _ in pairs)
    # suggestions are not applied silently
    assert people.people(archive) == []


def test_link_merges_and_person_timeline_spans_platforms(archive: Archive) -> None:
    fill(archive)
    first = people.link(archive, ["wechat:wxid_li", "dingtalk:staff-007"], name="李明")
    second = people.link(archive, ["email:li@example.com", "wecom:li.ming"])
    merged = people.link(archive, ["dingtalk:staff-007", "email:li@example.com"])
    assert merged == min(first, second)
    assert people.people(archive) == [{"id": merged, "name": "李明", "identities": [
        "dingtalk:staff-007", "email:li@example.com", "wechat:wxid_li", "wecom:li.ming"]}]
    rows = list(people.person_timeline(archive, "李明"))
    texts = [r["text"] for r in rows]
    # his own words on four platforms, plus my reply in our one-to-one chat; not others' group messages
    assert texts == ["交付时间是3月20日", "好的，确认3月20日", "交付可能要推迟", "附件是合同", "群里说一下"]
    assert [r["platform"] for r in rows] == ["wechat", "wechat", "dingtalk", "email", "wecom"]


def test_cli_people_json_and_messages_person(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with Archive(db) as archive:
        fill(archive)
    runner = CliRunner()
    out = json.loads(runner.invoke(cli, ["--db", str(db), "people", "--json"]).output)
    assert set(out) == {"identities", "people", "suggestions"}
    assert {"identity", "platform", "sender_key", "names", "message_count", "conversations", "first_at",
            "last_at", "person", "person_name"} == set(out["identities"][0])
    result = runner.invoke(cli, ["--db", str(db), "people", "link", "wechat:wxid_li", "dingtalk:staff-007"])
    assert result.exit_code == 0 and "dingtalk:staff-007" in result.output
    result = runner.invoke(cli, ["--db", str(db), "people", "link", "wechat:nobody"])
    assert result.exit_code == 1 and "no messages from identity wechat:nobody" in result.output
    rows = json.loads(runner.invoke(cli, ["--db", str(db), "messages", "--person", "小李", "--json"]).output)
    assert [r["text"] for r in rows] == ["交付时间是3月20日", "好的，确认3月20日", "交付可能要推迟"]
    result = runner.invoke(cli, ["--db", str(db), "messages"])
    assert result.exit_code == 2 and "exactly one of" in result.output
