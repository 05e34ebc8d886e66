"""Chat screenshots as records: offline OCR, layout, stitching of scrolling captures, provenance.

``records(paths, options)`` reads one screenshot, or several overlapping captures of one chat
(a folder or zip of them, in file-name order), and yields the canonical records. Every message
carries its provenance in ``extras["screenshot"]``: the image's SHA-256 and name, the bubble's
bounding box, the OCR confidence, ``trust: "ocr"``, how its time was found and against which
anchor date. Text the OCR was not sure of is flagged (``low_confidence``), never replaced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from rapidfuzz import fuzz

from ..model import Attachment, Conversation, ConversationType, Kind, Message, Record
from .reader import LOW_CONFIDENCE, Block, Reading, message_clock, parse_separator, read_image

TRUST = "ocr"
EXTRAS_KEY = "screenshot"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")

__all__ = ["Anchor", "TRUST", "EXTRAS_KEY", "read_image", "records", "stitch", "anchor_of"]


@dataclass(frozen=True)
class Anchor:
    """The day relative separators ("昨天", "14:32") are read against, and where it came from."""

    day: date
    source: str  # "--date", "exif", "mtime"
    captured: datetime | None  # the capture's wall-clock time when known (EXIF)


def anchor_of(reading: Reading, given: str | None, tz: Any) -> Anchor:
    """``--date`` wins, then EXIF DateTimeOriginal, then the file's modification time (in ``tz``)."""
    if given:
        try:
            day = date.fromisoformat(given)
        except ValueError:
            raise ValueError(f"--date must be a date such as 2024-03-06, not {given!r}") from None
        return Anchor(day, "--date", None)
    if reading.captured is not None:
        return Anchor(reading.captured.date(), "exif", reading.captured)
    moment = datetime.fromtimestamp(os.stat(reading.path).st_mtime, tz).replace(tzinfo=None)
    return Anchor(moment.date(), "mtime", moment)


# ---- stitching ------------------------------------------------------------------------------------

def _same(a: Block, b: Block) -> bool:
    if a.role != b.role or a.side != b.side or a.kind != b.kind:
        return False
    if not a.text and not b.text:
        return abs(a.box[3] - b.box[3]) <= 4  # two pictures of the same height
    return fuzz.ratio(a.text, b.text) >= 85


def stitch(readings: list[Reading]) -> tuple[list[tuple[Reading, Block]], list[str]]:
    """One sequence from overlapping captures, top to bottom, and warnings.

    Blocks cut by a capture's edge are left to the capture that shows them whole; the longest run
    at the end of what is read so far that equals the start of the next capture is its overlap.
    A capture that overlaps nothing is appended with a warning (messages may be missing between).
    """
    sequence: list[tuple[Reading, Block]] = []
    warnings: list[str] = []
    for number, reading in enumerate(readings):
        first, last = number == 0, number == len(readings) - 1
        middle = reading.height // 2
        # a block cut by the top edge of the first capture, or the bottom edge of the last, has no
        # other capture showing it whole: kept, flagged partly_visible
        blocks = [b for b in reading.blocks
                  if not b.cut or (first and b.box[1] < middle) or (last and b.box[1] >= middle)]
        if not sequence:
            sequence = [(reading, b) for b in blocks]
            continue
        best = 0
        for size in range(min(len(sequence), len(blocks)), 0, -1):
            if all(_same(sequence[len(sequence) - size + k][1], blocks[k]) for k in range(size)):
                best = size
                break
        if best == 0:
            warnings.append(f"{reading.path.name} overlaps nothing of the capture before it: messages may be "
                            "missing between the two")
        sequence.extend((reading, b) for b in blocks[best:])
    return sequence, warnings


# ---- records ----------------------------------------------------------------------------------------

KINDS = {"text": Kind.TEXT, "transfer": Kind.TRANSFER, "red_packet": Kind.RED_PACKET, "image": Kind.IMAGE,
         "voice": Kind.VOICE, "recall": Kind.RECALL, "system": Kind.SYSTEM, "file": Kind.FILE}


