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
* ``font_consistency``: a line whose glyphs are taller or shorter than the body text's, or whose font
  size told by its characters' advance (Han and Latin mixed; a mixed line by the Han runs at its ends
  where they can be cut from the Latin) is not the other lines' (retyped text).
* ``text_padding``: a bubble whose text runs closer to its right edge than it starts from its left
  (text retyped wider than the bubble the app drew for the original).
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
    found.extend(_fonts(reading))  # font sizes, and text overrunning its bubble's padding
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
        if not wrong and block.side == "left" and reading.app in APPS:
            # the app's own colour for the owner on the left, whatever else the screen shows (a right side
            # holding only a quote chip or a file card teaches no owner's colour)
            wrong = any(max(abs(block.fill[c] - own[c]) for c in range(3)) <= COLOUR_MATCH for own in reading.params.own)
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
    band = _row_band(np.where(ink.any(axis=1))[0])
    return band[1] - band[0] if band else None


def _row_band(rows: Any) -> tuple[int, int] | None:
    """(first, last + 1) of the longest run of ink rows with gaps of at most 3 px: the line's own glyphs.
    An OCR box often reaches a row or two into the line below or the quote above; their ink is not this
    line's (a wider line below would make this one look wider, or taller)."""
    if len(rows) == 0:
        return None
    best, start = (int(rows[0]), int(rows[0]) + 1), int(rows[0])
    for previous, current in zip(rows, rows[1:]):
        if current - previous > 3:
            start = int(current)
        if current + 1 - start > best[1] - best[0]:
            best = (start, int(current) + 1)
    return best


