"""Every ``--redact`` path writes bytes that hold none of the personal values planted in the chats.

The commands are discovered from the click tree (every command with a ``--redact`` option), so a
new one fails here until it is listed in ``RUNS`` with every output it can write. Planted values
include names that show only in a conversation's title, in system lines ("你已添加了梅梅"), in a
shared contact card ("[名片] 张伟"), in a forwarded chat history and in a location's landmark.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Callable

import click
import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.privacy import Redactor, redact_files

SAMPLES = Path(__file__).parent.parent / "samples"
WECHAT = SAMPLES / "wechat" / "梅梅_utf8.csv"
WECOM = SAMPLES / "wecom_archive.jsonl"

# what the two chats hold about people; none of it may leave under --redact
PLANTED_WECHAT = [
    "梅梅",  # the contact's remark: the conversation's title, the system line, the recall line
    "韩梅梅", "李雷", "wxid_hanmeimei01", "wxid_lilei2024",
    "张伟", "wxid_zhangwei88",  # a shared contact card, and a line of a forwarded chat history
    "王芳",  # another line of that chat history
    "人民广场", "3号口", "人民大道200号", "31.230416", "121.473701",  # a landmark, an exit, coordinates
]
PLANTED_WECOM = [
    "ZhangWei", "wmGAgeDQAAvQeaTqWwkMTxGMkvI7OOuQ", "LiNa", "李娜", "13800001234",
    "张杨路", "华润时代广场", "500 号", "31.221101", "121.544347",
]
PLANTED = PLANTED_WECHAT + PLANTED_WECOM
# the roster's agents keep their names in `quality` (documented: agents are named, customers not)
AGENTS = {"ZhangWei", "LiNa"}


def run(db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    # compare and check exit as diff(1) does: 1 means differences / anomalies found, not an error
    assert result.exit_code in ((0, 1) if args[0] in ("compare", "check") else (0,)), result.output
    return result.output


@pytest.fixture(autouse=True)
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATAUDIT_KEYS", str(tmp_path / "keys"))
    monkeypatch.setenv("CHATAUDIT_TZ", "Asia/Shanghai")


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    db = tmp_path / "a.db"
    run(db, "import", str(WECHAT), "--tz", "Asia/Shanghai", "--label", "mine")
    run(db, "import", str(WECOM), "--tz", "Asia/Shanghai", "--label", "wecom")
    # the other party's copy of the WeChat chat: one line gone, an amount changed
    theirs = tmp_path / "theirs" / "梅梅_utf8.csv"
    theirs.parent.mkdir()
    text = WECHAT.read_text(encoding="utf-8-sig")
    text = text.replace("周末有空吗？", "周末有空吗？？").replace("￥5000.00", "￥500.00").replace("5000.00元", "500.00元")
    theirs.write_text(text, encoding="utf-8-sig")
    run(db, "import", str(theirs), "--tz", "Asia/Shanghai", "--label", "theirs")
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,role,hired_on\nZhangWei,ZhangWei,service,2023-01-01\nLiNa,LiNa,service,2023-01-01\n",
                      encoding="utf-8")
    return db


def _conversations(db: Path) -> list[str]:
    return [str(r["id"]) for r in json.loads(run(db, "conversations", "--json"))]


def _zip_bytes(path: Path) -> bytes:
    with zipfile.ZipFile(path) as package:
        return b"\n".join(package.read(name) for name in package.namelist() if not name.endswith(".pdf"))


Output = Callable[[Path, Path], list[tuple[str, bytes]]]


def _messages(db: Path, tmp: Path) -> list[tuple[str, bytes]]:
    out = []
    for ref in _conversations(db):
        out.append((f"messages {ref} table", run(db, "messages", "--conversation", ref, "--redact").encode()))
        out.append((f"messages {ref} json",
                    run(db, "messages", "--conversation", ref, "--redact", "--json").encode()))
    return out


def _search(db: Path, tmp: Path) -> list[tuple[str, bytes]]:
    out = []
    for query in ("名片", "地址", "人民广场", "处理人", "聊天记录", "添加", "同意存档", "滤网"):
        out.append((f"search {query}", run(db, "search", query, "--redact").encode()))
        out.append((f"search {query} json", run(db, "search", query, "--redact", "--json").encode()))
    return out


def _export(db: Path, tmp: Path) -> list[tuple[str, bytes]]:
    out = []
    for ref in _conversations(db):
        for fmt in ("jsonl", "csv", "html"):
            target = tmp / f"export-{ref}.{fmt}"
            run(db, "export", "--conversation", ref, "--format", fmt, "--redact", "--out", str(target))
            out.append((f"export {ref} {fmt}", target.read_bytes()))
        out.append((f"export {ref} stdout", run(db, "export", "--conversation", ref, "--redact").encode()))
    return out


def _compare(db: Path, tmp: Path) -> list[tuple[str, bytes]]:
    html, titled = tmp / "compare.html", tmp / "titled.html"
    return [
        ("compare table", run(db, "compare", "mine", "theirs", "--redact").encode()),
        ("compare json", run(db, "compare", "mine", "theirs", "--redact", "--json").encode()),
        ("compare html", (run(db, "compare", "mine", "theirs", "--redact", "--html", str(html), "--context", "-1"),
                          html.read_bytes())[1]),
        ("compare by title", run(db, "compare", "梅梅", "theirs", "--redact", "--json").encode()),
        ("compare html by title", (run(db, "compare", "梅梅", "theirs", "--redact", "--html", str(titled)),
                                   titled.read_bytes())[1]),
    ]


def _quality(db: Path, tmp: Path) -> list[tuple[str, bytes]]:
    html, table = tmp / "q.html", tmp / "q.csv"
    roster = tmp / "roster.csv"
    terminal = run(db, "quality", "--roster", str(roster), "--no-nlp", "--redact")
    document = run(db, "quality", "--roster", str(roster), "--redact", "--json", "--html", str(html), "--csv", str(table))
    return [("quality table", terminal.encode()), ("quality json", document.encode()),
            ("quality html", html.read_bytes()), ("quality csv", table.read_bytes())]


def _evidence(db: Path, tmp: Path) -> list[tuple[str, bytes]]:
    out = []
    for ref in _conversations(db):
        target = tmp / f"evidence-{ref}.zip"
        printed = run(db, "evidence", "export", "--conversation", ref, "--redact",
                      "--no-pdf", "--out", str(target), "--json")
        out.append((f"evidence {ref}", printed.encode() + _zip_bytes(target)))
    return out


def _supervise_show(db: Path, tmp: Path) -> list[tuple[str, bytes]]:
    """Alerts whose hit is exactly a planted value, or cuts through one, and a sample of each
    conversation (rows of supervision_alerts, as `supervise run` and `supervise sample` raise them)."""
    import sqlite3

    raw = sqlite3.connect(db)
    with raw:
        for message, conversation, text in raw.execute("SELECT id, conversation, text FROM messages").fetchall():
            for value in PLANTED:
                at = text.find(value)
                if at < 0:
                    continue
                for start, end in ((at, at + len(value)), (at + 1, at + len(value) - 1), (0, at + 1)):
                    raw.execute("INSERT OR IGNORE INTO supervision_alerts (conversation, message, kind, policy, rule,"
                                " matched, start, end, raised_at) VALUES (?, ?, 'policy', 'planted', ?, ?, ?, ?,"
                                " '2026-03-01T00:00:00.000Z')",
                                (conversation, message, f"cut{start}-{end}", text[start:end], start, end))
        raw.execute("INSERT INTO supervision_alerts (conversation, kind, raised_at) SELECT id, 'sample',"
                    " '2026-03-01T00:00:00.000Z' FROM conversations")
    raw.close()
    items = json.loads(run(db, "supervise", "queue", "--json"))
    assert items
    out = []
    for item in items:
        ref = str(item["id"])
        out.append((f"supervise show {ref}", run(db, "supervise", "show", ref, "--redact", "--context", "50").encode()))
        out.append((f"supervise show {ref} json",
                    run(db, "supervise", "show", ref, "--redact", "--context", "50", "--json").encode()))
    return out


RUNS: dict[str, Output] = {
    "messages": _messages, "search": _search, "export": _export, "compare": _compare,
    "quality": _quality, "evidence export": _evidence, "supervise show": _supervise_show,
}


def _commands_with_redact() -> list[str]:
    ctx = click.Context(cli, obj={})
    found = []

    def walk(command: click.Command, path: list[str]) -> None:
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), path + [name])
        elif any("--redact" in getattr(p, "opts", ()) for p in command.params):
            found.append(" ".join(path))

    walk(cli, [])
    return sorted(found)


# prints exactly what `quality` prints, --redact included: tests/test_spark_jobs.py compares the two
COVERED_ELSEWHERE = ("spark quality",)


def test_every_command_with_redact_is_covered() -> None:
    assert _commands_with_redact() == sorted([*RUNS, *COVERED_ELSEWHERE])


def _committed_in_the_clear(db: Path, name: str) -> set[str]:
    """An evidence package commits the conversation's native id in the clear (README: the export
    warns about it); everything else must be hidden."""
    if name.startswith("evidence"):
        rows = json.loads(run(db, "conversations", "--json"))
        return {part for r in rows for part in r["native_id"].split("|")}
    return set()


@pytest.mark.parametrize("command", [c for c in _commands_with_redact() if c not in COVERED_ELSEWHERE])
def test_redacted_output_bytes_hold_no_planted_value(archive: Path, tmp_path: Path, command: str) -> None:
    (tmp_path / "roster.csv").write_bytes((archive.parent / "roster.csv").read_bytes())
    outputs = RUNS[command](archive, tmp_path)
    assert outputs
    for name, data in outputs:
        allowed = (AGENTS if command == "quality" else set()) | _committed_in_the_clear(archive, name)
        leaked = [value for value in PLANTED if value not in allowed and value.encode() in data]
        assert not leaked, f"{name}: {leaked}"


def test_without_redact_the_planted_values_are_there(archive: Path, tmp_path: Path) -> None:
    """The list is real: each planted value is in the unredacted output of the same chats."""
    shown = b"".join(run(archive, "messages", "--conversation", ref, "--json").encode()
                     for ref in _conversations(archive))
    shown += run(archive, "conversations", "--json").encode()
    missing = [value for value in PLANTED if value.encode() not in shown and value != "韩梅梅"]
    assert not missing


def test_one_entity_one_pseudonym_in_the_redact_command(tmp_path: Path) -> None:
    [result] = redact_files([WECOM], tmp_path / "out", tz="Asia/Shanghai")
    rows = [json.loads(line) for line in Path(result.out).read_text(encoding="utf-8").splitlines()]
    agent = next(r for r in rows if r["extras"].get("seq") == 1003)["sender_id"]
    customer = rows[0]["sender_id"]
    # the WeCom ids read alike as sender, in the conversation id, in a system line and in extras
    assert rows[0]["conversation_id"] == f"{agent}|{customer}"
    assert rows[0]["text"].startswith(customer + " ")
    assert rows[0]["extras"]["userid"] == customer
    card = next(r for r in rows if r["kind"] == "contact")
    lina = next(r for r in rows if r["extras"].get("seq") == 1015)["sender_id"]
    assert card["extras"]["userid"] == lina and card["text"].endswith(lina)
    blob = Path(result.out).read_bytes()
    for value in PLANTED_WECOM:
        assert value.encode() not in blob, value


def test_a_sender_reads_the_same_as_a_sender_and_inside_a_text() -> None:
    redactor = Redactor()
    first = redactor.message({"sender_id": "ZhangWei", "text": "hi", "kind": "text"})
    later = redactor.message({"sender_id": "wmCustomer0001", "text": "ZhangWei 同意存档会话内容", "kind": "system",
                              "conversation_native_id": "ZhangWei|wmCustomer0001"})
    assert later["text"] == f"{first['sender_id']} 同意存档会话内容"
    assert later["conversation_native_id"] == f"{first['sender_id']}|{later['sender_id']}"
    # learnt as a name (the evidence export learns ids and names in one list) it reads the same
    other = Redactor()
    other.learn_names(["ZhangWei"])
    assert other.text("ZhangWei") == first["sender_id"]


def test_contact_cards_landmarks_and_spaced_addresses_are_redacted() -> None:
    redactor = Redactor()
    card = redactor.message({"kind": "contact", "text": "[名片] 张伟", "extras": {"card_id": "wxid_zhangwei88"}})
    assert "张伟" not in card["text"] and "wxid_zhangwei88" not in json.dumps(card, ensure_ascii=False)
    assert redactor.text("张伟明天来") != "张伟明天来"  # the card's name is known from now on
    place = redactor.message({"kind": "location", "text": "[位置] 人民广场 上海市黄浦区人民大道200号",
                              "extras": {"latitude": "31.230416", "longitude": "121.473701"}})
    assert place["text"] == "[位置] 上海市"
    assert "31.230416" not in json.dumps(place, ensure_ascii=False)
    assert redactor.text("地址是：\n上海市, 人民广场 3号口") == "地址是：\n上海市"
    assert redactor.text("地址：上海市浦东新区张杨路 500 号") == "地址：上海市"
    assert redactor.text("地址：北京市，3个人来") == "地址：北京市，3个人来"

