"""What cannot be decoded is kept (escaped) and said; what lacks a required column is refused.

A lone UTF-16 surrogate ("\\ud800" in JSON) is no character: ijson's C backend turned it into "?"
without a word, orjson refused the line and SQLite cannot store one from Python's json.  Now every
format keeps it as the visible text ``\\ud800`` and notes ``extras.undecodable``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
import pytest

from chataudit.importer import import_paths
from chataudit.model import UNDECODABLE_NOTE

FIXTURES = Path(__file__).parent / "fixtures"


def telegram(messages: list[str]) -> str:
    return '{"name": "Bob", "type": "personal_chat", "id": 42, "messages": [\n' + ",\n".join(messages) + "\n]}\n"


def tg_message(number: int, escaped_text: str) -> str:
    return (f'{{"id": {number}, "type": "message", "date": "2024-03-01T10:00:0{number}", '
            f'"date_unixtime": "170928720{number}", "from": "Bob", "from_id": "user2", "text": "{escaped_text}"}}')


def stored(archive) -> list[tuple[str, dict]]:
    rows = archive.db.execute("SELECT text, extras FROM messages ORDER BY sent_at_ms").fetchall()
    return [(row[0], orjson.loads(row[1]) if row[1] else {}) for row in rows]


def test_telegram_keeps_a_lone_surrogate_escaped_and_says_so(archive, tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(telegram([tg_message(1, r"bad \ud800 and \uDC01"), tg_message(2, r"pair \ud83d\ude00 ok")]))
    summary = import_paths(archive, [path]).as_dict()
    assert summary["errors"] == [] and summary["messages"] == 2
    (bad_text, bad_extras), (good_text, good_extras) = stored(archive)
    assert bad_text == r"bad \ud800 and \udc01"  # before: "bad ? and ?"
    assert "surrogate" in bad_extras[UNDECODABLE_NOTE]
    assert good_text == "pair 😀 ok" and UNDECODABLE_NOTE not in good_extras


def test_a_surrogate_pair_cut_by_the_telegram_reader_stays_one_character(archive, tmp_path: Path) -> None:
    head = telegram([tg_message(1, "x")]).rsplit("\n]}", 1)[0] + ",\n"
    prefix = tg_message(2, "").split('"text": ""')[0] + '"text": "'
    padding = 64 * 1024 - len(head) - len(prefix) - 8  # the pair straddles the first 64 KiB read
    text = "a" * padding + r"\ud83d\ude00" + "z"
    path = tmp_path / "result.json"
    path.write_text(head + prefix + text + '"}\n]}\n')
    assert import_paths(archive, [path]).as_dict()["errors"] == []
    last_text, extras = stored(archive)[-1]
    assert last_text.endswith("a😀z") and UNDECODABLE_NOTE not in extras


@pytest.mark.parametrize("layout", ["jsonl", "pretty"])
def test_enterprise_json_keeps_a_lone_surrogate(archive, tmp_path: Path, layout: str) -> None:
    record = ('{"seq":1,"msgid":"m1","action":"send","from":"zhang","tolist":["li"],"roomid":"",'
              '"msgtime":1718155802117,"msgtype":"text","text":{"content":"half \\ud83d only"}}')
    path = tmp_path / "archive.json"
    path.write_text(record + "\n" if layout == "jsonl" else "[\n" + record.replace(",", ",\n  ") + "\n]\n")
    summary = import_paths(archive, [path], format_name="wecom-archive").as_dict()
    assert summary["errors"] == [] and summary["messages"] == 1
    [(text, extras)] = stored(archive)
    assert text == r"half \ud83d only" and UNDECODABLE_NOTE in extras


def test_slack_keeps_a_lone_surrogate_from_pythons_json(archive, tmp_path: Path) -> None:
    export = tmp_path / "slack"
    shutil.copytree(FIXTURES / "slack" / "acme_export", export)
    day = export / "general" / "2024-03-04.json"
    messages = json.loads(day.read_text(encoding="utf-8"))
    messages[0]["text"] = "odd \ud800 text"
    day.write_text(json.dumps(messages), encoding="utf-8")  # ensure_ascii writes "\ud800"
    summary = import_paths(archive, [export]).as_dict()
    assert summary["errors"] == []
    assert [(t, e[UNDECODABLE_NOTE] is not None) for t, e in stored(archive) if "odd" in t] == [(r"odd \ud800 text", True)]


def test_a_generic_csv_without_a_text_column_is_refused(archive, tmp_path: Path) -> None:
    path = tmp_path / "chat.csv"
    path.write_text("sent_at,sender_name,body_x\n2024-01-01 10:00:00,a,hello\n", encoding="utf-8")
    summary = import_paths(archive, [path], format_name="generic").as_dict()
    assert summary["errors"] == [f"{path}:1: no 'text' column (required: sent_at, text; header: 'sent_at,sender_name,body_x')"]
    assert archive.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0


def test_a_generic_jsonl_line_without_text_is_refused_at_its_line(archive, tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text('{"sent_at": "2024-01-01T10:00:00Z", "text": "ok"}\n{"sent_at": "2024-01-01T10:01:00Z", "note": "x"}\n')
    summary = import_paths(archive, [path]).as_dict()
    assert summary["errors"] == [f"{path}:2: no 'text' field (required: sent_at, text)"]


def test_a_bad_byte_in_a_long_generic_csv_is_reported_at_its_own_line(archive, tmp_path: Path) -> None:
    rows = ["sent_at,sender_name,text"] + [f"2024-01-01 10:{i // 60:02d}:{i % 60:02d},a,hello {i}" for i in range(1, 3000)]
    data = "\n".join(rows).encode()
    cut = data.index(b"hello 2500")
    path = tmp_path / "chat.csv"
    path.write_bytes(data[:cut] + b"\xff" + data[cut:])
    summary = import_paths(archive, [path]).as_dict()
    assert summary["errors"] == [f"{path}:2501: cannot decode text as utf-8: invalid start byte at byte 22"]


def test_a_multiline_quoted_csv_field_keeps_its_line_ends_and_numbering(archive, tmp_path: Path) -> None:
    path = tmp_path / "chat.csv"
    path.write_bytes(b'sent_at,text\r\n2024-01-01 10:00:00,"two\r\nlines"\r\n2024-01-01 10:01:00,next\r\nbad,row\r\n')
    summary = import_paths(archive, [path]).as_dict()
    assert summary["errors"][0].startswith(f"{path}:5: sent_at 'bad' is not ISO 8601")


def test_wechat_db_text_that_is_not_utf8_keeps_its_bytes_escaped(archive, tmp_path: Path) -> None:
    import sqlite3

    folder = tmp_path / "db"
    shutil.copytree(FIXTURES / "wechat" / "db", folder)
    with sqlite3.connect(folder / "MSG0.db") as db:
        local_id = db.execute("SELECT localId FROM MSG WHERE Type = 1 ORDER BY localId LIMIT 1").fetchone()[0]
        db.execute("UPDATE MSG SET StrContent = CAST(x'6f6bff21' AS TEXT) WHERE localId = ?", (local_id,))
    db.close()
    summary = import_paths(archive, [folder / "MSG0.db"]).as_dict()
    assert summary["errors"] == []  # before: "database error: Could not decode to UTF-8 column 'StrContent'"
    assert [(t, UNDECODABLE_NOTE in e) for t, e in stored(archive) if t.startswith("ok")] == [(r"ok\udcff!", True)]
