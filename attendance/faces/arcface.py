"""ArcFace-style embedders (MobileFaceNet, SFace, Intel's reidentification) in ONNX Runtime: alignment, input, run.

Each model was trained on chips made one way: the 5 ARCFACE5 landmarks moved by a similarity transform
onto a template (``ALIGNMENTS``: the ArcFace 112 template scaled to the chip, or Intel's 96x112 crop of it
stretched to a square), at the model's chip size (112 or 128 px), then the model's own colour order and
normalisation. All come from the model manifest (``chip_size_px``, ``alignment``, ``InputConvention``);
getting any wrong costs accuracy silently, so nothing here guesses.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from attendance.errors import ModelError
from attendance.faces.landmarks import ARCFACE5, ARCFACE_TEMPLATE_112
from models.manifest import ALIGNMENTS

logger = logging.getLogger(__name__)

CHIP_SIZE = 112
_MAX_BATCH = 32


@dataclass(frozen=True)
class InputConvention:
    """How a model wants its chip: channel order, per-channel (x - mean) / std on 0-255, layout.

    ``mean`` and ``std`` are in the model's channel order (after any RGB to BGR swap), on the 0-255 scale:
    ImageNet normalisation is mean (123.675, 116.28, 103.53), std (58.395, 57.12, 57.375) in RGB.
    """

    colour: str = "RGB"  # RGB or BGR
    mean: tuple[float, ...] = (127.5, 127.5, 127.5)  # 3 values: checked in __post_init__
    std: tuple[float, ...] = (127.5, 127.5, 127.5)
    layout: str = "NCHW"  # NCHW or NHWC

    def __post_init__(self) -> None:
        if self.colour not in ("RGB", "BGR"):
            raise ModelError(f"input colour must be RGB or BGR, got {self.colour!r}")
        if self.layout not in ("NCHW", "NHWC"):
            raise ModelError(f"input layout must be NCHW or NHWC, got {self.layout!r}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ModelError("input mean and std need 3 values each, std > 0")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> InputConvention:
        """From a manifest table: ``colour``, ``mean``, ``std``, ``layout``."""
        return cls(colour=str(data.get("colour", "RGB")), mean=tuple(float(v) for v in data.get("mean", cls.mean)),
                   std=tuple(float(v) for v in data.get("std", cls.std)), layout=str(data.get("layout", "NCHW")))

    def to_tensor(self, chips_rgb: Sequence[np.ndarray]) -> np.ndarray:
        """A float32 input tensor from RGB uint8 chips (n of (size, size, 3))."""
        batch: np.ndarray = np.stack([np.asarray(c) for c in chips_rgb]).astype(np.float32)
        if self.colour == "BGR":
            batch = batch[..., ::-1]
        batch = (batch - np.array(self.mean, np.float32)) / np.array(self.std, np.float32)
        if self.layout == "NCHW":
            batch = batch.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(batch, dtype=np.float32)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, translation) that best maps ``src`` onto ``dst``.

    Least squares over all points (Umeyama's closed form, no reflection); points are (n, 2), n >= 2.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    variance = (src_c ** 2).sum() / len(src)
    scale = float((singular * sign).sum() / variance) if variance > 0 else 1.0
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def alignment_template(alignment: str = "arcface", size_px: int = CHIP_SIZE) -> np.ndarray:
    """The five destination points (5, 2) of a ``size_px`` square chip for ``alignment``.

    "arcface": the ArcFace 112 template scaled uniformly. "arcface_96x112": the ArcFace template of a 96x112
    crop (x - 8) stretched to the square, as Intel's face recognition demo aligns for
    face-reidentification-retail-0095: x = (x112 - 8) / 96 * size, y = y112 / 112 * size.
    """
    if alignment == "arcface":
        return ARCFACE_TEMPLATE_112 * (size_px / CHIP_SIZE)
    if alignment == "arcface_96x112":
        return np.stack([(ARCFACE_TEMPLATE_112[:, 0] - 8.0) / 96.0 * size_px,
                         ARCFACE_TEMPLATE_112[:, 1] / 112.0 * size_px], axis=1)
    raise ModelError(f"unknown alignment {alignment!r} (known: {', '.join(ALIGNMENTS)})")


def align_arcface(image_rgb: np.ndarray, landmarks: np.ndarray, size_px: int = CHIP_SIZE,
                  alignment: str = "arcface") -> np.ndarray:
    """The (size_px, size_px, 3) RGB chip with the ARCFACE5 ``landmarks`` moved onto ``alignment``'s template."""
    template = alignment_template(alignment, size_px)
    matrix = similarity_transform(np.asarray(landmarks, dtype=np.float64).reshape(5, 2), template)
    return cv2.warpAffine(image_rgb, matrix, (size_px, size_px), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


class ArcfaceEmbedder:
    """An ONNX ArcFace-style face embedder behind the ``Embedder`` protocol; cosine distance, lower is closer.

    ``session`` may be given (tests pass a fake); otherwise one is opened with ``create_session``.
    ``flip`` averages the vectors of the chip and its mirror image (twice the compute). ``chip_size`` (px)
    and ``alignment`` (one of ``ALIGNMENTS``) come from the manifest; the defaults are the 112 px ArcFace chip.
    """

    metric = "cosine"
    landmark_scheme = ARCFACE5

    def __init__(self, model_path: Path | str | None, model_id: str, input_convention: InputConvention,
                 *, dim: int = 128, flip: bool = False, session: Any = None,
                 providers: list[str] | None = None, threads: int = 0, chip_size: int = CHIP_SIZE,
                 alignment: str = "arcface") -> None:
        if chip_size <= 0:
            raise ModelError(f"{model_id}: chip size must be positive, got {chip_size}")
        alignment_template(alignment)  # an unknown alignment fails here, before a session is opened
        if session is None:
            from attendance.faces.onnx_runtime import create_session

            if model_path is None:
                raise ModelError(f"{model_id}: no model file given")
            session = create_session(model_path, providers=providers, threads=threads)
        self.model_id = model_id
        self.chip_size = chip_size
        self.alignment = alignment
        self.dim = dim
        self.flip = flip
        self.convention = input_convention
        self._session = session
        self._input_name, self._batch_size = self._check_signature()

    def _check_signature(self) -> tuple[str, int | None]:
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(f"{self.model_id}: expected one model input, found {len(inputs)}")
        shape = list(inputs[0].shape)
        size = self.chip_size
        expected = [3, size, size] if self.convention.layout == "NCHW" else [size, size, 3]
        if len(shape) != 4 or any(isinstance(d, int) and d != e for d, e in zip(shape[1:], expected)):
            raise ModelError(f"{self.model_id}: model input shape {shape} does not match {self.convention.layout} "
                             f"{expected} from the manifest")
        batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        return inputs[0].name, batch

    def align(self, image_rgb: np.ndarray, landmarks: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The chip_size x chip_size RGB chip for ARCFACE5 ``landmarks`` (YuNet's, or converted dlib 68 points)."""
        return align_arcface(image_rgb, landmarks, self.chip_size, self.alignment)

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        """L2-normalised vectors (n, dim) float32 for aligned RGB chips (chip_size x chip_size)."""
        if not chips:
            return np.zeros((0, self.dim), dtype=np.float32)
        chips = list(chips)
        if self.flip:
            chips = chips + [np.ascontiguousarray(c[:, ::-1]) for c in chips]
        vectors = self._run(self.convention.to_tensor(chips))
        if self.flip:
            half = len(vectors) // 2
            vectors = vectors[:half] + vectors[half:]
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return (vectors / norms).astype(np.float32)

    def _run(self, tensor: np.ndarray) -> np.ndarray:
        step = self._batch_size or _MAX_BATCH
        outputs = []
        for start in range(0, len(tensor), step):
            part = tensor[start:start + step]
            if self._batch_size and len(part) < self._batch_size:  # a fixed batch larger than 1: pad
                part = np.concatenate([part, np.zeros((self._batch_size - len(part),) + part.shape[1:], part.dtype)])
            result = np.asarray(self._session.run(None, {self._input_name: part})[0], dtype=np.float32)
            outputs.append(result.reshape(len(part), -1)[:min(step, len(tensor) - start)])
        vectors = np.concatenate(outputs)
        if vectors.shape[1] != self.dim:
            raise ModelError(f"{self.model_id}: the model gives {vectors.shape[1]}-D vectors, the manifest says {self.dim}")
        return vectors
