"""Reading QR codes from camera frames with OpenCV's QR detector (the QR cards of ``attendance/cards.py``).

Beside the face engine because it is the agent's other use of ``cv2`` on the same frames. Decoding runs on a
grey copy, optionally scaled down: a card held up at the gate fills a large part of a 640x360 frame, so half
size still reads it and costs about a quarter (``python -m bench.bench_qr`` measures it).
"""

from __future__ import annotations

import cv2
import numpy as np


class QrReader:
    """Finds and decodes the QR codes in an RGB frame; one instance per frame loop (not thread-safe)."""

    def __init__(self, scale: float = 1.0) -> None:
        if not 0.1 <= scale <= 1.0:
            raise ValueError(f"the QR scale must be between 0.1 and 1, got {scale}")
        self.scale = scale
        # The ArUco-based finder (OpenCV >= 4.8) rules out a frame without a code in ~6 ms at 640x360 where
        # the classic one takes ~40 (bench/bench_qr.py): most frames at a gate show no card.
        self._detector = cv2.QRCodeDetectorAruco() if hasattr(cv2, "QRCodeDetectorAruco") else cv2.QRCodeDetector()

    def read(self, image_rgb: np.ndarray) -> list[str]:
        """The text of the QR code found in ``image_rgb`` as a list (empty when none could be read; one card at a time is read)."""
        grey = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
        if self.scale < 1.0:
            grey = cv2.resize(grey, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
        try:
            text, _, _ = self._detector.detectAndDecode(grey)
        except cv2.error:  # a degenerate quadrangle: treat as nothing read
            return []
        return [text] if text else []
