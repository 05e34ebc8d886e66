"""telegram-json: Telegram Desktop's result.json (single chat and full account export).

Fixtures follow tdesktop's ``export_output_json.cpp``: one-space nesting, ``": "`` separators,
raw UTF-8, no trailing newline, ``date`` = the exporter's wall clock, ``date_unixtime`` = instant.
"""

from __future__ import annotations

import json
import re
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chataudit.errors import ParseError
from chataudit.formats import ParseOptions, telegram_json
from chataudit.model import Conversation, ConversationType, Kind, Message, zone

FIX = Path(__file__).parent / "fixtures" / "telegram"
BERLIN = ZoneInfo("Europe/Berlin")

# fixture -> (tz, me) it is parsed with for its .expected.json
CASES = {
    "personal_result.json": (None, "Bob Jones"),
    "full_result.json": (None, None),
    "old_result.json": ("Asia/Shanghai", None),
    "bom_crlf_result.json": (None, None),
    "control_chars_result.json": (None, None),
}


def options(tz: str | None = None, me: str | None = None) -> ParseOptions:
    return ParseOptions(tz=zone(tz), tz_given=tz is not None, me=me)


def records(path: Path, tz: str | None = None, me: str | None = None) -> list:
    return list(telegram_json.parse(path, options(tz, me)))


def messages(path: Path, tz: str | None = None, me: str | None = None) -> list[Message]:
    return [r for r in records(path, tz, me) if isinstance(r, Message)]


def as_dict(record) -> dict:
    if isinstance(record, Conversation):
        return {
            "record": "conversation",
            "conversation_id": record.conversation_id,
            "title": record.title,
            "type": str(record.type),
        }
    return {
        "record": "message",
        "conversation_id": record.conversation_id,
        "conversation_title": record.conversation_title,
        "message_id": record.message_id,
        "position": record.position,
        "kind": str(record.kind),
        "sent_at": record.sent_at.isoformat(),
        "edited_at": record.edited_at.isoformat() if record.edited_at else None,
        "sender_id": record.sender_id,
        "sender_name": record.sender_name,
        "is_me": record.is_me,
        "reply_to": record.reply_to,
        "text": record.text,
        "attachments": [a.as_dict() for a in record.attachments],
        "amount": record.amount,
        "currency": record.currency,
        "extras": dict(record.extras),
    }


def id_lines(path: Path) -> dict[int, int]:
    """Line of each `"id": N` that opens a message object, found independently of the parser."""
    lines = path.read_bytes().decode("utf-8-sig").split("\n")
    found: dict[int, int] = {}
    for number, line in enumerate(lines, 1):
        match = re.fullmatch(r'\s*"id": (\d+),\r?', line)
        if match and number > 1 and lines[number - 2].strip() == "{":
            found.setdefault(int(match.group(1)), number)
    return found


# ---- golden files ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture_matches_expected(name: str) -> None:
    tz, me = CASES[name]
    got = [as_dict(r) for r in records(FIX / name, tz, me)]
    expected = json.loads((FIX / name.replace(".json", ".expected.json")).read_text(encoding="utf-8"))
    assert got == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_positions_are_the_lines_of_each_message_id(name: str) -> None:
    tz, me = CASES[name]
    path = FIX / name
    got = {(m.conversation_id, m.message_id): m.position for m in messages(path, tz, me)}
    lines = path.read_bytes().decode("utf-8-sig").split("\n")
    for (_, message_id), position in got.items():
        assert re.fullmatch(rf'\s*"id": {message_id},\r?', lines[position - 1]), (message_id, position)
    assert len(set(got.values())) == len(got)


# ---- single-chat export ---------------------------------------------------------------------


def test_personal_chat_conversation_and_senders() -> None:
    recs = records(FIX / "personal_result.json", me="Bob Jones")
    conversation = recs[0]
    assert isinstance(conversation, Conversation)
    assert (conversation.conversation_id, conversation.title, conversation.type) == (
        "5550001111", "Alice Schmidt", ConversationType.PRIVATE,
    )
    msgs = [r for r in recs if isinstance(r, Message)]
    assert len(msgs) == 16  # every message, the unsupported one included
    by_id = {m.message_id: m for m in msgs}
    assert by_id["101"].sender_id == "user5550001111" and by_id["101"].is_me is False
    assert by_id["102"].sender_name == "Bob Jones" and by_id["102"].is_me is True
    # service messages take actor / actor_id as the sender
    assert (by_id["108"].sender_id, by_id["108"].sender_name) == ("user5550002222", "Bob Jones")
    # without --me (and no personal_information) nobody is known to be "me"
    assert {m.is_me for m in messages(FIX / "personal_result.json")} == {None}


