"""Image signals of a screenshot for ``check``: traces an edit may leave, each with its evidence.

None of them is a verdict. A screenshot forwarded through a chat app is recompressed; one cropped
or scaled by a sharing app has an unusual width; a status bar can show another zone's time. And a
careful forgery (a chat rendered again by a fake-chat generator, a band cut at exactly the row
spacing) leaves none of them: only ``compare`` with another copy finds what it changed.

* ``image_metadata``: an image editor named in the file's metadata (EXIF Software, PNG text).
* ``image_recompression``: saved as JPEG (phones save screenshots as PNG), with the estimated quality.
* ``image_resampling``: a width no phone screenshot has (scaled, or cropped sideways).
* ``bubble_geometry``: a bubble whose colour belongs to the other side (the owner's green on the
  left).
* ``font_consistency``: a line whose glyphs are taller or shorter than the body text's, or a line of
  Han characters whose characters advance by another width than the other such lines' (retyped text).
* ``status_clock``: the status bar's clock is earlier than a message the screen shows as sent that day.
"""

from __future__ import annotations

import re
from datetime import datetime
from statistics import median
from typing import Any

from .reader import APPS, CLOCK, COLOUR_MATCH, Block, Reading, load_rgb, message_clock, parse_separator

EDITORS = ("photoshop", "gimp", "snapseed", "lightroom", "picsart", "meitu", "美图", "canva", "pixelmator",
           "affinity", "paint.net", "醒图", "fotor", "acdsee", "illustrator", "figma", "sketch", "krita",
           "photopea", "inpixio", "wps 图片", "美颜")
# widths (pixels) of phone screenshots: iPhones at 2× and 3×, common Android panels
PHONE_WIDTHS = frozenset({640, 720, 750, 828, 1080, 1125, 1170, 1179, 1206, 1242, 1260, 1284, 1290, 1320, 1440,
                          1080 * 2, 1344, 1216, 1236, 1264, 1220, 1200, 1600})
FONT_TOLERANCE_PX = 2  # ink heights of one font size agree to the pixel on a screen capture


def image_signals(reading: Reading, *, anchor_day: Any = None) -> list[dict[str, Any]]:
    """The signals of one screenshot: ``{check, severity, detail, evidence}`` dicts."""
    found: list[dict[str, Any]] = []
    name = reading.path.name
    for key, value in reading.metadata.items():
        if key == "jpeg_quality_estimate":
            continue
        if any(editor in value.lower() for editor in EDITORS):
            found.append(_signal("image_metadata", "high", f"{name}: {key} says {value!r}: the image was saved "
                                 "by an image editor", image=name, field=key, value=value))
    if reading.image_format == "JPEG":
        quality = reading.metadata.get("jpeg_quality_estimate")
        found.append(_signal("image_recompression", "low", f"{name}: saved as JPEG (quality ≈{quality}); phones save "
                             "screenshots as PNG, so it was re-encoded — by an editor, or by an app that "
                             "forwarded it", image=name, format="JPEG", quality=quality))
    if reading.height > reading.width and reading.width not in PHONE_WIDTHS:
        found.append(_signal("image_resampling", "low", f"{name}: {reading.width} px wide, no phone's screenshot "
                             "width: scaled or cropped after capture", image=name, width=reading.width,
                             height=reading.height))
    found.extend(_geometry(reading))
    found.extend(_fonts(reading))
    found.extend(_clock(reading, anchor_day))
    return found


def _signal(check: str, severity: str, detail: str, **evidence: Any) -> dict[str, Any]:
    return {"check": check, "severity": severity, "detail": detail, "evidence": evidence}


def _greenish(colour: tuple[int, int, int] | None) -> bool:
    return colour is not None and colour[1] > colour[0] + 25 and colour[1] > colour[2] + 25


def _near(a: tuple[int, int, int] | None, b: tuple[int, int, int] | None) -> bool:
    return a is not None and b is not None and max(abs(x - y) for x, y in zip(a, b)) <= 12


def _usual(fills: list[tuple[int, int, int]]) -> tuple[int, int, int] | None:
    """The fill most bubbles of one side share (each fill counted with its near neighbours)."""
    if not fills:
        return None
    return max(fills, key=lambda f: sum(_near(f, g) for g in fills))


