"""Quality measures of a face: sharpness of the aligned chip and a head pose estimated from 5 landmarks."""

from __future__ import annotations

import math

import cv2
import numpy as np

from attendance.faces.landmarks import NOSE_DEPTH_RATIO
from attendance.faces.types import FaceQuality



SHARPNESS_CHIP_PX = 64


def measure_sharpness(chip_rgb: np.ndarray) -> float:
    """Variance of the Laplacian of the chip shrunk to 64x64 grey.

    Measured at a fixed small size so that a small but clean face (an LFW photo, ~100 px: 140-400) is
    not mistaken for a blurred one; a large face blurred beyond use scores under ~100.
    """
    small = cv2.resize(chip_rgb, (SHARPNESS_CHIP_PX, SHARPNESS_CHIP_PX), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def estimate_pose(eye_left: np.ndarray, eye_right: np.ndarray, nose: np.ndarray,
                  nose_depth_ratio: float = NOSE_DEPTH_RATIO["dlib5"]) -> tuple[float, float, float]:
    """Approximate (yaw_deg, roll_deg, pitch_ratio) from the two eye centres and the nose point.

    Yaw comes from how far the nose sits from the eyes' midline along the eye line; roll is the angle of
    the eye line; pitch_ratio is the nose's distance below the eye line over the eye distance. Good to
    about ten degrees: enough to refuse a profile photo, not a measurement.
    """
    eye_vec = eye_right - eye_left
    eye_dist = float(np.hypot(*eye_vec)) or 1.0
    unit = eye_vec / eye_dist
    normal = np.array([-unit[1], unit[0]])
    offset = nose - (eye_left + eye_right) / 2.0
    along = float(offset @ unit) / eye_dist
    across = float(offset @ normal) / eye_dist
    yaw = math.degrees(math.atan2(along, nose_depth_ratio))
    roll = math.degrees(math.atan2(float(eye_vec[1]), float(eye_vec[0])))
    return yaw, roll, abs(across)


def measure_quality(box: tuple[int, int, int, int], eyes_nose: tuple[np.ndarray, np.ndarray, np.ndarray],
                    chip_rgb: np.ndarray, scheme: str = "dlib5") -> FaceQuality:
    """Every quality measure of one face; ``eyes_nose`` is (image-left eye, image-right eye, nose)."""
    x1, y1, x2, y2 = box
    yaw, roll, pitch_ratio = estimate_pose(*eyes_nose, nose_depth_ratio=NOSE_DEPTH_RATIO[scheme])
    return FaceQuality(
        face_px=float(max(x2 - x1, y2 - y1)), sharpness=measure_sharpness(chip_rgb),
        yaw_deg=yaw, roll_deg=roll, pitch_ratio=pitch_ratio,
    )
