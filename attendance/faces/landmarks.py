"""Landmark schemes: which 5 points a model gives or wants, and conversions between them.

Two schemes are in use and they are *different points*:

- ``dlib5``: dlib's 5-point shape predictor: the two corners of one eye (0, 1), of the other eye (2, 3)
  and the base of the nose (4). dlib's ResNet is aligned from these.
- ``arcface5``: right eye centre, left eye centre, nose tip, right mouth corner, left mouth corner (the
  person's right, so image-left on a frontal face). YuNet gives these; every 112x112 ArcFace-style
  embedder (MobileFaceNet, SFace) was trained on chips aligned from them onto ``ARCFACE_TEMPLATE_112``.

An embedder must get the scheme it was trained with; when the detector gives no landmarks, or the wrong
scheme, a landmarker of the right scheme runs (``dlib_models.Dlib68ArcfaceLandmarker`` or ``yunet.YunetLandmarker``).
"""

from __future__ import annotations

import numpy as np

DLIB5 = "dlib5"
ARCFACE5 = "arcface5"
SCHEMES = (DLIB5, ARCFACE5)
# How far the nose point sits in front of the eye plane, in eye distances, per landmark scheme: dlib's point
# is under the nose (~0.35), YuNet's and ArcFace's is the tip (~0.44, measured on 249 LFW faces).
NOSE_DEPTH_RATIO = {"dlib5": 0.35, "arcface5": 0.44}

# Destination of the ARCFACE5 points in a 112x112 chip (the template InsightFace and OpenCV align to).
ARCFACE_TEMPLATE_112 = np.array([
    [38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041],
], dtype=np.float32)

# iBUG 68-point indices (0-based) that make the ARCFACE5 points: eye contours, nose tip, mouth corners.
_IBUG_RIGHT_EYE = slice(36, 42)  # the person's right eye, image-left
_IBUG_LEFT_EYE = slice(42, 48)
_IBUG_NOSE_TIP = 30
_IBUG_MOUTH_RIGHT = 48
_IBUG_MOUTH_LEFT = 54


def eyes_and_nose(landmarks: np.ndarray, scheme: str = DLIB5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image-left eye centre, image-right eye centre, nose point) of 5 landmarks in ``scheme``.

    The quality measures (yaw, roll, pitch) need these three points whatever the model; the nose point is
    dlib's nose base for ``dlib5`` and the nose tip for ``arcface5`` (a little further in front of the eyes).
    """
    points = np.asarray(landmarks, dtype=np.float64)
    if scheme == DLIB5:
        first, second, nose = points[0:2].mean(axis=0), points[2:4].mean(axis=0), points[4]
    elif scheme == ARCFACE5:
        first, second, nose = points[0], points[1], points[2]
    else:
        raise ValueError(f"unknown landmark scheme {scheme!r}")
    left, right = (first, second) if first[0] <= second[0] else (second, first)
    return left, right, nose


def arcface5_from_ibug68(points: np.ndarray) -> np.ndarray:
    """The ARCFACE5 points (5, 2) float32 from the 68 iBUG points (68, 2) of dlib's 68-point predictor."""
    points = np.asarray(points, dtype=np.float32)
    return np.stack([
        points[_IBUG_RIGHT_EYE].mean(axis=0), points[_IBUG_LEFT_EYE].mean(axis=0), points[_IBUG_NOSE_TIP],
        points[_IBUG_MOUTH_RIGHT], points[_IBUG_MOUTH_LEFT],
    ]).astype(np.float32)

