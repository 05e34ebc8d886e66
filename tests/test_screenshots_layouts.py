"""Screenshots beyond the phone's plain chat: desktop clients, dark office themes, quoted replies,
file cards, senders named inside the bubble, and line breaks the writer typed.

The images are rendered by tests/fixtures/screenshots/render.py (``--new-only``) with the expected
reading beside each; each is OCR'd once per session (the reader caches by SHA-256). The rules that
need no OCR (line breaks, the Han-character advance, the app's colours) are tested on synthetic input.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from rapidfuzz.distance import Levenshtein

from chataudit.model import Kind
from chataudit.screenshots.ocr import Line
from chataudit.screenshots.reader import (APPS, DESKTOP_APPS, Block, Reading, _line_breaks, _reading_order, detect_app,
                                          join_lines, read_image)
from chataudit.screenshots.signals import image_signals
from screenshot_support import SHOTS, expected, plain, shot_messages, side

NEW_SHOTS = ["wechat_desktop.png", "telegram_desktop_group.png", "dingtalk_dark.png", "wechat_replies.png",
             "whatsapp_group.png", "telegram_group.png"]


@pytest.fixture(scope="session")
def layout_readings():
    return {name: read_image(SHOTS / name) for name in NEW_SHOTS}


@pytest.mark.parametrize("name", NEW_SHOTS)
def test_each_layout_reads_as_its_expected_messages(layout_readings, name) -> None:
    truth = expected(name)
    reading = layout_readings[name]
    assert (reading.app, reading.client, reading.theme, reading.title) == \
        (truth["app"], truth["client"], truth["theme"], truth["title"])
    messages = shot_messages(name)
    assert [side(m) for m in messages] == [w["side"] for w in truth["messages"]]
    assert [str(m.kind) for m in messages] == [w["kind"] for w in truth["messages"]]
    assert [m.sent_at.replace(tzinfo=None) for m in messages] == [datetime.fromisoformat(w["at"])
                                                                   for w in truth["messages"]]
    if truth["group"]:
        senders = [m.sender_name for m in messages if side(m) == "left"]
        wanted = [w["sender"] for w in truth["messages"] if w["side"] == "left"]
        assert sum(Levenshtein.distance(a or "", b) for a, b in zip(senders, wanted)) <= 1  # OCR: "lvan" for "Ivan"
    errors = sum(Levenshtein.distance(plain(m.text), plain(w["text"])) for m, w in zip(messages, truth["messages"]))
    total = sum(len(plain(w["text"])) for w in truth["messages"])
    assert errors <= 0.01 * total, f"{errors} character errors in {total}"
    assert all(m.extras["screenshot"]["client"] == truth["client"] for m in messages)
    assert image_signals(reading, anchor_day=reading.captured.date()) == []  # untouched: no false alarm


# ---- desktop clients ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, sidebar", [
    ("wechat_desktop.png", ["搜索", "文件传输助手", "订阅号", "发送"]),
    ("telegram_desktop_group.png", ["Search", "Saved Messages", "Weekly digest", "Write a message"]),
])
def test_a_desktop_window_is_read_from_its_chat_pane_only(layout_readings, name, sidebar) -> None:
    reading = layout_readings[name]
    assert reading.client == "desktop" and reading.width > reading.height  # told by the image's shape
    pane_x = reading.pane[0]
    assert reading.width * 0.2 < pane_x < reading.width * 0.5  # right of the tool strip and the chat list
    texts = " ".join(m.text + (m.sender_name or "") for m in shot_messages(name))
    assert not [word for word in sidebar if word in texts]
    assert reading.status_clock is None  # a desktop window has no phone status bar
    assert all(b.box[0] >= pane_x for b in reading.blocks)  # boxes are in the whole image's pixels


def test_desktop_boxes_point_at_the_bubbles_in_the_whole_image(layout_readings) -> None:
    from PIL import Image

    reading = layout_readings["wechat_desktop.png"]
    image = Image.open(reading.path).convert("RGB")
    mine = [b for b in reading.blocks if b.role == "message" and b.side == "right"]
    for block in mine:  # the owner's bubbles are WeChat's green where the provenance says they are
        x, y, w, h = block.box
        assert max(abs(a - b) for a, b in zip(image.getpixel((x + 6, y + h // 2)), (149, 236, 105))) <= 8


def test_phones_stay_phones(layout_readings) -> None:
    assert {layout_readings[n].client for n in ("dingtalk_dark.png", "whatsapp_group.png")} == {"phone"}
    assert layout_readings["dingtalk_dark.png"].pane is None


CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
TICK_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _telegram_desktop_window(path: Path, bubbles: list[tuple[str, list[str], str]], rise: int) -> None:
    """A Telegram Desktop window at 150 % as its client lays it out (white chat list and header, the
    wallpaper, white and light-green bubbles), each bubble's time (and the owner's two ticks) at the right
    end of its last line with its top ``rise`` px above where it would sit level with the text's."""
    from PIL import Image, ImageDraw, ImageFont

    pane, background, own, white = 452, (184, 209, 165), (239, 253, 222), (255, 255, 255)
    body, small = ImageFont.truetype(CJK_FONT, 21, index=2), ImageFont.truetype(CJK_FONT, 18, index=2)
    tick = ImageFont.truetype(TICK_FONT, 18)
    image = Image.new("RGB", (1470, 1020), white)
    draw = ImageDraw.Draw(image)
    draw.rectangle([pane, 82, 1469, 944], fill=background)
    draw.text((pane + 30, 18), "Alex Chen", font=body, fill=(0, 0, 0))
    top = 140
    for where, lines, clock in bubbles:
        ticks = 2 * draw.textlength("✓", font=tick) - 6 + 5 if where == "right" else 0
        width = int(15 + max(draw.textlength(line, font=body) for line in lines) + 18
                    + draw.textlength(clock, font=small) + ticks + 15)
        height = 18 + 30 * len(lines)
        x = pane + 21 if where == "left" else 1470 - 21 - width
        draw.rounded_rectangle([x, top, x + width, top + height], radius=15, fill=white if where == "left" else own)
        for row, line in enumerate(lines):
            draw.text((x + 15, top + 9 + 30 * row), line, font=body, fill=(0, 0, 0))
        meta = (160, 172, 182) if where == "left" else (108, 191, 106)
        clock_x, clock_y = x + width - 15 - ticks - draw.textlength(clock, font=small), top + height - 35 - rise
        draw.text((clock_x, clock_y), clock, font=small, fill=meta)
        if where == "right":  # two overlapping ticks after the time
            tick_x = clock_x + draw.textlength(clock, font=small) + 5
            for offset in (0, draw.textlength("✓", font=tick) - 6):
                draw.text((tick_x + offset, clock_y), "✓", font=tick, fill=meta)
        top += height + 42
    image.save(path)


