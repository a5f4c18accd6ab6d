"""The face engine and operating point the agent runs with, built from its settings through the core's factory."""

from __future__ import annotations

from attendance.faces.engine import FaceEngine
from attendance.faces.factory import build_face_engine, build_liveness_checker
from attendance.gallery import OperatingPoint
from attendance.recognition import resolve_operating_point
from attendance.settings import Settings, load_settings
from camera_agent.settings import AgentSettings
from camera_agent.spoof import TrackLiveness


def core_settings(settings: AgentSettings) -> Settings:
    """The core settings the factory and the recognition profile read, filled from the agent's own."""
    return load_settings(Settings, environ={}, overrides={
        "instance_path": settings.instance_path, "face_backend": settings.backend,
        "detect_upsample": settings.detect_upsample, "match_threshold": settings.match_threshold,
        "match_margin": settings.match_margin, "recognition_model": settings.recognition_model,
        "detector_model": settings.detector_model, "onnx_providers": settings.onnx_providers,
        "onnx_threads": settings.onnx_threads, "liveness_threshold": settings.liveness_threshold,
    })


def build_engine(settings: AgentSettings) -> FaceEngine:
    """dlib's HOG detector and landmarks with the chosen embedder (``dlib`` or ``onnx``). Raises ModelError."""
    return build_face_engine(core_settings(settings), settings.backend)


def build_liveness(settings: AgentSettings) -> TrackLiveness | None:
    """The liveness step when the MiniFASNet pair is installed in ``instance_path`` (else None). Raises ModelError."""
    checker = build_liveness_checker(core_settings(settings))
    return TrackLiveness(checker) if checker is not None else None


def operating_point(settings: AgentSettings, model_id: str, calibrated: OperatingPoint | None = None) -> OperatingPoint:
    """The point to search with: ``match_threshold``/``match_margin`` when the installer set them, else the
    school's calibrated point (``calibrated``, sent with the gallery), else the model's measured default."""
    return resolve_operating_point(core_settings(settings), model_id, calibrated)
