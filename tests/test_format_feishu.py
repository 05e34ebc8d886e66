"""feishu-json: Feishu/Lark im/v1/messages list responses."""

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

DIR = FIXTURES / "feishu"
SHANGHAI = ZoneInfo("Asia/Shanghai")
OPTIONS = ParseOptions(tz=SHANGHAI, tz_given=True)
AGENT = "ou_4b0d0aa7f9d4a9b8a4c1e2b5f67a8c91"
CUSTOMER = "ou_9f2c1e8d7b6a5f4e3d2c1b0a9f8e7d6c"
CHAT = "oc_a0553eda9014c201e6969b478895c230"


def parse(name: str, options: ParseOptions = OPTIONS) -> list:
    return list(feishu_json.parse(DIR / name, options))


@pytest.fixture(scope="module")
def pages() -> list:
    return parse("pages.jsonl")


def by_type(records: list, msg_type: str):
    return next(m for m in messages(records) if m.extras.get("msg_type") == msg_type)


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "messages.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def item(message_id: str, text: str, ms: int = 1718157601234, **more) -> dict:
    base = {"message_id": message_id, "msg_type": "text", "create_time": str(ms), "update_time": str(ms), "deleted": False,
            "updated": False, "chat_id": CHAT, "sender": {"id": AGENT, "id_type": "open_id", "sender_type": "user", "tenant_key": "736588c9260f175e"},
            "body": {"content": json.dumps({"text": text}, ensure_ascii=False)}}
    base.update(more)
    return base


# ---- detection -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["pages.jsonl", "page_pretty.json", "truncated.json"])
def test_detects_its_own_files(name):
    path = DIR / name
    assert feishu_json.detect(path, read_head(path)) >= 0.9


