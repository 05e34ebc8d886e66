"""The offline OCR engine: RapidOCR (PP-OCRv4 detection and recognition, ONNX Runtime).

The models ship inside the ``rapidocr-onnxruntime`` wheel (``rapidocr_onnxruntime/models/``); the
package has no download code, so reading a screenshot never touches the network. One engine is
loaded per process (≈0.5 s) and shared.

Speed on a shared 2-core machine: detection runs on the image at half size (chat text is large
enough for it), recognition on crops of the full-size image (accuracy), with one ONNX thread.
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
        recognised, _ = ocr.text_rec(crops)
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