def test_a_bubbles_lines_are_read_row_by_row_then_left_to_right() -> None:
    """Boxes the OCR gave on the rendered 150 % window (seed 31337): the time's box starts a pixel above
    the text's on the same row; two rows' boxes may overlap by a few pixels and stay two rows."""
    text, time = Line((487, 402, 345, 24), "周五下午3点开会，地点在3楼会议室", 0.99), Line((818, 401, 75, 31), "19:25", 0.99)
    assert _reading_order([time, text]) == [text, time]
    first, second = Line((643, 669, 117, 38), "Thanks!", 0.99), Line((641, 705, 357, 49), "See you on Monday 00:03", 0.98)
    assert _reading_order([second, first]) == [first, second]


def test_a_bubbles_time_set_above_its_last_lines_top_is_its_clock_not_its_text(tmp_path) -> None:
    """Telegram Desktop's time sits at the right end of the bubble's last line in a smaller font; when the
    OCR's box of it starts above the text's (1 px on the rendered seed-31337 window), it was read before the
    text: ``19:25\n周五下午…``, no clock, the message dated by the separator alone."""
    if not (Path(CJK_FONT).exists() and Path(TICK_FONT).exists()):
        pytest.skip("Noto Sans CJK or DejaVu Sans is not installed")
    bubbles = [("left", ["周五下午3点开会，地点在3楼会议室"], "19:25"), ("right", ["明天上午十点前可以送到吗"], "22:05"),
               ("left", ["Thanks!", "See you on Monday"], "09:41")]
    path = tmp_path / "telegram_desktop.png"
    _telegram_desktop_window(path, bubbles, rise=5)  # the time's box 3 px above the text's
    reading = read_image(path)
    assert (reading.app, reading.client) == ("telegram", "desktop")
    messages = [b for b in reading.blocks if b.role == "message"]
    assert [(b.side, b.text, b.clock) for b in messages] == [(where, "\n".join(lines), clock)
                                                             for where, lines, clock in bubbles]
    # level with the text (its box starting below the text's top), as the reader always read it: still so
    _telegram_desktop_window(path, bubbles, rise=0)
    assert [(b.text, b.clock) for b in read_image(path).blocks if b.role == "message"] == \
        [("\n".join(lines), clock) for _, lines, clock in bubbles]


