"""What the face engine reports: one ``Face`` per detected face, with its quality measures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from attendance.errors import ModelError


@dataclass(frozen=True)
class FaceQuality:
    """How usable a face is: size in pixels, sharpness and an approximate head pose from the landmarks."""

    face_px: float  # side of the detection box in full-resolution pixels
    sharpness: float  # variance of the Laplacian of the aligned chip at 64x64 grey; under ~100 is blurry
    yaw_deg: float  # head turn left/right, approximate (0 = frontal)
    roll_deg: float  # head tilt in the image plane
    pitch_ratio: float  # nose-to-eye-line distance over eye distance; ~0.5-0.9 when looking straight

    def as_dict(self) -> dict[str, float]:
        return {
            "face_px": round(self.face_px, 1), "sharpness": round(self.sharpness, 1),
            "yaw_deg": round(self.yaw_deg, 1), "roll_deg": round(self.roll_deg, 1),
            "pitch_ratio": round(self.pitch_ratio, 3),
        }


@dataclass(frozen=True)
class Detection:
    """A detector's output: a box (x1, y1, x2, y2) in pixels, a score and, if the detector gives them, landmarks."""

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray | None = None  # (5, 2) float32, the detector's own points


@dataclass
class Face:
    """One face in an image, as the engine reports it; each step of ``FaceEngine`` fills in its part.

    ``find_faces`` returns faces with every part but ``embedding`` (unless asked) filled in; the agent's
    faces get a chip and quality only when they are worth aligning.
    """

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray  # (5, 2) float32 in full-resolution pixels, the landmark model's own order
    quality: FaceQuality | None = None  # filled in with the chip (FaceEngine.align)
    embedding: np.ndarray | None = None  # (dim,) float32
    chip: np.ndarray | None = field(default=None, repr=False)  # the aligned chip the embedding came from
    liveness: float | None = None  # live score 0..1 when a liveness model filled it in (faces/liveness.py)

    @property
    def area_px(self) -> int:
        x1, y1, x2, y2 = self.box
        return max(0, x2 - x1) * max(0, y2 - y1)

    def require_quality(self) -> FaceQuality:
        """``quality`` of an aligned face; ``ModelError`` when ``FaceEngine.align`` has not filled it in."""
        if self.quality is None:
            raise ModelError("the face has no quality measures yet: it was never aligned")
        return self.quality

    def require_chip(self) -> np.ndarray:
        """``chip`` of an aligned face; ``ModelError`` when ``FaceEngine.align`` has not filled it in."""
        if self.chip is None:
            raise ModelError("the face has no aligned chip yet: it was never aligned")
        return self.chip

    def require_embedding(self) -> np.ndarray:
        """``embedding`` of an embedded face; ``ModelError`` when ``FaceEngine.embed`` has not filled it in."""
        if self.embedding is None:
            raise ModelError("the face has no embedding yet: it was never embedded")
        return self.embedding


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes: 0 when they do not overlap, 1 when equal."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class Detector(Protocol):
    """Finds faces. ``model_id`` names the model; boxes are in the pixels of the image it was given.

    A detector may set ``accepts_grey = True`` when it finds the same faces in a grey (H, W) image.
    """

    model_id: str
    landmark_scheme: str  # the scheme of Detection.landmarks ("arcface5" for YuNet), "" when it gives none

    def detect(self, image_rgb: np.ndarray) -> list[Detection]: ...


class Landmarker(Protocol):
    """Places 5 landmarks on a detected face, in the order its embedder's alignment expects."""

    model_id: str
    scheme: str  # "dlib5" or "arcface5" (attendance/faces/landmarks.py)

    def locate(self, image_rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray: ...


class Embedder(Protocol):
    """Turns an aligned face chip into a vector. ``metric`` is "euclidean" or "cosine" (lower is closer)."""

    model_id: str
    dim: int
    metric: str
    chip_size: int
    landmark_scheme: str  # the 5 points its chips are aligned from

    def align(self, image_rgb: np.ndarray, landmarks: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray: ...

    def embed(self, chips: list[np.ndarray]) -> np.ndarray: ...
