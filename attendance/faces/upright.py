"""Upright landmarks: YuNet's 5 points on a head tilted in the image plane, found again on the face turned upright.

YuNet's landmarks lean towards an upright face: on a head tilted 20 degrees its eye line follows only 5-7
degrees of it (a quarter to a third of any tilt up to 30 degrees, measured on 60 LFW faces), so the aligned
chip stays tilted and every ArcFace-style model loses the face. Asking YuNet again does not help: its roll
estimate is too weak (and too noisy, sd ~3.5 degrees on upright faces) to converge in one or two steps.

dlib's 5-point shape predictor (public domain, installed with the package) follows a tilt fully (gain 1.0,
sd under 2 degrees up to 20 degrees), so its eye line gives the roll. When that roll is at least
``MIN_ROLL_DEG``, the face region is turned upright by it, YuNet runs again on that crop (where its points
are right), and the points are mapped back into the image. The roll costs 1-2 ms a face; the second YuNet
run (on a 192 px crop) is paid only by tilted faces. The correction works on landmarks, so every model
aligned from them gains.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import cv2
import numpy as np

from attendance.faces.landmarks import ARCFACE5, DLIB5, eyes_and_nose
from attendance.faces.types import box_iou

logger = logging.getLogger(__name__)

# Tilts under this are left to YuNet's own points (upright LFW faces: dlib's roll has sd ~2 degrees).
MIN_ROLL_DEG = 6.0
# The upright crop: this much context on each side of the face box (fraction of its side), the face scaled to
# this side in pixels (80-96 px gave the most exact eye lines on rotated LFW enroll photos; 64-280 px as found
# was worse, sd 2.2 against 1.3 degrees; and the crop stays small: 192 px a side).
_CONTEXT = 0.5
_CROP_FACE_PX = 96.0
_MIN_IOU = 0.3


class UprightLandmarks:
    """Corrects YuNet's ARCFACE5 points of a tilted face; ``detector`` is the ``YunetDetector`` to run again."""

    def __init__(self, detector: Any, min_roll_deg: float = MIN_ROLL_DEG) -> None:
        self.detector = detector
        self.min_roll_deg = min_roll_deg
        self._predictor: Any = None  # dlib's 5-point predictor, loaded on first use

    def refine(self, image_rgb: np.ndarray, points: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The 5 points (5, 2) float32 of the face in ``box``: ``points`` itself when the head is about
        upright (or YuNet finds no face on the turned crop), else YuNet's points on the upright face."""
        roll_deg = self.measure_roll(image_rgb, box)
        if abs(roll_deg) < self.min_roll_deg:
            return points
        found = self._detect_upright(image_rgb, box, roll_deg)
        if found is None:
            logger.debug("no face on the upright crop of box %s (roll %.0f degrees): points kept", box, roll_deg)
            return points
        return found

    def measure_roll(self, image_rgb: np.ndarray, box: tuple[int, int, int, int]) -> float:
        """The tilt of the eye line in degrees (positive: the image-right eye is lower), from dlib's 5 points."""
        if self._predictor is None:
            from attendance.faces.dlib_models import DlibLandmarker

            self._predictor = DlibLandmarker()
        left, right, _ = eyes_and_nose(self._predictor.locate(image_rgb, box), DLIB5)
        return math.degrees(math.atan2(float(right[1] - left[1]), float(right[0] - left[0])))

    def _detect_upright(self, image_rgb: np.ndarray, box: tuple[int, int, int, int],
                        roll_deg: float) -> np.ndarray | None:
        matrix, crop_px, face_box = upright_crop_transform(box, roll_deg)
        crop = cv2.warpAffine(image_rgb, matrix, (crop_px, crop_px), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        candidates = [d for d in self.detector.detect_at_scale(crop, 1.0) if d.landmarks is not None]
        best = max(candidates, key=lambda d: box_iou(d.box, face_box), default=None)
        if best is None or box_iou(best.box, face_box) < _MIN_IOU:
            return None
        inverse = cv2.invertAffineTransform(matrix)
        return (best.landmarks @ inverse[:, :2].T + inverse[:, 2]).astype(np.float32)


def upright_crop_transform(box: tuple[int, int, int, int], roll_deg: float
                           ) -> tuple[np.ndarray, int, tuple[float, float, float, float]]:
    """(2x3 matrix from image to crop, crop side px, the face box in the crop) for a face tilted ``roll_deg``.

    The crop is centred on the box, turned by ``roll_deg`` so that the eye line is level, and scaled so
    that the face measures 96 px.
    """
    x1, y1, x2, y2 = box
    side = float(max(x2 - x1, y2 - y1, 1))
    scale = _CROP_FACE_PX / side
    crop_px = int(math.ceil(_CROP_FACE_PX * (1.0 + 2.0 * _CONTEXT)))
    centre = ((x1 + x2) / 2.0, (y1 + y2) / 2.0)
    matrix = np.asarray(cv2.getRotationMatrix2D(centre, roll_deg, scale), dtype=np.float64)
    matrix[:, 2] += (crop_px / 2.0 - centre[0], crop_px / 2.0 - centre[1])
    half_w, half_h = (x2 - x1) * scale / 2.0, (y2 - y1) * scale / 2.0
    middle = crop_px / 2.0
    return matrix, crop_px, (middle - half_w, middle - half_h, middle + half_w, middle + half_h)


def build_upright(detector: Any, landmarker: Any, scheme: str) -> UprightLandmarks | None:
    """The roll correction for an engine whose ``scheme`` points come from YuNet, else None.

    YuNet is the detector (its own points) or the landmarker's detector (YuNet run on another detector's
    box); dlib's 5 and 68 points follow a tilt and need no correction.
    """
    if scheme != ARCFACE5:
        return None
    from attendance.faces.yunet import YunetDetector

    for source in (detector, getattr(landmarker, "detector", None)):
        if isinstance(source, YunetDetector):
            return UprightLandmarks(source)
    return None