# ---- dark office themes -----------------------------------------------------------------------------

@pytest.mark.parametrize("app", ["wecom", "dingtalk", "feishu"])
def test_office_apps_are_told_by_their_dark_colours(app) -> None:
    params = APPS[app]
    assert detect_app(params.backgrounds[1], [params.own[1]], True) == app
    assert detect_app(params.backgrounds[1], [(60, 60, 60)], True) == app  # only the others' bubbles: the background
    assert sum(params.backgrounds[1]) < 300  # read as the dark theme


def test_dingtalk_dark_keeps_receipts_apart(layout_readings) -> None:
    mine = [m for m in shot_messages("dingtalk_dark.png") if m.is_me]
    assert [m.extras["screenshot"].get("read_receipt") for m in mine] == ["已读", "已读", "未读"]


def test_desktop_apps_are_told_by_their_pane_colours() -> None:
    for app in DESKTOP_APPS.values():
        assert detect_app(app.backgrounds[0], [app.own[0]], None, DESKTOP_APPS) == app.name


# ---- quoted replies, file cards, names inside bubbles --------------------------------------------------

@pytest.mark.parametrize("name, quotes", [
    ("wechat_replies.png", [("李娜", "验收结果：门禁系统合格 监控录像缺两天"), ("我", "监控录像那项下周补齐")]),
    ("wechat_desktop.png", [("王先生", "2. 交货日期提前到4月15日")]),
    ("whatsapp_group.png", [("Tom Baker", "Gate B is closed."), ("You", "OK, I will tell the driver")]),
    ("telegram_group.png", [("Ken Sato", "payments fail")]),
    ("telegram_desktop_group.png", [("Ivan Petrov", "the logo is too small")]),
])
def test_a_quoted_reply_is_one_message_carrying_the_quote(layout_readings, name, quotes) -> None:
    messages = shot_messages(name)
    assert len(messages) == len(expected(name)["messages"])  # the quote is no message of its own
    quoted = [(m.extras["screenshot"]["quote"], m) for m in messages if "quote" in m.extras["screenshot"]]
    assert len(quoted) == len(quotes)
    for (quote, message), (sender, text) in zip(quoted, quotes):
        assert Levenshtein.distance(quote["sender"], sender) <= 1 and plain(quote["text"]) == plain(text)
        assert plain(text) not in plain(message.text)  # the reply's own text, without the quote
        assert len(quote["bbox"]) == 4


@pytest.mark.parametrize("name, files", [
    ("wechat_replies.png", [("2024年3月验收报告及整改清单.pdf", "356.0K"), ("整改计划.xlsx", "48.5K")]),
    ("wechat_desktop.png", [("采购合同v3.pdf", "1.2M")]),
])
def test_file_cards_are_attachment_placeholders(layout_readings, name, files) -> None:
    cards = [m for m in shot_messages(name) if m.kind == Kind.FILE]
    assert [(m.text, m.extras["screenshot"]["file_size"]) for m in cards] == files
    assert [m.attachments[0].name for m in cards] == [name for name, _ in files]


def test_names_inside_bubbles_are_senders_not_text(layout_readings) -> None:
    messages = shot_messages("whatsapp_group.png")
    assert [m.sender_name for m in messages if not m.is_me] == ["Maria Lopez", "Tom Baker", "Maria Lopez"]
    assert not any(m.text.startswith(("Maria", "Tom")) for m in messages)
    assert [m.sender_name for m in shot_messages("whatsapp_light.png") if not m.is_me] == ["Maria Lopez", "Maria Lopez"]


# ---- line breaks ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, text", [
    ("wechat_replies.png", "验收结果：\n门禁系统合格\n监控录像缺两天\n消防通道合格"),
    ("whatsapp_group.png", "Gate B is closed.\nUse gate C\nand call me"),
    ("telegram_group.png", "Smoke tests:\nlogin ok\npayments fail"),
    ("wechat_desktop.png", "收到，有三点意见：\n1.违约金改成10%\n2.交货日期提前到4月15日\n3.付款分两期"),
])
def test_line_breaks_the_writer_typed_are_kept(layout_readings, name, text) -> None:
    got = next(m.text for m in shot_messages(name) if m.text.split("\n")[0] == text.split("\n")[0])
    assert [plain(part) for part in got.split("\n")] == [plain(part) for part in text.split("\n")]


