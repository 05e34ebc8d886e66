"""Chat screenshots: offline OCR, layout, anchors, stitching, compare, check and the HTML export.

The images are rendered by tests/fixtures/screenshots/render.py (Chromium, WeChat- and
WhatsApp-like HTML) with the expected reading beside each. OCR is the slow part (≈1–3 s an image on
a shared 2-core machine): every image is read once per session, with the network cut, and later
reads of the same bytes come from the reader's cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import zipfile
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.compare.align import normalize
from chataudit.model import Kind, Message
from chataudit.screenshots import anchor_of, records
from chataudit.screenshots.reader import parse_separator, read_image
from screenshot_support import SHOTS, plain

CLEAN = ["wechat_light.png", "wechat_dark.png", "wechat_group.png", "whatsapp_light.png"]
ALL = CLEAN + ["scroll_part1.png", "scroll_part2.png", "forged_clock.png", "doctored_amount.png",
               "doctored_removed.png", "doctored_moved.jpg"]
SHANGHAI = timezone.utc  # the fixtures' wall clock is read as given; the zone is not what is tested


@pytest.fixture(scope="session")
def readings():
    """Every fixture read once, with sockets refused: the OCR must never reach the network."""
    real = socket.socket.connect, socket.create_connection

    def refuse(*args, **kwargs):
        raise AssertionError("the OCR tried to use the network")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]
    try:
        return {name: read_image(SHOTS / name) for name in ALL}
    finally:
        socket.socket.connect, socket.create_connection = real  # type: ignore[method-assign]


def expected(name: str) -> dict:
    return json.loads((SHOTS / (Path(name).stem + ".json")).read_text(encoding="utf-8"))


def _messages(paths: list[Path], **kwargs) -> list[Message]:
    return [r for r in records(paths, SHANGHAI, **kwargs) if isinstance(r, Message)]


def char_errors(read: str, truth: str) -> int:
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(plain(read), plain(truth))


# ---- the engine ----------------------------------------------------------------------------------

def test_models_ship_in_the_wheel_and_nothing_downloads(readings) -> None:
    import rapidocr_onnxruntime

    models = Path(rapidocr_onnxruntime.__file__).parent / "models"
    assert {p.name for p in models.glob("*.onnx")} >= {"ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx"}
    assert readings["wechat_light.png"].title == "张经理"  # read while the network was refused


# ---- reading --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CLEAN)
def test_a_screenshot_reads_as_its_expected_messages(readings, name) -> None:
    truth = expected(name)
    messages = _messages([SHOTS / name])
    assert len(messages) == len(truth["messages"])
    errors = total = 0
    for message, want in zip(messages, truth["messages"]):
        side = "right" if message.is_me else ("center" if message.is_me is None else "left")
        assert side == want["side"], (message.text, want)
        assert str(message.kind) == want["kind"], (message.text, want)
        assert message.sent_at.replace(tzinfo=None) == datetime.fromisoformat(want["at"]), (message.text, want)
        assert message.amount == want.get("amount")
        if want["side"] == "left" and truth["group"]:
            assert message.sender_name == want["sender"]
        errors += char_errors(message.text, want["text"])
        total += len(plain(want["text"]))
        provenance = message.extras["screenshot"]
        assert provenance["trust"] == "ocr"
        assert provenance["image_sha256"] == hashlib.sha256((SHOTS / name).read_bytes()).hexdigest()
        assert len(provenance["bbox"]) == 4 and provenance["anchor_source"] == "exif"
    assert errors <= 0.02 * total, f"{errors} character errors in {total}"


def test_title_clock_app_and_theme_are_read(readings) -> None:
    assert (readings["wechat_dark.png"].app, readings["wechat_dark.png"].theme) == ("wechat", "dark")
    assert readings["wechat_light.png"].status_clock == "14:40"
    assert readings["wechat_group.png"].group and readings["wechat_group.png"].title == "项目交付群(5)"
    assert readings["whatsapp_light.png"].app == "whatsapp"


def test_emoji_are_left_out_and_flagged_not_guessed(readings) -> None:
    thumbs = next(m for m in _messages([SHOTS / "wechat_light.png"]) if m.text.startswith("可以"))
    assert thumbs.text == "可以，我下午回复您" and thumbs.extras["screenshot"]["unread_pictographs"] is True
    plain = next(m for m in _messages([SHOTS / "wechat_light.png"]) if m.text.startswith("收到"))
    assert "unread_pictographs" not in plain.extras["screenshot"]


def test_low_confidence_text_is_flagged_not_replaced(readings) -> None:
    # the bubble cut by the top edge of the second capture is read unsurely (half its glyphs show)
    messages = _messages([SHOTS / "scroll_part2.png"])
    unsure = next(m for m in messages if m.extras["screenshot"]["ocr_confidence"] < 0.85)
    provenance = unsure.extras["screenshot"]
    assert provenance["low_confidence"] is True and provenance["partly_visible"] is True
    assert unsure.text.startswith(provenance["low_confidence_lines"][0])  # what the OCR read is kept, for a person
    sure = next(m for m in _messages([SHOTS / "wechat_group.png"]) if m.kind == Kind.TEXT)
    assert "low_confidence" not in sure.extras["screenshot"]


def test_a_scrolling_capture_is_stitched_without_duplicates_or_gaps(readings) -> None:
    messages = _messages([SHOTS / "scroll_part1.png", SHOTS / "scroll_part2.png"])
    truth = expected("scroll_part1.png")["messages"]
    assert [plain(m.text) for m in messages] == [plain(t["text"]) for t in truth]
    assert [m.position for m in messages] == list(range(1, len(truth) + 1))
    # the second capture alone starts inside the chat: its top bubble is cut and left to the first
    alone = _messages([SHOTS / "scroll_part2.png"])
    assert alone[0].extras["screenshot"].get("partly_visible") is True


def test_stitching_says_when_two_captures_do_not_overlap(readings) -> None:
    messages = _messages([SHOTS / "wechat_group.png", SHOTS / "whatsapp_light.png"])
    assert "overlaps nothing" in messages[0].extras["screenshot"]["stitch_warnings"][0]


# ---- anchors and separators -------------------------------------------------------------------------

def test_anchor_date_rules(readings, tmp_path) -> None:
    reading = readings["wechat_light.png"]
    assert anchor_of(reading, "2024-05-01", SHANGHAI).source == "--date"
    assert anchor_of(reading, None, SHANGHAI).day == date(2024, 3, 6)  # EXIF DateTimeOriginal
    copy = tmp_path / "shot.png"
    shutil.copy(SHOTS / "wechat_light.png", copy)
    os.utime(copy, (1_700_000_000, 1_700_000_000))  # 2023-11-14 22:13 UTC
    bare = replace(reading, path=copy, captured=None)
    assert (anchor_of(bare, None, SHANGHAI).day, anchor_of(bare, None, SHANGHAI).source) == (date(2023, 11, 14), "mtime")
    with pytest.raises(ValueError, match="--date"):
        anchor_of(reading, "yesterday", SHANGHAI)
    given = _messages([SHOTS / "wechat_light.png"], given_date="2024-04-10")
    assert given[-1].sent_at.date() == date(2024, 4, 10) and given[-1].extras["screenshot"]["anchor_source"] == "--date"


@pytest.mark.parametrize("label, instant", [
    ("14:32", "2024-03-06T14:32"),
    ("昨天 14:32", "2024-03-05T14:32"),
    ("昨天16:05", "2024-03-05T16:05"),
    ("前天 08:01", "2024-03-04T08:01"),
    ("星期一 09:10", "2024-03-04T09:10"),
    ("星期—09:10", "2024-03-04T09:10"),  # the OCR's dash for 一
    ("星期三 09:10", "2024-02-28T09:10"),  # the anchor is a Wednesday: the week before
    ("2024年3月5日 下午3:12", "2024-03-05T15:12"),
    ("2023年12月31日 凌晨12:05", "2023-12-31T00:05"),
    ("3月5日 中午12:30", "2024-03-05T12:30"),
    ("12月30日 晚上9:00", "2023-12-30T21:00"),  # no year, would be in the future: the year before
    ("Yesterday 2:32 PM", "2024-03-05T14:32"),
    ("Monday 9:10 AM", "2024-03-04T09:10"),
    ("TODAY", "2024-03-06T00:00"),
    ("5 March 2024", "2024-03-05T00:00"),
    ("Mar 5, 2024 3:12 PM", "2024-03-05T15:12"),
])
def test_time_separators(label, instant) -> None:
    assert parse_separator(label, date(2024, 3, 6)) == datetime.fromisoformat(instant)


@pytest.mark.parametrize("label", ["收到", "25:61", "2024年2月30日 10:00", "Hello 2:32", "微信转账"])
def test_what_is_no_separator(label) -> None:
    assert parse_separator(label, date(2024, 3, 6)) is None


# ---- import ----------------------------------------------------------------------------------------

def run(db: Path, *args: str, ok: bool = True):
    result = CliRunner().invoke(cli, ["--db", str(db), *args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_import_a_zip_of_a_scrolling_capture_with_provenance(readings, tmp_path) -> None:
    bundle = tmp_path / "captures.zip"
    with zipfile.ZipFile(bundle, "w") as out:
        for name in ("scroll_part1.png", "scroll_part2.png"):
            out.write(SHOTS / name, f"chat/{name}")
    db = tmp_path / "a.db"
    run(db, "import", str(bundle), "--tz", "Asia/Shanghai")
    lines = run(db, "export", "--conversation", "1").output.strip().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == len(expected("scroll_part1.png")["messages"])
    shas = {hashlib.sha256((SHOTS / n).read_bytes()).hexdigest() for n in ("scroll_part1.png", "scroll_part2.png")}
    assert {row["extras"]["screenshot"]["image_sha256"] for row in rows} == shas
    transfer = next(row for row in rows if row["kind"] == "transfer")
    assert (transfer["amount"], transfer["currency"], transfer["sent_at"]) == ("5000.00", "CNY", "2024-03-06T14:32:00+08:00")


def test_detection_claims_chat_screenshots_only(tmp_path) -> None:
    from PIL import Image

    from chataudit.formats import screenshot

    shot = SHOTS / "wechat_light.png"
    assert screenshot.detect(shot, shot.read_bytes()[:64]) >= 0.9
    landscape = tmp_path / "photo.png"
    Image.new("RGB", (800, 500), (90, 140, 200)).save(landscape)
    assert screenshot.detect(landscape, landscape.read_bytes()[:64]) == 0
    blank = tmp_path / "blank.png"
    Image.new("RGB", (750, 1500), (255, 255, 255)).save(blank)
    assert screenshot.detect(blank, blank.read_bytes()[:64]) == 0
    import numpy as np

    photo = tmp_path / "portrait.png"  # a portrait photo has regions, but no flat chat background
    Image.fromarray(np.random.default_rng(7).integers(0, 255, (1500, 750, 3), dtype=np.uint8)).save(photo)
    assert screenshot.detect(photo, photo.read_bytes()[:64]) == 0
    text = tmp_path / "notes.txt"
    text.write_text("hello", encoding="utf-8")
    assert screenshot.detect(text, b"hello") == 0


def test_an_unreadable_image_is_one_line_error(tmp_path) -> None:
    broken = tmp_path / "shot.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    result = run(tmp_path / "a.db", "import", str(broken), "--format", "screenshot", ok=False)
    assert result.exit_code == 1 and "shot.png" in result.output and "not a readable image" in result.output
    assert "Traceback" not in result.output


# ---- compare ----------------------------------------------------------------------------------------

def compare(tmp_path: Path, shot: str) -> dict:
    result = run(tmp_path / "c.db", "import", str(SHOTS / "wechat_light_export.jsonl"), "--tz", "Asia/Shanghai",
                 "--label", "export")
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "c.db"), "compare", str(SHOTS / shot), "export",
                                      "--tz", "Asia/Shanghai", "--json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


DIFFERENCES = ("missing_in_a", "missing_in_b", "altered", "retimed", "reordered", "kind_changed")


@pytest.mark.parametrize("name", ["wechat_light.png", "wechat_dark.png"])
def test_an_untouched_screenshot_matches_its_export(readings, tmp_path, name) -> None:
    report = compare(tmp_path, name)
    assert {key: report["summary"][key] for key in DIFFERENCES} == dict.fromkeys(DIFFERENCES, 0), report
    assert report["different"] is False and report["trust"] == {"a": "ocr", "b": "export"}
    assert any("trust: ocr" in finding for finding in report["findings"])


def test_a_changed_amount_is_an_alteration_with_the_crop(readings, tmp_path) -> None:
    report = compare(tmp_path, "doctored_amount.png")
    assert report["summary"]["altered"] == 1 and report["summary"]["missing_in_a"] == 0
    entry = report["altered"][0]
    assert entry["numbers_changed"] == [["8000", "5000"]]
    assert entry["a"]["screenshot"]["trust"] == "ocr" and len(entry["a"]["screenshot"]["bbox"]) == 4
    assert "screenshot" not in entry["b"]


def test_the_html_comparison_shows_the_screenshot_crops(readings, tmp_path) -> None:
    run(tmp_path / "c.db", "import", str(SHOTS / "wechat_light_export.jsonl"), "--tz", "Asia/Shanghai",
        "--label", "export")
    page = tmp_path / "compare.html"
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "c.db"), "compare", str(SHOTS / "doctored_amount.png"),
                                      "export", "--tz", "Asia/Shanghai", "--html", str(page)])
    assert result.exit_code == 1, result.output
    html = page.read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "trust: ocr" in html and "8000" in html


def test_a_removed_message_is_missing_in_the_screenshot(readings, tmp_path) -> None:
    report = compare(tmp_path, "doctored_removed.png")
    assert [m["text"] for m in report["missing_in_a"]] == ["收到，我看一下"]
    assert report["summary"]["altered"] == 0


def test_a_bubble_moved_to_the_other_side_is_a_sender_change(readings, tmp_path) -> None:
    report = compare(tmp_path, "doctored_moved.jpg")
    moved = [e for e in report["altered"] if e.get("sender_changed")]
    assert [e["a"]["text"] for e in moved] == ["收到，我看一下"]
    assert report["summary"]["missing_in_a"] == report["summary"]["missing_in_b"] == 0


def test_a_confusable_character_is_not_an_alteration() -> None:
    from chataudit.compare.screenshots import fold

    assert fold(normalize("订单O1l5 👍")) == fold(normalize("订单0115"))
    assert fold(normalize("订单8000")) != fold(normalize("订单5000"))


# ---- check ------------------------------------------------------------------------------------------

def image_signals(tmp_path: Path, name: str) -> list[tuple[str, str]]:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "k.db"), "check", str(SHOTS / name), "--json"])
    if not (tmp_path / "k.db").exists():  # check needs an archive: make an empty one first
        run(tmp_path / "k.db", "import", str(SHOTS / "wechat_light_export.jsonl"), "--tz", "Asia/Shanghai")
        result = CliRunner().invoke(cli, ["--db", str(tmp_path / "k.db"), "check", str(SHOTS / name), "--json"])
    report = json.loads(result.stdout)
    assert report["scope"]["trust"] == "ocr"
    return sorted((s["evidence"]["signal"], s["severity"]) for s in report["signals"] if s["check"] == "screenshot_image")


@pytest.mark.parametrize("name, signals", [
    ("doctored_amount.png", [("font_consistency", "high"), ("image_metadata", "high"), ("text_padding", "high")]),
    ("doctored_moved.jpg", [("bubble_geometry", "high"), ("image_recompression", "low")]),
    ("forged_clock.png", [("status_clock", "medium")]),
    ("wechat_light.png", []),
    ("wechat_dark.png", []),
    ("wechat_group.png", []),
    ("whatsapp_light.png", []),
    ("doctored_removed.png", []),  # a band cut at the row spacing leaves no image trace: compare finds it
])
def test_check_image_signals(readings, tmp_path, name, signals) -> None:
    assert image_signals(tmp_path, name) == signals


# ---- export -----------------------------------------------------------------------------------------

def test_html_export_shows_each_message_beside_its_crop(readings, tmp_path) -> None:
    db = tmp_path / "h.db"
    shot = tmp_path / "shot.png"
    shutil.copy(SHOTS / "wechat_group.png", shot)
    run(db, "import", str(shot), "--tz", "Asia/Shanghai")
    out = tmp_path / "t.html"
    run(db, "export", "--conversation", "1", "--format", "html", "--out", str(out))
    page = out.read_text(encoding="utf-8")
    count = len(expected("wechat_group.png")["messages"])
    assert page.count('src="data:image/png;base64,') == count
    assert page.count("trust: ocr") == count and "LOW CONFIDENCE" in page
    shot.write_bytes(b"changed")  # the image is gone or changed: no crop, and the page says why
    run(db, "export", "--conversation", "1", "--format", "html", "--out", str(out))
    page = out.read_text(encoding="utf-8")
    assert "data:image/png" not in page and page.count("no crop:") == count


def test_the_evidence_package_marks_trust_ocr(readings, tmp_path) -> None:
    db = tmp_path / "v.db"
    run(db, "import", str(SHOTS / "wechat_light.png"), "--tz", "Asia/Shanghai")
    package = tmp_path / "pkg.zip"
    run(db, "evidence", "export", "--conversation", "1", "--no-pdf", "--out", str(package))
    with zipfile.ZipFile(package) as bundle:
        page = bundle.read("messages.html").decode()
        lines = [json.loads(line) for line in bundle.read("messages.jsonl").decode().splitlines()]
    assert page.count("trust: ocr") == len(lines) == len(expected("wechat_light.png")["messages"])
    assert all(line["extras"]["screenshot"]["trust"] == "ocr" for line in lines)


def _label(moment: datetime, anchor: date, style: str) -> str:
    """How WeChat (zh or en) prints a separator for ``moment`` seen on ``anchor``."""
    days = (anchor - moment.date()).days
    if style == "en":
        clock = f"{(moment.hour - 1) % 12 + 1}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"
        if days == 0:
            return clock
        if days == 1:
            return f"Yesterday {clock}"
        if days < 7:
            return f"{moment:%A} {clock}"
        return f"{moment:%b} {moment.day}, {moment.year} {clock}"
    if days == 0:
        return f"{moment:%H:%M}"
    if days == 1:
        return f"昨天 {moment:%H:%M}"
    if days < 7:
        return "星期" + "一二三四五六日"[moment.weekday()] + f" {moment:%H:%M}"
    half = {True: "上午", False: "下午"}[moment.hour < 12]
    return f"{moment.year}年{moment.month}月{moment.day}日 {half}{(moment.hour - 1) % 12 + 1}:{moment.minute:02d}"


from hypothesis import given, strategies as st  # noqa: E402


@given(minutes_before=st.integers(min_value=0, max_value=400 * 24 * 60), style=st.sampled_from(["zh", "en"]),
       anchor=st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31)))
def test_every_separator_wechat_prints_reads_back(minutes_before, style, anchor) -> None:
    from datetime import timedelta

    end_of_day = datetime.combine(anchor, datetime.max.time()).replace(second=0, microsecond=0)
    moment = end_of_day - timedelta(minutes=minutes_before)
    assert parse_separator(_label(moment, anchor, style), anchor) == moment