def _geometry(reading: Reading) -> list[dict[str, Any]]:
    """A bubble whose colour is the other side's. The sides' colours are learned from the screen itself
    (most bubbles of a side share one); with no bubble on one side, WeChat's green marks the owner's, and
    in the other apps a left bubble of the owner's colour (:data:`APPS`) is out of place."""
    found = []
    texts = [b for b in reading.blocks if b.role == "message" and b.kind == "text" and b.lines and not b.cut
             and b.fill is not None]
    left = _usual([b.fill for b in texts if b.side == "left"])
    right = _usual([b.fill for b in texts if b.side == "right"])
    for block in texts:
        own, other = (left, right) if block.side == "left" else (right, left)
        if other is not None and own is not None and not _near(own, other):
            wrong = _near(block.fill, other) and not _near(block.fill, own)
        elif reading.app == "wechat":  # one side only: the owner's bubbles are green, the others' are not
            wrong = (block.side == "left") == _greenish(block.fill)
        elif reading.app in APPS:  # one side only: a left bubble in the app's colour for the owner's
            wrong = block.side == "left" and any(max(abs(block.fill[c] - own[c]) for c in range(3)) <= COLOUR_MATCH
                                                 for own in reading.params.own)
        else:
            wrong = False
        if wrong:
            owner = "the other side's" if other is not None else "the other side's (WeChat: green is the owner's)"
            found.append(_signal("bubble_geometry", "high", f"{reading.path.name}: the bubble {block.text[:30]!r} is "
                                 f"on the {block.side} but has {owner} colour: moved to the other side?",
                                 image=reading.path.name, bbox=list(block.box), side=block.side,
                                 fill="#%02X%02X%02X" % block.fill))
    return found


def _ink_height(rgb: Any, block: Block, box: tuple[int, int, int, int]) -> int | None:
    """Height of the longest run of dark-ink rows in a line (emoji and colour excluded)."""
    import numpy as np

    x, y, w, h = box
    bx, by, bw, bh = block.box
    region = rgb[max(y, by + 2): min(y + h, by + bh - 2), max(x, bx + 2): min(x + w, bx + bw - 2)].astype(int)
    if region.size == 0 or block.fill is None:
        return None
    ink = (np.abs(region - np.array(block.fill)).max(axis=2) > 80) & (region.max(axis=2) - region.min(axis=2) < 60)
    rows = np.where(ink.any(axis=1))[0]
    if len(rows) == 0:
        return None
    best = run = 1
    for previous, current in zip(rows, rows[1:]):
        run = run + (current - previous) if current - previous <= 3 else 1
        best = max(best, run)
    return int(best)


_CJK = re.compile(r"[\u4e00-\u9fff]")
_FULL_WIDTH = re.compile(r"^[\u4e00-\u9fff][\u4e00-\u9fff，。！？：；、（）“”,.!?:;]{4,}[\u4e00-\u9fff]$")
PITCH_TOLERANCE = 0.025  # Han glyphs advance by exactly the font size: lines of one size agree within 1 %


def _pitch(rgb: Any, block: Block, line: Any) -> float | None:
    """The advance of a line made of Han characters (and the full-width punctuation between them), in
    pixels: its ink width over its character count. Each Han glyph advances by exactly one em, so this
    is the font size, and a line retyped one size larger is a few per cent wider for its length."""
    import numpy as np

    text = line.text.strip()
    if not _FULL_WIDTH.match(text) or line.confidence < 0.95:
        return None
    x, y, w, h = line.box
    bx, by, bw, bh = block.box
    region = rgb[max(y, by + 2): min(y + h, by + bh - 2), max(x - 4, bx + 2): min(x + w + 4, bx + bw - 2)].astype(int)
    if region.size == 0 or block.fill is None:
        return None
    columns = np.where((np.abs(region - np.array(block.fill)).max(axis=2) > 80).any(axis=0))[0]
    if len(columns) == 0:
        return None
    return float(columns[-1] - columns[0] + 1) / (len(text) - 0.08)  # the last glyph's ink falls short of its em


