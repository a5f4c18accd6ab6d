"""Builds detectors, landmarkers and embedders from model manifest entries (the router of the model zoo).

The landmarker follows from the pair: an embedder gets the landmark scheme it was trained with, taken from
the detector when the detector gives that scheme (YuNet: ARCFACE5) and from a landmark model otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attendance.errors import ModelError
from attendance.faces.landmarks import ARCFACE5, DLIB5
from attendance.faces.types import Detector, Embedder, Landmarker


def build_detector(entry: Any, path: Path | str | None = None, **options: Any) -> Detector:
    """The detector of manifest ``entry`` (``ModelEntry``); ``options`` override the manifest's settings."""
    if entry.id == "dlib_hog":
        from attendance.faces.dlib_models import DlibHogDetector

        return DlibHogDetector(upsample=int(options.get("upsample", 1)))
    if entry.id.startswith("yunet"):
        from attendance.faces.yunet import YunetDetector

        settings = {**entry.detector_options, **options}
        input_size = settings.get("input_size")
        return YunetDetector(_required(entry, path), input_size=tuple(input_size) if input_size else None,
                             score_threshold=float(settings.get("score_threshold", 0.7)),
                             nms_threshold=float(settings.get("nms_threshold", 0.3)),
                             top_k=int(settings.get("top_k", 5000)))
    raise ModelError(f"model {entry.id} is not a detector this version can run")


def build_embedder(entry: Any, path: Path | str | None = None, *, flip: bool | None = None,
                   providers: list[str] | None = None, threads: int = 0) -> Embedder:
    """The embedder of manifest ``entry``; ``path`` is its installed file (unused for package models).

    ``flip`` (mirror-image averaging) defaults to the manifest's choice for the model.
    """
    if entry.task != "embedder":
        raise ModelError(f"model {entry.id} is a {entry.task}, not an embedder")
    if entry.id == "dlib_resnet_v1":
        from attendance.faces.dlib_models import DlibResnetEmbedder

        return DlibResnetEmbedder()
    if entry.id == "dlib_resnet_v1_onnx":
        from attendance.faces.onnx_resnet import OnnxResnetEmbedder

        # TF32 on NVIDIA cards would move vectors by ~1e-3 and break parity with dlib-enrolled galleries.
        return OnnxResnetEmbedder(_required(entry, path), providers=providers, threads=threads,
                                  provider_options={"CUDAExecutionProvider": {"use_tf32": "0"}})
    if entry.landmark_scheme == ARCFACE5 and entry.chip_size_px > 0:
        from attendance.faces.arcface import ArcfaceEmbedder, InputConvention

        return ArcfaceEmbedder(_required(entry, path), entry.model_id, InputConvention.from_mapping(entry.input),
                               dim=entry.embedding_size, flip=entry.flip if flip is None else flip,
                               providers=providers, threads=threads, chip_size=entry.chip_size_px,
                               alignment=entry.alignment)
    raise ModelError(f"model {entry.id} is not an embedder this version can run")


def build_landmarker(detector: Detector, embedder: Embedder, yunet_path: Path | str | None = None) -> Landmarker:
    """The landmarker that gives ``embedder`` its own scheme behind ``detector``.

    dlib ResNet (``dlib5``): dlib's 5-point predictor. ArcFace-style (``arcface5``): YuNet's own points
    (reused from the detector, or YuNet run on the face region when ``yunet_path`` is given), else dlib's
    68-point predictor (research-only training data: see the manifest).
    """
    scheme = getattr(embedder, "landmark_scheme", DLIB5)
    if scheme == DLIB5:
        from attendance.faces.dlib_models import DlibLandmarker

        return DlibLandmarker()
    if scheme != ARCFACE5:
        raise ModelError(f"unknown landmark scheme {scheme!r} of {embedder.model_id}")
    from attendance.faces.yunet import YunetDetector, YunetLandmarker

    if isinstance(detector, YunetDetector):
        return YunetLandmarker(detector)
    if yunet_path is not None:
        return YunetLandmarker(YunetDetector(yunet_path))
    from attendance.faces.dlib_models import Dlib68ArcfaceLandmarker

    return Dlib68ArcfaceLandmarker()


def _required(entry: Any, path: Path | str | None) -> Path:
    if path is None or not Path(path).is_file():
        raise ModelError(f"model {entry.id} is not installed (run `attendance models download {entry.id}`)")
    return Path(path)