@pytest.mark.parametrize("path", other_fixtures("feishu"), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_detect_is_zero_for_other_formats(path):
    assert feishu_json.detect(path, read_head(path)) == 0.0


def test_the_sibling_json_formats_do_not_claim_feishu_files():
    for name in ("pages.jsonl", "page_pretty.json"):
        head = read_head(DIR / name)
        assert wecom_archive.detect(DIR / name, head) == 0.0
        assert dingtalk_json.detect(DIR / name, head) == 0.0


def test_detect_ignores_send_requests_and_events():
    send = b'{"receive_id":"oc_x","msg_type":"text","content":"{\\"text\\":\\"hi\\"}"}'
    event = b'{"schema":"2.0","event":{"message":{"message_id":"om_1","message_type":"text","content":"{}"}}}'
    assert feishu_json.detect(Path("a.json"), send) == 0.0
    assert feishu_json.detect(Path("b.json"), event) == 0.0
    assert feishu_json.detect(DIR, b"") == 0.0


# ---- the expected parses -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["pages.jsonl", "page_pretty.json"])
def test_expected_parse(name):
    check_expected(DIR / name, parse(name))


def test_pages_are_unpacked_in_order(pages):
    found = messages(pages)
    assert len(found) == 14
    assert [m.position for m in found] == [1] * 8 + [2] * 6
    assert [m.sent_at for m in found] == sorted(m.sent_at for m in found)
    convs = conversations(pages)
    assert [c.conversation_id for c in convs] == [CHAT] and convs[0].type is ConversationType.UNKNOWN


def test_pretty_page_positions_are_item_lines():
    assert [m.position for m in messages(parse("page_pretty.json"))] == [8, 26, 44, 62, 80]


# ---- tricky fields ---------------------------------------------------------------------------

def test_edited_message_has_edited_at(pages):
    edited = next(m for m in messages(pages) if m.edited_at)
    assert edited.message_id == "om_84586909cde1d551d10532a835241a05"
    assert edited.sent_at == datetime(2024, 6, 12, 10, 6, 30, 120000, tzinfo=SHANGHAI)
    assert edited.edited_at == datetime(2024, 6, 12, 10, 8, 2, 345000, tzinfo=SHANGHAI)
    assert edited.text.endswith("（已更正：是左侧，不是右侧）")
    assert sum(1 for m in messages(pages) if m.edited_at) == 1


def test_deleted_message_is_a_recall(pages):
    recall = next(m for m in messages(pages) if m.kind is Kind.RECALL)
    assert recall.message_id == "om_84586909cde1d551d10532a835241a07"
    assert recall.text == feishu_json.RECALLED_TEXT and recall.sender_id == CUSTOMER
    assert recall.extras["body"] == "This message was recalled"


def test_reply_points_at_its_parent(pages):
    reply = next(m for m in messages(pages) if m.reply_to)
    assert reply.reply_to == "om_84586909cde1d551d10532a835241a04"
    assert by_type(pages, "post").message_id == reply.reply_to
    assert reply.extras["root_id"] == reply.reply_to


def test_mentions_become_names_and_teach_sender_names(pages):
    found = messages(pages)
    assert found[1].text.startswith("@陈先生 陈先生您好 👋")
    assert found[1].sender_name is None  # nobody has mentioned the agent yet
    assert found[2].text.startswith("@王芳 王经理好！") and found[2].sender_name == "陈先生"
    assert {m.sender_name for m in found[3:] if m.sender_id == AGENT} == {"王芳"}


def test_post_is_joined_to_visible_text(pages):
    post = by_type(pages, "post")
    assert post.text.splitlines() == ["卡纸处理步骤", "1. 关机并拔掉电源", "2. 打开后盖，双手平稳地抽出卡住的纸",
                                      "图解见：官方视频教程", "[图片]", "@陈先生 有问题随时说 🙂"]
    assert post.extras["links"] == ["https://support.example.com/hp-m428/paper-jam"]


def test_system_message_fills_its_template(pages):
    system = by_type(pages, "system")
    assert system.kind is Kind.SYSTEM
    assert system.text == "王芳 invited 陈先生, 售后工单助手 to this chat."


def test_bot_card_and_attachments(pages):
    card = by_type(pages, "interactive")
    assert card.extras["side"] == "bot" and card.sender_id == "cli_a61e4f821889d00c"
    assert card.text.splitlines() == ["售后工单已创建", "工单号：FS-20240612-007", "状态：处理中", "查看工单"]
    file = by_type(pages, "file")
    assert file.kind is Kind.FILE and [a.name for a in file.attachments] == ["保修卡扫描件.pdf"]
    assert by_type(pages, "merge_forward").kind is Kind.CHAT_HISTORY
    assert by_type(pages, "audio").extras["duration"] == 5200
    assert by_type(pages, "share_user").kind is Kind.CONTACT
    assert all("side" not in m.extras for m in messages(pages) if m.extras.get("sender_type") == "user")


def test_zone_only_changes_the_offset(pages):
    utc = messages(parse("pages.jsonl", ParseOptions()))
    assert [m.sent_at for m in utc] == [m.sent_at for m in messages(pages)]
    assert utc[0].sent_at.utcoffset() == timedelta(0) and messages(pages)[0].sent_at.utcoffset() == timedelta(hours=8)


def test_me_option(pages):
    mine = messages(parse("pages.jsonl", ParseOptions(tz=SHANGHAI, me="王芳")))
    assert [m.message_id for m in mine if m.is_me] == [m.message_id for m in mine if m.sender_name == "王芳"]


# ---- other layouts and bodies ----------------------------------------------------------------

def test_bare_item_array_and_page_array(tmp_path):
    items = [item("om_1", "第一条"), item("om_2", "第二条", 1718157602000)]
    assert [m.text for m in messages(feishu_json.parse(write(tmp_path, items), OPTIONS))] == ["第一条", "第二条"]
    wrapped = [{"code": 0, "msg": "success", "data": {"has_more": False, "items": items}}, {"code": 0, "data": {"items": []}}]
    assert [m.message_id for m in messages(feishu_json.parse(write(tmp_path, wrapped), OPTIONS))] == ["om_1", "om_2"]
    cli = {"has_more": False, "page_token": "", "items": items}  # a CLI that prints data only
    assert len(messages(feishu_json.parse(write(tmp_path, cli), OPTIONS))) == 2


def test_api_error_page_is_a_parse_error(tmp_path):
    page = {"code": 0, "data": {"items": [item("om_1", "好")]}}
    path = write(tmp_path, json.dumps(page) + "\n" + json.dumps({"code": 230002, "msg": "Bot/User can NOT be out of the chat."}) + "\n")
    with pytest.raises(ParseError) as error:
        list(feishu_json.parse(path, OPTIONS))
    assert error.value.line == 2 and "230002" in error.value.message


def test_many_mentions_do_not_clobber_each_other(tmp_path):
    mentions = [{"key": f"@_user_{i}", "id": f"ou_{i}", "id_type": "open_id", "name": f"用户{i}"} for i in range(1, 12)]
    path = write(tmp_path, [item("om_1", "@_user_1 @_user_10 @_user_11 @_all 开会", mentions=mentions)])
    (message,) = messages(feishu_json.parse(path, OPTIONS))
    assert message.text == "@用户1 @用户10 @用户11 @所有人 开会"


def test_other_content_types(tmp_path):
    def typed(i, msg_type, content):
        return item(f"om_{i}", "", 1718157600000 + i, msg_type=msg_type, body={"content": json.dumps(content, ensure_ascii=False)})
    rows = [typed(1, "vote", {"topic": "上门时间", "options": ["周六上午", "周日下午"]}),
            typed(2, "hongbao", {"text": "[红包]"}),
            typed(3, "share_calendar_event", {"summary": "远程检修", "start_time": "1718263200000", "end_time": "1718266800000"}),
            typed(4, "post", {"zh_cn": {"title": "通知", "content": [[{"tag": "text", "text": "明天停机维护"}]]}}),
            typed(5, "some_future_type", {"title": "新玩意"}),
            typed(6, "media", {"file_key": "file_v3_x", "image_key": "img_v3_x", "file_name": "演示.mp4", "duration": 9000})]
    vote, packet, calendar, post, future, media = messages(feishu_json.parse(write(tmp_path, rows), OPTIONS))
    assert vote.kind is Kind.POLL and vote.text == "[投票] 上门时间\n周六上午\n周日下午"
    assert packet.kind is Kind.RED_PACKET and packet.amount is None  # the API gives no amount: none is invented
    assert calendar.text == "[日程] 远程检修"
    assert post.text == "通知\n明天停机维护"
    assert future.kind is Kind.OTHER and future.text == "[some_future_type] 新玩意"
    assert media.kind is Kind.VIDEO and media.attachments[0].name == "演示.mp4"


# ---- broken files ----------------------------------------------------------------------------

def test_truncated_page_names_the_unfinished_item():
    seen = []
    with pytest.raises(ParseError) as error:
        for record in feishu_json.parse(DIR / "truncated.json", OPTIONS):
            seen.append(record)
    assert error.value.line == 62 and "truncated" in error.value.message
    assert len(messages(seen)) == 3


def test_missing_create_time_is_an_error(tmp_path):
    bad = item("om_2", "x")
    del bad["create_time"]
    path = write(tmp_path, "\n".join(json.dumps(r) for r in (item("om_1", "ok"), bad)))
    with pytest.raises(ParseError) as error:
        list(feishu_json.parse(path, OPTIONS))
    assert error.value.line == 2 and "create_time" in error.value.message


# ---- properties ------------------------------------------------------------------------------

entries = st.lists(
    st.tuples(st.sampled_from([AGENT, CUSTOMER]), st.text(max_size=40), st.integers(min_value=10**12, max_value=2 * 10**12), st.booleans()),
    min_size=1, max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries, st.sampled_from(["pages", "pretty", "items"]))
def test_written_messages_read_back(entries, layout):
    rows = [item(f"om_{i}", text, ms, deleted=False, updated=edited, update_time=str(ms + 5000),
                 sender={"id": sender, "id_type": "open_id", "sender_type": "user"})
            for i, (sender, text, ms, edited) in enumerate(entries)]
    if layout == "pages":
        data = "\n".join(json.dumps({"code": 0, "data": {"items": rows[i:i + 3]}}, ensure_ascii=False) for i in range(0, len(rows), 3))
    elif layout == "pretty":
        data = json.dumps({"code": 0, "msg": "success", "data": {"has_more": False, "items": rows}}, ensure_ascii=False, indent=2)
    else:
        data = json.dumps(rows, ensure_ascii=False)
    with tempfile.TemporaryDirectory() as folder:
        found = messages(feishu_json.parse(write(Path(folder), data), OPTIONS))
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert [m.text for m in found] == [e[1].replace("@_all", "@所有人") for e in entries]
    assert [m.sender_id for m in found] == [e[0] for e in entries]
    assert [m.sent_at for m in found] == [epoch + timedelta(milliseconds=e[2]) for e in entries]
    assert [m.edited_at for m in found] == [epoch + timedelta(milliseconds=e[2] + 5000) if e[3] else None for e in entries]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps({"code": 0, "data": {"items": [v, {"message_id": v, "chat_id": v, "create_time": v, "msg_type": "post", "body": {"content": json.dumps(v)}}]}}).encode()),
    st.tuples(st.floats(0, 1), st.integers(0, 80), st.binary(max_size=6)).map(
        lambda t: mutate((DIR / "page_pretty.json").read_bytes(), *t)),
))
def test_junk_only_ever_raises_parse_error(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "junk.json"
        path.write_bytes(data)
        try:
            list(feishu_json.parse(path, OPTIONS))
        except ParseError:
            pass
        feishu_json.detect(path, data[:65536])