def records(paths: list[Path], tz: Any, *, me: str | None = None, given_date: str | None = None) -> Iterator[Record]:
    """The records of one screenshot or of a scrolling capture (several, in order)."""
    readings = [read_image(path) for path in paths]
    sequence, warnings = stitch(readings)
    first = readings[0]
    anchors = {id(r): anchor_of(r, given_date, tz) for r in readings}
    title = next((r.title for r in readings if r.title), None) or first.path.stem
    group = any(r.group for r in readings)
    platform = first.app
    conversation_id = f"screenshot:{title}"
    yield Conversation(platform, conversation_id, title, ConversationType.GROUP if group else ConversationType.PRIVATE)
    zone = tz or timezone.utc

    # instants: a message is at the separator above it; before the first separator, at the first one
    timed: list[tuple[datetime | None, str]] = []
    current: datetime | None = None
    current_day: date | None = None
    for reading, block in sequence:
        anchor = anchors[id(reading)]
        if block.role == "time":
            current = parse_separator(block.text, anchor.day)
            current_day = current.date() if current else current_day
            timed.append((current, "separator"))
            continue
        if block.clock:
            moment = message_clock(block.clock, current_day or anchor.day)
            if moment is not None:
                timed.append((moment, "message_time"))
                continue
        timed.append((current, "separator" if current else ""))
    first_time = next((t for t, _ in timed if t is not None), None)
    position = 0
    for (reading, block), (moment, basis) in zip(sequence, timed):
        if block.role == "time":
            continue
        anchor = anchors[id(reading)]
        if moment is None:
            if first_time is not None:
                moment, basis = first_time, "before_first_separator"
            else:
                moment = anchor.captured or datetime.combine(anchor.day, datetime.min.time())
                basis = "capture_time" if anchor.captured else "anchor_day"
        position += 1
        yield _message(reading, block, moment.replace(tzinfo=zone), basis, anchor, platform, conversation_id, title,
                       group, me, position, warnings if position == 1 else [])


def _message(reading: Reading, block: Block, sent_at: datetime, basis: str, anchor: Anchor, platform: str,
             conversation_id: str, title: str, group: bool, me: str | None, position: int,
             warnings: list[str]) -> Message:
    low = [line.text for line in block.lines if line.confidence < LOW_CONFIDENCE]
    provenance: dict[str, Any] = {
        "trust": TRUST,
        "image_sha256": reading.sha256,
        "image": reading.path.name,
        "bbox": list(block.box),
        "ocr_confidence": round(block.confidence, 4),
        "side": block.side,
        "time_basis": basis,
        "anchor_date": anchor.day.isoformat(),
        "anchor_source": anchor.source,
        "app": reading.app,
        "client": reading.client,
        "theme": reading.theme,
    }
    if block.quote:  # a quoted reply: the message quoted, as the screen shows it (name and text)
        provenance["quote"] = block.quote
        low += [line.text for line in block.quote_lines if line.confidence < LOW_CONFIDENCE]
    if block.file_size:
        provenance["file_size"] = block.file_size  # as shown ("1.2M"): a rounded size, not a byte count
    if low:
        provenance["low_confidence"] = True
        provenance["low_confidence_lines"] = low
    if block.cut:
        provenance["partly_visible"] = True
    if block.receipt:
        provenance["read_receipt"] = block.receipt  # 已读 / 未读 beside the bubble: the app's mark, not the text
    if block.pictographs:
        provenance["unread_pictographs"] = True  # emoji in the bubble: not in the text
    if warnings:
        provenance["stitch_warnings"] = warnings
    if block.role == "message":
        if block.side == "right":
            sender, is_me = me or "me", True
        else:
            sender, is_me = (block.sender if group and block.sender else (None if group else title)), False
    else:
        sender, is_me = None, None
    kind = KINDS.get(block.kind, Kind.OTHER)
    return Message(
        platform=platform, conversation_id=conversation_id, sent_at=sent_at, kind=kind, text=block.text,
        sender_name=sender, conversation_title=title, amount=block.amount,
        currency="CNY" if block.amount and reading.app == "wechat" else None, is_me=is_me, position=position,
        attachments=(Attachment(name=block.text),) if kind == Kind.FILE and block.text else (),
        extras={EXTRAS_KEY: provenance},
    )


def trust_of(extras: Any) -> str | None:
    """``"ocr"`` for a message read from a screenshot (its extras as stored), else None."""
    if isinstance(extras, dict) and isinstance(extras.get(EXTRAS_KEY), dict):
        return extras[EXTRAS_KEY].get("trust")
    return None


def image_files(folder: Path) -> list[Path]:
    """The screenshots of a folder, in file-name order (a scrolling capture's order)."""
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                  key=lambda p: p.name)

