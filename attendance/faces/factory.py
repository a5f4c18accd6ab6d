"""Builds the face engine the settings ask for: dlib's models, or the same ResNet run by ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

from attendance.errors import ModelError
from attendance.faces.dlib_models import DlibHogDetector, DlibLandmarker, DlibResnetEmbedder
from attendance.faces.engine import FaceEngine
from attendance.settings import Settings

BACKENDS = ("dlib", "onnx")
# TF32 on NVIDIA cards would move vectors by ~1e-3 and break parity with galleries enrolled through dlib.
ONNX_PARITY_OPTIONS = {"CUDAExecutionProvider": {"use_tf32": "0"}}


def onnx_resnet_path(settings: Settings) -> Path:
    """Where ``attendance models convert-dlib`` writes dlib's ResNet as ONNX."""
    return Path(settings.instance_path) / "models" / "dlib_resnet_v1.onnx"


def build_face_engine(settings: Settings, backend: str | None = None) -> FaceEngine:
    """A ``FaceEngine`` with dlib's HOG detector and 5-point landmarks and the chosen embedder backend."""
    backend = backend or settings.face_backend
    if backend == "dlib":
        embedder = DlibResnetEmbedder()
    elif backend == "onnx":
        from attendance.faces.onnx_resnet import OnnxResnetEmbedder

        path = onnx_resnet_path(settings)
        if not path.is_file():
            raise ModelError(f"{path} does not exist: run `attendance models convert-dlib` first")
        embedder = OnnxResnetEmbedder(path, providers=list(settings.onnx_providers) or None,
                                      threads=settings.onnx_threads, provider_options=ONNX_PARITY_OPTIONS)
    else:
        raise ModelError(f"unknown face backend {backend!r} (choose {' or '.join(BACKENDS)})")
    return FaceEngine(DlibHogDetector(upsample=settings.detect_upsample), DlibLandmarker(), embedder,
                      detect_max_side_px=settings.detect_max_side_px)
