"""A repeated option keeps every value, not only the last (issue #11): quality --platform."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from chataudit.cli import cli


def run(db: Path, *args: str):
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def chats(tmp_path: Path) -> Path:
    """One customer chat per platform, each answered by the shop (is_me) after 30 s."""
    lines = []
    for number, platform in enumerate(("wechat", "dingtalk", "feishu")):
        base = f"2026-03-0{number + 2}T10:00"
        lines.append({"platform": platform, "conversation_id": f"c-{platform}", "sent_at": f"{base}:00+08:00",
                      "sender_name": f"客户{number}", "text": "你好，请问发货了吗？"})
        lines.append({"platform": platform, "conversation_id": f"c-{platform}", "sent_at": f"{base}:30+08:00",
                      "sender_name": "客服", "is_me": True, "text": "您好，今天下午发货。"})
    path = tmp_path / "chats.jsonl"
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return path


def test_quality_platform_is_repeatable(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    run(db, "import", str(chats(tmp_path)), "--tz", "Asia/Shanghai")
    roster = tmp_path / "roster.csv"  # without one, chats answered only by `is_me` are private, not service
    roster.write_text("id,name,role,hired_on\n客服,客服,service,2025-01-01\n", encoding="utf-8")
    base = ("quality", "--no-nlp", "--json", "--roster", str(roster))
    every = json.loads(run(db, *base).output)
    one = json.loads(run(db, *base, "--platform", "wechat").output)
    two = json.loads(run(db, *base, "--platform", "wechat", "--platform", "dingtalk").output)
    assert (every["sessions"], one["sessions"], two["sessions"]) == (3, 1, 2)  # before: two kept only dingtalk's 1
    assert two["period"]["platforms"] == ["wechat", "dingtalk"]


def test_quality_platforms_in_enterprise_scope(tmp_path: Path) -> None:
    from chataudit.governance.scope import generic
    from chataudit.store import Archive

    db = tmp_path / "q.db"
    run(db, "import", str(chats(tmp_path)), "--tz", "Asia/Shanghai")
    with Archive(db) as archive:
        scope = generic(archive, {"platforms": ("wechat", "dingtalk")})
        with_clause, where, params = scope.sql(archive)
        found = archive.db.execute(f"{with_clause}SELECT DISTINCT m.platform FROM messages m WHERE {where}",
                                   params).fetchall()
    assert sorted(r[0] for r in found) == ["dingtalk", "wechat"]


def test_a_single_valued_option_given_twice_is_an_error_not_its_last_value(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    run(db, "import", str(chats(tmp_path)), "--tz", "Asia/Shanghai")
    for args in (["search", "发货", "--platform", "wechat", "--platform", "dingtalk"],
                 ["search", "发货", "--since", "2026-03-01", "--since=2026-03-03"],
                 ["quality", "--no-nlp", "--team", "A", "--team", "B"],
                 ["messages", "--conversation", "c-wechat", "--conversation", "c-feishu"],
                 ["hold", "add", "--conversation", "c-wechat", "--reason", "a", "--reason", "b"]):
        result = CliRunner().invoke(cli, ["--db", str(db), *args])
        assert result.exit_code == 2, (args, result.output)
        assert "was given 2 times; it takes one value" in result.output
    # repeatable options, flags, optional values and values that look like the option stay fine
    fine = CliRunner().invoke(cli, ["--db", str(db), "search", "发货", "--platform", "--platform", "--redact", "--json",
                                    "--limit", "5"])
    assert fine.exit_code == 0, fine.output
    run(db, "quality", "--no-nlp", "--json", "--conversation", "c-wechat", "--conversation", "c-feishu")
    run(db, "search", "--since", "2026-03-01", "--", "--since 发货")  # after --, a word of the query
