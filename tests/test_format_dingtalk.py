"""dingtalk-json: the messages DingTalk delivers to an enterprise robot (HTTP callback / Stream)."""

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

DIR = FIXTURES / "dingtalk"
SHANGHAI = ZoneInfo("Asia/Shanghai")
OPTIONS = ParseOptions(tz=SHANGHAI, tz_given=True)
GROUP = "cidnV+9Ys1fB2Ka6nGxX3Cmkw=="
PRIVATE = "cidAbq3qK1kQnVw2Zs7yT0pLmg=="
CUSTOMER = "$:LWCP_v1:$Zw3Hq8sN0bLk5vYp2dTfRA=="


def parse(name: str, options: ParseOptions = OPTIONS) -> list:
    return list(dingtalk_json.parse(DIR / name, options))


@pytest.fixture(scope="module")
def callbacks() -> list:
    return parse("callbacks.jsonl")


def by_type(records: list, msgtype: str):
    return next(m for m in messages(records) if m.extras.get("msgtype") == msgtype)


def callback(msg_id: str, msgtype: str, body: dict, ms: int = 1718155000000, **more) -> dict:
    base = {"conversationId": GROUP, "chatbotCorpId": "ding8f3e2c1b0a9d8e7f", "chatbotUserId": "$:LWCP_v1:$bot==", "msgId": msg_id,
            "senderNick": "刘洋", "isAdmin": True, "senderStaffId": "manager4521", "senderId": "$:LWCP_v1:$agent==",
            "createAt": ms, "senderCorpId": "ding8f3e2c1b0a9d8e7f", "conversationType": "2", "conversationTitle": "售后服务群-华东区",
            "robotCode": "dingd9qwhyuokrgkztfz", "msgtype": msgtype}
    base.update(body)
    base.update(more)
    return base


def write(folder: Path, rows) -> Path:
    path = folder / "callbacks.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


# ---- detection -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["callbacks.jsonl", "array_gbk.json", "truncated.jsonl"])
def test_detects_its_own_files(name):
    path = DIR / name
    assert dingtalk_json.detect(path, read_head(path)) >= 0.9


