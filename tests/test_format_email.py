"""email: .mbox (RFC 4155 mboxrd), single .eml files and folders of them.

Fixtures are written the way the real clients write mail: QQ Mail (``X-QQ-MIME: TCMime``,
``----=_NextPart_`` boundaries, GB2312-declared base64 bodies, ``原始邮件`` quote block), Outlook
zh-CN/zh-TW (``Thread-Index``, underscore rule + ``发件人:``/``寄件者:`` header block, Big5),
Gmail (``CAJ…@mail.gmail.com`` ids, multipart/alternative, two-line ``On … wrote:``), Apple Mail
(format=flowed, "Sent from my iPhone"), Outlook web HTML (``divRplyFwdMsg`` block), an mboxrd file
with ``>From `` escaping as Thunderbird/Gmail Takeout write it, and one cut in its headers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tempfile
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chataudit.errors import ParseError
from chataudit.formats import ParseOptions, email_mbox
from chataudit.formats.email_text import decode_words, html_to_text, normalize_subject, split_reply, unflow
from chataudit.model import Conversation, ConversationType, Kind, Message, normalize_text, zone

FIX = Path(__file__).parent / "fixtures" / "email"
EXPECTED = ["quote_cn.eml", "thread_en.mbox", "eml_folder"]


def options(tz: str | None = None, me: str | None = None) -> ParseOptions:
    return ParseOptions(tz=zone(tz), tz_given=tz is not None, me=me)


def records(path: Path, tz: str | None = None, me: str | None = None) -> list:
    return list(email_mbox.parse(path, options(tz, me)))


def messages(path: Path, tz: str | None = None, me: str | None = None) -> list[Message]:
    return [r for r in records(path, tz, me) if isinstance(r, Message)]


def as_dict(record) -> dict:
    if isinstance(record, Conversation):
        return {"record": "conversation", "conversation_id": record.conversation_id, "title": record.title,
                "type": str(record.type), "members": [list(m) for m in record.members]}
    extras = record.extras
    return {
        "record": "message",
        "conversation_id": record.conversation_id,
        "conversation_title": record.conversation_title,
        "sender_id": record.sender_id,
        "sender_name": record.sender_name,
        "sent_at": record.sent_at.isoformat(),
        "kind": str(record.kind),
        "text": record.text,
        "message_id": record.message_id,
        "reply_to": record.reply_to,
        "attachments": [a.as_dict() for a in record.attachments],
        "position": record.position,
        "subject": extras.get("subject"),
        "to": extras.get("to", []),
        "cc": extras.get("cc", []),
        "quoted": extras.get("quoted"),
        "signature": extras.get("signature"),
    }


def line_count(path: Path) -> int:
    data = path.read_bytes()
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


# ---- whole-fixture comparisons ------------------------------------------------------------------

@pytest.mark.parametrize("name", EXPECTED)
def test_fixture_matches_expected(name: str) -> None:
    got = [as_dict(r) for r in records(FIX / name)]
    expected = json.loads((FIX / f"{name}.expected.json").read_text(encoding="utf-8"))
    assert got == expected


# ---- QQ Mail reply: GB2312 declared, GBK-only characters, encoded words, attachment --------------

def test_qq_reply_gbk_quirk_encoded_words_and_quote() -> None:
    (message,) = messages(FIX / "quote_cn.eml")
    # 喆 is not in GB2312: a strict gb2312 decoder would fail or print U+FFFD
    assert message.sender_name == "王喆" and message.sender_id == "wangzhe@hongda-example.cn"
    assert "\ufffd" not in message.text and "王喆" in message.text
    assert "decode_errors" not in message.extras
    assert message.extras["subject"] == "回复：请更新报价单"
    assert message.conversation_title == "请更新报价单"
    assert message.extras["cc"] == [{"address": "purchase@buyer-example.cn", "name": "采购部"}]
    # new text above the QQ quote block, the block and what follows in extras
    assert message.text.startswith("王经理您好：") and message.text.endswith("电话：0755-8888 1234")
    assert "原始邮件" not in message.text and "请把第二批货" not in message.text
    assert message.extras["quoted"].startswith("------------------ 原始邮件 ------------------\n发件人:")
    assert "请把第二批货的报价单更新一下" in message.extras["quoted"]
    # thread root = References[0]; reply_to = In-Reply-To; offset kept
    assert message.conversation_id == "20240702152011.4471@buyer-example.cn"
    assert message.reply_to == "20240702152011.4471@buyer-example.cn"
    assert message.message_id == "tencent_3F2A9C1E7B5D4C0A8E61F2D3@qq.com"
    assert message.sent_at.utcoffset() == timedelta(hours=8)
    assert message.sent_at == datetime(2024, 7, 3, 1, 42, 17, tzinfo=timezone.utc)
    assert message.kind is Kind.TEXT and message.position == 1


def test_attachment_hash_is_of_the_decoded_payload() -> None:
    (message,) = messages(FIX / "quote_cn.eml")
    (attachment,) = message.attachments
    stdlib = BytesParser(policy=policy.default).parsebytes((FIX / "quote_cn.eml").read_bytes())
    (part,) = list(stdlib.iter_attachments())
    payload = part.get_payload(decode=True)
    assert payload.startswith(b"%PDF-1.4")
    assert attachment.sha256 == hashlib.sha256(payload).hexdigest()
    assert attachment.size == len(payload)
    assert attachment.name == "报价单-宏达-2024Q3.pdf"
    assert attachment.mime == "application/pdf"


# ---- a folder of .eml files: one thread, whichever way it is read ----------------------------------

def test_eml_siblings_share_the_thread_id() -> None:
    folder = FIX / "eml_folder"
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 4
    singles = [messages(f)[0] for f in files]
    root = singles[0]
    assert root.extras["thread_rule"] == "message-id"
    assert {m.conversation_id for m in singles} == {root.message_id}
    # reading the whole folder gives the same messages and one Conversation record for the thread
    together = records(folder)
    conversations = [r for r in together if isinstance(r, Conversation)]
    assert [c.conversation_id for c in conversations] == [root.message_id]
    assert conversations[0].type is ConversationType.THREAD
    assert [m.content_hash() for m in together if isinstance(m, Message)] == [m.content_hash() for m in singles]


def test_big5_outlook_block_and_rfc2231_name() -> None:
    reply = messages(FIX / "eml_folder" / "02-reply-big5.eml")[0]
    assert reply.sender_name == "陳婷"
    assert reply.text.endswith("業務部｜台灣光電股份有限公司")
    assert "寄件者" not in reply.text
    assert reply.extras["quoted"].startswith("寄件者: 李明 <liming@buyer-example.cn>\n寄件日期:")
    (sheet,) = reply.attachments
    assert sheet.name == "報價單_台灣光電_2024-07.xlsx"
    assert sheet.mime == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_outlook_zh_cn_quoted_printable_gbk_block() -> None:
    reply = messages(FIX / "eml_folder" / "03-reply-outlook.eml")[0]
    assert reply.text == "陈小姐：\n\n收到，谢谢。我们内部确认后下周一前回复。\n另：AL-220 请先按 5000 pcs 备货。\n\n李明"
    assert reply.extras["quoted"].startswith("________________________________\n发件人: 陈婷")
    assert reply.extras["cc"] == [{"address": "boss@buyer-example.cn", "name": "王总"}]
    assert reply.conversation_title == "询价：LED驱动电源及铝基板"  # 答复: 回覆: stripped


def test_html_only_qq_message_becomes_text() -> None:
    note = messages(FIX / "eml_folder" / "04-reply-qq-html.eml")[0]
    assert note.extras["html"] is True
    assert note.text == "好的，已安排备货 👍\n预计 7/10 出货。"
    assert note.extras["quoted"].startswith("------------------ Original ------------------")


# ---- the English mbox ---------------------------------------------------------------------------

def test_mbox_positions_are_separator_lines() -> None:
    path = FIX / "thread_en.mbox"
    lines = path.read_bytes().split(b"\n")
    separators = [i + 1 for i, line in enumerate(lines)
                  if line.startswith(b"From ") and (i == 0 or lines[i - 1] == b"")]
    assert [m.position for m in messages(path)] == separators == [1, 42, 74, 99, 120]


def test_mboxrd_from_unescaping() -> None:
    first, _, third, *_ = messages(FIX / "thread_en.mbox")
    raw = (FIX / "thread_en.mbox").read_text(encoding="utf-8")
    assert "\n>From the warehouse side" in raw and "\n>>From our side" in raw
    assert "\nFrom the warehouse side, all good." in first.text
    assert ">From the warehouse" not in first.text
    # ">>From" in the file is a quoted ">From" line in the mail
    assert "\n>From our side that is fine." in third.extras["quoted"]


def test_thread_signatures_quotes_and_flowed() -> None:
    first, second, third, fourth, fifth = messages(FIX / "thread_en.mbox")
    assert first.extras["signature"] == "Alice Chen | Logistics Lead, Acme Corp\n+1 415 555 0100"
    assert first.text.endswith("Thanks,\nAlice")
    # format=flowed soft break joined, iPhone signature split, top-posted quote split
    assert "The terminal wants the packing list 48 h before arrival." in second.text
    assert second.extras["signature"] == "Sent from my iPhone"
    assert second.extras["quoted"].startswith("> On 3 Mar 2026, at 02:15, Alice Chen")
    # interleaved answers stay; Gmail's two-line attribution goes with the quotes
    assert third.text == "Great, thanks! 👍\n\nI'll send it on Mar 18."
    assert third.extras["quoted"].startswith("On Tue, Mar 3, 2026 at 12:02 AM Bob Martin <\nbob@partner.example> wrote:")
    assert {m.conversation_id for m in (first, second, third, fourth, fifth)} == {first.message_id}
    assert [m.sent_at.utcoffset() for m in (first, second, third, fifth)] == [
        timedelta(hours=-8), timedelta(hours=1), timedelta(hours=-8), timedelta(hours=-7)]


def test_attachment_only_mail_without_date_uses_separator_date() -> None:
    fourth = messages(FIX / "thread_en.mbox")[3]
    assert fourth.kind is Kind.FILE
    assert fourth.text == "Packing list PL-2026-031.pdf"
    assert fourth.extras["date_source"] == "mbox separator"
    assert fourth.sent_at == datetime(2026, 3, 18, 15, 0, tzinfo=timezone.utc)
    # with --tz the asctime of the separator is read as that zone's wall clock
    shifted = messages(FIX / "thread_en.mbox", tz="Asia/Shanghai")[3]
    assert shifted.sent_at.isoformat() == "2026-03-18T15:00:00+08:00"


def test_outlook_html_latin1_and_sender_case() -> None:
    fifth = messages(FIX / "thread_en.mbox")[4]
    assert fifth.sender_id == "carol.oneil@harborfreight.example"
    assert fifth.sender_name == "O'Neil, Carol"
    assert fifth.text == "Bob, Alice – the broker needs the commercial invoice too.\nCafé meeting on Friday?"
    assert fifth.extras["quoted"].startswith("----\nFrom: Alice Chen <alice@acme.example>\nSent: Wednesday")
    assert [t["address"] for t in fifth.extras["to"]] == ["alice@acme.example", "bob@partner.example"]


def test_is_me_follows_options_me() -> None:
    got = [m.is_me for m in messages(FIX / "thread_en.mbox", me="Alice@Acme.example")]
    assert got == [True, False, True, True, False]
    assert {m.is_me for m in messages(FIX / "thread_en.mbox")} == {None}


# ---- truncation and other errors ----------------------------------------------------------------

def test_truncated_mbox_raises_with_the_last_line() -> None:
    path = FIX / "truncated.mbox"
    got: list = []
    with pytest.raises(ParseError) as caught:
        for record in email_mbox.parse(path, options()):
            got.append(record)
    assert caught.value.path == str(path)
    assert caught.value.line == line_count(path) == 47
    assert "line 42" in caught.value.message and "truncated" in caught.value.message
    assert [m.position for m in got if isinstance(m, Message)] == [1]  # the complete first message came through


def test_message_cut_before_next_separator(tmp_path: Path) -> None:
    good = (FIX / "thread_en.mbox").read_text(encoding="utf-8").split("\n")
    cut = "\n".join(good[:44]) + "\n" + "\n".join(good[73:])  # message 2 loses its header end and body
    path = tmp_path / "cut.mbox"
    path.write_text(cut, encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        list(email_mbox.parse(path, options()))
    assert caught.value.line == 45
    assert "truncated" in caught.value.message


def test_not_an_mbox_and_missing_date(tmp_path: Path) -> None:
    path = tmp_path / "x.mbox"
    path.write_text("hello\nworld\n")
    with pytest.raises(ParseError) as caught:
        list(email_mbox.parse(path, options()))
    assert caught.value.line == 1
    eml = tmp_path / "nodate.eml"
    eml.write_text("From: a@b.example\nSubject: hi\n\nbody\n")
    with pytest.raises(ParseError) as caught:
        list(email_mbox.parse(eml, options()))
    assert caught.value.line == 1 and "Date" in caught.value.message
    bad_header = tmp_path / "bad.eml"
    bad_header.write_text("From: a@b.example\nDate: Mon, 2 Mar 2026 10:00:00 +0000\nthis is not a header\n\nbody\n")
    with pytest.raises(ParseError) as caught:
        list(email_mbox.parse(bad_header, options()))
    assert caught.value.line == 3


def test_date_without_zone_uses_tz(tmp_path: Path) -> None:
    eml = tmp_path / "local.eml"
    eml.write_text("From: a@b.example\nDate: 2026-03-02 10:00:00\nSubject: x\n\nbody\n")
    (message,) = messages(eml, tz="Asia/Shanghai")
    assert message.sent_at.isoformat() == "2026-03-02T10:00:00+08:00"
    eml.write_text("From: a@b.example\nDate: Mon, 2 Mar 2026 10:00:00 -0000\nSubject: x\n\nbody\n")
    (message,) = messages(eml, tz="Asia/Shanghai")
    assert message.sent_at.isoformat() == "2026-03-02T10:00:00+00:00"


def test_raw_8bit_headers_and_filenames(tmp_path: Path) -> None:
    """Chinese webmail often sends UTF-8 or GBK header bytes without RFC 2047 encoding."""
    eml = tmp_path / "raw8bit.eml"
    eml.write_bytes(
        "From: 张三 <zhang@example.cn>\r\nTo: lisi@example.cn\r\nSubject: 回复: 合同\r\n".encode("utf-8")
        + b"Date: Mon, 2 Mar 2026 10:00:00 +0800\r\nMIME-Version: 1.0\r\n"
        + b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
        + b"Content-Type: text/plain; charset=gbk\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "合同已签，请查收。\r\n".encode("gbk")
        + b'--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="'
        + "合同.pdf".encode("gbk") + b'"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.b64encode(b"%PDF-1.4 contract") + b"\r\n--b1--\r\n"
    )
    (message,) = messages(eml)
    assert message.sender_name == "张三"
    assert message.extras["subject"] == "回复: 合同"
    assert message.conversation_title == "合同"
    assert message.text == "合同已签，请查收。"
    assert message.attachments[0].name == "合同.pdf"
    assert message.attachments[0].sha256 == hashlib.sha256(b"%PDF-1.4 contract").hexdigest()


def test_subject_fallback_thread_id(tmp_path: Path) -> None:
    eml = tmp_path / "noid.eml"
    eml.write_text("From: a@b.example\nDate: Mon, 2 Mar 2026 10:00:00 +0000\nSubject: 回复: RE:  Weekly   report\n\nok\n")
    (message,) = messages(eml)
    assert message.conversation_id == "subject:weekly report"
    assert message.extras["thread_rule"] == "subject"


# ---- detection ------------------------------------------------------------------------------------

def detect(path: Path) -> float:
    head = b"" if path.is_dir() else path.read_bytes()[:65536]
    return email_mbox.detect(path, head)


def test_detect(tmp_path: Path) -> None:
    assert detect(FIX / "thread_en.mbox") >= 0.9
    assert detect(FIX / "truncated.mbox") >= 0.9
    assert detect(FIX / "quote_cn.eml") >= 0.9
    assert detect(FIX / "eml_folder" / "03-reply-outlook.eml") >= 0.9
    assert detect(FIX / "eml_folder") == 0.0  # the importer walks folders and hands over each file
    others = {
        "chat.txt": "12/31/20, 10:00 - Alice: From now on\n12/31/20, 10:01 - Bob: ok\n",
        "result.json": '{"name": "x", "messages": []}',
        "note.txt": "From the desk of Alice\nDear Bob,\n",
        "headers.txt": "Name: Alice\nRole: admin\nTeam: blue\n\nbody",
        "day.json": '[{"type": "message", "user": "U1", "text": "From: me", "ts": "1.0"}]',
    }
    for name, content in others.items():
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        assert detect(path) == 0.0, name
    assert email_mbox.detect(tmp_path / "missing.eml", b"\x00\xff garbage") == 0.0


# ---- helpers ---------------------------------------------------------------------------------------

def test_decode_words_reads_gb2312_as_gb18030() -> None:
    word = "=?GB2312?B?" + base64.b64encode("王喆".encode("gb18030")).decode() + "?="
    assert decode_words(f'"{word}" <w@x.cn>') == "王喆 <w@x.cn>"
    assert decode_words("=?utf-8?Q?caf=C3=A9?= =?utf-8?Q?_au_lait?= ok") == "café au lait ok"
    raw_8bit = "张三".encode("gbk").decode("ascii", "surrogateescape")
    assert decode_words(raw_8bit) == "张三"


@pytest.mark.parametrize(("subject", "normalized"), [
    ("Re: RE: Fwd: FW: Weekly report", "Weekly report"),
    ("回复：答复: 转发: 询价", "询价"),
    ("Re[2]:  spaced   out  ", "spaced out"),
    ("Reply needed", "Reply needed"),
])
def test_normalize_subject(subject: str, normalized: str) -> None:
    assert normalize_subject(subject) == normalized


@pytest.mark.parametrize(("text", "new", "quoted_start", "signature"), [
    ("收到\n------------------ 原始邮件 ------------------\n发件人: x", "收到", "------------------ 原始邮件", ""),
    ("OK.\n\n-----Original Message-----\nFrom: a\nSent: b\nTo: c\n", "OK.", "-----Original Message-----", ""),
    ("好的，谢谢\n\n发件人: Acme <support@acme.test>\n发送时间: 2026年9月30日 10:00\n收件人: wang@customer.test\n主题: 报价\n\n原来的内容",
     "好的，谢谢", "发件人: Acme", ""),
    ("Sounds good.\n\nOn Tue, Sep 29, 2026 at 10:00 AM Acme <\nsupport@acme.test> wrote:\n> hi", "Sounds good.", "On Tue", ""),
    ("行\n\n> 上一封\n> 的内容", "行", "> 上一封", ""),
    ("在 2026年3月3日 10:00，Alice 写道：\n> 问题\n回答", "回答", "在 2026年3月3日", ""),
    ("Body\n-- \nAlice\nAcme", "Body", "", "Alice\nAcme"),
    ("> 全部是引用", "> 全部是引用", "", ""),
    ("From: the team, with love\nSent: yesterday", "From: the team, with love\nSent: yesterday", "", ""),
])
def test_split_reply(text: str, new: str, quoted_start: str, signature: str) -> None:
    got_new, got_quoted, got_signature = split_reply(text)
    assert got_new == new
    assert got_quoted.startswith(quoted_start) and bool(got_quoted) == bool(quoted_start)
    assert got_signature == signature


def test_html_to_text_keeps_structure() -> None:
    html = ("<html><head><style>p{margin:0}</style><title>t</title></head><body><p>陈小姐您好：</p>"
            "<ol><li>LED 2000 pcs</li><li>AL-220</li></ol>谢谢！<br>李明<br/>"
            "<blockquote type=cite><div>old&nbsp;text</div><div>more &amp; more</div></blockquote>"
            "<script>alert(1)</script></body></html>")
    assert html_to_text(html) == "陈小姐您好：\n\n- LED 2000 pcs\n- AL-220\n\n谢谢！\n李明\n> old text\n> more & more"


def test_unflow() -> None:
    assert unflow("a long \nline\n> quoted \n> more\n-- \nsig") == "a long line\n> quoted more\n-- \nsig"
    assert unflow("abc \ndef", delsp=True) == "abcdef"


# ---- properties -----------------------------------------------------------------------------------

_WORD = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFXYZ0123456789 ,.!?éü中文邮件报价你好😀"),
                min_size=1, max_size=30)
_LINE = st.one_of(_WORD, _WORD.map(lambda w: "From " + w), st.just(""))
_ZONES = st.sampled_from([timedelta(0), timedelta(hours=8), timedelta(hours=-7), timedelta(hours=5, minutes=30)])
_MAIL = st.fixed_dictionaries({
    "name": st.text(alphabet="abcdefgh XYZ王李张", min_size=1, max_size=12).map(str.strip).filter(bool),
    "local": st.text(alphabet="abcdefgh0123", min_size=1, max_size=10),
    "subject": _WORD.map(str.strip).filter(bool),
    "lines": st.lists(_LINE, min_size=1, max_size=6),
    "when": st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 1, 1)).map(lambda d: d.replace(microsecond=0)),
    "offset": _ZONES,
})


def _safe(lines: list[str]) -> bool:
    text = "\n".join(lines)
    return bool(normalize_text(text).strip()) and not re.search(r"^\s*(?:sent from|发自|来自|get outlook)", text, re.I | re.M)


def test_blanks_fold_inside_an_encoded_display_name(tmp_path: Path) -> None:
    """Found by the property below: `张  张` travels as one RFC 2047 word and came back with both blanks."""
    path = tmp_path / "one.mbox"
    path.write_bytes(b"From x@example.org Thu Jan  1 00:00:00 2015\nFrom: =?utf-8?b?5bygICDlvKA=?= <x@example.org>\n"
                     b"Date: Thu, 01 Jan 2015 00:00:00 +0000\nSubject: s\n\nhello\n")
    assert messages(path)[0].sender_name == "张 张"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_MAIL.filter(lambda m: _safe(m["lines"])), min_size=1, max_size=4))
def test_written_mbox_parses_back(mails: list[dict]) -> None:
    chunks = []
    for index, mail in enumerate(mails):
        msg = EmailMessage()
        msg["From"] = f"{mail['name']} <{mail['local']}@example.org>"
        msg["To"] = "someone@example.net"
        msg["Subject"] = mail["subject"]
        when = mail["when"].replace(tzinfo=timezone(mail["offset"]))
        msg["Date"] = format_datetime(when)
        msg["Message-ID"] = f"<m{index}@example.org>"
        msg.set_content("\n".join(mail["lines"]) + "\n")
        raw = msg.as_bytes(policy=policy.SMTP.clone(linesep="\n"))
        body = re.sub(rb"(?m)^(>*From )", rb">\1", raw)  # mboxrd escaping
        chunks.append(b"From " + mail["local"].encode() + b"@example.org Thu Jan  1 00:00:00 2015\n" + body + b"\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gen.mbox"
        path.write_bytes(b"".join(chunks))
        got = messages(path)
    assert len(got) == len(mails)
    for mail, message in zip(mails, got):
        assert normalize_text(message.text) == normalize_text("\n".join(mail["lines"]))
        assert message.sender_id == f"{mail['local']}@example.org"
        assert message.sender_name == " ".join(mail["name"].split())  # phrase blanks fold
        assert message.sent_at == mail["when"].replace(tzinfo=timezone(mail["offset"]))
        assert message.sent_at.utcoffset() == mail["offset"]
        assert message.extras["subject"] == mail["subject"]


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(["junk.mbox", "junk.eml"]), st.booleans())
def test_junk_raises_only_parse_error(data: bytes, name: str, with_separator: bool) -> None:
    if with_separator:
        data = b"From x@y Thu Jan  1 00:00:00 2015\nFrom: a@b\nDate: Thu, 1 Jan 2015 00:00:00 +0000\n" + data
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            for record in email_mbox.parse(path, options()):
                assert isinstance(record, (Message, Conversation))
        except ParseError as error:
            assert error.path == str(path)
        email_mbox.detect(path, data[:65536])


def test_unreadable_date_names_its_line(tmp_path: Path) -> None:
    eml = tmp_path / "baddate.eml"
    eml.write_text("From: a@b.example\nSubject: x\nDate: sometime last week\n\nbody\n")
    with pytest.raises(ParseError) as caught:
        list(email_mbox.parse(eml, options()))
    assert caught.value.line == 3 and "sometime last week" in caught.value.message


@pytest.mark.parametrize("raw, decoded", [
    ("0  =?utf-8?q?=C3=A9?=", "0  é"),                      # blanks before a word are text: kept
    ("=?utf-8?B?5oql5Lu3?= =?utf-8?B?5Y2V?=", "报价单"),       # blanks between two words: dropped
    ("Re: =?gb2312?B?sai827Wl?= final", "Re: 报价单 final"),  # gb2312 read as GB18030
    ("=?utf-8?q?a_b?=", "a b"),
    ("=?utf-8?x?broken?=", "=?utf-8?x?broken?="),
])
def test_encoded_words_keep_the_blanks_the_sender_wrote(raw: str, decoded: str) -> None:
    from chataudit.formats.email_text import decode_words

    assert decode_words(raw) == decoded
