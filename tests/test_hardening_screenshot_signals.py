"""Image signals of issue 17's second round: the font size told by the advance of lines that mix Han
and Latin, text overrunning its bubble's padding, the owner's colour on the left when the right side
teaches no colour, and the recogniser reading each line at its own width. Small drawn images, no OCR
of whole screens (the readings are built by hand where the layout is not what is tested)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chataudit.screenshots.ocr import Line
from chataudit.screenshots.reader import Block, Reading
from chataudit.screenshots.signals import _em_width, _fonts, _geometry

FONT_FILE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
needs_font = pytest.mark.skipif(not Path(FONT_FILE).exists(), reason="Noto Sans CJK is not installed")
WHITE, GREY, INK = (255, 255, 255), (245, 245, 245), (17, 17, 17)


def _reading(path: Path, blocks: list[Block], app: str = "wecom", client: str = "phone") -> Reading:
    return Reading(path=path, sha256="", width=800, height=700, image_format="PNG", app=app, theme="light",
                   title=None, status_clock=None, chat_top=0, chat_bottom=700, background=GREY, blocks=blocks,
                   lines=[line for b in blocks for line in b.lines], metadata={}, captured=None, client=client)


def _bubbles(tmp_path: Path, texts: list[str], sizes: list[int], padding: int = 24) -> Reading:
    """One bubble per line, each sized to its text at the body's size (28 px) with ``padding`` on both
    sides, as the app draws it; the text is then typed at ``sizes`` (a forger's larger size overruns)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (800, 700), GREY)
    draw = ImageDraw.Draw(image)
    blocks = []
    for n, (text, size) in enumerate(zip(texts, sizes)):
        y = 20 + 120 * n
        body = ImageFont.truetype(FONT_FILE, 28, index=2)
        left, _, right, _ = draw.textbbox((0, 0), text, font=body)
        box = (40, y, right - left + 2 * padding, 80)
        draw.rectangle([box[0], box[1], box[0] + box[2] - 1, box[1] + box[3] - 1], fill=WHITE)
        typed = ImageFont.truetype(FONT_FILE, size, index=2)
        draw.text((40 + padding - left, y + 22), text, font=typed, fill=INK)
        ink_left, _, ink_right, _ = draw.textbbox((40 + padding - left, y + 22), text, font=typed)
        line = Line((ink_left - 4, y + 16, ink_right - ink_left + 8, 48), text, 0.99)  # as the OCR boxes the ink
        blocks.append(Block("message", box, [line], side="left", fill=WHITE))
    path = tmp_path / "bubbles.png"
    image.save(path)
    return _reading(path, blocks)


def test_em_width_counts_han_latin_and_punctuation() -> None:
    han, share = _em_width("请在三月完成验收")
    assert han == pytest.approx(8 - 0.048 - 0.049) and share == 0
    mixed, share = _em_width("合同编号HT-2024-0315，请核对")
    assert 14 < mixed < 15 and 0.4 < share < 0.5  # twelve Latin characters are about 6.5 em
    assert _em_width("收到👍") is None  # a pictograph has no metrics: the line is not measured


@needs_font
def test_a_mixed_script_line_retyped_two_pixels_larger_is_caught_by_its_advance(tmp_path) -> None:
    texts = ["账号密码已重置，请重新登录", "合同编号HT-2024-0315，请核对", "快递单号是SF1234567890", "订单SO-88123已发货"]
    # wide bubbles: only the advance can tell
    reading = _bubbles(tmp_path, texts, [28, 28, 28, 28], padding=60)
    assert [s for s in _fonts(reading) if s["check"] == "font_consistency"] == []
    reading = _bubbles(tmp_path, texts, [28, 28, 30, 28], padding=60)
    found = [s for s in _fonts(reading) if s["check"] == "font_consistency"]
    assert [s["evidence"]["bbox"] for s in found] == [list(reading.blocks[2].lines[0].box)]
    evidence = found[0]["evidence"]
    assert evidence["pitch"] == pytest.approx(30, abs=0.6) and evidence["usual"] == pytest.approx(28, abs=0.4)
    # measured by its Han run 快递单号是, cut from the digits at the gap where the table puts its end
    assert evidence["latin_share"] == 0 and evidence["ink_pieces"] == 1


@needs_font
def test_text_running_into_its_bubbles_padding_is_a_signal(tmp_path) -> None:
    texts = ["这个问题我需要和领导确认一下", "明天上午十点前可以送到吗", "好的，没问题"]
    untouched = _bubbles(tmp_path, texts, [28, 28, 28])
    assert [s for s in _fonts(untouched) if s["check"] == "text_padding"] == []
    retyped = _bubbles(tmp_path, texts, [30, 28, 28])  # the first bubble's text typed 2 px larger
    found = [s for s in _fonts(retyped) if s["check"] == "text_padding"]
    assert [s["evidence"]["bbox"] for s in found] == [list(retyped.blocks[0].box)]
    assert found[0]["evidence"]["left_padding"] >= 20 > found[0]["evidence"]["right_padding"] + 4


def test_the_owners_colour_on_the_left_is_caught_when_the_right_side_shows_only_a_quote_chip(tmp_path) -> None:
    line = Line((60, 30, 200, 40), "这个方案我们内部讨论过了", 0.99)
    path = tmp_path / "moved.png"
    blocks = [Block("message", (40, 20, 300, 60), [line], side="left", fill=(241, 242, 244)),
              Block("message", (40, 120, 300, 60), [line], side="left", fill=(204, 228, 255)),  # WeCom's own blue
              Block("message", (400, 200, 150, 42), [line], side="right", fill=(218, 218, 218))]  # a quote chip
    found = _geometry(_reading(path, blocks, "wecom", "desktop"))
    assert [s["evidence"]["bbox"] for s in found] == [[40, 120, 300, 60]]
    blocks[1].fill = (241, 242, 244)  # the other party's colour: nothing to say
    assert _geometry(_reading(path, blocks, "wecom", "desktop")) == []


@needs_font
def test_each_line_is_recognised_at_its_own_width() -> None:
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from chataudit.screenshots.ocr import _recognise, engine

    crops = []
    for text in ("好的", "合同编号HT-2024-0315，请核对"):
        font = ImageFont.truetype(FONT_FILE, 32, index=2)
        left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=font)
        image = Image.new("RGB", (right - left + 16, bottom - top + 16), WHITE)
        ImageDraw.Draw(image).text((8 - left, 8 - top), text, font=font, fill=INK)
        crops.append(np.ascontiguousarray(np.asarray(image)[:, :, ::-1]))
    read = _recognise(engine().text_rec, crops)
    assert [text for text, _ in read] == ["好的", "合同编号HT-2024-0315，请核对"]
    assert all(confidence > 0.9 for _, confidence in read)


