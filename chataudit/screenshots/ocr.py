"""The offline OCR engine: RapidOCR (PP-OCRv4 detection and recognition, ONNX Runtime).

The models ship inside the ``rapidocr-onnxruntime`` wheel (``rapidocr_onnxruntime/models/``); the
package has no download code, so reading a screenshot never touches the network. One engine is
loaded per process (≈0.5 s) and shared.

Speed on a shared 2-core machine: detection runs on the image at half size (chat text is large
enough for it), recognition on crops of the full-size image (accuracy), with one ONNX thread. Each
crop is recognised at its own width (:func:`_recognise`), not padded to RapidOCR's 320-pixel minimum
nor to the widest line of a batch of six: most chat lines are short (a time, a name, "好的"), and the
recogniser's cost grows with the width it is given — this halves its time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ..errors import ChatAuditError

_engine: Any = None
_lock = threading.Lock()


@dataclass(frozen=True)
class Line:
    """One line of text the OCR read: where (x, y, w, h in image pixels), what, and how sure."""

    box: tuple[int, int, int, int]
    text: str
    confidence: float

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2


def engine() -> Any:
    """The process's RapidOCR engine, loaded on first use from the models in the wheel."""
    global _engine
    with _lock:
        if _engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as error:  # pragma: no cover - a broken install
                raise ChatAuditError(f"screenshots need the OCR package rapidocr-onnxruntime ({error})") from None
            _engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
            _engine.text_det.limit_type = "min"
            _engine.text_det.limit_side_len = 32  # never upscale: we hand it a half-size image
        return _engine


def read_lines(rgb: Any, shrink: float | None = None) -> list[Line]:
    """The text lines of an RGB image (a numpy array), top to bottom. Detection runs on the image made
    ``shrink`` times smaller (default: half size for a phone screenshot of 600 px or more)."""
    import cv2
    import numpy as np

    ocr = engine()
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    height, width = bgr.shape[:2]
    scale = shrink if shrink is not None else (2 if min(height, width) >= 600 else 1)
    small = (cv2.resize(bgr, (int(width / scale), int(height / scale)), interpolation=cv2.INTER_AREA)
             if scale > 1 else bgr)
    with _lock:  # onnxruntime sessions are thread-safe, but one at a time keeps the machine usable
        boxes, _ = ocr.text_det(small)
        if boxes is None or len(boxes) == 0:
            return []
        boxes = [np.asarray(b, dtype=np.float32) * scale for b in boxes]
        crops = ocr.get_crop_img_list(bgr, boxes)
        recognised = _recognise(ocr.text_rec, crops)
    lines = []
    for box, (text, confidence) in zip(boxes, recognised):
        text = text.strip()
        if not text:
            continue
        xs, ys = box[:, 0], box[:, 1]
        x0, y0 = max(0, int(xs.min())), max(0, int(ys.min()))
        lines.append(Line((x0, y0, int(xs.max()) - x0, int(ys.max()) - y0), text, round(float(confidence), 4)))
    lines.sort(key=lambda line: (line.box[1], line.box[0]))
    return lines


REC_HEIGHT = 48  # PP-OCRv4's recogniser reads lines 48 pixels high
REC_PAD = 64  # blank (mid-grey) columns after the text: with fewer, spaces and the last glyphs are read worse
REC_MIN_WIDTH = 160


def _recognise(recogniser: Any, crops: list[Any]) -> list[tuple[str, float]]:
    """(text, confidence) of each crop, each run alone at its own width plus :data:`REC_PAD` columns
    (RapidOCR's batches pad every line to the widest of six and to at least 320 columns)."""
    import math

    import cv2
    import numpy as np

    found = []
    for crop in crops:
        height, width = crop.shape[:2]
        resized_width = max(1, int(math.ceil(REC_HEIGHT * width / max(1, height))))
        total = max(REC_MIN_WIDTH, resized_width + REC_PAD)
        line = cv2.resize(crop, (resized_width, REC_HEIGHT)).astype(np.float32).transpose((2, 0, 1)) / 127.5 - 1.0
        batch = np.zeros((1, 3, REC_HEIGHT, total), dtype=np.float32)  # zero: mid-grey after normalising
        batch[0, :, :, :resized_width] = line
        predictions = recogniser.session(batch)[0]
        found.append(recogniser.postprocess_op(predictions, False, wh_ratio_list=[width / max(1, height)],
                                               max_wh_ratio=total / REC_HEIGHT)[0])
    return found
