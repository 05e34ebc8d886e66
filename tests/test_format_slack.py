"""slack-export: a Slack workspace export folder (or its ZIP).

The fixture follows Slack's help page "How to read Slack data exports" and real exports: users.json,
channels.json, groups.json, dms.json, mpims.json, integration_logs.json, canvases.json at the root;
one folder per conversation (channels and group DMs by name, DMs by id) with YYYY-MM-DD.json day
files written like Slack writes them (4-space indent, ``\\/`` and ``\\uXXXX`` escapes, ``ts`` strings,
``user_profile``, ``blocks``, ``files`` with ``url_private?t=xoxe-…``, ``tombstone`` thread parents,
``huddle_thread`` rooms posted by USLACKBOT, ``bot_message`` with ``attachments``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chataudit.errors import ParseError
from chataudit.formats import ParseOptions, slack_export
from chataudit.model import Conversation, ConversationType, Kind, Message, zone

FIX = Path(__file__).parent / "fixtures" / "slack"
EXPORT = FIX / "acme_export"
BROKEN = FIX / "broken_export"


def options(tz: str | None = None, me: str | None = None) -> ParseOptions:
    return ParseOptions(tz=zone(tz), tz_given=tz is not None, me=me)


def records(path: Path, tz: str | None = None, me: str | None = None) -> list:
    return list(slack_export.parse(path, options(tz, me)))


def messages(path: Path = EXPORT, tz: str | None = None, me: str | None = None) -> list[Message]:
    return [r for r in records(path, tz, me) if isinstance(r, Message)]


def by_id(path: Path = EXPORT, **kwargs) -> dict[str, Message]:
    return {m.message_id: m for m in messages(path, **kwargs)}


def as_dict(record) -> dict:
    if isinstance(record, Conversation):
        return {"record": "conversation", "conversation_id": record.conversation_id, "title": record.title,
                "type": str(record.type), "members": [list(m) for m in record.members]}
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
        "edited_at": record.edited_at.isoformat() if record.edited_at else None,
        "attachments": [a.as_dict() for a in record.attachments],
        "position": record.position,
        "file": record.extras["file"],
        "line": record.extras["line"],
        "subtype": record.extras.get("subtype"),
        "side": record.extras.get("side"),
    }


def test_fixture_matches_expected() -> None:
    got = [as_dict(r) for r in records(EXPORT)]
    expected = json.loads((FIX / "acme_export.expected.json").read_text(encoding="utf-8"))
    assert got == expected


# ---- conversations ---------------------------------------------------------------------------------

def test_conversation_records() -> None:
    conversations = {c.conversation_id: c for c in records(EXPORT) if isinstance(c, Conversation)}
    assert set(conversations) == {"C01GENERAL1", "C03LEADERS3", "D01ALIFANG1", "C04MPDM0004", "old-project"}
    general = conversations["C01GENERAL1"]
    assert general.title == "#general" and general.type is ConversationType.CHANNEL
    assert general.members == (("U01ALICE001", "alice"), ("U02FANG0002", "Fang 王芳"), ("U03BOB00003", "Bob Smith"))
    assert conversations["C03LEADERS3"].title == "#leadership"  # private channel from groups.json
    assert conversations["D01ALIFANG1"].type is ConversationType.PRIVATE
    assert conversations["D01ALIFANG1"].title == "alice, Fang 王芳"
    assert conversations["C04MPDM0004"].type is ConversationType.GROUP
    # a folder without an entry in the metadata files keeps its folder name as id
    assert conversations["old-project"].type is ConversationType.UNKNOWN
    # every Conversation comes before its messages
    seen: set[str] = set()
    for record in records(EXPORT):
        if isinstance(record, Conversation):
            seen.add(record.conversation_id)
        else:
            assert record.conversation_id in seen


# ---- message fields --------------------------------------------------------------------------------

def test_text_rendering_mentions_links_entities() -> None:
    m = by_id()
    welcome = m["1709543100.123456"]
    assert welcome.text == "Welcome @Fang 王芳! :tada: Please read the onboarding guide before Friday."
    assert welcome.extras["links"] == ["https://wiki.acme.example/onboarding"]
    assert welcome.extras["reactions"] == [{"name": "tada", "count": 2, "users": ["U02FANG0002", "U03BOB00003"]}]
    assert m["1709543700.000400"].text.endswith("not the staging one & never share it <3")
    assert m["1709544000.000500"].text == "Also ping @it-team if it fails."
    assert m["1709629200.000100"].text.startswith("@here Q1 report attached")
    assert m["1709600100.000200"].text == "@Fang 王芳 budget numbers for Q2 are in the sheet, see #general for the announcement draft"
    # multi-line text with a code block survives as is
    assert m["1709544300.000600"].text.count("\n") == 4
    assert m["1709543400.200300"].text == "谢谢！Thanks everyone 🙏\nQuick question: where do I find the VPN config?"


def test_instants_positions_and_files() -> None:
    m = by_id()
    welcome = m["1709543100.123456"]
    assert welcome.sent_at == datetime(2024, 3, 4, 9, 5, 0, 123456, tzinfo=timezone.utc)
    assert welcome.position == 2
    assert welcome.extras["file"] == "general/2024-03-04.json"
    raw_lines = (EXPORT / "general" / "2024-03-04.json").read_text().split("\n")
    assert raw_lines[welcome.extras["line"] - 1] == "    {"
    assert '"ts": "1709543100.123456"' in "\n".join(raw_lines[welcome.extras["line"]: welcome.extras["line"] + 6])
    second_day = m["1709629200.000100"]
    assert second_day.position == 1 and second_day.extras["file"] == "general/2024-03-05.json"


def test_tz_option_changes_offset_not_instant() -> None:
    utc = by_id()
    shanghai = by_id(tz="Asia/Shanghai")
    for key, message in utc.items():
        assert shanghai[key].sent_at == message.sent_at
        assert shanghai[key].sent_at.utcoffset() == timedelta(hours=8)
    assert shanghai["1709604000.000100"].sent_at.isoformat() == "2024-03-05T10:00:00.000100+08:00"


def test_subtype_mapping() -> None:
    m = by_id()
    assert m["1709542800.000100"].kind is Kind.SYSTEM  # channel_join
    assert m["1709542800.000100"].text == "@Fang 王芳 has joined the channel"
    assert m["1709545500.000800"].kind is Kind.SYSTEM  # channel_topic
    assert m["1709632800.000200"].kind is Kind.SYSTEM  # channel_leave
    tombstone = m["1709546100.001000"]
    assert tombstone.kind is Kind.RECALL and tombstone.text == "This message was deleted."
    assert m["1709546160.001100"].reply_to == "1709546100.001000"  # the reply to the deleted parent stays
    huddle = m["1709546400.001200"]
    assert huddle.kind is Kind.CALL
    assert huddle.sender_id == "U01ALICE001" and huddle.extras["posted_by"] == "USLACKBOT"
    assert huddle.text == "Huddle (15 min): alice, Fang 王芳"
    assert huddle.extras["duration_s"] == 900
    bot = m["1709545200.000700"]
    assert bot.kind is Kind.TEXT and bot.extras["side"] == "bot"
    assert bot.sender_id == "B04DEPLOY04" and bot.sender_name == "Deploy Bot"
    assert bot.extras["attachments"][0]["title_link"] == "https://ci.acme.example/runs/418"


def test_threads_and_edits() -> None:
    m = by_id()
    parent = m["1709543400.200300"]
    assert parent.reply_to is None and parent.extras["reply_count"] == 2
    assert m["1709543700.000400"].reply_to == "1709543400.200300"
    broadcast = m["1709544000.000500"]
    assert broadcast.reply_to == "1709543400.200300" and broadcast.extras["subtype"] == "thread_broadcast"
    edited = m["1709544300.000600"]
    assert edited.edited_at == datetime(2024, 3, 4, 9, 27, tzinfo=timezone.utc)
    assert all(x.edited_at is None for k, x in m.items() if k != "1709544300.000600")


def test_files_become_attachments() -> None:
    m = by_id()
    image = m["1709545800.000900"]
    assert image.kind is Kind.IMAGE and image.text == "screenshot 2024-03-04.png"
    (attachment,) = image.attachments
    assert attachment.size == 183422 and attachment.mime == "image/png"
    assert attachment.path == "https://files.slack.com/files-pri/T01ACME0001-F01SCREEN01/download/screenshot_2024-03-04.png"
    assert "xoxe" not in json.dumps([a.as_dict() for x in m.values() for a in x.attachments])
    report = m["1709629200.000100"]
    assert report.kind is Kind.FILE and [a.name for a in report.attachments] == ["Q1-report.pdf"]
    assert report.extras["files_unavailable"] == ["F03GONE0003"]
    voice = m["1709690400.000100"]
    assert voice.kind is Kind.VOICE and voice.extras["transcripts"] == ["大家好"]


def test_is_me() -> None:
    mine = {k for k, x in by_id(me="fang.wang").items() if x.is_me}
    assert mine == {"1709542800.000100", "1709543400.200300", "1709545800.000900", "1709604000.000100", "1709690400.000100"}
    assert {x.is_me for x in messages()} == {None}


# ---- layouts: nested folder after unzip, the ZIP itself ---------------------------------------------

def test_nested_folder_and_zip_read_alike(tmp_path: Path) -> None:
    nested = tmp_path / "Acme Slack export Mar 1 2024 - Mar 6 2024"
    shutil.copytree(EXPORT, nested)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for file in sorted(EXPORT.rglob("*")):
            if file.is_file():
                z.write(file, file.relative_to(EXPORT).as_posix())
    expected = [as_dict(r) for r in records(EXPORT)]
    assert [as_dict(r) for r in records(tmp_path)] == expected  # parent of the unzipped folder
    assert [as_dict(r) for r in records(archive)] == expected
    assert slack_export.detect(archive, archive.read_bytes()[:65536]) == 0.95
    # the parent folder is not claimed (it may hold other platforms' exports too): the importer
    # walks it and finds the export folder inside
    assert slack_export.detect(tmp_path, b"") == 0.0
    assert slack_export.detect(nested, b"") == 0.95


def test_detect(tmp_path: Path) -> None:
    assert slack_export.detect(EXPORT, b"") == 0.95
    day = EXPORT / "general" / "2024-03-04.json"
    assert slack_export.detect(day, day.read_bytes()[:65536]) == 0.0
    assert slack_export.detect(EXPORT / "users.json", (EXPORT / "users.json").read_bytes()[:65536]) == 0.0
    assert slack_export.detect(FIX.parent / "email", b"") == 0.0
    other = tmp_path / "other"
    (other / "general").mkdir(parents=True)
    (other / "general" / "notes.json").write_text("[]")
    (other / "channels.json").write_text("[]")
    assert slack_export.detect(other, b"") == 0.0  # no dated day files
    zipped = tmp_path / "photos.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("a/2024-01-01.json", "[]")
    assert slack_export.detect(zipped, zipped.read_bytes()) == 0.0
    assert slack_export.detect(tmp_path / "nope.zip", b"PK\x03\x04junk") == 0.0


# ---- errors ----------------------------------------------------------------------------------------

def test_truncated_day_file_names_file_and_line() -> None:
    got: list = []
    with pytest.raises(ParseError) as caught:
        for record in slack_export.parse(BROKEN, options()):
            got.append(record)
    day = BROKEN / "general" / "2024-03-05.json"
    assert caught.value.path == str(day)
    assert caught.value.line == len(day.read_text().split("\n")) == 52
    assert "truncated" in caught.value.message
    assert len([r for r in got if isinstance(r, Message)]) == 12  # the whole first day came through


def _export_with(tmp_path: Path, day_text: str) -> Path:
    root = tmp_path / "export"
    (root / "general").mkdir(parents=True)
    shutil.copy(EXPORT / "users.json", root / "users.json")
    shutil.copy(EXPORT / "channels.json", root / "channels.json")
    (root / "general" / "2024-03-04.json").write_text(day_text, encoding="utf-8")
    return root


@pytest.mark.parametrize(("day_text", "line", "words"), [
    ('{"ts": "1.0"}', 1, "JSON array"),
    ('[\n    {\n        "text": "no ts",\n        "user": "U1"\n    }\n]', 2, "ts"),
    ('[\n    {"ts": "1709542800.000100", "text": "ok"},\n    "just a string"\n]', 3, "not a JSON object"),
    ('[\n    {"ts": "1709542800.000100", "text": "ok"}\n]\n]', 4, "extra data"),
    ('[\n    {"ts": "1709542800.000100", "text": "ok"}\n    {"ts": "1709542900.000100"}\n]', 3, "expected ','"),
    ('[\n    {"ts": "1709542800.000100", "text": "ok",}\n]', 2, "malformed JSON"),
    ('[\n    {"ts": "yesterday", "text": "ok"}\n]', 2, "ts"),
])
def test_malformed_day_files(tmp_path: Path, day_text: str, line: int, words: str) -> None:
    root = _export_with(tmp_path, day_text)
    with pytest.raises(ParseError) as caught:
        list(slack_export.parse(root, options()))
    assert caught.value.path == str(root / "general" / "2024-03-04.json")
    assert caught.value.line == line
    assert words in caught.value.message


def test_bad_metadata_and_encoding(tmp_path: Path) -> None:
    root = _export_with(tmp_path, '[\n    {"ts": "1709542800.000100", "text": "caf\xe9"}\n]')
    (root / "general" / "2024-03-04.json").write_bytes(b'[\n    {"ts": "1709542800.000100",\n "text": "caf\xe9"}\n]')
    with pytest.raises(ParseError) as caught:
        list(slack_export.parse(root, options()))
    assert caught.value.line == 3 and "UTF-8" in caught.value.message
    (root / "channels.json").write_text('[\n    {"id": "C1", "name": "general"\n')
    with pytest.raises(ParseError) as caught:
        list(slack_export.parse(root, options()))
    assert caught.value.path == str(root / "channels.json") and caught.value.line == 3


# ---- properties ------------------------------------------------------------------------------------

_TEXT = st.text(alphabet=st.sampled_from(list("abcxyz ABC 0123 ,.!?\n&<>你好世界😀é")), max_size=40)
_USERS = ["U0AAA", "U0BBB", "U0CCC"]


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_USERS), _TEXT, st.integers(1_000_000_000, 2_000_000_000),
                          st.integers(0, 999_999)), min_size=1, max_size=8))
def test_written_export_parses_back(rows: list[tuple[str, str, int, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        users = [{"id": u, "name": u.lower(), "profile": {"display_name": f"name {u}"}} for u in _USERS]
        (root / "users.json").write_text(json.dumps(users, indent=4))
        (root / "channels.json").write_text(json.dumps([{"id": "C0X", "name": "chat", "members": _USERS}], indent=4))
        (root / "chat").mkdir()
        day = [{"type": "message", "user": u, "text": _slack_escape(t), "ts": f"{s}.{us:06d}"} for u, t, s, us in rows]
        (root / "chat" / "2024-01-01.json").write_text(json.dumps(day, indent=4, ensure_ascii=True).replace("/", "\\/"))
        got = messages(root)
    assert [m.text for m in got] == [t for _, t, _, _ in rows]
    assert [m.sender_id for m in got] == [u for u, _, _, _ in rows]
    assert [m.sender_name for m in got] == [f"name {u}" for u, _, _, _ in rows]
    assert [m.sent_at for m in got] == [datetime.fromtimestamp(s, timezone.utc) + timedelta(microseconds=us)
                                       for _, _, s, us in rows]
    assert [m.position for m in got] == list(range(1, len(rows) + 1))


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                              lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                                  st.sampled_from(["ts", "user", "text", "subtype", "files", "edited", "room",
                                                   "thread_ts", "blocks", "attachments", "reactions"]),
                                  inner, max_size=5), max_leaves=20).map(lambda v: json.dumps([v]).encode())))
def test_junk_day_file_raises_only_parse_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = _export_with(Path(tmp), "[]")
        (root / "general" / "2024-03-04.json").write_bytes(data)
        try:
            for record in slack_export.parse(root, options()):
                assert isinstance(record, (Message, Conversation))
        except ParseError as error:
            assert error.path.endswith("2024-03-04.json")


def test_other_shapes(tmp_path: Path) -> None:
    day = [
        # an app message whose text lives only in blocks
        {"type": "message", "bot_id": "B09APP", "text": "", "ts": "1709542800.000100",
         "bot_profile": {"id": "B09APP", "name": "Standup App"},
         "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Daily standup for <!here>"}},
                    {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
                        {"type": "user", "user_id": "U01ALICE001"}, {"type": "text", "text": " posted "},
                        {"type": "emoji", "name": "white_check_mark", "unicode": "2705"}]}]}]},
        # exports before 2019: file_share with a single "file" object and the upload sentence as text
        {"type": "message", "subtype": "file_share", "user": "U03BOB00003", "ts": "1709542900.000200",
         "text": "<@U03BOB00003|bob> uploaded a file: <https://acme.slack.com/files/bob/F6TUB2278/plan.pdf|plan>",
         "file": {"id": "F6TUB2278", "name": "plan.pdf", "title": "plan", "mimetype": "application/pdf", "size": 68668},
         "upload": True},
        {"type": "message", "subtype": "some_future_subtype", "user": "U03BOB00003", "text": "?", "ts": "1709543000.000300"},
        {"type": "message", "subtype": "group_name", "user": "U01ALICE001", "text": "renamed", "ts": "1709543100.000400"},
        {"type": "message", "subtype": "message_changed", "ts": "1709543200.000500", "hidden": True,
         "message": {"type": "message", "user": "U01ALICE001", "text": "fixed typo", "ts": "1709543100.000400",
                     "edited": {"user": "U01ALICE001", "ts": "1709543200.000000"}}},
    ]
    root = _export_with(tmp_path, json.dumps(day, indent=4))
    app, upload, future, rename, changed = messages(root)
    assert app.text == "Daily standup for <!here>\n@alice posted ✅"
    assert app.extras["side"] == "bot" and app.sender_name == "Standup App"
    assert upload.kind is Kind.FILE and upload.text == "@Bob Smith uploaded a file: plan"
    assert upload.attachments[0].name == "plan.pdf" and upload.attachments[0].size == 68668
    assert future.kind is Kind.OTHER and future.extras["subtype"] == "some_future_subtype"
    assert rename.kind is Kind.SYSTEM
    assert changed.text == "fixed typo" and changed.extras["changed_ts"] == "1709543100.000400"
    assert changed.edited_at == datetime(2024, 3, 4, 9, 6, 40, tzinfo=timezone.utc)


def test_byte_order_marks_are_tolerated(tmp_path: Path) -> None:
    root = _export_with(tmp_path, "")
    (root / "users.json").write_bytes(b"\xef\xbb\xbf" + (EXPORT / "users.json").read_bytes())
    (root / "general" / "2024-03-04.json").write_bytes(
        b"\xef\xbb\xbf" + '[\n    {"type": "message", "user": "U02FANG0002", "text": "早", "ts": "1709542800.000100"}\n]'.encode())
    (message,) = messages(root)
    assert message.text == "早" and message.sender_name == "Fang 王芳"