def test_instants_and_the_exporters_offset() -> None:
    by_id = {m.message_id: m for m in messages(FIX / "personal_result.json")}
    first = by_id["101"]
    # date_unixtime is the instant; "date" (15:23:05 wall clock in Berlin, CET) gives the offset
    assert first.sent_at == datetime(2026, 3, 12, 14, 23, 5, tzinfo=timezone.utc)
    assert first.sent_at.utcoffset() == timedelta(hours=1)
    assert first.sent_at.isoformat() == "2026-03-12T15:23:05+01:00"
    # after the DST switch on 29 March the exporter's offset is +02:00, message by message
    assert by_id["111"].sent_at.isoformat() == "2026-03-29T10:15:00+02:00"
    assert by_id["111"].sent_at.timestamp() == 1774772100
    # edited / edited_unixtime
    assert by_id["102"].edited_at == datetime(2026, 3, 12, 15, 26, 2, tzinfo=BERLIN)
    assert by_id["101"].edited_at is None


def test_given_time_zone_shows_the_same_instants_there() -> None:
    plain = {m.message_id: m.sent_at for m in messages(FIX / "personal_result.json")}
    tokyo = {m.message_id: m.sent_at for m in messages(FIX / "personal_result.json", tz="Asia/Tokyo")}
    assert plain == tokyo  # aware datetimes compare as instants
    assert tokyo["101"].isoformat() == "2026-03-12T23:23:05+09:00"


def test_text_entities_multiline_emoji_and_replies() -> None:
    by_id = {m.message_id: m for m in messages(FIX / "personal_result.json")}
    assert by_id["102"].text == "Hey Alice!\nYes — wouldn't miss it 😄\nShall I bring the cake?"
    assert by_id["102"].reply_to == "101"
    assert by_id["103"].text == (
        "Great! Check this out: https://example.org/bakery — ask for the lemon tart, and tell @carol_b 🍋"
    )
    assert by_id["103"].extras["links"] == ["https://example.org/bakery/lemon-tart"]
    assert by_id["112"].text == "Family photo time 👨\u200d👩\u200d👧"
    assert by_id["116"].text == 'She said "see you"\tthen left \\o/'


def test_media_kinds_and_attachments() -> None:
    by_id = {m.message_id: m for m in messages(FIX / "personal_result.json")}
    kinds = {k: by_id[k].kind for k in ("104", "105", "106", "107", "108", "109", "110", "113", "114", "115")}
    assert kinds == {
        "104": Kind.IMAGE, "105": Kind.VOICE, "106": Kind.FILE, "107": Kind.SYSTEM, "108": Kind.CALL,
        "109": Kind.CALL, "110": Kind.STICKER, "113": Kind.LOCATION, "114": Kind.VIDEO, "115": Kind.OTHER,
    }
    photo = by_id["104"].attachments[0]
    assert (photo.path, photo.size, photo.name) == (
        "photos/photo_1@12-03-2026_15-30-10.jpg", 184233, "photo_1@12-03-2026_15-30-10.jpg",
    )
    voice = by_id["105"]
    assert voice.text == "[voice message 0:07]"
    assert (voice.attachments[0].mime, voice.attachments[0].size) == ("audio/ogg", 23552)
    pdf = by_id["106"]
    assert pdf.text == "Here's the checklist"  # the caption wins over the file name
    assert pdf.attachments[0].as_dict() == {
        "name": "Party checklist.pdf", "size": 48213, "mime": "application/pdf", "path": "files/Party checklist.pdf",
    }
    # a file the export left out: no path, but name and size as the exporter wrote them
    video = by_id["114"]
    assert video.attachments[0].path is None and video.attachments[0].name == "holiday.mp4"
    assert video.extras["media_missing"].startswith("(File not included.")
    assert by_id["110"].text == "[sticker 😂]"
    assert by_id["113"].text == "[location] 52.520008, 13.404954"


def test_service_messages_and_calls() -> None:
    by_id = {m.message_id: m for m in messages(FIX / "personal_result.json")}
    assert by_id["107"].text == "Alice Schmidt pinned message 106"
    assert by_id["107"].extras["message_id"] == 106
    call = by_id["108"]
    assert call.text == "Phone call, 2:05 (hangup)"
    assert (call.extras["duration_seconds"], call.extras["discard_reason"]) == (125, "hangup")
    assert by_id["109"].text == "Phone call (missed)"


