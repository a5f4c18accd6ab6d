"""Builds the face engine the settings ask for: the detector and embedder in use, each with its alignment.

Which models run comes from the model manager (``recognition_model`` / ``detector_model``, "auto" by
default: the most accurate installed ones); the dlib ResNet runs in dlib or in ONNX Runtime as
``face_backend`` says (the same vectors either way).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from attendance import models_manager
from attendance.errors import ModelError
from attendance.faces.engine import FaceEngine
from attendance.faces.zoo import build_detector, build_embedder, build_landmarker
from attendance.settings import Settings

BACKENDS = ("dlib", "onnx")
YUNET_ID = "yunet_2023mar"


def build_face_engine(settings: Settings, backend: str | None = None, *, model: str | None = None) -> FaceEngine:
    """A ``FaceEngine`` for ``settings``; ``backend`` overrides ``face_backend``, ``model`` the embedder in use.

    Raises ``ModelError`` naming what to install or convert when a model is missing.
    """
    if backend and backend not in BACKENDS:
        raise ModelError(f"unknown face backend {backend!r} (choose {' or '.join(BACKENDS)})")
    if backend:
        settings = dataclasses.replace(settings, face_backend=backend)
    if model:
        settings = dataclasses.replace(settings, recognition_model=model)
    embedder_entry = models_manager.model_in_use(settings, "embedder")
    detector_entry = models_manager.model_in_use(settings, "detector")
    detector = build_detector(detector_entry, models_manager.model_path(settings, detector_entry),
                              upsample=settings.detect_upsample)
    embedder = build_embedder(embedder_entry, models_manager.model_path(settings, embedder_entry),
                              providers=list(settings.onnx_providers) or None, threads=settings.onnx_threads)
    landmarker = build_landmarker(detector, embedder, installed_yunet_path(settings))
    return FaceEngine(detector, landmarker, embedder, detect_max_side_px=settings.detect_max_side_px)


def build_enrollment_engines(settings: Settings, backend: str | None = None) -> list[FaceEngine]:
    """The engine in use first, then one for every other installed embedding space.

    Enrollment stores a template in each, so that switching ``recognition_model`` needs no re-enrollment.
    """
    primary = build_face_engine(settings, backend)
    engines = [primary]
    for entry in models_manager.installed_embedders(settings):
        if entry.model_id != primary.model_id:
            engines.append(build_face_engine(settings, backend, model=entry.id))
    return engines


def build_liveness_checker(settings: Settings):
    """The MiniFASNet pair at ``liveness_threshold``, or None when neither is installed.

    Raises ``ModelError`` when only one of the two is installed (the threshold was measured on the pair).
    """
    from attendance.faces.liveness import LivenessChecker, MinifasnetNetwork

    entries = models_manager.liveness_entries(settings)
    if not entries:
        return None
    if len(entries) < 2:
        raise ModelError(f"only {entries[0].id} of the liveness pair is installed "
                         "(run `attendance models convert-minifasnet --dir DIR`)")
    providers = list(settings.onnx_providers) or None
    networks = [MinifasnetNetwork(_file_of(settings, e), e.crop_scale, providers=providers,
                                  threads=settings.onnx_threads) for e in entries]
    return LivenessChecker(networks, settings.liveness_threshold)


def _file_of(settings: Settings, entry: models_manager.ModelEntry) -> Path:
    path = models_manager.model_path(settings, entry)
    if path is None:  # a package model: the liveness pair is always converted files
        raise ModelError(f"model {entry.id} has no file of its own")
    return path


def installed_yunet_path(settings: Settings):
    """YuNet's file when it is installed (it places ArcFace landmarks behind another detector), else None."""
    try:
        entry = models_manager.get_entry(YUNET_ID)
    except ModelError:
        return None
    return models_manager.model_path(settings, entry) if models_manager.is_installed(settings, entry) else None
