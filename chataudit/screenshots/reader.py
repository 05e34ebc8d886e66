"""Reading one chat screenshot: where the bubbles are, which side, what they say, and when.

Geometry comes from the pixels, words from the OCR (:mod:`.ocr`):

1. The chat background is the colour of the screen's left edge; the header (status bar, title
   bar) ends at the last row that differs from it below the title, the input bar starts at the
   first such row from the bottom.
   Which app took it is told by the screen's colours (:data:`APPS`: the chat background, the
   owner's bubble colour), and failing that by where the title sits.
2. Solid regions that differ from the background are bubbles, cards, pictures or avatars (text
   strokes are too thin to survive a morphological opening). Squares at the screen's edge are
   avatars; a bubble's side is its avatar's side (WeChat, WeCom, DingTalk, Feishu) or the nearer
   screen edge (WhatsApp, Telegram).
3. OCR lines inside a region are its text; centred lines outside are time separators or system
   lines; a short line just above a left bubble is its sender's name (groups); a 已读/未读 (or
   ``2人未读``) beside the owner's bubble is its read receipt, kept apart from the text.
4. Time separators (``昨天 14:32``, ``星期三 09:10``, ``2024年3月5日 下午3:12``, ``Yesterday 2:32 PM``,
   WhatsApp's ``TODAY`` chips, Telegram's ``Yesterday`` / ``March 4`` pills and the per-message times
   of both) become instants against an anchor date.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from .ocr import Line, read_lines

IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF")
LOW_CONFIDENCE = 0.85  # an OCR line below this is flagged in the message's provenance
BACKGROUND_DIFF = 6  # colour distance (max over channels) from which a pixel is not background


RGB = tuple[int, int, int]


@dataclass(frozen=True)
class App:
    """How one chat app lays out its phone screen: what the one reader needs to know of it."""

    name: str
    backgrounds: tuple[RGB, ...]  # the chat background, light then dark theme
    own: tuple[RGB, ...]  # the owner's bubble colour, light then dark
    avatars: bool  # avatars beside bubbles tell the side (else: the nearer screen edge)
    names_above: bool  # group members' names sit above their bubbles (else: inside, or none)
    clock_in_bubble: bool  # each bubble ends with its time (and the owner's ticks)
    chips: bool  # date separators are pills (regions of their own), not bare centred text
    receipts: bool  # 已读/未读 beside the owner's bubbles
    max_bubble: float = 0.67  # the widest a bubble gets, as a fraction of the chat's width (wraps happen there)


@dataclass(frozen=True)
class Layout:
    """Where things sit on a phone's screen or in a desktop client's chat pane (fractions of the pane)."""

    client: str  # "phone" | "desktop"
    avatar: tuple[float, float]  # an avatar's width lies between these fractions of the chat's width
    edge: float  # avatars sit within this fraction of the left or right edge
    header: float  # title lines are centred above this fraction of the height
    input_band: float  # the input area's full-width divider lies below this fraction of the height
    centred_min: float  # a centred line (separator, system line) is at least this fraction wide
    quote_gap: float  # a quote block sits at most this fraction of the height under its bubble


PHONE = Layout("phone", (0.07, 0.16), 0.08, 0.12, 0.85, 0.08, 0.012)
DESKTOP = Layout("desktop", (0.035, 0.09), 0.06, 0.10, 0.55, 0.02, 0.012)


APPS = {
    "wechat": App("wechat", ((237, 237, 237), (17, 17, 17)), ((149, 236, 105), (62, 181, 117)), True, True, False,
                  False, False),
    "whatsapp": App("whatsapp", ((236, 229, 221), (11, 20, 26)), ((220, 248, 198), (0, 92, 75)), False, False, True,
                    True, False),
    "wecom": App("wecom", ((245, 245, 245), (32, 32, 32)), ((204, 228, 255), (47, 93, 154)), True, True, False, False,
                 True),
    "dingtalk": App("dingtalk", ((233, 238, 245), (23, 25, 28)), ((50, 150, 250), (42, 118, 210)), True, True, False,
                    False, True),
    "feishu": App("feishu", ((255, 255, 255), (42, 42, 44)), ((204, 221, 255), (36, 58, 102)), True, True, False, False,
                  True),
    "telegram": App("telegram", ((169, 199, 154), (14, 22, 33)), ((225, 254, 198), (43, 82, 120)), False, False,
                    True, True, False, 0.74),
}
APPS["whatsapp"] = replace(APPS["whatsapp"], max_bubble=0.74)
# desktop clients: the chat pane's background and the owner's bubble (WeChat for Windows/Mac, WeCom, Telegram Desktop)
DESKTOP_APPS = {
    "wechat": App("wechat", ((245, 245, 245),), ((149, 236, 105),), True, True, False, False, False, 0.53),
    "wecom": App("wecom", ((255, 255, 255),), ((204, 228, 255),), True, True, False, False, True, 0.53),
    "telegram": App("telegram", ((184, 209, 165),), ((239, 253, 222),), False, False, True, True, False, 0.62),
}
COLOUR_MATCH = 8  # colour distance (max over channels) within which a screen colour is an app's
# 已读 / 未读 / 2人未读 (WeCom, DingTalk), or Feishu's ring with or without its tick as the OCR sees it
# (the ring alone is also read as a circled digit or a question mark)
RECEIPT = re.compile(r"^(?:\d+人)?(?:已读|未读)$|^全部已读$|^[○◯OoQ0√✓✔>〉)）Vv①②?？]{1,2}$")


def _distance(a: RGB, b: RGB) -> int:
    return max(abs(a[c] - b[c]) for c in range(3))


def detect_app(background: RGB, fills: list[RGB], title_centred: bool | None, apps: dict[str, App] | None = None) -> str:
    """The app whose owner's bubble colour is on the screen, else whose chat background it is, else
    WeChat for a centred title and WhatsApp for one beside the back arrow (a custom wallpaper).
    ``apps``: :data:`APPS` (phones, the default) or :data:`DESKTOP_APPS`."""
    apps = APPS if apps is None else apps
    owned = sorted((min(_distance(fill, own) for fill in fills for own in app.own),
                    min(_distance(background, bg) for bg in app.backgrounds), app.name) for app in apps.values()
                   if fills)
    both = [o for o in owned if o[0] <= COLOUR_MATCH and o[1] <= COLOUR_MATCH]
    if both:
        return both[0][2]
    if owned and owned[0][0] <= COLOUR_MATCH:
        return owned[0][2]  # the nearest owner's colour: WeCom's and Feishu's blues are 7 apart
    nearest = min(apps.values(), key=lambda a: min(_distance(background, bg) for bg in a.backgrounds))
    if min(_distance(background, bg) for bg in nearest.backgrounds) <= COLOUR_MATCH:
        return nearest.name
    return "whatsapp" if title_centred is False and "whatsapp" in apps else "wechat"


def app_params(app: str, client: str) -> App:
    """The parameters of ``app`` on a phone or a desktop client."""
    return (DESKTOP_APPS if client == "desktop" else APPS)[app]


def is_image(head: bytes) -> bool:
    """PNG, JPEG or WebP by their magic bytes."""
    return head.startswith(IMAGE_MAGIC[:2]) or (head.startswith(b"RIFF") and head[8:12] == b"WEBP")


@dataclass
class Block:
    """One thing on the chat screen, top to bottom: a message bubble, a time separator or a system line."""

    role: str  # "message" | "time" | "system"
    box: tuple[int, int, int, int]  # the bubble (or the line, for centred text), image pixels
    lines: list[Line] = field(default_factory=list)
    side: str = "center"  # "left" | "right" | "center"
    kind: str = "text"
    text: str = ""
    sender: str | None = None
    amount: str | None = None
    clock: str | None = None  # WhatsApp: the time printed in the bubble
    fill: tuple[int, int, int] | None = None  # the bubble's colour
    cut: bool = False  # touches the top or bottom edge of the chat area: partly visible
    at: datetime | None = None  # time separators: the wall-clock instant read
    pictographs: bool = False  # colour emoji were in the bubble: blanked before OCR, not in the text
    receipt: str | None = None  # the owner's bubble: its read receipt (已读, 未读, 2人未读), not message text
    quote: dict[str, Any] | None = None  # a quoted reply: {"sender", "text", "bbox"} of the message quoted
    quote_lines: list[Line] = field(default_factory=list)  # the quote's lines (smaller font): not the reply's text
    name_line: Line | None = None  # WhatsApp/Telegram groups: the coloured sender name inside the bubble
    file_size: str | None = None  # a file card: the size as shown ("1.2M", "356.0K")
    breaks: list[bool] = field(default_factory=list)  # between the lines: True where the writer broke the line

    @property
    def confidence(self) -> float:
        return min((line.confidence for line in self.lines), default=1.0)

    @property
    def text_box(self) -> tuple[int, int, int, int]:
        if not self.lines:
            return self.box
        x0 = min(line.box[0] for line in self.lines)
        y0 = min(line.box[1] for line in self.lines)
        x1 = max(line.box[0] + line.box[2] for line in self.lines)
        y1 = max(line.box[1] + line.box[3] for line in self.lines)
        return (x0, y0, x1 - x0, y1 - y0)


@dataclass
class Reading:
    """What one screenshot shows."""

    path: Path
    sha256: str
    width: int
    height: int
    image_format: str  # PNG, JPEG, WEBP
    app: str  # a key of APPS: "wechat", "whatsapp", "wecom", "dingtalk", "feishu", "telegram"
    theme: str  # "light" | "dark"
    title: str | None
    status_clock: str | None
    chat_top: int
    chat_bottom: int
    background: tuple[int, int, int]
    blocks: list[Block]
    lines: list[Line]
    metadata: dict[str, str]
    captured: datetime | None  # EXIF DateTimeOriginal (naive, the phone's wall clock)
    avatars: list[tuple[int, int, int, int]] = field(default_factory=list)
    client: str = "phone"  # "phone" | "desktop" (a wide window: the chat pane right of the client's sidebar)
    pane: tuple[int, int, int, int] | None = None  # desktop: the chat pane (x, y, w, h); the sidebar is ignored

    @property
    def params(self) -> App:
        return app_params(self.app, self.client)

    @property
    def group(self) -> bool:
        return any(b.sender for b in self.blocks) or bool(self.title and re.search(r"[(（]\d+[)）]$", self.title))


# ---- pixels ------------------------------------------------------------------------------------------

def load_rgb(path: Path) -> tuple[Any, str, dict[str, str], datetime | None]:
    """(RGB array, format, metadata strings, EXIF capture time) of an image file."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        image_format = image.format or "?"
        metadata: dict[str, str] = {}
        for key, value in (image.info or {}).items():
            if isinstance(value, str) and len(value) < 500:
                metadata[str(key)] = value
        exif = image.getexif()
        captured = None
        if exif:
            for tag, name in ((0x0131, "Software"), (0x0110, "Model"), (0x010F, "Make"), (0x0132, "DateTime")):
                if exif.get(tag):
                    metadata[name] = str(exif.get(tag)).strip("\x00 ")
            original = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
            if original:
                try:
                    captured = datetime.strptime(str(original).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
                except ValueError:
                    captured = None
        if image_format == "JPEG":
            tables = getattr(image, "quantization", None) or {}
            if tables:
                metadata["jpeg_quality_estimate"] = str(jpeg_quality(tables))
        rgb = np.asarray(image.convert("RGB"))
    return rgb, image_format, metadata, captured


def jpeg_quality(tables: dict[int, Any]) -> int:
    """The libjpeg quality (1..100) whose scaled luminance table is nearest the file's first table."""
    base = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
            14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
            49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
    table = sorted(list(tables[min(tables)]))
    best, best_error = 100, float("inf")
    for quality in range(1, 101):
        scale = 5000 / quality if quality < 50 else 200 - 2 * quality
        scaled = sorted(max(1, min(255, (b * scale + 50) // 100)) for b in base)
        error = sum(abs(a - b) for a, b in zip(table, scaled))
        if error < best_error:
            best, best_error = quality, error
    return best


def _background(rgb: Any) -> tuple[int, int, int]:
    height = rgb.shape[0]
    column = rgb[height // 5: height * 4 // 5, 2]
    values, counts = _unique_rows(column)
    return tuple(int(v) for v in values[counts.argmax()])  # type: ignore[return-value]


def _unique_rows(pixels: Any) -> tuple[Any, Any]:
    import numpy as np

    return np.unique(pixels.reshape(-1, 3), axis=0, return_counts=True)


def _differs(pixel: Any, colour: tuple[int, int, int]) -> bool:
    return max(abs(int(pixel[c]) - colour[c]) for c in range(3)) > BACKGROUND_DIFF


def _chat_area(rgb: Any, background: tuple[int, int, int], title_bottom: int, input_band: float = 0.85) -> tuple[int, int]:
    height = rgb.shape[0]
    top = title_bottom
    for y in range(title_bottom, min(height, title_bottom + height * 8 // 100)):
        if _differs(rgb[y, 2], background):
            top = y + 1
    bottom = height
    for y in range(height - 1, height // 2, -1):
        if not _differs(rgb[y, 2], background):
            bottom = y + 1
            break
    # an input bar of the background's own colour (Feishu, WeCom) starts at its full-width divider
    import numpy as np

    start = int(height * input_band)
    band = rgb[start: bottom].astype(np.int16)
    differs = (np.abs(band - np.array(background, dtype=np.int16)).max(axis=2) > BACKGROUND_DIFF).mean(axis=1)
    dividers = np.nonzero(differs > 0.9)[0]
    if len(dividers):
        bottom = min(bottom, start + int(dividers[0]))
    return top, bottom


def _regions(rgb: Any, background: tuple[int, int, int], top: int, bottom: int) -> list[tuple[int, int, int, int]]:
    """Solid non-background rectangles of the chat area (x, y, w, h)."""
    import cv2
    import numpy as np

    area = rgb[top:bottom].astype(np.int16)
    mask = (np.abs(area - np.array(background, dtype=np.int16)).max(axis=2) > BACKGROUND_DIFF).astype(np.uint8)
    kernel = np.ones((9, 9), np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    found = []
    for index in range(1, count):
        x, y, w, h, pixels = (int(v) for v in stats[index])
        if w >= 24 and h >= 24 and pixels >= 600:
            found.append((x, y + top, w, h))
    return sorted(found, key=lambda r: (r[1], r[0]))


def _fill(rgb: Any, box: tuple[int, int, int, int]) -> tuple[int, int, int]:
    """A region's own colour: the commonest pixel of a strip inside its left edge."""
    x, y, w, h = box
    strip = rgb[y + h // 4: y + max(h // 4 + 1, h * 3 // 4), x + 5: x + 9]
    values, counts = _unique_rows(strip)
    return tuple(int(v) for v in values[counts.argmax()])  # type: ignore[return-value]


# ---- the reading -------------------------------------------------------------------------------------

CLOCK = re.compile(r"^(\d{1,2})[:：](\d{2})$")
AMOUNT = re.compile(r"[¥￥Y]\s*([\d,，]+[.．]\d{2})")
VOICE = re.compile(r"^(\d{1,2})\s*[\"″”'’]")
WHATSAPP_TIME = re.compile(r"^(\d{1,2})[:：.](\d{2})\s*([AaPp])?\.?\s*[Mm]?\.?$")
# a bubble's last line: its text, then the time, then the owner's ticks as the OCR sees them (✓✓, √, W, //)
TRAILING_TIME = re.compile(r"^(.*?)\s*(\d{1,2}[:：.]\d{2}\s*(?:[AaPp]\.?\s*[Mm]\.?)?)\s*[✓✔√/<VvWwJj]{0,4}$")


_READINGS: dict[str, Reading] = {}  # by SHA-256: import, check, compare and export of one image OCR it once
_READINGS_KEPT = 64


def read_image(path: Path) -> Reading:
    """Read one screenshot: its header, chat area and blocks, top to bottom."""
    data = Path(path).read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    known = _READINGS.get(sha256)
    if known is not None:
        return replace(known, path=Path(path))
    reading = _read(Path(path), sha256)
    if len(_READINGS) >= _READINGS_KEPT:
        _READINGS.pop(next(iter(_READINGS)))
    _READINGS[sha256] = reading
    return replace(reading, path=Path(path))


def _read(path: Path, sha256: str) -> Reading:
    full, image_format, metadata, captured = load_rgb(Path(path))
    full_height, full_width = full.shape[:2]
    client = "desktop" if full_width > full_height * 1.15 else "phone"  # a wide window: a desktop client
    pane_left = _pane_left(full) if client == "desktop" else 0
    rgb = full[:, pane_left:] if pane_left else full  # the chat pane; the client's sidebar and chat list are ignored
    layout = DESKTOP if client == "desktop" else PHONE
    apps = DESKTOP_APPS if client == "desktop" else APPS
    height, width = rgb.shape[:2]
    background = _background(rgb)
    clean, pictographs = _without_pictographs(rgb, background)
    # a desktop pane at 1× is read at full size; at 1.5× or 2× (and phones at 2×, 3×) detection runs smaller
    shrink = (max(1.0, width / 720) if client == "desktop" else None)
    lines = read_lines(clean, shrink)
    header = [line for line in lines if line.center[1] < height * layout.header]
    clock_line = None
    if client == "phone":
        clock_line = next((line for line in header if line.center[1] < height * 0.035 and CLOCK.match(line.text)), None)
        title_lines = [line for line in header if line is not clock_line and len(line.text.strip("‹<·.… ")) > 0
                       and line.box[2] > width * 0.06]
    else:  # the title sits at the pane's top left; window buttons and menus at the right are no title
        title_lines = [line for line in header if len(line.text.strip("‹<·.…—☐✕×口 ")) > 0 and line.center[0] < width * 0.5]
    title_line = min(title_lines, key=lambda line: line.box[1], default=None)  # the first line below the clock
    title_bottom = (title_line.box[1] + title_line.box[3]) if title_line else int(height * 0.08)
    top, bottom = _chat_area(rgb, background, title_bottom, layout.input_band)
    theme = "dark" if sum(background) < 3 * 100 else "light"
    regions = _regions(rgb, background, top, bottom)
    # WhatsApp's title sits left, after the back arrow and the avatar
    centred = None if title_line is None else abs(title_line.center[0] - width / 2) <= width * 0.1
    app = detect_app(background, [_fill(rgb, box) for box in regions], centred if client == "phone" else None, apps)
    params = apps[app]

    avatars, bubbles = [], []
    for box in regions:
        x, y, w, h = box
        at_edge = x < width * layout.edge or x + w > width * (1 - layout.edge)
        inside = [line for line in lines if _inside(line, box)]
        if at_edge and width * layout.avatar[0] < w < width * layout.avatar[1] and h <= w * 1.15 and not inside:
            avatars.append(box)
        else:
            bubbles.append(box)

    # Telegram groups: the others' bubbles stand right of a column of avatars; the side is told by the
    # screen edges with that column taken off the left one
    column = max((a[0] + a[2] for a in avatars if a[0] < width * layout.edge), default=0)
    blocks: list[Block] = []
    used: set[int] = set()
    for box in bubbles:
        inside = [line for line in lines if _inside(line, box)]
        used.update(id(line) for line in inside)
        block = Block("message", box, _reading_order(inside))
        block.fill = _fill(rgb, box)
        block.cut = box[1] <= top + 1 or box[1] + box[3] >= bottom - 1
        x, y, w, h = box
        left_gap, right_gap = x, width - x - w
        if (params.chips and abs(left_gap - right_gap) < width * 0.05 and h < height * 0.05
                and abs(x + w / 2 - width / 2) < width * 0.04):
            block.role, block.side = "time", "center"  # a date chip (WhatsApp) or pill (Telegram)
        else:
            block.side = _side(box, avatars if params.avatars else [], width, 0 if params.avatars else column)
        blocks.append(block)
    if params.avatars:
        blocks = _quotes_below(blocks, height * layout.quote_gap)
    else:
        for block in blocks:
            if block.role == "message" and len(block.lines) >= 2:
                _quote_inside(rgb, block)
                _name_inside(rgb, block)

    chat_lines = [line for line in lines if id(line) not in used and top <= line.center[1] < bottom]
    for line in chat_lines:
        cx = line.center[0]
        owner = _receipt_of(line, blocks, width) if params.receipts else None
        if owner is not None:
            owner.receipt = line.text.strip()  # 已读 / 未读 beside the owner's bubble: not part of any message
            continue
        if abs(cx - width / 2) < width * 0.06 and line.box[2] > width * layout.centred_min:
            blocks.append(Block("time", line.box, [line], "center"))
            continue
        below = [b for b in blocks if b.role == "message" and 0 <= b.box[1] - (line.box[1] + line.box[3]) < height * 0.03
                 and abs(b.box[0] - line.box[0]) < width * 0.05]
        if below and below[0].side == "left" and params.names_above:
            below[0].sender = line.text.strip()  # a group member's name: not part of the message text
            continue
        blocks.append(Block("system", line.box, [line], "center"))
    blocks.sort(key=lambda b: (b.box[1], b.box[0]))
    for block in blocks:
        if block.role == "message":
            block.breaks = _line_breaks(block, pictographs, width * params.max_bubble)
        _interpret(block, app, params)
        if block.role == "message" and block.text and any(_inside_box(spot, block.box) for spot in pictographs):
            block.pictographs = True
    if pane_left:  # back to the whole image's pixels: crops, signals and provenance name the file's coordinates
        lines = [_shift_line(line, pane_left) for line in lines]
        blocks = [_shift_block(block, pane_left) for block in blocks]
        avatars = [(x + pane_left, y, w, h) for x, y, w, h in avatars]
        title_line = _shift_line(title_line, pane_left) if title_line else None
    return Reading(path=Path(path), sha256=sha256, width=full_width, height=full_height, image_format=image_format,
                   app=app, theme=theme, title=title_line.text.strip() if title_line else None,
                   status_clock=clock_line.text if clock_line else None, chat_top=top, chat_bottom=bottom,
                   background=background, blocks=blocks, lines=lines, metadata=metadata, captured=captured,
                   avatars=avatars, client=client, pane=(pane_left, 0, width, height) if client == "desktop" else None)


def _reading_order(lines: list[Line]) -> list[Line]:
    """A bubble's OCR lines as one reads them: row by row from the top, left to right within a row.

    Boxes of one row do not share a top: the bubble's time, in a smaller font at the right end of the
    last row (Telegram Desktop), can start a pixel above the text it follows, and sorted by
    their tops it came first and was read into the message. Two boxes are on one row when their
    vertical centres are nearer than half the shorter one's height (rows are a line height apart)."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda line: line.center[1]):
        if rows and any(_same_row(line, other) for other in rows[-1]):
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda line: line.box[0])]


def _same_row(a: Line, b: Line) -> bool:
    return abs(a.center[1] - b.center[1]) < min(a.box[3], b.box[3]) / 2


def _pane_left(rgb: Any) -> int:
    """A desktop client's chat pane: where the columns of the pane's own background begin, right of the
    client's sidebar and chat list (columns in which that background is all but absent)."""
    import numpy as np

    height, width = rgb.shape[:2]
    rows = rgb[height * 2 // 10: height * 8 // 10]
    values, counts = _unique_rows(rows[:, width - 3])
    background = values[counts.argmax()].astype(np.int16)
    share = (np.abs(rows.astype(np.int16) - background).max(axis=2) <= BACKGROUND_DIFF).mean(axis=0)
    foreign = np.nonzero(share[: width * 6 // 10] < 0.05)[0]
    return int(foreign.max()) + 1 if len(foreign) else 0


def _shift_line(line: Line, dx: int) -> Line:
    x, y, w, h = line.box
    return Line((x + dx, y, w, h), line.text, line.confidence)


def _shift_block(block: Block, dx: int) -> Block:
    x, y, w, h = block.box
    quote = dict(block.quote) if block.quote else None
    if quote and quote.get("bbox"):
        qx, qy, qw, qh = quote["bbox"]
        quote["bbox"] = [qx + dx, qy, qw, qh]
    return replace(block, box=(x + dx, y, w, h), lines=[_shift_line(line, dx) for line in block.lines],
                   quote_lines=[_shift_line(line, dx) for line in block.quote_lines], quote=quote,
                   name_line=_shift_line(block.name_line, dx) if block.name_line else None)


QUOTE_SPLIT = re.compile(r"^(.{1,24}?)[:：]\s*(.*)$")


def _quotes_below(blocks: list[Block], gap: float) -> list[Block]:
    """WeChat's quoted reply: a grey block right under a bubble, on its side, reading ``name：text``. It
    becomes the bubble's ``quote``, not a message of its own."""
    kept: list[Block] = []
    for block in sorted(blocks, key=lambda b: (b.box[1], b.box[0])):
        above = kept[-1] if kept else None
        if (above is not None and above.role == "message" and block.role == "message" and block.lines
                and above.lines and block.fill is not None and above.fill is not None):
            x, y, w, h = block.box
            ax, ay, aw, ah = above.box
            aligned = abs(x - ax) <= 6 if above.side == "left" else abs((x + w) - (ax + aw)) <= 6
            grey = max(block.fill) - min(block.fill) <= 12 and _distance(block.fill, above.fill) > 4
            split = QUOTE_SPLIT.match(join_lines([line.text.strip() for line in block.lines]))
            if 0 <= y - (ay + ah) <= gap and aligned and grey and split:
                above.quote = {"sender": split.group(1).strip(), "text": split.group(2).strip(), "bbox": list(block.box)}
                above.quote_lines = block.lines
                continue
        kept.append(block)
    return kept


def _quote_inside(rgb: Any, block: Block) -> None:
    """WhatsApp's and Telegram's quoted reply: a box at the bubble's top whose left edge is a coloured bar
    (the quoted name in that colour, the quoted text below). Its lines become the ``quote``."""
    import numpy as np

    x, y, w, h = block.box
    heights = sorted(line.box[3] for line in block.lines)
    line_height = heights[len(heights) // 2]
    band = rgb[y: y + h, x + 2: x + min(w - 2, 3 * line_height)].astype(np.int16)
    if band.shape[1] < 8:
        return
    chroma = band.max(axis=2) - band.min(axis=2)
    steady = np.zeros(chroma.shape, dtype=bool)
    steady[1:] = np.abs(band[1:] - band[:-1]).max(axis=2) <= 12
    left = np.zeros(chroma.shape, dtype=bool)
    left[:, 3:] = np.abs(band[:, 3:] - band[:, :-3]).max(axis=2) > 40
    bar = (chroma > 40) & steady & left  # a coloured vertical edge: the bar's left side
    best = (0, 0, 0)
    for column in range(bar.shape[1]):
        run = 0
        for row, on in enumerate(bar[:, column]):
            run = run + 1 if on else 0
            if run > best[0]:
                best = (run, row - run + 1, column)
    run, first, column = best
    if run < 1.2 * line_height:  # a bar spans the quoted name and text (in a smaller font): two lines
        return
    y0, y1 = y + first, y + first + run
    quoted = [line for line in block.lines if y0 <= line.center[1] <= y1 and line.box[0] > x + column]
    if len(quoted) < 2:
        return
    block.quote_lines = quoted
    block.lines = [line for line in block.lines if line not in quoted]
    texts = [line.text.strip() for line in quoted]
    block.quote = {"sender": texts[0], "text": join_lines(texts[1:]), "bbox": [x + column, y0, w - column, run]}
    below = rgb[y1 + 2: y + h - 2, x + 5: x + 9]  # the bubble's own colour: under the quote
    if below.size:
        values, counts = _unique_rows(below)
        block.fill = tuple(int(v) for v in values[counts.argmax()])  # type: ignore[assignment]


def _name_inside(rgb: Any, block: Block) -> None:
    """WhatsApp and Telegram groups: the sender's name is the left bubble's first line, in a colour."""
    import numpy as np

    if block.side != "left" or len(block.lines) < 2 or block.fill is None:
        return
    first = block.lines[0]
    if block.quote_lines and first.box[1] > min(line.box[1] for line in block.quote_lines):
        return
    x, y, w, h = first.box
    pixels = rgb[y: y + h, x: x + w].reshape(-1, 3).astype(np.int16)
    ink = pixels[np.abs(pixels - np.array(block.fill, dtype=np.int16)).max(axis=1) > 60]
    if len(ink) < 20:
        return
    if float(np.median(ink.max(axis=1) - ink.min(axis=1))) > 50:  # coloured, not the body's black or white
        block.sender = first.text.strip()
        block.name_line = first
        block.lines = block.lines[1:]


def _line_breaks(block: Block, pictographs: list[tuple[int, int, int, int]], widest: float) -> list[bool]:
    """Between each two lines of a bubble: True where the writer broke the line, False where it wrapped.

    A line wraps only when the next word would not fit: its end then reaches the bubble's text edge
    (within a CJK character, or within the next line's first Latin word). A bubble narrower than the
    widest bubble the app draws never wrapped at all: every break in it is the writer's.
    """
    lines = block.lines
    if len(lines) < 2:
        return []
    rights = []
    for line in lines:
        x, y, w, h = line.box
        right = x + w
        for sx, sy, sw, sh in pictographs:  # an emoji at a line's end is part of the line
            if sy < y + h and y < sy + sh and block.box[0] <= sx <= block.box[0] + block.box[2] and sx >= right - h:
                right = max(right, sx + sw)
        rights.append(right)
    edge = max(rights)
    char = sorted(line.box[3] for line in lines)[len(lines) // 2]
    wrapped_at_all = block.box[2] >= widest - 2 * char
    breaks = []
    for index in range(len(lines) - 1):
        if not wrapped_at_all:
            breaks.append(True)
            continue
        following = lines[index + 1].text.strip()
        room = 1.3 * char
        if following[:1].isascii() and following[:1].isalnum():
            word = re.split(r"[\s]", following, maxsplit=1)[0]
            room = max(room, lines[index + 1].box[2] * (len(word) + 1) / max(1, len(following)) + 0.3 * char)
        breaks.append(edge - rights[index] > room)
    return breaks


def _receipt_of(line: Line, blocks: list[Block], width: int) -> Block | None:
    """The owner's bubble a read-receipt line sits beside (left of its lower part), if it is one."""
    if not RECEIPT.match(line.text.strip()):
        return None
    x, y, w, h = line.box
    for block in blocks:
        bx, by, bw, bh = block.box
        if block.role == "message" and block.side == "right" and 0 <= bx - (x + w) < width * 0.12 \
                and by - h <= y and y + h <= by + bh + h:
            return block
    return None


def _without_pictographs(rgb: Any, background: tuple[int, int, int]) -> tuple[Any, list[tuple[int, int, int, int]]]:
    """The image with colour emoji inside bubbles painted in the bubble's colour, and where they were.

    The OCR cannot read a pictograph and would guess a character for it ("辛苦了 😄" → "辛苦了（P");
    a blank is honest, and the message's provenance says a pictograph was not read.
    """
    import cv2
    import numpy as np

    height, width = rgb.shape[:2]
    clean = rgb.copy()
    spots = []
    for box in _regions(rgb, background, 0, height):
        x, y, w, h = box
        if w * h > width * height // 3:
            continue
        fill = _fill(rgb, box)
        hsv = cv2.cvtColor(np.ascontiguousarray(rgb[y:y + h, x:x + w]), cv2.COLOR_RGB2HSV).astype(np.int16)
        fill_hsv = cv2.cvtColor(np.array([[fill]], dtype=np.uint8), cv2.COLOR_RGB2HSV)[0, 0].astype(np.int16)
        # a glyph's anti-aliasing mixes the bubble's colour with grey: same hue, or no saturation; on a
        # tinted bubble, text of a near hue (Telegram's green time and ticks) is text, not a pictograph
        hue_gap = np.abs(hsv[:, :, 0] - fill_hsv[0])
        hue_gap = np.minimum(hue_gap, 180 - hue_gap)
        colourful = (hsv[:, :, 1] > 110) & (hsv[:, :, 2] > 70) & ((fill_hsv[1] < 25) | (hue_gap > 15))
        count = int(colourful.sum())
        if count < 30:
            continue
        # one component per pictograph; the letters of a coloured word (a group member's name in
        # WhatsApp and Telegram, a quoted name) merge into one wide component, which is text
        merged = cv2.dilate(colourful.astype(np.uint8), np.ones((5, max(9, height // 80)), np.uint8))
        found, labels, stats, _ = cv2.connectedComponentsWithStats(merged, connectivity=8)
        mask = cv2.dilate(colourful.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        for index in range(1, found):
            cx, cy, cw, ch = (int(v) for v in stats[index][:4])
            ink = colourful[cy:cy + ch, cx:cx + cw] & (labels[cy:cy + ch, cx:cx + cw] == index)
            if int(ink.sum()) < 30 or ch > height * 0.045:  # taller than a line of text: a picture, not a glyph
                continue
            if cw >= 1.6 * ch or cw < 0.5 * ch:  # a coloured word, or a quote's bar: not a pictograph
                continue
            ys, xs = np.nonzero(ink)
            inside = mask[cy:cy + ch, cx:cx + cw] & (labels[cy:cy + ch, cx:cx + cw] == index)
            clean[y + cy:y + cy + ch, x + cx:x + cx + cw][inside] = fill
            spots.append((x + cx + int(xs.min()), y + cy + int(ys.min()), int(xs.max() - xs.min()) + 1,
                          int(ys.max() - ys.min()) + 1))
    return clean, spots


def _inside_box(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[0] + inner[2] <= outer[0] + outer[2] \
        and inner[1] + inner[3] <= outer[1] + outer[3]


def _inside(line: Line, box: tuple[int, int, int, int]) -> bool:
    cx, cy = line.center
    x, y, w, h = box
    return x <= cx <= x + w and y <= cy <= y + h


def _side(box: tuple[int, int, int, int], avatars: list[tuple[int, int, int, int]], width: int,
          column: int = 0) -> str:
    """The side of an avatar beside the bubble, else of the nearer screen edge (``column``: the width of
    a column of avatars along the left edge, not counted in the left gap)."""
    x, y, w, h = box
    near = [a for a in avatars if a[1] - h <= y <= a[1] + a[3] + width * 0.08 or y <= a[1] <= y + h]
    if near:
        avatar = min(near, key=lambda a: abs(a[1] - y))
        return "left" if avatar[0] < x else "right"
    left = x - column if column and x >= column else x
    return "left" if left < width - x - w else "right"


def _orange(colour: tuple[int, int, int] | None) -> bool:
    return colour is not None and colour[0] > 200 and 120 < colour[1] < 200 and colour[2] < 120


def _red(colour: tuple[int, int, int] | None) -> bool:
    return colour is not None and colour[0] > 200 and colour[1] < 120 and colour[2] < 110


FILE_SIZE = re.compile(r"^\d+(?:[.,]\d+)?\s?(?:[KMGT]B?|B|bytes)$", re.IGNORECASE)


def _interpret(block: Block, app: str, params: App | None = None) -> None:
    """Kind, text, amount and clock of a block from its lines and colour."""
    params = params or APPS[app]
    texts = [line.text.strip() for line in block.lines]
    breaks = list(block.breaks) + [False] * max(0, len(texts) - 1 - len(block.breaks))
    if block.role == "time":
        joined = " ".join(texts)
        block.text = joined
        if parse_separator(joined, date(2000, 1, 3)) or not block.lines:
            return
        block.role = "system"
    if block.role == "system":
        block.text = " ".join(texts)
        block.kind = "recall" if ("撤回" in block.text or "recalled" in block.text.lower()) else "system"
        return
    if params.clock_in_bubble and texts:
        last = TRAILING_TIME.match(texts[-1])
        if last:  # the bubble's time (and the owner's ticks): a box of its own or the end of the text, last on the
            # bottom row in reading order (:func:`_reading_order`), or a line of its own under the text
            block.clock = last.group(2).replace(" ", "")
            texts = texts[:-1] + ([last.group(1)] if last.group(1) else [])
            if not last.group(1):
                block.lines = block.lines[:-1]
                breaks = breaks[: max(0, len(texts) - 1)]
    if not texts:
        block.kind = "image"
        return
    if _orange(block.fill) and any(AMOUNT.search(t) for t in texts):
        block.kind = "transfer"
        amount = next(AMOUNT.search(t) for t in texts if AMOUNT.search(t))
        block.amount = amount.group(1).replace(",", "").replace("，", "").replace("．", ".")
        block.text = join_lines([t for t in texts if not AMOUNT.search(t) and t not in ("微信转账", "转账")])
        return
    if (_red(block.fill) or _orange(block.fill)) and texts[-1] in ("微信红包", "红包"):
        block.kind = "red_packet"
        block.text = join_lines(texts[:-1])
        return
    voice = VOICE.match(texts[0]) if len(texts) == 1 else None
    if voice and len(texts[0]) <= 8:
        block.kind = "voice"
        block.text = f"{voice.group(1)}″"
        return
    if len(texts) >= 2 and FILE_SIZE.match(texts[-1]) and not block.quote:
        block.kind = "file"  # a file card: its name (wrapped anywhere, even inside a word), then its size
        block.file_size = texts[-1]
        block.text = "".join(texts[:-1])
        return
    block.text = join_lines(texts, breaks)


def join_lines(texts: list[str], breaks: list[bool] | None = None) -> str:
    """A bubble's lines as one text: wrapped CJK lines join directly, wrapped Latin words with a space,
    and where ``breaks[i]`` says the writer broke the line after ``texts[i]``, with a line break."""
    out = ""
    for index, text in enumerate(texts):
        if index and breaks and index - 1 < len(breaks) and breaks[index - 1]:
            out += "\n"
        elif out and out[-1].isascii() and out[-1].isalnum() and text[:1].isascii() and text[:1].isalnum():
            out += " "
        elif out and out[-1] in ",.;:!?" and text[:1].isascii() and text[:1].isalnum():
            out += " "
        out += text
    return out


# ---- time separators -----------------------------------------------------------------------------

WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
WEEKDAYS_EN = {name: n for n, name in enumerate(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                                   "sunday"])}
MONTHS_EN = {name: n + 1 for n, name in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                                                     "oct", "nov", "dec"])}
_HALF = r"(上午|下午|凌晨|早上|中午|晚上|傍晚)?"
_ZH_FULL = re.compile(r"^(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日" + _HALF + r"(\d{1,2}):(\d{2})$")
_ZH_REL = re.compile(r"^(昨天|前天|今天)?" + _HALF + r"(\d{1,2}):(\d{2})$")
_ZH_WEEK = re.compile(r"^(?:星期|周)([一二三四五六日天])" + _HALF + r"(\d{1,2}):(\d{2})$")
_EN_TIME = r"(\d{1,2}):(\d{2})\s*(am|pm)?"
_EN_REL = re.compile(r"^(yesterday|today)?\s*" + _EN_TIME + "$")
_EN_WEEK = re.compile(r"^(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s*(?:" + _EN_TIME + ")?$")
_EN_DATE = re.compile(r"^(?:(\d{1,2})\s*([a-z]{3})[a-z]*\.?,?\s*(\d{4})|([a-z]{3})[a-z]*\.?\s*(\d{1,2}),?\s*(\d{4}))"
                      r"(?:,?\s*" + _EN_TIME + ")?$")
_EN_DAY = re.compile(r"^(yesterday|today)$")
_EN_MONTH_DAY = re.compile(r"^(?:([a-z]+)\.?\s*(\d{1,2})|(\d{1,2})\s*([a-z]+))$")  # Telegram: March 4
MONTH_NAMES = {name: n + 1 for n, name in enumerate(["january", "february", "march", "april", "may", "june", "july",
                                                       "august", "september", "october", "november", "december"])}
MONTH_NAMES.update(MONTHS_EN, sept=9)


def _hour(hour: int, half: str | None) -> int:
    if half in ("下午", "晚上", "傍晚", "pm") and hour < 12:
        return hour + 12
    if half in ("中午",) and hour < 11:
        return hour + 12
    if half in ("凌晨", "上午", "早上", "am") and hour == 12:
        return 0
    return hour


def parse_separator(text: str, anchor: date) -> datetime | None:
    """The wall-clock instant a separator names, read on the day ``anchor`` (the capture date).

    ``昨天 14:32`` is the day before; ``星期三 09:10`` the last Wednesday before the anchor; a date
    without a year is in the anchor's year (the year before, when that would be in the future).
    Date-only chips (WhatsApp's ``TODAY``) give midnight. None when the text is no separator.
    """
    value = re.sub(r"\s+", "", text).lower()
    value = re.sub(r"(星期|周)[—\-_－–一]", r"\g<1>一", value).replace("：", ":")
    spaced = re.sub(r"\s+", " ", text.strip().lower())
    match = _ZH_REL.match(value)
    if match:
        day = anchor - timedelta(days={"昨天": 1, "前天": 2}.get(match.group(1) or "", 0))
        return _at(day, _hour(int(match.group(3)), match.group(2)), int(match.group(4)))
    match = _ZH_WEEK.match(value)
    if match:
        back = (anchor.weekday() - WEEKDAYS_ZH[match.group(1)]) % 7 or 7
        return _at(anchor - timedelta(days=back), _hour(int(match.group(3)), match.group(2)), int(match.group(4)))
    match = _ZH_FULL.match(value)
    if match:
        if match.group(1):
            try:
                day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            except ValueError:
                return None
        else:
            day = _last_on_or_before(anchor, int(match.group(2)), int(match.group(3)))
            if day is None:
                return None
        return _at(day, _hour(int(match.group(5)), match.group(4)), int(match.group(6)))
    match = _EN_REL.match(spaced.replace(" ", "")) or _EN_REL.match(spaced)
    if match:
        day = anchor - timedelta(days=1 if match.group(1) == "yesterday" else 0)
        return _at(day, _hour(int(match.group(2)), match.group(4)), int(match.group(3)))
    match = _EN_DAY.match(spaced)
    if match:
        return _at(anchor - timedelta(days=1 if match.group(1) == "yesterday" else 0), 0, 0)
    match = _EN_WEEK.match(spaced)
    if match:
        back = (anchor.weekday() - WEEKDAYS_EN[match.group(1)]) % 7 or 7
        hour = _hour(int(match.group(2)), match.group(4)) if match.group(2) else 0
        return _at(anchor - timedelta(days=back), hour, int(match.group(3) or 0))
    match = _EN_DATE.match(spaced)
    if match:
        day_text, month_text, year_text = ((match.group(1), match.group(2), match.group(3)) if match.group(1)
                                           else (match.group(5), match.group(4), match.group(6)))
        if month_text not in MONTHS_EN:
            return None
        try:
            day = date(int(year_text), MONTHS_EN[month_text], int(day_text))
        except ValueError:
            return None
        hour = _hour(int(match.group(7)), match.group(9)) if match.group(7) else 0
        return _at(day, hour, int(match.group(8) or 0))
    match = _EN_MONTH_DAY.match(spaced)
    if match:  # this year's date; last year's when that would be after the capture
        month_text, day_text = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
        if month_text not in MONTH_NAMES:
            return None
        day = _last_on_or_before(anchor, MONTH_NAMES[month_text], int(day_text))
        return _at(day, 0, 0) if day else None
    return None


def _last_on_or_before(anchor: date, month: int, day_of_month: int) -> date | None:
    """A date shown without its year: the latest such day not after the capture (February 29: back to
    the last leap year); None when no year has it (February 30)."""
    for year in range(anchor.year, anchor.year - 9, -1):
        try:
            day = date(year, month, day_of_month)
        except ValueError:
            continue
        if day <= anchor:
            return day
    return None


def _at(day: date, hour: int, minute: int) -> datetime | None:
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return datetime(day.year, day.month, day.day, hour, minute)


def message_clock(text: str, day: date) -> datetime | None:
    """WhatsApp's in-bubble time (``2:32 PM``, ``14:32``) on ``day``."""
    match = WHATSAPP_TIME.match(text.replace(" ", ""))
    if not match:
        return None
    half = {"a": "am", "p": "pm"}.get((match.group(3) or "").lower())
    return _at(day, _hour(int(match.group(1)), half), int(match.group(2)))
