"""Screenshots of WeCom, DingTalk, Feishu and Telegram: one reader, per-app parameters.

The images are rendered by tests/fixtures/screenshots/render.py (``--apps-only``) with the expected
reading beside each. Each is OCR'd once per session (the reader caches by SHA-256).
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime

import pytest
from rapidfuzz.distance import Levenshtein

from chataudit.model import Kind
from chataudit.screenshots.reader import APPS, detect_app, parse_separator, read_image
from chataudit.screenshots.signals import image_signals
from screenshot_support import SHOTS, expected, plain, shot_messages, side

APP_SHOTS = ["wecom_group.png", "dingtalk_light.png", "feishu_group.png", "telegram_light.png", "telegram_dark.png"]


@pytest.fixture(scope="session")
def app_readings():
    return {name: read_image(SHOTS / name) for name in APP_SHOTS}


@pytest.mark.parametrize("name", APP_SHOTS)
def test_each_app_reads_as_its_expected_messages(app_readings, name) -> None:
    truth = expected(name)
    reading = app_readings[name]
    assert (reading.app, reading.theme, reading.title) == (truth["app"], truth["theme"], truth["title"])
    assert reading.status_clock == truth["clock"]
    messages = shot_messages(name)
    assert [side(m) for m in messages] == [w["side"] for w in truth["messages"]]
    assert [str(m.kind) for m in messages] == [w["kind"] for w in truth["messages"]]
    assert [m.sent_at.replace(tzinfo=None) for m in messages] == [datetime.fromisoformat(w["at"])
                                                                   for w in truth["messages"]]
    if truth["group"]:
        assert [m.sender_name for m in messages if side(m) == "left"] == \
            [w["sender"] for w in truth["messages"] if w["side"] == "left"]
    errors = sum(Levenshtein.distance(plain(m.text), plain(w["text"])) for m, w in zip(messages, truth["messages"]))
    total = sum(len(plain(w["text"])) for w in truth["messages"])
    assert errors <= 0.01 * total, f"{errors} character errors in {total}"
    assert all(m.platform == truth["app"] and m.extras["screenshot"]["app"] == truth["app"] for m in messages)


@pytest.mark.parametrize("name, receipts", [
    ("wecom_group.png", ["已读", "未读"]),
    ("dingtalk_light.png", ["已读", "已读", "未读"]),
])
def test_read_receipts_are_kept_apart_from_the_text(app_readings, name, receipts) -> None:
    mine = [m for m in shot_messages(name) if m.is_me]
    assert [m.extras["screenshot"].get("read_receipt") for m in mine] == receipts
    assert not any("已读" in m.text or "未读" in m.text for m in shot_messages(name))


def test_feishu_receipt_rings_are_no_message_and_no_system_line(app_readings) -> None:
    messages = shot_messages("feishu_group.png")
    assert [m.text for m in messages if m.kind == Kind.SYSTEM] == ["刘洋加入了群聊"]  # the only centred line
    assert all(len(plain(m.text)) > 2 for m in messages)


def test_system_lines_and_recalls_per_app(app_readings) -> None:
    recall = [m for m in shot_messages("wecom_group.png") if m.kind == Kind.RECALL]
    assert [(m.text, m.sender_name, m.is_me) for m in recall] == [("孙伟撤回了一条消息", None, None)]
    assert [m.text for m in shot_messages("dingtalk_light.png") if m.kind == Kind.RECALL] == ["你撤回了一条消息"]


def test_multi_line_bubbles_are_one_message(app_readings) -> None:
    wecom = shot_messages("wecom_group.png")[-1]
    assert wecom.text == "好的，我跟客户说一下。另外这批货的发票请在本周五之前开好，抬头写上海星辰科技有限公司"
    telegram = next(m for m in shot_messages("telegram_light.png") if m.text.startswith("I sent"))
    assert telegram.text == "I sent the contract, please sign page 3 and send it back before Friday so we can start on time"


@pytest.mark.parametrize("name", ["wecom_group.png", "feishu_group.png", "telegram_light.png", "telegram_dark.png"])
def test_emoji_are_flagged_not_guessed_in_every_app(app_readings, name) -> None:
    flagged = [m for m in shot_messages(name) if m.extras["screenshot"].get("unread_pictographs")]
    want = [w for w in expected(name)["messages"] if any(unicodedata.category(ch) == "So" for ch in w["text"])]
    assert [plain(m.text) for m in flagged] == [plain(w["text"]) for w in want] and len(flagged) == 1


@pytest.mark.parametrize("name", ["telegram_light.png", "telegram_dark.png"])
def test_telegram_times_and_ticks_are_read_from_the_bubble(app_readings, name) -> None:
    messages = shot_messages(name)
    assert all(m.extras["screenshot"]["time_basis"] == "message_time" for m in messages)
    assert not any(":" in m.text or "✓" in m.text for m in messages)  # the time and the ticks are no text
    pills = [b.text for b in app_readings[name].blocks if b.role == "time"]
    assert pills == ["March 4", "Yesterday", "Today"]


@pytest.mark.parametrize("name", APP_SHOTS)
def test_untouched_screenshots_of_every_app_raise_no_image_signal(app_readings, name) -> None:
    reading = app_readings[name]
    assert image_signals(reading, anchor_day=reading.captured.date()) == []


@pytest.mark.parametrize("label, instant", [
    ("March 4", datetime(2024, 3, 4)),
    ("Mar 4", datetime(2024, 3, 4)),
    ("4 March", datetime(2024, 3, 4)),
    ("December 30", datetime(2023, 12, 30)),  # after the capture: last year's
    ("3月4日 15:12", datetime(2024, 3, 4, 15, 12)),
])
def test_telegram_and_office_app_separators(label, instant) -> None:
    assert parse_separator(label, date(2024, 3, 6)) == instant


def test_what_is_no_date_pill() -> None:
    assert parse_separator("Marchy 4", date(2024, 3, 6)) is None
    assert parse_separator("Feb 30", date(2024, 3, 6)) is None


def test_the_app_is_told_by_its_colours_then_by_its_title() -> None:
    for app in APPS.values():
        assert detect_app(app.backgrounds[0], [app.own[0]], None) == app.name
        assert detect_app((90, 60, 120), [app.own[-1]], None) == app.name  # a custom wallpaper: the bubble tells
    assert detect_app((245, 245, 245), [(255, 255, 255)], True) == "wecom"  # only others' bubbles: the background
    assert detect_app((90, 60, 120), [(255, 255, 255)], False) == "whatsapp"
    assert detect_app((90, 60, 120), [(255, 255, 255)], True) == "wechat"


@pytest.mark.parametrize("name", ["dingtalk_light.png", "telegram_dark.png"])
def test_a_lone_left_bubble_in_the_owners_colour_is_out_of_place(app_readings, name) -> None:
    from dataclasses import replace

    reading = app_readings[name]
    mine = next(b for b in reading.blocks if b.role == "message" and b.side == "right")
    moved = replace(mine, side="left", box=(16, *mine.box[1:]))  # the only bubble left on screen, moved left
    signals = image_signals(replace(reading, blocks=[moved]), anchor_day=reading.captured.date())
    assert [s["check"] for s in signals if s["check"] == "bubble_geometry"] == ["bubble_geometry"]
    untouched = image_signals(replace(reading, blocks=[mine]), anchor_day=reading.captured.date())
    assert not [s for s in untouched if s["check"] == "bubble_geometry"]


@pytest.mark.parametrize("text", ["②", "①", "?", "○", "已读", "2人未读"])
def test_a_feishu_ring_read_as_a_circled_digit_or_question_mark_is_a_receipt(text) -> None:
    """Feishu's read ring beside the owner's bubble reaches the OCR as ②, ① or ? as often as ○: each
    is the bubble's receipt, not a one-character system line; the same text elsewhere is not."""
    from chataudit.screenshots.ocr import Line
    from chataudit.screenshots.reader import Block, _receipt_of

    mine = Block("message", (700, 400, 300, 80), side="right")
    theirs = Block("message", (60, 600, 300, 80), side="left")
    assert _receipt_of(Line((660, 450, 24, 24), text, 0.9), [theirs, mine], 1080) is mine
    assert _receipt_of(Line((660, 900, 24, 24), text, 0.9), [theirs, mine], 1080) is None  # beside no bubble
    assert _receipt_of(Line((660, 450, 60, 24), "好的?", 0.9), [mine], 1080) is None  # text is not a receipt
