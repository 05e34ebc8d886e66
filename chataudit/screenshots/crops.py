"""Crops of the screenshot a message was read from, for the HTML export and reports.

A message's provenance names its image (file name and SHA-256) and bounding box; the crop is cut
from the source file as imported (one image, a folder or a zip of them) only when that file still
hashes to the recorded SHA-256 — a crop from another image would be worse than none.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any, Iterable, Iterator

MAX_CROP_WIDTH = 360  # pixels in the report: the bubble stays legible, the page stays small


def _image_bytes(source_path: str, name: str) -> bytes | None:
    source = Path(source_path)
    try:
        if source.is_file() and zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as bundle:
                for info in bundle.infolist():
                    if Path(info.filename).name == name and info.file_size < 64 << 20:
                        return bundle.read(info)
            return None
        if source.is_dir():
            return (source / name).read_bytes() if (source / name).is_file() else None
        if source.is_file():
            return source.read_bytes()
    except OSError:
        return None
    return None


def crop_uri(image: bytes, bbox: list[int]) -> str:
    """A PNG data URI of ``bbox`` (x, y, w, h) of ``image``."""
    from PIL import Image

    with Image.open(io.BytesIO(image)) as opened:
        x, y, w, h = (int(v) for v in bbox)
        piece = opened.convert("RGB").crop((x, y, x + w, y + h))
    if piece.width > MAX_CROP_WIDTH:
        piece = piece.resize((MAX_CROP_WIDTH, max(1, piece.height * MAX_CROP_WIDTH // piece.width)))
    out = io.BytesIO()
    piece.save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def with_crops(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The rows, each read from a screenshot given ``crop`` (a data URI, or None with ``crop_missing``
    saying why) beside its provenance."""
    images: dict[tuple[str, str], bytes | None] = {}
    for row in rows:
        extras = row.get("extras") or {}
        shot = extras.get("screenshot") if isinstance(extras, dict) else None
        if not isinstance(shot, dict) or shot.get("trust") != "ocr":
            yield row
            continue
        key = (str(row.get("source_path") or ""), str(shot.get("image") or ""))
        if key not in images:
            data = _image_bytes(*key)
            if data is not None and hashlib.sha256(data).hexdigest() != shot.get("image_sha256"):
                data = None
            images[key] = data
            if len(images) > 32:
                images.pop(next(iter(images)))
        data = images[key]
        row = dict(row)
        if data is None:
            row["crop"], row["crop_missing"] = None, "the screenshot is not where it was imported from, or was changed"
        else:
            row["crop"] = crop_uri(data, shot.get("bbox") or [0, 0, 1, 1])
        yield row


def crop_for(source_path: str | None, provenance: dict[str, Any]) -> str | None:
    """The crop of one message's bubble from its source file, or None when the file is gone or changed."""
    if not source_path:
        return None
    data = _image_bytes(source_path, str(provenance.get("image") or ""))
    if data is None or hashlib.sha256(data).hexdigest() != provenance.get("image_sha256"):
        return None
    return crop_uri(data, provenance.get("bbox") or [0, 0, 1, 1])
