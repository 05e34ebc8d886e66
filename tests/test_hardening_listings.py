"""What listings show a person reading them (issue #11): names as words, a fact in its sentence,
and an empty result that says what was searched."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.facts import sentence_of
from chataudit.facts.commands import facts_command

cli.add_command(facts_command)


def run(db: Path, *args: str):
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def archive_with_chat(tmp_path: Path) -> Path:
    lines = [
        {"conversation_id": "reno", "sent_at": "2026-03-12T09:00:00+08:00", "sender_id": "wang", "sender_name": "王女士",
         "text": "你好。合同上写的是3月20日交房，现在进度怎么样？"},
        {"conversation_id": "reno", "sent_at": "2026-03-12T09:05:00+08:00", "sender_id": "mei", "sender_name": "梅梅",
         "text": "放心吧。我们保证月底前完工，尾款5000元到时再付。"},
        {"conversation_id": "reno", "sent_at": "2026-03-12T09:06:00+08:00", "sender_id": "mei", "sender_name": "梅梅",
         "text": "好的"},
        {"conversation_id": "other", "sent_at": "2026-03-13T09:06:00+08:00", "sender_id": "li", "sender_name": "李",
         "text": "收到"},
    ]
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    db = tmp_path / "a.db"
    run(db, "import", str(path), "--tz", "Asia/Shanghai")
    return db


def test_people_table_shows_names_as_words_not_json(tmp_path: Path) -> None:
    db = archive_with_chat(tmp_path)
    table = run(db, "people").output
    assert "梅梅" in table and '["梅梅"]' not in table and '"梅梅"' not in table
    listed = json.loads(run(db, "people", "--json").output)
    assert {"identity": "generic:mei", "names": ["梅梅"]}.items() <= next(
        i for i in listed["identities"] if i["identity"] == "generic:mei").items()


def test_sentence_of_a_fact() -> None:
    text = "放心吧。我们保证月底前完工，尾款5000元到时再付。"
    start = text.index("5000元")
    sentence, span = sentence_of(text, (start, start + 5))
    assert sentence == "我们保证月底前完工，尾款5000元到时再付。"
    assert sentence[span[0]:span[1]] == "5000元"
    assert sentence_of("已转账", None) == ("已转账", None)


def test_facts_show_the_sentence_with_the_fragment_marked(tmp_path: Path) -> None:
    db = archive_with_chat(tmp_path)
    found = json.loads(run(db, "facts", "--json").output)
    date = next(f for f in found if f["type"] == "date")
    assert date["sentence"] == "合同上写的是3月20日交房，现在进度怎么样？"
    assert date["sentence"][date["sentence_span"][0]:date["sentence_span"][1]] == date["text"]
    table = run(db, "facts").output
    assert "【3月20日】交房" in table and "【5000元】" in table  # before: only "3月20日" / "5000元"


def test_empty_results_say_what_was_searched(tmp_path: Path) -> None:
    db = archive_with_chat(tmp_path)
    nothing = run(db, "search", "退款").output
    assert "(nothing)" not in nothing
    assert "No message matches '退款' in 4 messages of 2 conversations." in nothing
    narrowed = run(db, "search", "退款", "--conversation", "reno", "--since", "2026-03-12").output
    assert "in 3 messages of 1 conversation (--conversation reno, --since 2026-03-12)." in narrowed
    facts = run(db, "facts", "--conversation", "other").output
    assert "(nothing)" not in facts and "No facts in 1 message of 1 conversation (--conversation other)." in facts
    typed = run(db, "facts", "--type", "refusal").output
    assert "No facts of type refusal in 4 messages of 2 conversations." in typed
