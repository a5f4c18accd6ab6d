"""dlib's ResNet face descriptor run by ONNX Runtime: same chips, same vectors (within 1e-4), several times faster."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from attendance.errors import ModelError
from attendance.faces.onnx_runtime import create_session

RESNET_MODEL_ID = "dlib_resnet_v1"  # the same vectors as DlibResnetEmbedder: galleries are shared
RESNET_CHIP_SIZE = 150
INPUT_NAME = "chips"
OUTPUT_NAME = "embeddings"


class OnnxResnetEmbedder:
    """The converted dlib ResNet (``models/dlib_onnx.py``): 150x150 RGB chip to a 128-D euclidean vector."""

    model_id = RESNET_MODEL_ID
    dim = 128
    metric = "euclidean"
    chip_size = RESNET_CHIP_SIZE
    landmark_scheme = "dlib5"  # aligned exactly as DlibResnetEmbedder aligns

    def __init__(
        self,
        model_path: Path | str,
        providers: list[str] | None = None,
        threads: int = 0,
        provider_options: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self._session = create_session(self.model_path, providers, threads, provider_options)
        self._check_signature()

    @property
    def providers(self) -> list[str]:
        """The execution providers the session actually uses, best first."""
        return list(self._session.get_providers())

    def _check_signature(self) -> None:
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if [i.name for i in inputs] != [INPUT_NAME] or OUTPUT_NAME not in [o.name for o in outputs]:
            raise ModelError(f"{self.model_path} is not a converted dlib ResNet (expects input '{INPUT_NAME}')")
        if list(inputs[0].shape[1:]) != [self.chip_size, self.chip_size, 3]:
            raise ModelError(f"{self.model_path}: input shape {inputs[0].shape}, expected [N,150,150,3]")

    def align(self, image_rgb: np.ndarray, landmarks: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The 150x150 RGB chip, made exactly as the dlib embedder makes it (dlib.get_face_chip)."""
        from attendance.faces.dlib_models import align_dlib_chip  # lazy: dlib only when aligning

        return align_dlib_chip(image_rgb, landmarks, box)

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        """Vectors (n, 128) float32 for aligned 150x150 RGB uint8 chips, in one session run."""
        if not chips:
            return np.zeros((0, self.dim), dtype=np.float32)
        expected = (self.chip_size, self.chip_size, 3)
        for index, chip in enumerate(chips):
            if chip.shape != expected:
                raise ValueError(f"chip {index} has shape {chip.shape}, expected {expected}")
        batch = np.stack(chips).astype(np.float32)
        (vectors,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: batch})
        return np.ascontiguousarray(vectors, dtype=np.float32)