def test_unsupported_message_is_kept_with_its_neighbours_instant() -> None:
    by_id = {m.message_id: m for m in messages(FIX / "personal_result.json")}
    unsupported = by_id["115"]
    assert unsupported.kind is Kind.OTHER and unsupported.extras["unsupported"] is True
    assert unsupported.sent_at == by_id["114"].sent_at


# ---- full account export --------------------------------------------------------------------


def test_full_export_chats_types_and_me() -> None:
    recs = records(FIX / "full_result.json")
    conversations = [r for r in recs if isinstance(r, Conversation)]
    assert [(c.conversation_id, c.title, c.type) for c in conversations] == [
        ("5550001111", "Alice Schmidt", ConversationType.PRIVATE),
        ("1790012345", "Weekend Hikers 🥾", ConversationType.GROUP),
        ("5550002222", "Saved Messages", ConversationType.PRIVATE),
        ("1550098765", "Trail News", ConversationType.CHANNEL),
    ]
    msgs = [r for r in recs if isinstance(r, Message)]
    # frequent_contacts / contacts / profile_pictures are not messages
    assert len(msgs) == 12
    # personal_information.user_id 5550002222 identifies "me" without --me
    assert {m.sender_name for m in msgs if m.is_me} == {"Bob Jones"}
    assert all(m.is_me is False for m in msgs if m.sender_id != "user5550002222")
    # each record knows its conversation
    group = [m for m in msgs if m.conversation_id == "1790012345"]
    assert [m.message_id for m in group] == ["1", "2", "3", "4", "5", "6", "7", "8"]
    assert {m.conversation_title for m in group} == {"Weekend Hikers 🥾"}


def test_full_export_group_content() -> None:
    group = {m.message_id: m for m in messages(FIX / "full_result.json") if m.conversation_id == "1790012345"}
    assert group["2"].kind is Kind.SYSTEM and group["2"].text == "Bob Jones added Alice Schmidt, Chen Wei"
    assert group["3"].text == "大家好！周六几点集合？" and group["3"].sender_id == "user5550003333"
    assert group["4"].reply_to == "3"
    assert group["6"].kind is Kind.POLL and group["6"].text == "[poll] Which trail?\n- Grunewald\n- Spreewald"
    assert group["7"].kind is Kind.CALL and group["7"].extras["duration"] == 1830
    assert group["8"].text == "Chen Wei left the group"


def test_left_channel_post() -> None:
    post = [m for m in messages(FIX / "full_result.json") if m.conversation_id == "1550098765"][0]
    assert (post.sender_id, post.sender_name) == ("channel1550098765", "Trail News")
    assert post.text == "Trail closed\nThe northern loop is closed until April."
    assert post.extras["author"] == "Editor Jane" and post.extras["left_chat"] is True


# ---- old export (no date_unixtime, integer from_id) -----------------------------------------


