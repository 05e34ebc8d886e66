"""WeChat formats: wechat-csv (MemoTrace, PyWxDump), wechat-db (MSG*.db + MicroMsg.db), wechat-txt."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import sqlite3
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chataudit.errors import ParseError
from chataudit.formats import ParseOptions, read_head, sniff_encoding
from chataudit.formats import wechat_common, wechat_csv, wechat_db, wechat_txt
from chataudit.model import Conversation, ConversationType, Kind, Message

FIX = Path(__file__).parent / "fixtures" / "wechat"
SHANGHAI = ZoneInfo("Asia/Shanghai")
MODULES = {"wechat-csv": wechat_csv, "wechat-db": wechat_db, "wechat-txt": wechat_txt}


def as_dict(message: Message) -> dict:
    out = {
        "position": message.position,
        "conversation_id": message.conversation_id,
        "conversation_title": message.conversation_title,
        "sent_at": message.sent_at.isoformat(),
        "kind": str(message.kind),
        "sender_id": message.sender_id,
        "sender_name": message.sender_name,
        "is_me": message.is_me,
        "text": message.text,
        "message_id": message.message_id,
        "reply_to": message.reply_to,
        "amount": message.amount,
        "currency": message.currency,
        "attachments": [a.as_dict() for a in message.attachments],
        "extras": json.loads(json.dumps(dict(message.extras), ensure_ascii=False)),
    }
    return out


def records(module, path: Path, **options):
    return list(module.parse(path, ParseOptions(**options)))


def messages(module, path: Path, **options) -> list[Message]:
    return [r for r in records(module, path, **options) if isinstance(r, Message)]


# fixture, module, parse options; each has <fixture>.expected.json beside it
CASES = [
    ("memotrace/梅梅_utf8.csv", wechat_csv, {}),  # no --tz: the offset comes from StrTime - CreateTime
    ("memotrace/项目组_utf8.csv", wechat_csv, {}),
    ("pywxdump/20877654321@chatroom", wechat_csv, {"tz": SHANGHAI, "tz_given": True}),
    ("pywxdump_old/wxid_hanmeimei01_0_6.csv", wechat_csv, {"tz": SHANGHAI, "tz_given": True}),
    ("db/MSG0.db", wechat_db, {"tz": SHANGHAI, "tz_given": True, "me": "wxid_lilei2024"}),
    ("txt/项目组.txt", wechat_txt, {"tz": SHANGHAI, "tz_given": True, "me": "李雷"}),
]


def expected_path(fixture: str) -> Path:
    return FIX / f"{fixture}.expected.json"


@pytest.mark.parametrize("fixture,module,options", CASES, ids=[c[0] for c in CASES])
def test_fixture_matches_expected(fixture, module, options):
    path = FIX / fixture
    got = [as_dict(m) for m in messages(module, path, **options)]
    expected = json.loads(expected_path(fixture).read_text(encoding="utf-8"))
    assert got == expected


@pytest.mark.parametrize("fixture,module,options", CASES, ids=[c[0] for c in CASES])
def test_detect_picks_the_right_module(fixture, module, options):
    path = FIX / fixture
    head = read_head(path)
    scores = {name: m.detect(path, head) for name, m in MODULES.items()}
    assert scores[module.NAME] >= 0.85
    assert all(score == 0 for name, score in scores.items() if name != module.NAME)


def test_module_constants():
    for name, module in MODULES.items():
        assert module.NAME == name
        assert module.PLATFORM == "wechat"
        assert module.DESCRIPTION and "\n" not in module.DESCRIPTION


def test_detectors_ignore_other_formats_fixtures():
    # other platforms' fixtures (pii/ holds chats in several formats, a WeChat TXT among them)
    others = [p for p in (FIX.parent).rglob("*") if "wechat" not in p.parts and "pii" not in p.parts
              and not p.name.endswith(".expected.json")]
    assert others, "expected other formats' fixtures to exist"
    for path in others:
        head = read_head(path)
        for module in MODULES.values():
            assert module.detect(path, head) == 0, (module.NAME, path)


def test_detectors_never_raise(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"SQLite format 3\x00" + os.urandom(300))
    missing = tmp_path / "missing.db"
    for module in MODULES.values():
        assert module.detect(junk, junk.read_bytes()) == 0
        assert module.detect(missing, b"SQLite format 3\x00") == 0
        assert module.detect(tmp_path, b"") == 0


# ---- wechat-csv: MemoTrace --------------------------------------------------------------------

def test_memotrace_bom_private_chat_fields():
    path = FIX / "memotrace/梅梅_utf8.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    recs = records(wechat_csv, path)
    conversation = recs[0]
    assert isinstance(conversation, Conversation)
    assert conversation.conversation_id == "wxid_hanmeimei01"  # the contact's wxid, from Sender
    assert conversation.type is ConversationType.PRIVATE
    assert conversation.title == "梅梅"
    msgs = [r for r in recs if isinstance(r, Message)]
    by_text = {m.text: m for m in msgs}
    mine = by_text["有空\n\n周六下午可以 🙂"]
    assert mine.is_me and mine.sender_id == "wxid_lilei2024" and mine.position == 4
    # the transfer's XML sits in StrContent: amount and status are read from it
    transfers = [m for m in msgs if m.kind is Kind.TRANSFER]
    assert [(t.amount, t.currency, t.extras["transfer_status"], t.extras["paysubtype"]) for t in transfers] == [
        ("5000.00", "CNY", "sent", 1), ("5000.00", "CNY", "received", 3)]
    assert transfers[0].extras["pay_memo"] == "房租"
    packet = next(m for m in msgs if m.kind is Kind.RED_PACKET)
    assert packet.amount is None and packet.extras["greeting"] == "恭喜发财，大吉大利"
    document = next(m for m in msgs if m.kind is Kind.FILE)
    assert document.attachments[0].name == "2026年度预算.xlsx" and document.attachments[0].size == 48213
    quote = next(m for m in msgs if m.extras.get("app_type") == 57)  # empty StrContent: kind kept, text a placeholder
    assert quote.kind is Kind.TEXT and quote.text == "[引用]"
    recalls = [m for m in msgs if m.kind is Kind.RECALL]
    assert [(r.sender_name, r.is_me) for r in recalls] == [("梅梅", False), ("李雷", True)]
    assert by_text["好的👌\r\n地址是：\r\n上海市, 人民广场 3号口"].position == 20  # quoted CRLF kept in the field


def test_memotrace_offset_from_strtime_and_tz_override():
    path = FIX / "memotrace/梅梅_utf8.csv"
    inferred = messages(wechat_csv, path)  # tz UTC, not given: StrTime shows +08:00
    assert inferred[1].sent_at.isoformat() == "2026-03-12T15:23:05+08:00"
    berlin = messages(wechat_csv, path, tz=ZoneInfo("Europe/Berlin"), tz_given=True)
    assert berlin[1].sent_at.isoformat() == "2026-03-12T08:23:05+01:00"
    assert berlin[1].sent_at == inferred[1].sent_at  # same instant, CreateTime rules


def test_memotrace_offset_follows_dst(tmp_path):
    berlin = ZoneInfo("Europe/Berlin")
    rows = [["localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent", "StrTime", "Remark", "NickName", "Sender"]]
    for i, moment in enumerate([datetime(2026, 1, 10, 9, 0, tzinfo=berlin), datetime(2026, 7, 10, 9, 0, tzinfo=berlin)], 1):
        rows.append([i, 1, 1, 0, 0, int(moment.timestamp()), 2, f"hallo {i}", moment.strftime("%Y-%m-%d %H:%M:%S"), "Lukas", "Lukas", "wxid_lukas"])
    path = tmp_path / "Lukas_utf8.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    got = messages(wechat_csv, path)
    assert [m.sent_at.isoformat() for m in got] == ["2026-01-10T09:00:00+01:00", "2026-07-10T09:00:00+02:00"]


def test_memotrace_gbk_group():
    path = FIX / "memotrace/项目组_utf8.csv"
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert sniff_encoding(raw) == "gb18030"
    recs = records(wechat_csv, path)
    conversation = recs[0]
    assert conversation.type is ConversationType.GROUP
    assert conversation.conversation_id == "项目组"  # MemoTrace does not write the chatroom id
    assert ("wxid_zhangwei88", "伟哥") in conversation.members
    msgs = [r for r in recs if isinstance(r, Message)]
    assert [m.sender_id for m in msgs if m.kind is Kind.TEXT] == ["wxid_zhangwei88", "wxid_wangfang7", "wxid_lilei2024"]
    assert msgs[2].text == "新年快乐！\n今年也请多关照"
    given_id = messages(wechat_csv, path, extra={"conversation_id": "20877654321@chatroom"})
    assert {m.conversation_id for m in given_id} == {"20877654321@chatroom"}


def test_memotrace_truncated_reports_record_line():
    with pytest.raises(ParseError) as error:
        messages(wechat_csv, FIX / "memotrace/truncated_utf8.csv")
    assert error.value.line == 32
    assert "unterminated" in error.value.message


def _memotrace_file(tmp_path: Path, *rows: list) -> Path:
    path = tmp_path / "x_utf8.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(wechat_csv.MEMOTRACE)
        writer.writerows(rows)
    return path


def test_memotrace_bad_values_name_their_line(tmp_path):
    good = [1, 1, 1, 0, 0, 1773300185, 2, "hi", "2026-03-12 15:23:05", "A", "A", "wxid_a"]
    path = _memotrace_file(tmp_path, good, [2, 1, "text", 0, 0, 1773300185, 2, "x", "", "A", "A", "wxid_a"])
    with pytest.raises(ParseError) as error:
        messages(wechat_csv, path)
    assert error.value.line == 3 and "Type" in error.value.message
    path = _memotrace_file(tmp_path, good, [2, 1, 1, 0, 0, "", 2, "x", "yesterday", "A", "A", "wxid_a"])
    with pytest.raises(ParseError) as error:
        messages(wechat_csv, path)
    assert error.value.line == 3
    path = _memotrace_file(tmp_path, good, [2, 1, 1])
    with pytest.raises(ParseError) as error:
        messages(wechat_csv, path)
    assert error.value.line == 3 and "columns" in error.value.message


def test_memotrace_field_larger_than_csv_default(tmp_path):
    big = "长" * 300_000
    path = _memotrace_file(tmp_path, [1, 1, 1, 0, 0, 1773300185, 2, big, "2026-03-12 15:23:05", "A", "A", "wxid_a"])
    assert messages(wechat_csv, path)[0].text == big


def test_memotrace_me_option_marks_messages(tmp_path):
    path = _memotrace_file(tmp_path, [1, 1, 1, 0, 0, 1773300185, 2, "hi", "2026-03-12 15:23:05", "", "Alice", "wxid_a"])
    assert messages(wechat_csv, path)[0].is_me is False
    assert messages(wechat_csv, path, me="Alice")[0].is_me is True


# ---- wechat-csv: PyWxDump ---------------------------------------------------------------------

def test_pywxdump_folder_pages_in_order_with_users():
    folder = FIX / "pywxdump/20877654321@chatroom"
    assert wechat_csv.detect(folder, b"") == 0.95
    msgs = messages(wechat_csv, folder, tz=SHANGHAI)
    assert [m.extras["id"] for m in msgs] == [str(i) for i in range(1, 16)]
    assert msgs[0].extras["page"].endswith("_0_5000.csv") and msgs[-1].extras["page"].endswith("_5000_10000.csv")
    assert {m.conversation_id for m in msgs} == {"20877654321@chatroom"}
    mine = [m for m in msgs if m.is_me]
    assert mine and all(m.sender_name == "我" and m.sender_id is None for m in mine)
    assert msgs[4].sender_name == "梅梅" and msgs[4].extras["quoted"] == {"time": "2026-03-12 15:40:45", "name": "张伟", "text": "大家好 👋"}
    recall = msgs[5]
    assert recall.kind is Kind.RECALL and recall.sender_name == "王芳" and recall.extras["recalled_id"] == "6849302847562019911"
    received = msgs[8]
    assert received.kind is Kind.TRANSFER and received.amount == "88.00" and received.extras["transfer_status"] == "received"
    assert msgs[9].text == '"张伟" 拍了拍 "wxid_lilei2024"'  # pat XML, names from users.json
    assert msgs[9].sent_at.isoformat() == "2026-03-12T15:49:45+08:00"


def test_pywxdump_bad_time_names_page_and_line(tmp_path):
    folder = tmp_path / "wxid_x"
    shutil.copytree(FIX / "pywxdump/20877654321@chatroom", folder)
    page = folder / "20877654321@chatroom_5000_10000.csv"
    text = page.read_text(encoding="utf-8").replace("2026-03-12 15:51:45", "soon")
    page.write_text(text, encoding="utf-8")
    with pytest.raises(ParseError) as error:
        messages(wechat_csv, folder)
    assert error.value.path == str(page) and error.value.line == 20


def test_pywxdump_unix_create_time_and_me_option(tmp_path):
    path = tmp_path / "wxid_b_0_2.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(wechat_csv.PYWXDUMP)
        writer.writerow([1, 111, "文本", 1, "wxid_me", "wxid_b", "hi", "", 1773300185])
    (tmp_path / "users.json").write_text(json.dumps({"wxid_me": {"wxid": "wxid_me", "nickname": "Me", "remark": ""}}), encoding="utf-8")
    [message] = messages(wechat_csv, path, tz=SHANGHAI)
    assert message.sent_at.isoformat() == "2026-03-12T15:23:05+08:00"
    assert (message.sender_id, message.sender_name, message.is_me) == ("wxid_me", "Me", True)


# ---- wechat-db ---------------------------------------------------------------------------------

DB = FIX / "db/MSG0.db"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_db_is_read_only_and_streamed():
    before = {p.name: (_digest(p), p.stat().st_mtime_ns) for p in DB.parent.iterdir()}
    stream = wechat_db.parse(DB, ParseOptions(tz=SHANGHAI))
    assert isinstance(stream, types.GeneratorType)
    first = next(stream)
    assert isinstance(first, Conversation)
    list(stream)
    after = {p.name: (_digest(p), p.stat().st_mtime_ns) for p in DB.parent.iterdir()}
    assert after == before  # no journal, no WAL, nothing touched


def test_db_group_senders_names_and_app_messages():
    recs = records(wechat_db, DB, tz=SHANGHAI, me="wxid_lilei2024")
    group = next(r for r in recs if isinstance(r, Conversation) and r.conversation_id.endswith("@chatroom"))
    assert group.title == "项目组" and group.type is ConversationType.GROUP
    assert ("wxid_zhangwei88", "伟哥") in group.members  # group nickname from ChatRoom
    msgs = [r for r in recs if isinstance(r, Message)]
    by_id = {m.message_id: m for m in msgs}
    hello = by_id["6849302847562010020"]
    assert (hello.sender_id, hello.sender_name, hello.text) == ("wxid_zhangwei88", "伟哥", "大家好 👋")  # BytesExtra
    reply = by_id["6849302847562010023"]
    assert reply.reply_to == "6849302847562010020" and reply.text == "同意" and reply.sender_name == "梅梅"
    assert reply.extras["quoted"]["text"] == "大家好 👋"
    mine = by_id["6849302847562010022"]
    assert (mine.sender_id, mine.sender_name, mine.is_me) == ("wxid_lilei2024", "李雷", True)
    recall = by_id["6849302847562010024"]
    assert recall.kind is Kind.RECALL and recall.extras["recalled_id"] == "6849302847562019911"
    old_style = by_id["6849302847562010028"]
    assert old_style.sender_id == "wxid_wangfang7" and old_style.text.startswith("老消息")
    transfer = by_id["6849302847562010009"]
    assert (transfer.kind, transfer.amount, transfer.currency, transfer.extras["transfer_status"]) == (Kind.TRANSFER, "5000.00", "CNY", "sent")
    document = by_id["6849302847562010012"]
    assert document.attachments[0].size == 48213
    assert document.attachments[0].path == "wxid_lilei2024\\FileStorage\\File\\2026-03\\2026年度预算.xlsx"
    kinds = {m.kind for m in msgs}
    assert {Kind.TEXT, Kind.IMAGE, Kind.VOICE, Kind.CONTACT, Kind.STICKER, Kind.LOCATION, Kind.TRANSFER, Kind.RED_PACKET,
            Kind.FILE, Kind.LINK, Kind.CHAT_HISTORY, Kind.CALL, Kind.SYSTEM, Kind.RECALL, Kind.OTHER} <= kinds
    assert [m.position for m in msgs if m.conversation_id == "wxid_hanmeimei01"] == list(range(1, 19))


def test_db_fixture_holds_real_lz4_and_protobuf():
    lz4_block = pytest.importorskip("lz4.block")
    conn = sqlite3.connect(f"{DB.resolve().as_uri()}?mode=ro", uri=True)
    try:
        blob, extra = conn.execute("SELECT CompressContent, BytesExtra FROM MSG WHERE MsgSvrID=6849302847562010023").fetchone()
    finally:
        conn.close()
    xml = lz4_block.decompress(blob, uncompressed_size=len(blob) << 8)
    assert b"<refermsg>" in xml
    assert wechat_common.lz4_block_decode(blob) == xml  # the pure decoder agrees with the C one
    assert wechat_common.bytes_extra_entries(extra)[0] == (1, "wxid_hanmeimei01")


def test_db_without_the_lz4_package(monkeypatch):
    with_lib = [as_dict(m) for m in messages(wechat_db, DB, tz=SHANGHAI)]
    monkeypatch.setattr(wechat_common, "_lz4_block", None)  # the pure-Python decoder takes over
    assert [as_dict(m) for m in messages(wechat_db, DB, tz=SHANGHAI)] == with_lib


def test_db_own_wxid_from_wechat_files_layout(tmp_path):
    msg = tmp_path / "WeChat Files" / "wxid_lilei2024" / "Msg"
    (msg / "Multi").mkdir(parents=True)
    shutil.copy(DB, msg / "Multi" / "MSG0.db")
    shutil.copy(FIX / "db/MicroMsg.db", msg / "MicroMsg.db")  # one level up, as WeChat keeps it
    msgs = messages(wechat_db, msg / "Multi" / "MSG0.db", tz=SHANGHAI)
    mine = [m for m in msgs if m.is_me and m.kind is Kind.TEXT]
    assert mine and all((m.sender_id, m.sender_name) == ("wxid_lilei2024", "李雷") for m in mine)


def test_db_without_micromsg_uses_wxids(tmp_path):
    shutil.copy(DB, tmp_path / "MSG3.db")
    msgs = messages(wechat_db, tmp_path / "MSG3.db", tz=SHANGHAI)
    hello = next(m for m in msgs if m.message_id == "6849302847562010020")
    assert (hello.sender_id, hello.sender_name) == ("wxid_zhangwei88", "wxid_zhangwei88")
    assert next(m for m in msgs if m.is_me).sender_name == "我"


def test_db_merged_database_names_itself(tmp_path):
    path = tmp_path / "merge_all.db"
    shutil.copy(DB, path)
    conn = sqlite3.connect(path)
    conn.execute("ATTACH DATABASE ? AS micro", (str(FIX / "db/MicroMsg.db"),))
    conn.execute("CREATE TABLE Contact AS SELECT * FROM micro.Contact")
    conn.commit()
    conn.close()
    hello = next(m for m in messages(wechat_db, path) if m.message_id == "6849302847562010002")
    assert (hello.sender_name, hello.conversation_title) == ("梅梅", "梅梅")


@pytest.mark.parametrize("name,needle", [("corrupt.db", "SQLite"), ("nomsg.db", "no MSG table")])
def test_db_broken_files(name, needle):
    path = FIX / name
    assert wechat_db.detect(path, read_head(path)) == 0
    with pytest.raises(ParseError) as error:
        messages(wechat_db, path)
    assert needle in error.value.message


def test_db_encrypted_file(tmp_path):
    path = tmp_path / "MSG0.db"
    path.write_bytes(hashlib.sha512(b"x").digest() * 64)
    assert wechat_db.detect(path, read_head(path)) == 0
    with pytest.raises(ParseError, match="decrypted"):
        messages(wechat_db, path)


def test_db_unreadable_compress_content_degrades(tmp_path):
    path = tmp_path / "MSG0.db"
    shutil.copy(DB, path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE MSG SET CompressContent=? WHERE MsgSvrID=6849302847562010009", (b"\xff\x00\x01garbage",))
    conn.commit()
    conn.close()
    transfer = next(m for m in messages(wechat_db, path) if m.message_id == "6849302847562010009")
    assert (transfer.kind, transfer.text, transfer.amount) == (Kind.TRANSFER, "[转账]", None)
    assert transfer.extras["compress_content_unreadable"] is True


# ---- wechat-txt --------------------------------------------------------------------------------

TXT = FIX / "txt/项目组.txt"


def test_txt_blocks_quotes_links_and_system_lines():
    recs = records(wechat_txt, TXT, tz=SHANGHAI, me="李雷")
    assert recs[0].type is ConversationType.GROUP and recs[0].conversation_id == "项目组"
    msgs = [r for r in recs if isinstance(r, Message)]
    multi = msgs[2]
    assert multi.position == 6
    assert multi.text == "新年快乐🎉\n\n今年也请多关照\n2026-03-12 15:00:00 这一行像标题，但紧跟在正文后面，仍是正文"
    assert msgs[4].text == "同意" and msgs[4].extras["quoted"] == {"name": "伟哥", "text": "大家好 👋"}
    assert msgs[0].kind is Kind.SYSTEM and msgs[0].sender_name is None
    assert (msgs[5].kind, msgs[5].sender_name) == (Kind.RECALL, "王芳")
    assert msgs[7].sender_name == "O'Neil & 李"  # MemoTrace escaped it for HTML/JS
    link = msgs[8]
    assert (link.kind, link.text, link.extras["url"]) == (Kind.LINK, "春季出游攻略", "http://mp.weixin.qq.com/s?__biz=MzA3&mid=1")
    assert msgs[11].text == "2026-03-13 09:00:00 开会，别迟到"  # the first line after a header is content
    assert (msgs[-1].kind, msgs[-1].is_me, msgs[-1].sender_name) == (Kind.RECALL, True, "李雷")
    assert [m.kind for m in msgs[6:11]] == [Kind.IMAGE, Kind.STICKER, Kind.LINK, Kind.FILE, Kind.VOICE]


def test_txt_times_are_read_in_the_given_zone():
    first = messages(wechat_txt, TXT, tz=ZoneInfo("America/New_York"))[0]
    assert first.sent_at.isoformat() == "2026-03-12T15:39:45-04:00"


def test_txt_errors_and_detection(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_text("hello\n2026-03-12 15:39:45 张三\nhi\n", encoding="utf-8")
    assert wechat_txt.detect(path, read_head(path)) == 0
    with pytest.raises(ParseError) as error:
        messages(wechat_txt, path)
    assert error.value.line == 1
    log = tmp_path / "app.log"
    log.write_text("".join(f"2026-03-12 15:39:{i:02d} INFO worker started\n" for i in range(30)), encoding="utf-8")
    assert wechat_txt.detect(log, read_head(log)) == 0
    gbk = tmp_path / "张三.txt"
    gbk.write_bytes("2026-03-12 15:39:45 张三\n你好\n\n2026-03-12 15:40:45 李四\n再见\n".encode("gbk"))
    assert wechat_txt.detect(gbk, read_head(gbk)) >= 0.6
    assert [m.text for m in messages(wechat_txt, gbk)] == ["你好", "再见"]


# ---- shared pieces -----------------------------------------------------------------------------

@pytest.mark.parametrize("feedesc,expected", [
    ("￥5000.00", ("5000.00", "CNY")), ("¥66.00", ("66.00", "CNY")), ("￥5,000.00", ("5000.00", "CNY")),
    ("HK$12.50", ("12.50", "HKD")), ("", (None, None)), ("免费", (None, None)),
])
def test_parse_amount(feedesc, expected):
    assert wechat_common.parse_amount(feedesc) == expected


def test_interpret_maps_every_type_without_dropping():
    for type_, sub in [(3, 0), (34, 0), (42, 0), (43, 0), (47, 0), (48, 0), (50, 0), (10000, 0), (10002, 0),
                       (37, 0), (9999, 0), (12345, 0), (49, 0), (49, 5), (49, 6), (49, 19), (49, 57), (49, 2000), (49, 2001), (49, 999)]:
        content = wechat_common.interpret(type_, sub, "")
        assert content.text, (type_, sub)
        assert content.kind is not None
    assert wechat_common.interpret(12345, 0, "").kind is Kind.OTHER
    assert wechat_common.interpret(49, 2001, "").kind is Kind.RED_PACKET


def test_broken_xml_is_still_read():
    xml = "<msg><appmsg><title>A & B</title><type>2000</type><wcpayinfo><paysubtype>4</paysubtype><feedesc>￥1.00</feedesc></wcpayinfo></appmsg>"
    content = wechat_common.interpret(49, 2000, xml)  # bare "&", unclosed <msg>
    assert (content.amount, content.extras["transfer_status"]) == ("1.00", "returned")
    prefixed = wechat_common.interpret(49, 0, "wxid_abc123:\n<msg><appmsg><title>x</title><type>5</type></appmsg></msg>")
    assert (prefixed.kind, prefixed.text) == (Kind.LINK, "x")


# ---- properties --------------------------------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(["\n", "，", "\"", ",", "😀"]), min_size=1, max_size=40)
NAMES = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Lo", "Nd")), min_size=1, max_size=8)
SECONDS = st.integers(min_value=946_684_800, max_value=2_000_000_000)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(st.lists(st.tuples(TEXT, NAMES, SECONDS, st.booleans()), min_size=1, max_size=8), st.sampled_from(["utf-8-sig", "utf-8", "gb18030"]))
def test_memotrace_roundtrip(tmp_path, items, encoding):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(wechat_csv.MEMOTRACE)
    shanghai = timezone(timedelta(hours=8))
    for i, (text, name, seconds, mine) in enumerate(items, 1):
        local = datetime.fromtimestamp(seconds, shanghai).strftime("%Y-%m-%d %H:%M:%S")
        writer.writerow([i, 1, 1, 0, int(mine), seconds, 2, text, local, name, name, f"wxid_{name}"])
    path = tmp_path / "p_utf8.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))
    got = messages(wechat_csv, path)
    assert [m.text for m in got] == [text for text, *_ in items]
    assert [int(m.sent_at.timestamp()) for m in got] == [seconds for _, _, seconds, _ in items]
    assert all(m.sent_at.utcoffset() == timedelta(hours=8) for m in got)
    assert [(m.sender_id, m.is_me) for m in got] == [(f"wxid_{name}", mine) for _, name, _, mine in items]


LINE = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Zs")), min_size=1, max_size=20)
BODY = st.lists(LINE | st.just(""), min_size=1, max_size=5).filter(
    lambda lines: bool(lines[0]) and bool(lines[-1])
    and not any(line.startswith(("引用:", "[链接]:title:")) for line in lines)
    and not any(wechat_txt.HEADER.match(line) for line in lines))


@FAST
@given(st.lists(st.tuples(BODY, NAMES, SECONDS), min_size=1, max_size=6))
def test_txt_roundtrip(tmp_path, items):
    shanghai = timezone(timedelta(hours=8))
    out = []
    for lines, name, seconds in items:
        out.append(f"{datetime.fromtimestamp(seconds, shanghai):%Y-%m-%d %H:%M:%S} {name}\n" + "\n".join(lines) + "\n\n")
    path = tmp_path / "chat.txt"
    path.write_text("".join(out), encoding="utf-8")
    got = messages(wechat_txt, path, tz=shanghai)
    assert [m.text for m in got] == ["\n".join(lines) for lines, _, _ in items]
    assert [m.sender_name for m in got] == [name for _, name, _ in items]
    assert [int(m.sent_at.timestamp()) for m in got] == [seconds for _, _, seconds in items]


@FAST
@given(st.binary(max_size=400), st.sampled_from(["csv", "txt", "db"]))
def test_junk_raises_only_parse_error(tmp_path, junk, kind):
    path = tmp_path / f"junk.{kind}"
    prefix = {"csv": ",".join(wechat_csv.MEMOTRACE).encode() + b"\n", "txt": "2026-03-12 15:39:45 张三\n".encode(), "db": b"SQLite format 3\x00"}[kind]
    path.write_bytes(prefix + junk)
    module = {"csv": wechat_csv, "txt": wechat_txt, "db": wechat_db}[kind]
    try:
        for record in module.parse(path, ParseOptions()):
            assert isinstance(record, (Conversation, Message))
    except ParseError:
        pass


@FAST
@given(st.binary(max_size=2000) | st.text(max_size=300).map(lambda s: (s * 3).encode()))
def test_pure_lz4_matches_the_library(data):
    lz4_block = pytest.importorskip("lz4.block")
    block = lz4_block.compress(data, store_size=False)
    if data:
        assert wechat_common.lz4_block_decode(block) == data
    xml = b"<msg><appmsg>" + data + b"</appmsg></msg>"
    assert wechat_common.decompress_content(lz4_block.compress(xml, store_size=False)) == xml.replace(b"\x00", b"").decode("utf-8", "replace")
    assert wechat_common.decompress_content(xml) == xml.replace(b"\x00", b"").decode("utf-8", "replace")  # stored plain


@FAST
@given(st.lists(st.tuples(st.integers(0, 2**31), st.text(max_size=30)), max_size=6))
def test_bytes_extra_reader_roundtrip(entries):
    def varint(value):
        out = bytearray()
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                return bytes(out)

    blob = b"\x0a\x04\x08\x10\x10\x00"
    for kind, text in entries:
        body = b"\x08" + varint(kind) + b"\x12" + varint(len(text.encode())) + text.encode()
        blob += b"\x1a" + varint(len(body)) + body
    assert wechat_common.bytes_extra_entries(blob) == entries