def _bubble(lines: list[tuple[int, str]], width: int, height: int = 44) -> Block:
    """A bubble at x=100 whose lines (ink width, text) start at x=124, one under the other."""
    made = [Line((124, 200 + 50 * n, w, height), text, 0.99) for n, (w, text) in enumerate(lines)]
    return Block("message", (100, 190, width, 50 * len(lines) + 20), made)


def test_wrapped_lines_join_and_typed_breaks_stay() -> None:
    widest = 500.0
    # at the widest a bubble gets, a CJK line ending a character short of the edge wrapped
    wrapped = _bubble([(452, "这个方案我们内部讨论过了，总体"), (440, "可以接受，但是交付周期需要缩"), (120, "短到两周")], 500)
    assert _line_breaks(wrapped, [], widest) == [False, False]
    # a line far shorter than the edge was broken by the writer
    typed = _bubble([(452, "这个方案我们内部讨论过了，总体"), (200, "可以接受。"), (300, "交付周期两周")], 500)
    assert _line_breaks(typed, [], widest) == [False, True]
    # a bubble narrower than the widest never wrapped: every break is the writer's, even under its widest line
    narrow = _bubble([(260, "收货信息：王先生"), (120, "张江路")], 300)
    assert _line_breaks(narrow, [], widest) == [True]
    # Latin wraps before a word that would not fit: the gap is shorter than the next line's first word
    latin = _bubble([(400, "I sent the contract, please sign"), (440, "documentation before Friday")], 500)
    assert _line_breaks(latin, [], widest) == [False]
    assert join_lines(["Agenda:", "1. budget", "2. timeline"], [True, True]) == "Agenda:\n1. budget\n2. timeline"
    assert join_lines(["I sent the", "contract"], [False]) == "I sent the contract"
    assert join_lines(["这个方案", "可以接受"], [False]) == "这个方案可以接受"


def test_a_line_retyped_one_size_larger_advances_wider(tmp_path) -> None:
    """The Han-character advance is the font size: a line retyped 2 px larger is caught even when its
    glyphs are as tall as the others' to the pixel."""
    from PIL import Image, ImageDraw, ImageFont

    from chataudit.screenshots.signals import _fonts

    font_file = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
    if not Path(font_file).exists():
        pytest.skip("Noto Sans CJK is not installed")
    image = Image.new("RGB", (800, 400), (237, 237, 237))
    draw = ImageDraw.Draw(image)
    draw.rectangle([40, 20, 760, 380], fill=(255, 255, 255))
    texts = ["这个方案我们内部讨论过", "交付周期需要缩短两周", "否则会影响上线计划安排"]
    sizes = [28, 28, 30]
    lines = []
    for n, (text, size) in enumerate(zip(texts, sizes)):
        y = 40 + 110 * n
        draw.text((60, y), text, font=ImageFont.truetype(font_file, size, index=2), fill=(17, 17, 17))
        lines.append(Line((56, y - 2, size * len(text) + 8, size + 12), text, 0.99))
    path = tmp_path / "retyped.png"
    image.save(path)
    block = Block("message", (40, 20, 720, 360), lines, side="left", fill=(255, 255, 255))
    reading = Reading(path=path, sha256="", width=800, height=400, image_format="PNG", app="wechat", theme="light",
                      title=None, status_clock=None, chat_top=0, chat_bottom=400, background=(237, 237, 237),
                      blocks=[block], lines=lines, metadata={}, captured=None)
    signals = _fonts(reading)
    assert [s["evidence"]["bbox"] for s in signals if "advance" in s["detail"]] == [list(lines[2].box)]
    block.lines = lines[:2]  # the two lines of one size: nothing to say
    assert [s for s in _fonts(reading) if "advance" in s["detail"]] == []


def test_import_claims_desktop_windows_and_not_a_wide_photo(tmp_path) -> None:
    import numpy as np
    from PIL import Image

    from chataudit.formats import screenshot

    for name in ("wechat_desktop.png", "telegram_desktop_group.png"):
        path = SHOTS / name
        assert screenshot.detect(path, path.read_bytes()[:64]) > 0
    noise = tmp_path / "landscape.png"
    Image.fromarray(np.random.default_rng(7).integers(0, 255, (600, 1000, 3), dtype=np.uint8)).save(noise)
    assert screenshot.detect(noise, noise.read_bytes()[:64]) == 0
