"""wecom-archive: decrypted WeCom 会话内容存档 messages (GetChatData + DecryptData)."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chataudit.errors import ParseError
from chataudit.formats import ParseOptions, read_head
from chataudit.formats import dingtalk_json, feishu_json, wecom_archive
from chataudit.model import ConversationType, Kind

from enterprise_im_support import FIXTURES, check_expected, conversations, json_values, messages, mutate, other_fixtures

DIR = FIXTURES / "wecom"
SHANGHAI = ZoneInfo("Asia/Shanghai")
OPTIONS = ParseOptions(tz=SHANGHAI, tz_given=True)
CUSTOMER = "wmGAgeDQAAvQeaTqWwkMTxGMkvI7OOuQ"
ROOM = "wrJ7ijBwAAG1vly_DzVI72Ghc-PtA5Dw"


def parse(name: str, options: ParseOptions = OPTIONS) -> list:
    return list(wecom_archive.parse(DIR / name, options))


@pytest.fixture(scope="module")
def archive() -> list:
    return parse("archive.jsonl")


def by_type(records: list, msgtype: str):
    return next(m for m in messages(records) if m.extras.get("msgtype") == msgtype)


# ---- detection -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["archive.jsonl", "array_bom.json", "truncated.json", "corrupted.jsonl"])
def test_detects_its_own_files(name):
    path = DIR / name
    assert wecom_archive.detect(path, read_head(path)) >= 0.9


@pytest.mark.parametrize("path", other_fixtures("wecom"), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_detect_is_zero_for_other_formats(path):
    assert wecom_archive.detect(path, read_head(path)) == 0.0


def test_the_sibling_json_formats_do_not_claim_wecom_files():
    for name in ("archive.jsonl", "array_bom.json"):
        head = read_head(DIR / name)
        assert feishu_json.detect(DIR / name, head) == 0.0
        assert dingtalk_json.detect(DIR / name, head) == 0.0


def test_detect_is_cheap_and_never_raises():
    assert wecom_archive.detect(DIR, b"") == 0.0
    assert wecom_archive.detect(Path("x.csv"), b"msgid,action,msgtime\n1,send,2\n") == 0.0
    assert wecom_archive.detect(Path("x.bin"), bytes(range(256))) == 0.0


# ---- the expected parses -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["archive.jsonl", "array_bom.json"])
def test_expected_parse(name):
    check_expected(DIR / name, parse(name))


def test_every_line_is_one_message_in_file_order(archive):
    found = messages(archive)
    assert [m.position for m in found] == list(range(1, 24))
    assert len({m.message_id for m in found}) == 23


# ---- tricky fields ---------------------------------------------------------------------------

def test_private_chat_is_the_sorted_pair_both_ways(archive):
    found = messages(archive)
    from_customer = found[1]
    from_agent = found[2]
    assert from_customer.sender_id == CUSTOMER and from_agent.sender_id == "ZhangWei"
    assert from_customer.conversation_id == from_agent.conversation_id == f"ZhangWei|{CUSTOMER}"


def test_conversation_records_come_first_with_their_type(archive):
    convs = {c.conversation_id: c for c in conversations(archive)}
    assert convs[f"ZhangWei|{CUSTOMER}"].type is ConversationType.PRIVATE
    assert convs[ROOM].type is ConversationType.GROUP
    assert len(convs[ROOM].members) == 5
    first_room_message = next(i for i, r in enumerate(archive) if getattr(r, "conversation_id", None) == ROOM)
    assert archive[first_room_message].__class__.__name__ == "Conversation"


def test_times_are_utc_milliseconds_shown_in_the_given_zone(archive):
    text = messages(archive)[1]
    assert text.sent_at == datetime(2024, 6, 12, 1, 30, 15, 402000, tzinfo=timezone.utc)
    assert text.sent_at.utcoffset() == timedelta(hours=8)
    utc = messages(parse("archive.jsonl", ParseOptions()))[1]
    assert utc.sent_at == text.sent_at and utc.sent_at.utcoffset() == timedelta(0)


def test_msgtime_in_seconds_is_recognised(archive):
    call = by_type(archive, "meeting_voice_call")
    assert call.kind is Kind.CALL
    assert call.sent_at == datetime(2024, 6, 12, 14, 0, tzinfo=SHANGHAI)
    assert call.extras["msgtime_unit"] == "s"


def test_recall_points_at_the_recalled_message(archive):
    found = messages(archive)
    recall = by_type(archive, "revoke")
    assert recall.kind is Kind.RECALL
    original = next(m for m in found if m.message_id == recall.reply_to)
    assert "13800001234" in original.text
    assert recall.extras["pre_msgid"] == original.message_id and recall.extras["action"] == "recall"


def test_sides_from_the_id_prefixes(archive):
    sides = {m.sender_id: m.extras.get("side") for m in messages(archive) if m.sender_id}
    assert sides[CUSTOMER] == "external"
    assert sides["woJ7ijBwAA6SjS_sIyPLZtyEPJlT7Cfw"] == "external"
    assert sides["ZhangWei"] == sides["LiNa"] == "internal"
    assert sides["wbJ7ijBwAAxH1m2kQn3C4rT5uV6wX7yZ"] == "bot"


def test_red_packet_amount_is_yuan_from_fen(archive):
    packet = by_type(archive, "external_redpacket")
    assert packet.kind is Kind.RED_PACKET
    assert (packet.amount, packet.currency) == ("8.88", "CNY")
    assert packet.extras["totalamount"] == 888 and "辛苦了" in packet.text


def test_file_attachment_and_md5(archive):
    file = by_type(archive, "file")
    assert file.kind is Kind.FILE and file.text == "KJ500-E3故障排查指引.pdf"
    assert [a.as_dict() for a in file.attachments] == [{"name": "KJ500-E3故障排查指引.pdf", "size": 245760}]
    assert file.extras["md5sum"] == "dba562ac49757cbb9b9079d686076a87" and file.extras["fileext"] == "pdf"


def test_mixed_joins_its_parts_and_chatrecord_lists_its_items(archive):
    mixed = by_type(archive, "mixed")
    assert mixed.kind is Kind.TEXT
    assert mixed.text.endswith("检查滤网有没有卡住扇叶：\n[图片]")
    assert mixed.attachments[0].size == 98244
    record = by_type(archive, "chatrecord")
    assert record.kind is Kind.CHAT_HISTORY and record.extras["items"] == 2
    assert record.text.splitlines() == ["[聊天记录] 张伟和客户的聊天记录", "你好，我上周买的空气净化器 KJ500 一开机就报 E3 故障 😢", "[图片]"]


def test_agree_switch_and_card_kinds(archive):
    assert by_type(archive, "agree").kind is Kind.SYSTEM
    assert by_type(archive, "card").kind is Kind.CONTACT
    assert by_type(archive, "emotion").kind is Kind.STICKER
    switch = next(m for m in messages(archive) if m.extras.get("action") == "switch")
    assert switch.kind is Kind.SYSTEM and switch.conversation_id == wecom_archive.SWITCH_CONVERSATION
    assert switch.sender_id == "ZhangWei" and switch.message_id == "125289002219525886280"


def test_multiline_and_emoji_text_kept_exactly(archive):
    assert messages(archive)[2].text == "您好！我是售后客服张伟 👋\n麻烦提供一下：\n1. 订单号\n2. 机身背面铭牌（序列号）的照片"


def test_seq_is_kept(archive):
    assert [m.extras["seq"] for m in messages(archive)] == list(range(1001, 1024))


def test_me_option_marks_my_messages(archive):
    mine = messages(parse("archive.jsonl", ParseOptions(tz=SHANGHAI, me="ZhangWei")))
    assert {m.is_me for m in mine if m.sender_id == "ZhangWei"} == {True}
    assert {m.is_me for m in mine if m.sender_id != "ZhangWei"} == {None}
    assert {m.is_me for m in messages(archive)} == {None}


def test_bom_array_positions_are_the_lines_objects_start_on():
    found = messages(parse("array_bom.json"))
    assert [m.position for m in found] == [2, 16, 30]
    assert found[2].kind is Kind.SYSTEM and found[2].extras["disagree_time"] == 1718265723000


# ---- broken files ----------------------------------------------------------------------------

def test_truncated_array_names_the_unfinished_message():
    with pytest.raises(ParseError) as error:
        parse("truncated.json")
    assert error.value.line == 30
    assert "truncated" in error.value.message


def test_corrupted_line_is_reported_with_its_number():
    records = wecom_archive.parse(DIR / "corrupted.jsonl", OPTIONS)
    seen = []
    with pytest.raises(ParseError) as error:
        for record in records:
            seen.append(record)
    assert error.value.line == 4
    assert len(messages(seen)) == 3  # what came before is still delivered


def test_encrypted_chatdata_says_to_decrypt_first(tmp_path):
    page = {"errcode": 0, "errmsg": "ok", "chatdata": [{"seq": 196, "msgid": "CAQQ2fbb4QUY0On2rYSAgAMgip/yzgs=", "publickey_ver": 3,
                                                        "encrypt_random_key": "ftJ+uz3n/z1DsxlkwxNgE+mL38H42/KCvN8T60gbbtPD+Rta1hKTuQPzUzO6Hzne97MgKs7FfdDxDck/v8cDT6gUVjA2tZ/M7euSD0L66opJ/IUeBtpAtvgVSD5qhlaQjvfKJc/zPMGNK2xCLFYqwmQBZXbNT7uA69Fflm512nZKW/piK2RKdYJhRyvQnA1ISxK097sp9WlEgDg250fM5tgwMjujdzr7ehK6gtVBUFldNSJS7ndtIf6aSBfaLktZgwHZ57ONewWq8GJe7WwQf1hwcDbCh7YMG8nsweEwhDfUz+u8rz9an+0lgrYMZFRHnmzjgmLwrR7B/32Qxqd79A==",
                                                        "encrypt_chat_msg": "898WSfGMnIeytTsea7Rc0WsOocs0bIAerF6de0v2cFwqo9uOxrW9wYe5rCjCHHH5bDrNvLxBE/xOoFfcwOTYX0HQxTJaH0ES9OHDZ61p8gcbfGdJKnq2UU4tAEgGb8H+Q9n8syRXIjaI3KuVCqGIi4QGHFmxWenPFfjF/vRuPd0EpzUNwmqfUxLBWLpGhv+dLnqiEOBW41Zdc0OO0St6E+JeIeHlRZAR+E13Isv9eS09xNbF0qQXWIyNUi+ucLr5VuZnPGXBrSfvwX8f0QebTwpy1tT2zvQiMM2MBugKH6NuMzzuvEsXeD+6+3VRqL"}]}
    path = tmp_path / "chatdata.json"
    path.write_text(json.dumps(page), encoding="utf-8")
    assert wecom_archive.detect(path, read_head(path)) > 0
    with pytest.raises(ParseError) as error:
        list(wecom_archive.parse(path, OPTIONS))
    assert "DecryptData" in error.value.message


def test_a_record_without_msgtime_is_an_error(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"msgid":"1","action":"send","from":"a","tolist":["b"],"roomid":"","msgtime":1718155802117,"msgtype":"text","text":{"content":"ok"}}\n'
                    '{"msgid":"2","action":"send","from":"a","tolist":["b"],"roomid":"","msgtype":"text","text":{"content":"no time"}}\n', encoding="utf-8")
    with pytest.raises(ParseError) as error:
        list(wecom_archive.parse(path, OPTIONS))
    assert error.value.line == 2 and "msgtime" in error.value.message


def test_unknown_and_flattened_types_are_kept(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"msgid":"n1","action":"send","from":"LiNa","tolist":["wmX"],"roomid":"","msgtime":1718155802117,"msgtype":"note","note":{"title":"上门注意事项"}}\n'
                    '{"msgid":"n2","action":"send","from":"LiNa","tolist":["wmX"],"roomid":"","msgtime":1718155803117,"msgtype":"text","content":"扁平导出"}\n', encoding="utf-8")
    note, flat = messages(wecom_archive.parse(path, OPTIONS))
    assert note.kind is Kind.OTHER and note.text == "[note] 上门注意事项"
    assert flat.kind is Kind.TEXT and flat.text == "扁平导出"


# ---- properties ------------------------------------------------------------------------------

PEOPLE = ["ZhangWei", CUSTOMER, "wbJ7ijBwAAxH1m2kQn3C4rT5uV6wX7yZ", "woJ7ijBwAA6SjS_sIyPLZtyEPJlT7Cfw"]
entries = st.lists(
    st.tuples(st.sampled_from(PEOPLE), st.text(max_size=40), st.integers(min_value=10**12, max_value=2 * 10**12), st.booleans()),
    min_size=1, max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries, st.sampled_from(["jsonl", "array", "pretty"]))
def test_written_messages_read_back(entries, layout):
    rows = []
    for i, (sender, text, ms, group) in enumerate(entries):
        other = PEOPLE[(PEOPLE.index(sender) + 1) % len(PEOPLE)]
        rows.append({"msgid": f"id{i}", "action": "send", "from": sender, "tolist": [other], "roomid": ROOM if group else "",
                     "msgtime": ms, "msgtype": "text", "text": {"content": text}})
    if layout == "jsonl":
        data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    else:
        data = json.dumps(rows, ensure_ascii=False, indent=2 if layout == "pretty" else None)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "archive.json"
        path.write_text(data, encoding="utf-8")
        found = messages(wecom_archive.parse(path, OPTIONS))
    assert [m.text for m in found] == [e[1] for e in entries]
    assert [m.sender_id for m in found] == [e[0] for e in entries]
    assert [m.sent_at for m in found] == [datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=e[2]) for e in entries]
    assert all(m.conversation_id == ROOM for m, e in zip(found, entries) if e[3])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(json_values, max_size=4).map(lambda vs: "\n".join(json.dumps(v) for v in vs).encode()),
    st.tuples(st.floats(0, 1), st.integers(0, 80), st.binary(max_size=6)).map(
        lambda t: mutate((DIR / "archive.jsonl").read_bytes(), *t)),
))
def test_junk_only_ever_raises_parse_error(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "junk.json"
        path.write_bytes(data)
        try:
            list(wecom_archive.parse(path, OPTIONS))
        except ParseError:
            pass
        wecom_archive.detect(path, data[:65536])


def test_side_needs_a_generated_id():
    assert wecom_archive.side_of("wmGAgeDQAAvQeaTqWwkMTxGMkvI7OOuQ") == "external"
    assert wecom_archive.side_of("woJ7ijBwAA6SjS_sIyPLZtyEPJlT7Cfw") == "external"
    assert wecom_archive.side_of("wbJ7ijBwAAxH1m2kQn3C4rT5uV6wX7yZ") == "bot"
    assert wecom_archive.side_of("wmeng") == "internal"  # an employee called 王萌 may well be "wmeng"
    assert wecom_archive.side_of(None) is None