def test_a_month_and_day_without_a_year_is_the_latest_such_day_up_to_the_anchor() -> None:
    """Telegram's "February 29" read against a leap-year anchor once raised (found by the hold-out set)."""
    from datetime import date, datetime

    from chataudit.screenshots.reader import parse_separator

    assert parse_separator("February 29", date(2024, 3, 5)) == datetime(2024, 2, 29)
    assert parse_separator("February 29", date(2024, 2, 1)) == datetime(2020, 2, 29)
    assert parse_separator("February 29", date(2025, 3, 1)) == datetime(2024, 2, 29)
    # the Chinese month-day form, in the year before the anchor when later than it (seed 31337 crashed here)
    assert parse_separator("2月29日 14:32", date(2000, 1, 3)) == datetime(1996, 2, 29, 14, 32)
    assert parse_separator("2月29日 14:32", date(2024, 3, 1)) == datetime(2024, 2, 29, 14, 32)
    assert parse_separator("3月5日 下午3:12", date(2025, 1, 2)) == datetime(2024, 3, 5, 15, 12)
    assert parse_separator("2月30日 14:32", date(2024, 3, 1)) is None
    assert parse_separator("March 4", date(2024, 3, 1)) == datetime(2023, 3, 4)
    assert parse_separator("February 30", date(2024, 3, 5)) is None