_CJK = re.compile(r"[\u4e00-\u9fff]")
PITCH_TOLERANCE = 0.025  # Han glyphs advance by exactly the font size: lines of one size agree within 1 %
EDGE_PX = 2.0  # the ink's first and last columns are each found to about a pixel (anti-aliasing): a short line's
# width, and so its size, is less exact than a long one's, by EDGE_PX over its width
LATIN_SLACK = 0.10  # a UI font's Latin may be up to this much wider or narrower than the table below
# (advance, left bearing, right bearing) in em of the printable ASCII and the CJK punctuation, as Source
# Han Sans / Noto Sans CJK SC draws them (the UI font of Chinese Android, and of our renders); a Han
# character advances by exactly one em in every CJK font, its ink about 0.05 em inside each side
HAN_METRICS = (1.0, 0.048, 0.049)
GLYPH_METRICS: dict[str, tuple[float, float, float]] = {'!': (0.323, 0.095, 0.098), '"': (0.474, 0.090, 0.089), '#': (0.555, 0.040, 0.035), '$': (0.555, 0.060, 0.065), '%': (0.921, 0.040, 0.041), '&': (0.680, 0.035, 0.020), "'": (0.278, 0.090, 0.093), '(': (0.338, 0.090, 0.043), ')': (0.338, 0.045, 0.093), '*': (0.467, 0.065, 0.067), '+': (0.555, 0.035, 0.035), ',': (0.278, 0.055, 0.058), '-': (0.347, 0.045, 0.047), '.': (0.278, 0.075, 0.073), '/': (0.392, 0.010, 0.017), '0': (0.555, 0.050, 0.050), '1': (0.555, 0.085, 0.065), '2': (0.555, 0.040, 0.050), '3': (0.555, 0.030, 0.055), '4': (0.555, 0.020, 0.030), '5': (0.555, 0.030, 0.055), '6': (0.555, 0.055, 0.045), '7': (0.555, 0.050, 0.045), '8': (0.555, 0.045, 0.045), '9': (0.555, 0.045, 0.055), ':': (0.278, 0.075, 0.073), ';': (0.278, 0.055, 0.058), '<': (0.555, 0.035, 0.035), '=': (0.555, 0.035, 0.035), '>': (0.555, 0.035, 0.035), '?': (0.474, 0.045, 0.054), '@': (0.946, 0.055, 0.056), 'A': (0.608, 0.005, 0.003), 'B': (0.657, 0.100, 0.047), 'C': (0.638, 0.060, 0.038), 'D': (0.688, 0.100, 0.058), 'E': (0.589, 0.100, 0.054), 'F': (0.552, 0.100, 0.027), 'G': (0.689, 0.055, 0.074), 'H': (0.728, 0.100, 0.098), 'I': (0.293, 0.100, 0.098), 'J': (0.535, 0.035, 0.095), 'K': (0.646, 0.100, 0.006), 'L': (0.543, 0.100, 0.028), 'M': (0.812, 0.100, 0.102), 'N': (0.723, 0.100, 0.103), 'O': (0.742, 0.055, 0.057), 'P': (0.633, 0.100, 0.048), 'Q': (0.742, 0.055, 0.042), 'R': (0.635, 0.100, 0.030), 'S': (0.596, 0.050, 0.041), 'T': (0.599, 0.030, 0.029), 'U': (0.721, 0.095, 0.096), 'V': (0.575, 0.000, 0.000), 'W': (0.878, 0.025, 0.028), 'X': (0.573, 0.020, 0.018), 'Y': (0.531, 0.000, 0.001), 'Z': (0.603, 0.050, 0.048), '[': (0.338, 0.105, 0.033), '\\': (0.392, 0.015, 0.012), ']': (0.338, 0.035, 0.103), '^': (0.555, 0.070, 0.070), '_': (0.559, 0.010, 0.014), '`': (0.606, 0.145, 0.241), 'a': (0.563, 0.060, 0.078), 'b': (0.618, 0.090, 0.053), 'c': (0.510, 0.050, 0.030), 'd': (0.620, 0.055, 0.090), 'e': (0.554, 0.050, 0.044), 'f': (0.325, 0.030, -0.030), 'g': (0.564, 0.050, 0.014), 'h': (0.607, 0.090, 0.082), 'i': (0.275, 0.080, 0.075), 'j': (0.275, -0.045, 0.075), 'k': (0.552, 0.090, 0.012), 'l': (0.284, 0.090, 0.044), 'm': (0.926, 0.090, 0.086), 'n': (0.610, 0.090, 0.085), 'o': (0.606, 0.050, 0.051), 'p': (0.620, 0.090, 0.055), 'q': (0.620, 0.050, 0.090), 'r': (0.388, 0.090, -0.002), 's': (0.468, 0.035, 0.038), 't': (0.377, 0.025, 0.012), 'u': (0.607, 0.085, 0.092), 'v': (0.521, 0.015, 0.011), 'w': (0.802, 0.025, 0.027), 'x': (0.498, 0.015, 0.018), 'y': (0.521, 0.015, 0.011), 'z': (0.475, 0.035, 0.030), '{': (0.338, 0.035, 0.033), '|': (0.270, 0.100, 0.105), '}': (0.338, 0.035, 0.038), '~': (0.555, 0.045, 0.040), '，': (1.000, 0.135, 0.670), '。': (1.000, 0.040, 0.655), '、': (1.000, 0.055, 0.660), '：': (1.000, 0.175, 0.675), '；': (1.000, 0.145, 0.660), '！': (1.000, 0.185, 0.685), '？': (1.000, 0.035, 0.540), '（': (1.000, 0.695, 0.045), '）': (1.000, 0.045, 0.695), '“': (1.000, 0.625, 0.035), '”': (1.000, 0.035, 0.625), '‘': (1.000, 0.805, 0.045), '’': (1.000, 0.045, 0.805), '《': (1.000, 0.530, 0.040), '》': (1.000, 0.035, 0.530), '【': (1.000, 0.665, 0.035), '】': (1.000, 0.035, 0.665), '…': (1.000, 0.100, 0.100), '—': (0.894, 0.045, 0.049), '～': (1.000, 0.045, 0.045), '·': (1.000, 0.395, 0.395), '％': (1.000, 0.075, 0.075), '￥': (1.000, 0.190, 0.190), ' ': (0.224, 0, 0)}