def _fonts(reading: Reading) -> list[dict[str, Any]]:
    rgb = load_rgb(reading.path)[0]
    found = _pitches(reading, rgb)
    flagged = {tuple(s["evidence"]["bbox"]) for s in found}
    measured = []
    for block in reading.blocks:
        if block.role != "message" or block.kind != "text" or block.cut:
            continue
        for line in block.lines:
            if len(_CJK.findall(line.text)) >= 2:  # Han glyphs share one height; Latin ones do not
                height = _ink_height(rgb, block, line.box)
                if height:
                    measured.append((block, line, height))
    if len(measured) < 3:
        return found
    # the usual height is that of lines with enough Han glyphs to reach the font's full extent; a short
    # line ("辛苦了") may lack its tallest glyphs, so it is only suspect when taller
    full = [h for _, line, h in measured if len(_CJK.findall(line.text)) >= 6]
    usual = median(full if len(full) >= 2 else [h for _, _, h in measured])
    # JPEG ringing blurs the edges; a desktop window's smaller glyphs vary more with their content
    tolerance = FONT_TOLERANCE_PX + (1 if reading.image_format == "JPEG" else 0) + (1 if reading.client == "desktop"
                                                                                     else 0)
    return found + [_signal("font_consistency", "high", f"{reading.path.name}: the glyphs of {line.text[:30]!r} are "
                            f"{height} px tall, the other lines' {usual:.0f} px: another font size, retyped?",
                            image=reading.path.name, bbox=list(line.box), ink_height=height, usual=usual)
                    for block, line, height in measured if (height - usual >= tolerance or (
                        usual - height >= tolerance and len(_CJK.findall(line.text)) >= 6))
                    and tuple(line.box) not in flagged]


def _pitches(reading: Reading, rgb: Any) -> list[dict[str, Any]]:
    """Lines of Han characters whose advance (:func:`_pitch`) is not the other such lines' one."""
    measured = []
    for block in reading.blocks:
        if block.role != "message" or block.kind != "text" or block.cut:
            continue
        for line in block.lines:
            pitch = _pitch(rgb, block, line)
            if pitch:
                measured.append((line, pitch))
    if len(measured) < 2:
        return []
    usual = median(p for _, p in measured)
    tolerance = PITCH_TOLERANCE + (0.01 if reading.image_format == "JPEG" else 0)
    return [_signal("font_consistency", "high", f"{reading.path.name}: the characters of {line.text[:30]!r} advance "
                    f"{pitch:.1f} px, the other lines' {usual:.1f} px: another font size, retyped?",
                    image=reading.path.name, bbox=list(line.box), pitch=round(pitch, 2), usual=round(usual, 2))
            for line, pitch in measured if abs(pitch - usual) > tolerance * usual]


def _clock(reading: Reading, anchor_day: Any) -> list[dict[str, Any]]:
    match = CLOCK.match(reading.status_clock or "")
    if not match or anchor_day is None:
        return []
    shown = datetime.combine(anchor_day, datetime.min.time()).replace(hour=int(match.group(1)) % 24,
                                                                      minute=int(match.group(2)) % 60)
    latest, said = None, None
    day = None
    for block in reading.blocks:
        moment = None
        if block.role == "time":
            moment = parse_separator(block.text, anchor_day)
            day = moment.date() if moment else day
            if moment and moment.time() == datetime.min.time():
                moment = None  # a date-only chip says nothing of the hour
        elif block.clock:
            moment = message_clock(block.clock, day or anchor_day)
        if moment and moment.date() == anchor_day and (latest is None or moment > latest):
            latest, said = moment, block.clock or block.text
    if latest is None or latest <= shown:
        return []
    return [_signal("status_clock", "medium", f"{reading.path.name}: the status bar shows {reading.status_clock} but "
                    f"the screen shows a message of that day at {said} ({latest:%H:%M}), later than the capture",
                    image=reading.path.name, status_clock=reading.status_clock, message_time=latest.isoformat(),
                    anchor_date=str(anchor_day))]


def source_signals(path: str, anchor_days: dict[str, Any]) -> list[dict[str, Any]]:
    """The image signals of a screenshot source as imported: one image, a folder or a zip of them.

    ``anchor_days``: image SHA-256 → the anchor date its messages were read against (their provenance).
    """
    import tempfile
    import zipfile
    from pathlib import Path

    from . import image_files
    from .reader import read_image

    source = Path(path)
    found: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="chataudit-shots-") as folder:
        if source.is_dir():
            images = image_files(source)
        elif zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as bundle:
                images = []
                for number, info in enumerate(bundle.infolist()):
                    suffix = Path(info.filename).suffix.lower()
                    if info.is_dir() or suffix not in (".png", ".jpg", ".jpeg", ".webp") or info.file_size > 64 << 20:
                        continue
                    target = Path(folder) / f"{number:04d}{suffix}"
                    target.write_bytes(bundle.read(info))
                    images.append(target)
        elif source.is_file():
            images = [source]
        else:
            return []
        for image in images:
            reading = read_image(image)
            day = anchor_days.get(reading.sha256) or (reading.captured.date() if reading.captured else None)
            found.extend(image_signals(reading, anchor_day=day))
    return found
