"""The face engine and operating point the agent runs with, built from its settings through the core's factory."""

from __future__ import annotations

import dataclasses

from attendance.faces.engine import FaceEngine
from attendance.faces.factory import build_face_engine, build_liveness_checker
from attendance.gallery import OperatingPoint
from attendance.recognition import resolve_operating_point
from attendance.recognition_config import RecognitionConfig
from attendance.settings import Settings, load_settings
from camera_agent.settings import AgentSettings
from camera_agent.spoof import TrackLiveness


def core_settings(settings: AgentSettings) -> Settings:
    """The core settings the factory and the recognition profile read: the agent's recognition config (the
    same fields, one definition) and its instance folder; the rest at their defaults."""
    recognition = {f.name: getattr(settings, f.name) for f in dataclasses.fields(RecognitionConfig)}
    return load_settings(Settings, environ={}, overrides={**recognition, "instance_path": settings.instance_path})


def build_engine(settings: AgentSettings) -> FaceEngine:
    """dlib's HOG detector and landmarks with the chosen embedder (``dlib`` or ``onnx``). Raises ModelError."""
    return build_face_engine(core_settings(settings))


def build_liveness(settings: AgentSettings) -> TrackLiveness | None:
    """The liveness step when the MiniFASNet pair is installed in ``instance_path`` (else None). Raises ModelError."""
    checker = build_liveness_checker(core_settings(settings))
    return TrackLiveness(checker) if checker is not None else None


def operating_point(settings: AgentSettings, model_id: str, calibrated: OperatingPoint | None = None) -> OperatingPoint:
    """The point to search with: ``match_threshold``/``match_margin`` when the installer set them, else the
    school's calibrated point (``calibrated``, sent with the gallery), else the model's measured default."""
    return resolve_operating_point(core_settings(settings), model_id, calibrated)
