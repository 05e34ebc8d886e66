"""Deeply nested JSON is refused at its line, in bounded memory and time, by every JSON reader.

400 KB of ``[`` once drove the WeCom/Feishu import to 24 GB (ijson rebuilds each event's prefix,
so N brackets cost O(N²)).  Each case runs the real import in a subprocess capped at 1 GB of
address space: before the fix it died of MemoryError, now it reports ``file:line``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


from chataudit.formats.json_stream import MAX_JSON_DEPTH, bounded_pieces, OPENERS_PER_PIECE

FIXTURES = Path(__file__).parent / "fixtures"
BOMB = "[" * 400_000

RUNNER = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from chataudit.importer import import_paths
from chataudit.store import Archive
with Archive(sys.argv[1]) as archive:
    summary = import_paths(archive, sys.argv[3:], format_name=sys.argv[2])
print(json.dumps(summary.as_dict()))
"""


def run_import(tmp_path: Path, paths: list[Path], format_name: str = "auto") -> dict:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", RUNNER, str(tmp_path / "a.db"), format_name, *map(str, paths)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert time.monotonic() - started < 30
    return json.loads(done.stdout)


def slack_with(tmp_path: Path, rel: str, text: str) -> Path:
    import shutil

    folder = tmp_path / "slack"
    shutil.copytree(FIXTURES / "slack" / "acme_export", folder)
    (folder / rel).write_text(text, encoding="utf-8")
    return folder


def test_every_json_format_refuses_a_nesting_bomb_at_its_line(tmp_path: Path) -> None:
    wecom_head = ('{"seq":1,"msgid":"a","action":"send","from":"x","tolist":["y"],"roomid":"",'
                  '"msgtime":1718155802117,"msgtype":"text","text":{"content":"hi"}}\n')
    cases = {
        "wecom.json": ("wecom-archive", "[" + wecom_head.strip() + ",\n" + BOMB, 2),
        "bare.json": ("wecom-archive", BOMB, 1),
        "feishu.json": ("feishu-json", '{"code":0,"msg":"success","data":{"has_more":false,"items":[\n' + BOMB, 2),
        "dingtalk.json": ("dingtalk-json", '[{"msgId":"1","conversationId":"c","senderNick":"a",'
                                           '"createAt":1718155802117,"msgtype":"text","text":{"content":' + BOMB, 1),
        "result.json": ("telegram-json", '{"name":"A","type":"personal_chat","id":1,\n"messages":[' + BOMB, 2),
        "generic.jsonl": ("generic", '{"sent_at":"2024-01-01 10:00","sender_name":"a","text":' + BOMB + "\n", 1),
    }
    paths = []
    for name, (_, text, _) in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(tmp_path / name)
    for name, (format_name, _, line) in cases.items():
        result = run_import(tmp_path, [tmp_path / name], format_name)
        assert result["errors"] == [result["sources"][0]["error"]]
        error = result["errors"][0]
        assert error.startswith(f"{tmp_path / name}:{line}: "), error
        assert "nested" in error or "depth" in error, error


def test_slack_refuses_a_nesting_bomb_in_metadata_and_day_files(tmp_path: Path) -> None:
    users = slack_with(tmp_path / "u", "users.json", BOMB)
    day = slack_with(tmp_path / "d", "general/2024-03-07.json", "[" + BOMB)
    for folder, rel in ((users, "users.json"), (day, "general/2024-03-07.json")):
        result = run_import(tmp_path, [folder])
        assert len(result["errors"]) == 1
        assert result["errors"][0].startswith(str(folder / rel)), result["errors"]
        assert "nested deeper" in result["errors"][0]


def test_nesting_up_to_the_limit_is_read(tmp_path: Path) -> None:
    """A legal, moderately nested value inside a record still imports (the bound is not a false alarm)."""
    inner = "[" * 100 + "]" * 100
    line = ('{"seq":1,"msgid":"a","action":"send","from":"x","tolist":["y"],"roomid":"","msgtime":1718155802117,'
            '"msgtype":"text","text":{"content":"hi"},"extra":' + inner + "}")
    path = tmp_path / "nested.json"
    path.write_text("[\n" + line + "\n]\n", encoding="utf-8")
    result = run_import(tmp_path, [path], "wecom-archive")
    assert result["errors"] == [] and result["messages"] == 1


def test_bounded_pieces_cut_bracket_runs_and_keep_every_byte() -> None:
    data = (b'{"a": [' * 3000) + b"x" * 5000
    pieces = list(bounded_pieces(data))
    assert b"".join(pieces) == data
    assert len(pieces) > 1
    assert all(p.count(b"[") + p.count(b"{") <= OPENERS_PER_PIECE for p in pieces)
    assert MAX_JSON_DEPTH <= OPENERS_PER_PIECE * 2