def test_old_export_wall_clock_is_read_in_the_given_zone() -> None:
    msgs = messages(FIX / "old_result.json", tz="Asia/Shanghai")
    first = msgs[0]
    assert first.sent_at == datetime(2019, 6, 1, 1, 30, tzinfo=timezone.utc)
    assert first.sent_at.isoformat() == "2019-06-01T09:30:00+08:00"
    assert first.sender_id == "user123456789"  # plain integer ids of pre-2020 exports
    assert msgs[1].text == "好的，十二点见 🍜" and msgs[1].reply_to == "1"
    assert msgs[1].edited_at == datetime(2019, 6, 1, 9, 32, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert msgs[2].kind is Kind.CALL and msgs[2].sender_id == "user987654321"
    # a photo that was not exported: caption kept, no empty attachment
    assert msgs[3].kind is Kind.IMAGE and msgs[3].text == "好吃" and msgs[3].attachments == ()
    # without --tz the wall clock is taken as UTC
    assert messages(FIX / "old_result.json")[0].sent_at.isoformat() == "2019-06-01T09:30:00+00:00"


# ---- encodings and exporter quirks ----------------------------------------------------------


def test_bom_and_crlf() -> None:
    path = FIX / "bom_crlf_result.json"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf") and b"\r\n" in path.read_bytes()
    msgs = messages(path)
    assert [m.position for m in msgs] == [7, 23, 38]
    assert msgs[1].text == "春节快乐！🧧\n大家初一见"
    assert msgs[0].sent_at.isoformat() == "2026-01-28T20:00:00+08:00"


def test_utf16_copy_parses_the_same(tmp_path: Path) -> None:
    source = FIX / "personal_result.json"
    copy = tmp_path / "result.json"
    copy.write_bytes(source.read_text(encoding="utf-8").encode("utf-16"))
    assert [as_dict(r) for r in records(copy)] == [as_dict(r) for r in records(source)]


def test_tdesktop_control_character_escapes() -> None:
    (message,) = messages(FIX / "control_chars_result.json")
    # "\x0B" (tdesktop's non-JSON escape) is a vertical tab; "\\x01" is a backslash then "x01"
    assert message.text == "col1\x0bcol2 path C:\\x01\\temp"


# ---- errors ---------------------------------------------------------------------------------


def test_truncated_file_names_the_last_line_and_yields_no_partial_message() -> None:
    path = FIX / "truncated_result.json"
    got = []
    with pytest.raises(ParseError) as caught:
        for record in telegram_json.parse(path, options()):
            got.append(record)
    assert caught.value.line == path.read_text(encoding="utf-8").count("\n") + 1 == 132
    assert caught.value.path == str(path)
    assert "truncated" in caught.value.message
    assert [r.message_id for r in got if isinstance(r, Message)] == ["101", "102", "103", "104"]


def test_malformed_message_names_its_line() -> None:
    with pytest.raises(ParseError) as caught:
        records(FIX / "bad_date_result.json")
    assert caught.value.line == 22
    assert "message 2" in caught.value.message and "date_unixtime" in caught.value.message


def test_invalid_json_from_tdesktop_custom_emoji_bug_names_its_line() -> None:
    path = FIX / "custom_emoji_bug_result.json"
    with pytest.raises(ParseError) as caught:
        records(path)
    assert caught.value.line == 33
    assert path.read_text(encoding="utf-8").split("\n")[32].strip().startswith('"document_id": video_files')


def big_export(count: int) -> dict:
    base = 1_773_300_000
    return {
        "name": "Big", "type": "private_supergroup", "id": 42,
        "messages": [
            {"id": i, "type": "message", "date": "2026-03-12T10:00:00", "date_unixtime": str(base + i),
             "from": "Ann" if i % 2 else "Ben", "from_id": "user1" if i % 2 else "user2",
             "text": f"message {i} " + "x" * (i % 50), "text_entities": []}
            for i in range(1, count + 1)
        ],
    }


def test_syntax_error_deep_in_a_large_file_names_its_exact_line(tmp_path: Path) -> None:
    text = json.dumps(big_export(3000), indent=1, ensure_ascii=False)
    lines = text.split("\n")
    target = next(n for n, line in enumerate(lines) if line.startswith('   "text": "message 2500 '))
    lines[target] = lines[target].rstrip(",")  # a missing comma
    path = tmp_path / "result.json"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert path.stat().st_size > 256 * 1024  # well past ijson's first buffers
    got = []
    with pytest.raises(ParseError) as caught:
        for record in telegram_json.parse(path, options()):
            got.append(record)
    assert caught.value.line == target + 2  # the key after the missing comma
    assert len([r for r in got if isinstance(r, Message)]) < 2500


def test_malformed_message_in_a_large_file(tmp_path: Path) -> None:
    doc = big_export(3000)
    doc["messages"][1999]["text"] = 17  # neither string nor array
    path = tmp_path / "result.json"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        records(path)
    assert caught.value.line == id_lines(path)[2000]
    assert "message 2000" in caught.value.message


def test_minified_export_parses_with_line_one(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(big_export(50), separators=(",", ":")), encoding="utf-8")
    msgs = messages(path)
    assert len(msgs) == 50 and {m.position for m in msgs} == {1}
    assert msgs[-1].sent_at.timestamp() == 1_773_300_050


@pytest.mark.parametrize(
    "content, where",
    [
        (b'[{"id": 1}]', 1),
        (b'{"foo": 1}', 1),
        (b"", 1),
        (b'{\n "name": "A",\n "type": "personal_chat",\n "id": "seven",\n "messages": [\n  {"id": 1, "date": "2026-01-01T00:00:00"}\n ]\n}', 5),
    ],
)
def test_not_an_export(tmp_path: Path, content: bytes, where: int) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(content)
    with pytest.raises(ParseError) as caught:
        records(path)
    assert caught.value.line == where


# ---- other message shapes, written as tdesktop writes them ----------------------------------


def single_chat(tmp_path: Path, *msgs: dict, chat_type: str = "personal_chat") -> Path:
    path = tmp_path / "result.json"
    path.write_text(
        json.dumps({"name": "Chat", "type": chat_type, "id": 7, "messages": list(msgs)}, indent=1, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


def message(i: int, **fields) -> dict:
    return {"id": i, "type": "message", "date": "2026-05-01T12:00:00", "date_unixtime": "1777629600",
            "from": "Ann", "from_id": "user1", **fields}


def test_more_media_types(tmp_path: Path) -> None:
    path = single_chat(
        tmp_path,
        message(1, file="video_files/cat.mp4", media_type="animation", mime_type="video/mp4", text=""),
        message(2, file="round_video_messages/file_1.mp4", media_type="video_message", duration_seconds=12, text=""),
        message(3, file="files/song.mp3", file_name="song.mp3", media_type="audio_file", performer="Nena",
                title="99 Luftballons", mime_type="audio/mpeg", text=""),
        message(4, file="files/data.bin", text=""),
        message(5, place_name="Brandenburger Tor", address="Pariser Platz, Berlin",
                location_information={"latitude": 52.516275, "longitude": 13.377704}, text=""),
        message(6, contact_information={"first_name": "Eve", "last_name": "", "phone_number": "+1 555 0100"},
                contact_vcard="contacts/contact_1.vcard", text=""),
        message(7, text="", todo_list={"title": "Packing", "answers": []}),
    )
    by_id = {m.message_id: m for m in messages(path)}
    assert [by_id[str(i)].kind for i in range(1, 8)] == [
        Kind.VIDEO, Kind.VIDEO, Kind.FILE, Kind.FILE, Kind.LOCATION, Kind.CONTACT, Kind.OTHER,
    ]
    assert by_id["1"].text == "[GIF]"
    assert by_id["2"].text == "[video message 0:12]"
    assert by_id["3"].text == "Nena – 99 Luftballons"
    assert by_id["4"].text == "data.bin" and by_id["4"].attachments[0].path == "files/data.bin"
    assert by_id["5"].text == "[location] Brandenburger Tor, Pariser Platz, Berlin"
    assert by_id["6"].text == "[contact] Eve +1 555 0100"
    assert by_id["6"].attachments[0].path == "contacts/contact_1.vcard"
    assert by_id["7"].text == "[to-do list] Packing"


def test_payment_amounts_are_decimal_strings_in_major_units(tmp_path: Path) -> None:
    def payment(i: int, amount: int, currency: str) -> dict:
        return {"id": i, "type": "service", "date": "2026-05-01T12:00:00", "date_unixtime": "1777629600",
                "action": "send_payment", "amount": amount, "currency": currency, "invoice_message_id": 3,
                "text": "", "text_entities": []}

    path = single_chat(tmp_path, payment(1, 1250, "EUR"), payment(2, 500, "JPY"), chat_type="bot_chat")
    euro, yen = messages(path)
    assert (euro.kind, euro.amount, euro.currency) == (Kind.TRANSFER, "12.50", "EUR")
    assert (yen.amount, yen.currency) == ("500", "JPY")
    assert euro.text == "Payment sent: 12.50 EUR"


def test_me_matches_sender_name_case_insensitively(tmp_path: Path) -> None:
    path = single_chat(tmp_path, message(1, text="hi"), message(2, text="yo", **{"from": "Ben", "from_id": "user2"}))
    assert [m.is_me for m in messages(path, me="ann")] == [True, False]
    assert [m.is_me for m in messages(path, me="user2")] == [False, True]


# ---- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["personal_result.json", "full_result.json", "old_result.json", "bom_crlf_result.json", "truncated_result.json"]
)
def test_detects_fixtures(name: str) -> None:
    path = FIX / name
    assert telegram_json.detect(path, path.read_bytes()[:65536]) >= 0.9


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"12/03/2026, 15:23 - Alice: Hi Bob!\n12/03/2026, 15:24 - Bob: hey\n",
        "[2026/3/12 15:23:05] 张三: 你好\n".encode("gb18030"),
        b"talker,time,type,content\nwxid_1,2026-03-12 15:23:05,1,hi\n",
        b'[{"id": 1, "text": "hi"}]',
        b'{"messages": [{"sender_name": "Alice", "timestamp_ms": 1773325385000, "content": "hi"}]}',
        b'{"name": "package", "type": "module", "version": "1.0.0"}',
        b"<!DOCTYPE html>\n<html><head><title>Exported Data</title></head><body class=\"history\">",
        b"\x00\x01\x02\xff\xfe binary junk",
    ],
)
def test_does_not_claim_other_files(tmp_path: Path, head: bytes) -> None:
    assert telegram_json.detect(tmp_path / "x", head) == 0.0


