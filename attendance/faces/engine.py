"""The face engine: detect on a scaled copy, landmarks and chips at full resolution, quality, embeddings."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from attendance.errors import ModelError
from attendance.faces.landmarks import DLIB5, eyes_and_nose
from attendance.faces.quality import measure_quality
from attendance.faces.types import Detection, Detector, Embedder, Face, Landmarker
from attendance.faces.upright import build_upright

logger = logging.getLogger(__name__)


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
        scale = self._detection_scale(image_rgb)
        small = image_rgb if scale == 1.0 else cv2.resize(
            image_rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
        )
        detections = self.detector.detect(small)
        self.times.add("detect", started)

        started = time.perf_counter()
        height, width = image_rgb.shape[:2]
        faces = []
        for detection in detections:
            box = _scale_box(detection.box, 1.0 / scale, width, height)
            if box[2] - box[0] < 2 or box[3] - box[1] < 2:
                continue
            landmarks = self._locate(image_rgb, detection, box, 1.0 / scale)
            chip = self.embedder.align(image_rgb, landmarks, box)
            quality = measure_quality(box, eyes_and_nose(landmarks, self.landmark_scheme), chip, self.landmark_scheme)
            faces.append(Face(box=box, score=detection.score, landmarks=landmarks, quality=quality, chip=chip))
        faces.sort(key=lambda f: f.area_px, reverse=True)
        self.times.add("landmarks", started)

        if embed and faces:
            started = time.perf_counter()
            vectors = self.embedder.embed([f.chip for f in faces])
            for face, vector in zip(faces, vectors):
                face.embedding = vector
            self.times.add("embed", started)
            self.times.faces += len(faces)
        return faces

    def _locate(self, image_rgb: np.ndarray, detection: Detection, box: tuple[int, int, int, int],
                factor: float) -> np.ndarray:
        """The embedder's landmarks: the detector's own when they are its scheme (YuNet), else the landmarker's;
        corrected for a tilted head where they come from YuNet."""
        if detection.landmarks is not None and getattr(self.detector, "landmark_scheme", "") == self.landmark_scheme:
            points = (detection.landmarks * np.float32(factor)).astype(np.float32)
        else:
            points = self.landmarker.locate(image_rgb, box)
        return points if self.upright is None else self.upright.refine(image_rgb, points, box)

    def _detection_scale(self, image_rgb: np.ndarray) -> float:
        longest = max(image_rgb.shape[:2])
        return min(1.0, self.detect_max_side_px / longest) if longest else 1.0


def _scale_box(box: tuple[int, int, int, int], factor: float, width: int, height: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    return (
        max(0, int(round(x1 * factor))), max(0, int(round(y1 * factor))),
        min(width, int(round(x2 * factor))), min(height, int(round(y2 * factor))),
    )