def _one_em(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or (ch in GLYPH_METRICS and GLYPH_METRICS[ch][0] == 1.0)


def _metrics(text: str) -> list[tuple[float, float, float]] | None:
    """Each character's (advance, left bearing, right bearing) in em; None if one has no known metrics."""
    metrics = []
    for ch in text:
        if "\u4e00" <= ch <= "\u9fff":
            metrics.append(HAN_METRICS)
        elif ch in GLYPH_METRICS:
            metrics.append(GLYPH_METRICS[ch])
        else:
            return None
    return metrics


def _em_width(text: str) -> tuple[float, float] | None:
    """(ink width in em, share of it that is not Han) of a line typed in one font, from its characters'
    advances and the bearings of its first and last glyph; None if a character has no known metrics."""
    text = text.strip()
    metrics = _metrics(text) if text else None
    if not metrics:
        return None
    width = sum(m[0] for m in metrics) - metrics[0][1] - metrics[-1][2]
    latin = sum(m[0] for ch, m in zip(text, metrics) if ch.isascii())
    return (width, latin / width) if width > 0 else None


def _end_runs(ink: Any, text: str, slack: float) -> list[tuple[float, float]]:
    """(ink width in pixels, width in em) of a mixed line's leading and trailing runs of one-em characters
    (Han, full-width punctuation), each cut from the rest at the one gap in the ink where the table puts
    its end. Their advance needs no Latin table, so a line mixing Latin is measured as exactly as a Han one.

    ``ink``: per column of the line's own rows, whether it holds ink; ``slack``: how far off (a share)
    the size told by the whole line may be for its Latin. A run whose end shows no gap, or more than one
    (a glyph with a gap of its own), is not measured."""
    import numpy as np

    metrics = _metrics(text)
    columns = np.nonzero(ink)[0]
    if not metrics or len(columns) == 0:
        return []
    first, last = int(columns[0]), int(columns[-1])
    size = (last - first + 1) / (sum(m[0] for m in metrics) - metrics[0][1] - metrics[-1][2])
    lead = next((n for n, ch in enumerate(text) if not _one_em(ch)), len(text))
    trail = next((n for n, ch in enumerate(reversed(text)) if not _one_em(ch)), len(text))
    runs = []
    if 2 <= lead < len(text):
        em = lead - metrics[0][1] - metrics[lead - 1][2]
        end, reach = first + em * size - 1, lead * size * slack + EDGE_PX
        ends = [c for c in range(max(first, int(end - reach)), min(last, int(end + reach) + 1)) if ink[c] and not ink[c + 1]]
        if len(ends) == 1:
            runs.append((float(ends[0] - first + 1), em))
    if 2 <= trail < len(text):
        em = trail - metrics[-trail][1] - metrics[-1][2]
        start, reach = last - em * size + 1, trail * size * slack + EDGE_PX
        starts = [c for c in range(max(first + 1, int(start - reach)), min(last, int(start + reach) + 1) + 1)
                  if ink[c] and not ink[c - 1]]
        if len(starts) == 1:
            runs.append((float(last - starts[0] + 1), em))
    return runs


def _pitch(rgb: Any, block: Block, line: Any) -> tuple[float, float, float, int] | None:
    """(ink width in pixels, Han text width in em, Latin text width in em, ink pieces measured) of a body
    line: the font size is the ink width over the text's width in em (:func:`_em_width`). Han glyphs advance by
    exactly one em, so a line retyped one size larger is a few per cent wider for its text than the screen's
    other lines. Latin and digits are counted by a table of one UI font (another app's Latin differs), so
    lines mostly Latin are left out, and a mixed line is measured by its Han runs at its ends when they
    can be cut from the Latin more exactly than the table's slack (:func:`_end_runs`)."""
    import numpy as np

    text = line.text.strip()
    em = _em_width(text)
    if em is None or em[1] > 0.75 or em[0] < 3 or len(_CJK.findall(text)) < 4:
        return None
    # a misread that changes the line's width in em is what would mislead: Han and full-width punctuation all
    # advance one em, so a line of them only is measured right through a confusion between two of them
    if line.confidence < (0.90 if all(_one_em(ch) for ch in text) else 0.95):
        return None
    x, y, w, h = line.box
    bx, by, bw, bh = block.box
    region = rgb[max(y, by + 2): min(y + h, by + bh - 2), max(x - 4, bx + 2): min(x + w + 4, bx + bw - 2)].astype(int)
    if region.size == 0 or block.fill is None:
        return None
    ink = np.abs(region - np.array(block.fill)).max(axis=2) > 80
    band = _row_band(np.where(ink.any(axis=1))[0])
    if band is None:
        return None
    ink = ink[band[0]:band[1]].any(axis=0)
    columns = np.nonzero(ink)[0]
    width = float(columns[-1] - columns[0] + 1)
    if em[1]:
        runs = _end_runs(ink, text, LATIN_SLACK * em[1])
        if runs and EDGE_PX * len(runs) / sum(r[0] for r in runs) < LATIN_SLACK * em[1] + EDGE_PX / width:
            return sum(r[0] for r in runs), sum(r[1] for r in runs), 0.0, len(runs)
    return width, em[0] * (1 - em[1]), em[0] * em[1], 1


def _fonts(reading: Reading) -> list[dict[str, Any]]:
    rgb = load_rgb(reading.path)[0]
    found = _pitches(reading, rgb) + _padding(reading, rgb)
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


PADDING_TOLERANCE_PX = 4  # a bubble's text starts and ends the same padding from its edges, to a glyph's bearing


def _padding(reading: Reading, rgb: Any) -> list[dict[str, Any]]:
    """Bubbles whose text runs closer to their right edge than it starts from their left one.

    An app sizes each bubble to its text with the same padding on both sides (a wrapped bubble's lines
    end short of it); text retyped wider than the original runs into the right padding or past the
    bubble's edge. Bubbles with a time, a name or a quote inside are left out (their own layout)."""
    import numpy as np

    found = []
    for block in reading.blocks:
        if (block.role != "message" or block.kind != "text" or block.cut or not block.lines or block.fill is None
                or block.clock or block.quote or block.name_line):
            continue
        x, y, w, h = block.box
        top = max(y + 2, min(line.box[1] for line in block.lines))  # the text's rows: clear of rounded corners
        bottom = min(y + h - 2, max(line.box[1] + line.box[3] for line in block.lines))
        region = rgb[top:bottom, x: x + w].astype(np.int16)
        if region.size == 0:
            continue
        ink = ((np.abs(region - np.array(block.fill, dtype=np.int16)).max(axis=2) > 80)
               & (np.abs(region - np.array(reading.background, dtype=np.int16)).max(axis=2) > 40)).any(axis=0)
        columns = np.nonzero(ink)[0]
        if len(columns) == 0:
            continue
        left, right = int(columns[0]), int(w - 1 - columns[-1])
        if left >= PADDING_TOLERANCE_PX and right < left - max(PADDING_TOLERANCE_PX, left // 5):
            found.append(_signal("text_padding", "high", f"{reading.path.name}: the text of {block.text[:30]!r} "
                                 f"ends {right} px from its bubble's right edge but starts {left} px from its left "
                                 "one: a line retyped wider than the bubble was drawn for?", image=reading.path.name,
                                 bbox=list(block.box), left_padding=left, right_padding=right))
    return found


def _pitches(reading: Reading, rgb: Any) -> list[dict[str, Any]]:
    """Lines whose font size told by their advance (:func:`_pitch`) is not the other lines' one.

    Each line is compared with the others (leave one out). When two or more other lines mix in
    enough Latin, the screen's own Latin width is learned from them (a least-squares fit of the ink
    width over the Han and the Latin em widths), so the table's font need not be the app's."""
    import numpy as np

    measured = []
    for block in reading.blocks:
        if block.role != "message" or block.kind != "text" or block.cut or block.pictographs:
            continue
        for line in block.lines:
            if block.clock and line is block.lines[-1]:
                continue  # the bubble's time (a smaller font) ends this line
            pitch = _pitch(rgb, block, line)
            if pitch:
                measured.append((line, *pitch))
    if len(measured) < 2:
        return []
    found = []
    jpeg = 0.01 if reading.image_format == "JPEG" else 0
    for line, ink, han, latin, pieces in measured:
        others = [m for m in measured if m[0] is not line]
        share = latin / (han + latin)
        latin_scale, slack = 1.0, LATIN_SLACK
        if share and sum(1 for o in others if o[3] / (o[2] + o[3]) >= 0.2) >= 2:
            rows = np.array([[o[2] / o[1], o[3] / o[1]] for o in others])  # relative errors: each row over its ink
            fit = np.linalg.lstsq(rows, np.ones(len(others)), rcond=None)[0]
            if fit[0] > 0 and 0.7 <= fit[1] / fit[0] <= 1.4:
                latin_scale, slack = float(fit[1] / fit[0]), LATIN_SLACK / 3
        usual = median(m[1] / (m[2] + latin_scale * m[3]) for m in measured)  # the majority's size
        size = ink / (han + latin_scale * latin)
        tolerance = PITCH_TOLERANCE + slack * share + jpeg + EDGE_PX * pieces / ink
        if abs(size - usual) > tolerance * usual:
            found.append(_signal("font_consistency", "high", f"{reading.path.name}: the characters of "
                                 f"{line.text[:30]!r} are typed {size:.1f} px large (by their advance), the other "
                                 f"lines' {usual:.1f} px: another font size, retyped?", image=reading.path.name,
                                 bbox=list(line.box), pitch=round(size, 2), usual=round(usual, 2),
                                 latin_share=round(share, 2), latin_scale=round(latin_scale, 3), ink_pieces=pieces,
                                 lines_compared=len(others)))
    return found


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