# ---- properties -----------------------------------------------------------------------------

ENTITY_TYPES = ["bold", "italic", "link", "mention", "code", "text_link", "spoiler", "custom_emoji"]
SENDERS = [("Ann Lee", "user1"), ("Bo 波", "user22"), ("Trail News", "channel333"), (None, "user4")]
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@st.composite
def generated_messages(draw) -> list[dict]:
    out = []
    moment = draw(st.integers(0, 2_000_000_000))
    for i in range(1, draw(st.integers(1, 12)) + 1):
        moment += draw(st.integers(0, 10**7))
        name, peer = draw(st.sampled_from(SENDERS))
        parts = draw(st.lists(st.tuples(texts, st.sampled_from(["plain", *ENTITY_TYPES])), max_size=4))
        text: object
        if len(parts) == 1 and parts[0][1] == "plain":
            text = parts[0][0]
        else:
            text = [p if kind == "plain" else {"type": kind, "text": p} for p, kind in parts]
        local = datetime.fromtimestamp(moment, BERLIN).replace(tzinfo=None).isoformat()
        out.append({"id": i, "type": "message", "date": local, "date_unixtime": str(moment),
                    "from": name, "from_id": peer, "text": text,
                    "text_entities": [{"type": kind, "text": p} for p, kind in parts]})
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_messages(), st.sampled_from(["personal_chat", "private_supergroup", "public_channel"]))
def test_roundtrip_of_generated_exports(msgs: list[dict], chat_type: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "result.json"
        path.write_text(json.dumps({"name": "G", "type": chat_type, "id": 99, "messages": msgs}, indent=1,
                                   ensure_ascii=False), encoding="utf-8")
        parsed = messages(path)
        lines = id_lines(path)
    assert len(parsed) == len(msgs)
    for source, got in zip(msgs, parsed):
        text = source["text"]
        expected_text = text if isinstance(text, str) else "".join(
            p if isinstance(p, str) else p["text"] for p in text
        )
        assert got.text == expected_text
        assert got.sent_at.timestamp() == int(source["date_unixtime"])
        assert got.sent_at.replace(tzinfo=None).isoformat() == source["date"]  # the exporter's offset
        assert (got.sender_id, got.sender_name) == (source["from_id"], source["from"])
        assert got.message_id == str(source["id"]) and got.position == lines[source["id"]]
        assert got.kind is Kind.TEXT


PERSONAL = (FIX / "personal_result.json").read_bytes()
FULL_PARSE = [(m.message_id, m.text) for m in messages(FIX / "personal_result.json")]


@settings(max_examples=80, deadline=None)
@given(st.integers(0, len(PERSONAL) - 1))
def test_any_truncation_raises_after_only_good_records(cut: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "result.json"
        path.write_bytes(PERSONAL[:cut])
        got = []
        with pytest.raises(ParseError) as caught:
            for record in telegram_json.parse(path, options()):
                got.append(record)
    seen = [(m.message_id, m.text) for m in got if isinstance(m, Message)]
    assert seen == FULL_PARSE[: len(seen)]
    assert 1 <= caught.value.line <= PERSONAL[:cut].count(b"\n") + 1


@settings(max_examples=120, deadline=None)
@given(st.integers(0, len(PERSONAL) - 1), st.binary(min_size=1, max_size=3))
def test_corrupted_bytes_give_records_or_parse_error(at: int, junk: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "result.json"
        path.write_bytes(PERSONAL[:at] + junk + PERSONAL[at + len(junk):])
        try:
            for record in telegram_json.parse(path, options()):
                assert isinstance(record, (Conversation, Message))
                if isinstance(record, Message):
                    json.dumps(dict(record.extras))  # extras stay JSON-serializable
                    assert record.sent_at.tzinfo is not None
        except ParseError as error:
            assert error.line is None or error.line >= 1