@needs_font
def test_a_short_line_ending_in_full_width_punctuation_retyped_two_pixels_larger_is_caught(tmp_path) -> None:
    """'退款明细：' is 4.3 em of ink (the colon's ink sits in the left of its em): it was below the measured
    minimum; and the OCR read a retyped '收到，谢谢！' at 0.94. Both missed on WeCom desktop (bench 151, 160)."""
    texts = ["这个方案我们内部讨论过了，总体可以接受", "账号密码已重置，请重新登录", "退款明细：", "收到，谢谢！"]
    for retyped in (2, 3):
        sizes = [28, 28, 28, 28]
        assert [s for s in _fonts(_bubbles(tmp_path, texts, sizes, padding=60))
                if s["check"] == "font_consistency"] == []
        sizes[retyped] = 30
        reading = _bubbles(tmp_path, texts, sizes, padding=60)
        line = reading.blocks[retyped].lines[0]
        reading.blocks[retyped].lines[0] = Line(line.box, line.text, 0.93)  # a one-em-only line: still measured
        found = [s for s in _fonts(reading) if s["check"] == "font_consistency"]
        assert [s["evidence"]["bbox"] for s in found] == [list(line.box)]
        assert found[0]["evidence"]["pitch"] == pytest.approx(30, abs=0.8)


@needs_font
def test_a_mixed_line_is_measured_by_its_han_runs_with_no_other_mixed_line_on_the_screen(tmp_path) -> None:
    """合同编号HT-2024-0315，请核对 retyped 2 px larger (7.1 %) on a screen whose other lines are Han: its 45 %
    of Latin gave it 4.5 % of slack for the Latin table, and it went unseen (hold-out, WeChat desktop). Its
    Han runs at both ends, cut from the Latin, advance by the font size alone."""
    texts = ["麻烦把报价单再发一遍", "您好，请问订单什么时候发货?", "合同编号HT-2024-0315，请核对", "账号密码已重置，请重新登录"]
    assert [s for s in _fonts(_bubbles(tmp_path, texts, [28, 28, 28, 28], padding=60))
            if s["check"] == "font_consistency"] == []
    reading = _bubbles(tmp_path, texts, [28, 28, 30, 28], padding=60)
    found = [s for s in _fonts(reading) if s["check"] == "font_consistency"]
    assert [s["evidence"]["bbox"] for s in found] == [list(reading.blocks[2].lines[0].box)]
    evidence = found[0]["evidence"]
    assert evidence["ink_pieces"] == 2 and evidence["latin_share"] == 0  # 合同编号 and ，请核对
    assert evidence["pitch"] == pytest.approx(30, abs=0.5) and evidence["usual"] == pytest.approx(28, abs=0.3)


@needs_font
def test_a_line_box_reaching_into_the_wider_line_below_is_measured_on_its_own_rows(tmp_path) -> None:
    """The OCR's box of 今天的安排： reached a row into 上午拜访客户 below it (a wider line): that row's ink
    made the line 6 px wider, 33.4 px for the others' 32 (a false alarm, Telegram dark). A line is its
    longest run of ink rows."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (800, 400), GREY)
    draw = ImageDraw.Draw(image)
    draw.rectangle([40, 20, 700, 380], fill=WHITE)
    font = ImageFont.truetype(FONT_FILE, 32, index=2)
    texts = ["今天的安排：", "上午拜访客户", "下午方案评审", "发票抬头写公司全称"]
    lines = []
    for n, text in enumerate(texts):
        y = 40 + 44 * n  # 44 px of line height for 32 px glyphs: 10 px between lines' ink
        draw.text((64, y), text, font=font, fill=INK)
        left, top, right, bottom = draw.textbbox((64, y), text, font=font)
        lines.append(Line((left - 4, top - 6, right - left + 8, bottom - top + 12), text, 0.98))
    path = tmp_path / "tight.png"
    image.save(path)
    # the first box reaches 12 px right of its ink and down into the second line's top rows, as the OCR boxed it
    import numpy as np

    ink_rows = np.nonzero((np.asarray(image)[:, 60:700].astype(int) - 255).any(axis=(1, 2)))[0]
    second_top = int(ink_rows[ink_rows > lines[1].box[1]][0])
    x, y, w, _ = lines[0].box
    lines[0] = Line((x, y, w + 12, second_top + 2 - y), texts[0], 0.98)
    reading = _reading(path, [Block("message", (40, 20, 661, 361), lines, side="left", fill=WHITE)], app="telegram")
    assert [s for s in _fonts(reading) if s["check"] == "font_consistency"] == []
