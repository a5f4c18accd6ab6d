"""Presentation-attack detection: Minivision's MiniFASNet pair scores how likely a detected face is a live one.

One more model filling in its part for a face it is given (the box the detector found): the box is grown
about its centre by each network's scale (2.7 for MiniFASNetV2, 4.0 for MiniFASNetV1SE), shifted back
inside the image, cropped and resized to 80x80, fed as BGR 0-255; each network's softmax is averaged and
its class 1 ("real") is the live score in 0..1. A score is a signal for review, never proof: a photo on
paper or a screen is what it was trained against; a replayed video, a mask or a good print may pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from attendance.errors import ModelError
from attendance.faces.onnx_runtime import create_session
from attendance.faces.types import Face

CROP_SIZE_PX = 80
LIVE_CLASS = 1
Box = tuple[int, int, int, int]


def crop_window(box: Box, scale: float, width_px: int, height_px: int) -> Box:
    """The (x1, y1, x2, y2) window, inclusive, that a MiniFASNet of ``scale`` sees around face ``box``.

    The box is grown about its centre by ``scale`` (less when the image is too small for it) and shifted,
    not clipped, back inside the image, so the crop keeps the face-to-context ratio the network learnt.
    """
    x1, y1, x2, y2 = box
    box_w, box_h = max(1, x2 - x1), max(1, y2 - y1)
    scale = min((height_px - 1) / box_h, (width_px - 1) / box_w, scale)
    half_w, half_h = box_w * scale / 2, box_h * scale / 2
    centre_x, centre_y = x1 + box_w / 2, y1 + box_h / 2
    left, top, right, bottom = centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h
    if left < 0:
        right, left = right - left, 0
    if top < 0:
        bottom, top = bottom - top, 0
    if right > width_px - 1:
        left, right = left - (right - width_px + 1), width_px - 1
    if bottom > height_px - 1:
        top, bottom = top - (bottom - height_px + 1), height_px - 1
    return int(left), int(top), int(right), int(bottom)


def crop_for_liveness(image_rgb: np.ndarray, box: Box, scale: float) -> np.ndarray:
    """An 80x80x3 uint8 BGR crop of ``image_rgb`` around ``box`` at ``scale`` (the networks' input)."""
    height, width = image_rgb.shape[:2]
    x1, y1, x2, y2 = crop_window(box, scale, width, height)
    region = image_rgb[y1:y2 + 1, x1:x2 + 1, ::-1]
    return cv2.resize(np.ascontiguousarray(region), (CROP_SIZE_PX, CROP_SIZE_PX))


@dataclass(frozen=True)
class LivenessResult:
    """A face's live score (0..1, the mean of the networks' class-1 probabilities) and the decision at the threshold."""

    score: float
    live: bool

    def as_dict(self) -> dict:
        return {"score": round(self.score, 4), "live": self.live}


class MinifasnetNetwork:
    """One converted MiniFASNet (``models/minifasnet_onnx.py``): 80x80 BGR crops in, class probabilities out."""

    def __init__(self, path: Path | str, scale: float, *, providers: list[str] | None = None,
                 threads: int = 0) -> None:
        if scale <= 1.0:
            raise ModelError(f"a MiniFASNet crop scale must be above 1, got {scale}")
        self.scale = scale
        self.session = create_session(path, providers, threads)
        self.input_name = self.session.get_inputs()[0].name
        outputs = [o.name for o in self.session.get_outputs()]
        if "probs" not in outputs:
            raise ModelError(f"{path} is not a converted MiniFASNet (no 'probs' output)")

    def predict(self, crops_bgr: np.ndarray) -> np.ndarray:
        """(N, 80, 80, 3) uint8 BGR crops -> (N, 3) float32 softmax probabilities."""
        batch = np.ascontiguousarray(crops_bgr.transpose(0, 3, 1, 2), dtype=np.float32)
        return self.session.run(["probs"], {self.input_name: batch})[0]


class LivenessChecker:
    """The vendor's recipe: every network on its own crop of the same face, softmax averaged, class 1 = live."""

    model_id = "minifasnet"

    def __init__(self, networks: Sequence[MinifasnetNetwork], threshold: float) -> None:
        if not networks:
            raise ModelError("a liveness checker needs at least one MiniFASNet")
        if not 0.0 < threshold < 1.0:
            raise ModelError(f"a live threshold must be in (0, 1), got {threshold}")
        self.networks = list(networks)
        self.threshold = threshold

    def crop_face(self, image_rgb: np.ndarray, box: Box) -> np.ndarray:
        """The face's crop for each network: (networks, 80, 80, 3) uint8 BGR. Cheap; keep it to score later."""
        return np.stack([crop_for_liveness(image_rgb, box, network.scale) for network in self.networks])

    def score_crops(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Live scores (N,) for N results of ``crop_face`` (any frames): one batch per network."""
        if not len(crops):
            return np.zeros(0, dtype=np.float32)
        stacked = np.stack(crops)
        total = np.zeros(len(stacked), dtype=np.float64)
        for index, network in enumerate(self.networks):
            total += network.predict(stacked[:, index])[:, LIVE_CLASS]
        return (total / len(self.networks)).astype(np.float32)

    def score_faces(self, items: Sequence[tuple[np.ndarray, Box]]) -> np.ndarray:
        """Live scores (N,) for (image_rgb, box) pairs, which may come from different frames, in one batch."""
        return self.score_crops([self.crop_face(image, box) for image, box in items])

    def judge(self, score: float) -> LivenessResult:
        return LivenessResult(float(score), bool(score >= self.threshold))

    def fill(self, image_rgb: np.ndarray, faces: Sequence[Face]) -> list[LivenessResult]:
        """Score every face of one image (one batch) and set each ``face.liveness``; returns the results."""
        scores = self.score_faces([(image_rgb, face.box) for face in faces])
        results = [self.judge(s) for s in scores]
        for face, result in zip(faces, results):
            face.liveness = result.score
        return results
