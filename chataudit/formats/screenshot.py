"""Chat screenshots (PNG, JPEG, WebP) of six chat apps' phone clients and three desktop clients, read by offline OCR.

One image is one unit; a folder (or zip) holding only screenshots is one scrolling capture of
one chat, stitched in file-name order (:func:`chataudit.screenshots.stitch`). The reading itself
lives in :mod:`chataudit.screenshots`; this module is its entry in the formats registry.

``--date YYYY-MM-DD`` (``ParseOptions.extra["date"]``) is the anchor day of relative separators
("昨天 14:32"); without it the EXIF capture date, else the file's modification time — each
message's provenance says which.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..errors import ParseError
from ..model import Record
from . import ParseOptions

NAME = "screenshot"
PLATFORM = "screenshot"
DESCRIPTION = ("chat screenshots (PNG/JPEG/WebP; WeChat, WhatsApp, WeCom, DingTalk, Feishu, Telegram phones, light/dark; "
               "WeChat, WeCom, Telegram desktop), offline OCR; a folder = a scrolling capture")

MAX_PIXELS = 40_000_000  # a phone screenshot is a few million; a decompression bomb is refused


def detect(path: Path, head: bytes) -> float:
    """An image by its magic bytes whose shape and regions look like a chat screen (no OCR: fast)."""
    from ..screenshots import image_files
    from ..screenshots.reader import is_image

    if path.is_dir():
        try:
            entries = [p for p in path.iterdir() if not p.name.startswith(".")]
        except OSError:
            return 0.0
        images = image_files(path)
        if not images or len(images) != len(entries) or len(images) > 50:
            return 0.0
        return 0.9 if _chat_like(images[0]) else 0.0
    if not is_image(head):
        return 0.0
    return 0.9 if _chat_like(path) else 0.0


def _chat_like(path: Path) -> bool:
    """A phone's portrait screen, or a desktop client's wide window whose chat pane (right of its
    sidebar) is, with at least two solid regions (bubbles, avatars) over a plain background."""
    try:
        from PIL import Image

        with Image.open(path) as image:
            width, height = image.size
            ratio = height / max(width, 1)
            if width * height > MAX_PIXELS or not (1.3 <= ratio <= 3.0 or 0.4 <= ratio < 1 / 1.15) or width < 300:
                return False
        from ..screenshots.reader import _background, _pane_left, _regions, load_rgb

        import numpy as np

        rgb = load_rgb(path)[0]
        if ratio < 1:  # a desktop window: its chat pane
            rgb = rgb[:, _pane_left(rgb):]
            if rgb.shape[1] < width * 0.4:
                return False
        background = _background(rgb)
        area = rgb[int(height * 0.1): int(height * 0.9)].astype(np.int16)
        plain = (np.abs(area - np.array(background, dtype=np.int16)).max(axis=2) <= 6).mean()
        if plain < 0.3:  # a chat screen is mostly its flat background; a photo is not
            return False
        regions = _regions(rgb, background, int(height * 0.1), int(height * 0.9))
        return len(regions) >= 2
    except Exception:  # noqa: BLE001 — an unreadable image is simply not this format
        return False


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    from ..screenshots import image_files, records

    paths = image_files(path) if path.is_dir() else [path]
    for image in paths:
        try:
            from PIL import Image

            with Image.open(image) as opened:
                if opened.size[0] * opened.size[1] > MAX_PIXELS:
                    raise ParseError(str(image), None, f"image of {opened.size[0]}×{opened.size[1]} pixels is too large")
        except ParseError:
            raise
        except Exception as error:  # noqa: BLE001
            raise ParseError(str(image), None, f"not a readable image ({error})") from None
    try:
        yield from records(paths, options.tz, me=options.me, given_date=options.extra.get("date"))
    except ValueError as error:
        raise ParseError(str(path), None, str(error)) from None