@pytest.mark.parametrize("path", other_fixtures("dingtalk"), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_detect_is_zero_for_other_formats(path):
    assert dingtalk_json.detect(path, read_head(path)) == 0.0


def test_the_sibling_json_formats_do_not_claim_dingtalk_files():
    for name in ("callbacks.jsonl", "array_gbk.json"):
        head = read_head(DIR / name)
        assert wecom_archive.detect(DIR / name, head) == 0.0
        assert feishu_json.detect(DIR / name, head) == 0.0


def test_detect_ignores_outgoing_robot_messages():
    webhook = '{"msgtype":"text","text":{"content":"部署完成"},"at":{"atMobiles":[],"isAtAll":false}}'.encode()
    assert dingtalk_json.detect(Path("send.json"), webhook) == 0.0
    assert dingtalk_json.detect(DIR, b"") == 0.0


# ---- the expected parses -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["callbacks.jsonl", "array_gbk.json"])
def test_expected_parse(name):
    check_expected(DIR / name, parse(name))


def test_conversations_group_and_private(callbacks):
    convs = {c.conversation_id: c for c in conversations(callbacks)}
    assert convs[GROUP].type is ConversationType.GROUP and convs[GROUP].title == "售后服务群-华东区"
    assert convs[PRIVATE].type is ConversationType.PRIVATE and convs[PRIVATE].title is None
    assert [m.position for m in messages(callbacks)] == list(range(1, 10))


# ---- tricky fields ---------------------------------------------------------------------------

def test_sender_is_the_staff_id_when_there_is_one(callbacks):
    found = messages(callbacks)
    customer, agent = found[0], found[1]
    assert (customer.sender_id, customer.sender_name) == (CUSTOMER, "赵女士")  # another company: no staffId
    assert (agent.sender_id, agent.sender_name) == ("manager4521", "刘洋")
    assert agent.extras["senderId"] == "$:LWCP_v1:$h1XQx9QwDC0rR1nvPbbvVw==" and agent.extras["isAdmin"] is True


def test_side_from_the_corp_ids(callbacks):
    sides = {m.sender_name: m.extras["side"] for m in messages(callbacks)}
    assert sides == {"赵女士": "external", "刘洋": "internal", "周建国": "internal"}


def test_times_and_text(callbacks):
    first = messages(callbacks)[0]
    assert first.sent_at == datetime(2024, 6, 12, 1, 15, 3, 218000, tzinfo=timezone.utc)
    assert first.sent_at.utcoffset() == timedelta(hours=8)
    assert first.text == "空调外机一直在滴水，能派师傅来看看吗？💧"  # the blank left by the removed @robot is gone
    assert messages(callbacks)[1].text == "收到～请补充：\n1）空调型号\n2）安装地址\n3）方便上门的时间段 🙏"


def test_rich_text_and_media(callbacks):
    rich = by_type(callbacks, "richText")
    assert rich.kind is Kind.TEXT
    assert rich.text == "型号是 KFR-35GW/BpR3，[图片]\n地址：杭州市西湖区文三路 90 号 3 幢 502"
    assert len(rich.extras["downloadCodes"]) == 1
    assert by_type(callbacks, "picture").kind is Kind.IMAGE
    audio = by_type(callbacks, "audio")
    assert audio.kind is Kind.VOICE and audio.text == "[语音] 下午三点以后家里都有人" and audio.extras["duration"] == 4300
    video = by_type(callbacks, "video")
    assert video.kind is Kind.VIDEO and video.extras["videoType"] == "mp4"
    file = by_type(callbacks, "file")
    assert file.kind is Kind.FILE and [a.name for a in file.attachments] == ["上门服务确认单.docx"]
    assert file.extras["fileId"] == "158935273231"


def test_mentions_are_kept(callbacks):
    reply = messages(callbacks)[1]
    assert reply.extras["atUsers"] == [{"dingtalkId": "$:LWCP_v1:$r0B0tUs3rId7kQ2m9Xa1Zg=="}, {"dingtalkId": CUSTOMER}]


def test_session_webhook_is_not_kept(callbacks):
    text = json.dumps([dict(m.extras) for m in messages(callbacks)], ensure_ascii=False)
    assert "sessionWebhook" not in text and "sendBySession" not in text


def test_gbk_file_is_decoded():
    found = messages(parse("array_gbk.json"))
    assert [m.text for m in found] == ["你好，我想查询维修进度", "工单号：WO-20240611-0032\n报修时间：6月11日下午", "购机发票.pdf"]
    assert [m.position for m in found] == [2, 24, 46]


def test_me_option(callbacks):
    mine = messages(parse("callbacks.jsonl", ParseOptions(tz=SHANGHAI, me="manager4521")))
    assert [m.is_me for m in mine] == [None, True, None, None, None, None, True, True, None]


def test_markdown_cards_and_unknown_types(tmp_path):
    rows = [callback("m1", "markdown", {"markdown": {"title": "巡检", "text": "#### 今日巡检\n- 3 号机组正常"}}),
            callback("m2", "actionCard", {"actionCard": {"title": "满意度回访", "text": "请为本次服务打分"}}),
            callback("m3", "chatRecord", {"content": {"title": "聊天记录"}}),
            callback("m4", "text", {"text": {"content": "机器人自己的消息"}}, senderId="$:LWCP_v1:$bot==", senderStaffId=None)]
    markdown, card, unknown, own = messages(dingtalk_json.parse(write(tmp_path, rows), OPTIONS))
    assert markdown.kind is Kind.TEXT and markdown.text == "#### 今日巡检\n- 3 号机组正常"
    assert card.kind is Kind.OTHER and card.text == "满意度回访\n请为本次服务打分"
    assert unknown.kind is Kind.OTHER and unknown.text == "[chatRecord] 聊天记录"
    assert own.extras["side"] == "bot" and own.sender_id == "$:LWCP_v1:$bot=="


# ---- broken files ----------------------------------------------------------------------------

def test_truncated_last_line():
    seen = []
    with pytest.raises(ParseError) as error:
        for record in dingtalk_json.parse(DIR / "truncated.jsonl", OPTIONS):
            seen.append(record)
    assert error.value.line == 4
    assert len(messages(seen)) == 3


def test_a_callback_without_create_time_is_an_error(tmp_path):
    bad = callback("m2", "text", {"text": {"content": "x"}})
    del bad["createAt"]
    with pytest.raises(ParseError) as error:
        list(dingtalk_json.parse(write(tmp_path, [callback("m1", "text", {"text": {"content": "ok"}}), bad]), OPTIONS))
    assert error.value.line == 2 and "createAt" in error.value.message


# ---- properties ------------------------------------------------------------------------------

entries = st.lists(
    st.tuples(st.sampled_from(["manager4521", "014627453", None]), st.text(max_size=40).map(str.strip),
              st.integers(min_value=10**12, max_value=2 * 10**12), st.sampled_from(["1", "2"])),
    min_size=1, max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries, st.booleans())
def test_written_callbacks_read_back(entries, as_array):
    rows = [callback(f"msg{i}", "text", {"text": {"content": text}}, ms, senderStaffId=staff, senderId=f"$:LWCP_v1:${i}==",
                     conversationType=kind)
            for i, (staff, text, ms, kind) in enumerate(entries)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "callbacks.json"
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=1) if as_array else "\n".join(json.dumps(r) for r in rows), encoding="utf-8")
        found = messages(dingtalk_json.parse(path, OPTIONS))
    assert [m.text for m in found] == [e[1].strip() for e in entries]
    assert [m.sender_id for m in found] == [e[0] or f"$:LWCP_v1:${i}==" for i, e in enumerate(entries)]
    assert [m.sent_at for m in found] == [datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=e[2]) for e in entries]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps({"msgId": "m", "conversationId": "c", "createAt": 1718155000000, "msgtype": "richText",
                                          "content": v, "text": v, "atUsers": v, "senderNick": v}).encode()),
    st.tuples(st.floats(0, 1), st.integers(0, 80), st.binary(max_size=6)).map(
        lambda t: mutate((DIR / "array_gbk.json").read_bytes(), *t)),
))
def test_junk_only_ever_raises_parse_error(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "junk.json"
        path.write_bytes(data)
        try:
            list(dingtalk_json.parse(path, OPTIONS))
        except ParseError:
            pass
        dingtalk_json.detect(path, data[:65536])
