"""The face engine: the one way an image becomes faces, aligned chips and embeddings.

Detection runs once, on a scaled copy of the image (or only on regions of it); each later step fills in
its part of the same ``Face`` (InsightFace's ``FaceAnalysis`` shape), so a model added later (liveness,
say) fills in its own part of the faces it is given:

    detections = engine.detect(image, scale=0.5)           # boxes (and the detector's points), full-res px
    faces = [engine.locate(image, d) for d in detections]  # the embedder's 5 landmarks
    engine.align(image, face)                              # the chip and its quality
    engine.embed(faces)                                    # the embeddings, in one batch

``find_faces`` (enrollment, identify) is those steps in a row; the camera agent calls them one by one so
that it aligns and embeds only the faces it wants.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from attendance.errors import ImageError, ModelError
from attendance.faces.landmarks import DLIB5, NOSE_DEPTH_RATIO, eyes_and_nose
from attendance.faces.quality import estimate_pose, measure_quality
from attendance.faces.types import Detection, Detector, Embedder, Face, Landmarker, box_iou
from attendance.faces.upright import build_upright

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels

logger = logging.getLogger(__name__)

# The smallest side of an image that can hold a face; a thinner one has none (dlib's HOG needs ~40 px).
MIN_IMAGE_SIDE_PX = 16


@dataclass
class StageTimes:
    """Milliseconds spent per stage, summed over the calls since the last ``reset``."""

    ms: dict[str, float] = field(default_factory=lambda: {"detect": 0.0, "landmarks": 0.0, "embed": 0.0})
    faces: int = 0
    images: int = 0

    def add(self, stage: str, started_s: float) -> None:
        self.ms[stage] = self.ms.get(stage, 0.0) + (time.perf_counter() - started_s) * 1000.0


class FaceEngine:
    """Runs a detector, a landmarker and an embedder over an image and returns ``Face`` objects."""

    def __init__(self, detector: Detector, landmarker: Landmarker, embedder: Embedder,
                 detect_max_side_px: int = 1280) -> None:
        self.detector = detector
        self.landmarker = landmarker
        self.embedder = embedder
        self.detect_max_side_px = detect_max_side_px
        self.times = StageTimes()
        # The 5 points the embedder was trained on; the landmarker must give the same scheme.
        self.landmark_scheme = getattr(embedder, "landmark_scheme", DLIB5)
        if getattr(landmarker, "scheme", DLIB5) != self.landmark_scheme:
            raise ModelError(f"landmarker {landmarker.model_id} gives {getattr(landmarker, 'scheme', DLIB5)} points, "
                             f"embedder {embedder.model_id} needs {self.landmark_scheme}")
        # YuNet's points barely follow a tilted head: they are found again on the face turned upright.
        self.upright = build_upright(detector, landmarker, self.landmark_scheme)

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def find_faces(self, image_rgb: np.ndarray, *, embed: bool = True) -> list[Face]:
        """Every face in ``image_rgb`` (H, W, 3 uint8), largest first, with quality and (if ``embed``) embedding."""
        self.times.images += 1
        started = time.perf_counter()
        detections = self.detect(image_rgb)
        self.times.add("detect", started)

        started = time.perf_counter()
        faces = [self.align(image_rgb, self.locate(image_rgb, detection)) for detection in detections]
        faces.sort(key=lambda f: f.area_px, reverse=True)
        self.times.add("landmarks", started)

        if embed and faces:
            started = time.perf_counter()
            self.embed(faces)
            self.times.add("embed", started)
            self.times.faces += len(faces)
        return faces

    # -- the steps, one model each ---------------------------------------------------------------------------

    def detect(self, image_rgb: np.ndarray, *, scale: float | None = None,
               regions: Sequence[Box] | None = None, region_margin: float = 0.0,
               grey: bool = False) -> list[Detection]:
        """Faces found by the detector, in ``image_rgb``'s pixels (boxes and the detector's own landmarks).

        The detector runs on a copy scaled by ``scale`` (None: shrunk to fit ``detect_max_side_px``).
        ``regions`` (boxes in ``image_rgb``'s pixels, each grown by ``region_margin`` of its longest side):
        search only there, e.g. around the faces a tracker follows (None: the whole image; empty: nowhere).
        ``grey``: a grey copy when the detector works as well on grey (dlib's HOG, about 30% faster).
        Boxes under 2 px and a second box of the same face (IoU >= 0.5, from overlapping regions) are dropped.
        """
        height, width = image_rgb.shape[:2]
        if min(height, width) < MIN_IMAGE_SIDE_PX:  # a 50000x1 strip: no face fits, and no resize is possible
            return []
        if scale is None:
            scale = self._detection_scale(image_rgb)
        small = _resize(image_rgb, scale)
        if grey and getattr(self.detector, "accepts_grey", False):
            small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        small_h, small_w = small.shape[:2]
        if regions is None:
            windows = [(0, 0, small_w, small_h)]
        else:
            windows = [_grow(_scale_box(box, scale, small_w, small_h), region_margin, small_w, small_h)
                       for box in regions]
        found: list[Detection] = []
        for rx1, ry1, rx2, ry2 in windows:
            if rx2 - rx1 < 2 or ry2 - ry1 < 2:
                continue
            window = small if (rx1, ry1, rx2, ry2) == (0, 0, small_w, small_h) else \
                np.ascontiguousarray(small[ry1:ry2, rx1:rx2])
            try:
                detections = self.detector.detect(window)
            except cv2.error as err:
                raise ImageError(f"the face detector cannot read this {width}x{height} image") from err
            for detection in detections:
                placed = _place(detection, (rx1, ry1), 1.0 / scale, width, height)
                box = placed.box
                if box[2] - box[0] >= 2 and box[3] - box[1] >= 2 and all(box_iou(box, d.box) < 0.5 for d in found):
                    found.append(placed)
        return found

    def locate(self, image_rgb: np.ndarray, detection: Detection) -> Face:
        """The face of ``detection`` (in ``image_rgb``'s pixels) with the embedder's 5 landmarks; no chip yet."""
        landmarks = self._locate(image_rgb, detection, detection.box, 1.0)
        return Face(box=detection.box, score=detection.score, landmarks=landmarks)

    def measure_pose(self, landmarks: np.ndarray) -> tuple[float, float, float]:
        """Approximate (yaw_deg, roll_deg, pitch_ratio) of a face from its 5 landmarks (see ``estimate_pose``)."""
        scheme = self.landmark_scheme
        return estimate_pose(*eyes_and_nose(landmarks, scheme), NOSE_DEPTH_RATIO[scheme])

    def align(self, image_rgb: np.ndarray, face: Face) -> Face:
        """Fill in ``face.chip`` (aligned as the embedder was trained) and ``face.quality``; returns ``face``.

        A tilted head's YuNet points are found again on the face turned upright first (``upright.py``): here
        rather than in ``locate``, so the agent pays for it only on the faces it embeds, not on every face it
        follows.
        """
        if self.upright is not None:
            face.landmarks = self.upright.refine(image_rgb, face.landmarks, face.box)
        face.chip = self.embedder.align(image_rgb, face.landmarks, face.box)
        face.quality = measure_quality(face.box, eyes_and_nose(face.landmarks, self.landmark_scheme), face.chip,
                                       self.landmark_scheme)
        return face

    def embed(self, faces: Sequence[Face]) -> None:
        """Fill in the ``embedding`` of each aligned face, in one batch (the chips need no image any more)."""
        if not faces:
            return
        vectors = self.embedder.embed([face.require_chip() for face in faces])
        for face, vector in zip(faces, vectors):
            face.embedding = vector

    def _locate(self, image_rgb: np.ndarray, detection: Detection, box: tuple[int, int, int, int],
                factor: float) -> np.ndarray:
        """The embedder's landmarks: the detector's own when they are its scheme (YuNet), else the landmarker's
        (``align`` corrects YuNet's for a tilted head).

        The one place where a detection becomes landmarks (``find_faces`` and the agent both come here).
        ``detection``'s landmarks are multiplied by ``factor`` to reach ``image_rgb``'s pixels (``locate``
        passes detections already placed there: 1.0); ``box`` is in ``image_rgb``'s pixels.
        """
        if detection.landmarks is not None and getattr(self.detector, "landmark_scheme", "") == self.landmark_scheme:
            points = (detection.landmarks * np.float32(factor)).astype(np.float32)
        else:
            points = self.landmarker.locate(image_rgb, box)
        return points

    def _detection_scale(self, image_rgb: np.ndarray) -> float:
        longest = max(image_rgb.shape[:2])
        return min(1.0, self.detect_max_side_px / longest) if longest else 1.0


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return image
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    height, width = image.shape[:2]
    # explicit sizes of at least 1 px: fx/fy would round a thin side to 0, which OpenCV refuses
    return cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=interpolation)


def _scale_box(box: Box, factor: float, width: int, height: int) -> Box:
    x1, y1, x2, y2 = box
    return (
        max(0, int(round(x1 * factor))), max(0, int(round(y1 * factor))),
        min(width, int(round(x2 * factor))), min(height, int(round(y2 * factor))),
    )


def _grow(box: Box, margin: float, width: int, height: int) -> Box:
    x1, y1, x2, y2 = box
    pad = round(max(x2 - x1, y2 - y1) * margin)
    return max(0, x1 - pad), max(0, y1 - pad), min(width, x2 + pad), min(height, y2 + pad)


def _place(detection: Detection, offset: tuple[int, int], factor: float, width: int, height: int) -> Detection:
    """A detection made on a window of the scaled copy, moved to the full image's pixels."""
    x1, y1, x2, y2 = detection.box
    dx, dy = offset
    box = _scale_box((x1 + dx, y1 + dy, x2 + dx, y2 + dy), factor, width, height)
    landmarks = detection.landmarks
    if landmarks is not None:
        landmarks = ((landmarks + np.array(offset, np.float32)) * np.float32(factor)).astype(np.float32)
    return Detection(box=box, score=detection.score, landmarks=landmarks)
