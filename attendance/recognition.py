"""Recognition set-up: each model's operating point (manifest default, school calibration, setting), and galleries."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from attendance.consent import where_recognition_consented
from attendance.db.models import FaceTemplate, Student
from attendance.errors import ModelError
from attendance.gallery import Gallery, OperatingPoint
from attendance.settings import Settings


@dataclass(frozen=True)
class ModelProfile:
    """How a model's vectors are compared and where its measured operating point lies."""

    model_id: str
    metric: str
    dim: int
    point: OperatingPoint
    combine: str = "nearest"


@functools.cache
def _profiles() -> dict[str, ModelProfile]:
    """One profile per embedding space of the manifest (``models/manifest.toml``: threshold, margin, combine).

    dlib's ResNet (``dlib_resnet_v1``): per-student mean template, distance <= 0.45 and margin >= 0.06,
    measured on ../shared/faces/lfw/split.csv with ``python -m bench.bench_lfw`` (README, "How recognition
    decides"); the ArcFace-style models' points come from ``bench/bench_models.py``.
    """
    from models.manifest import load_manifest

    profiles: dict[str, ModelProfile] = {}
    for entry in load_manifest().values():
        if entry.task == "embedder" and entry.model_id not in profiles:
            profiles[entry.model_id] = ModelProfile(
                entry.model_id, entry.metric, entry.embedding_size,
                OperatingPoint(threshold=entry.threshold, margin=entry.margin), entry.combine,
            )
    return profiles


def get_profile(model_id: str) -> ModelProfile:
    try:
        return _profiles()[model_id]
    except KeyError as err:
        raise ModelError(f"model {model_id!r} is not in the model manifest (no measured operating point)") from err


def combine_rule_for(model_id: str) -> str:
    """How a student's templates combine for ``model_id`` (its profile's rule; "nearest" for a model without one)."""
    profile = _profiles().get(model_id)
    return profile.combine if profile else "nearest"


def resolve_operating_point(settings: Settings, model_id: str,
                            calibrated: OperatingPoint | None = None) -> OperatingPoint:
    """The operating point to search ``model_id``'s gallery with, each of threshold and margin taken from,
    in order: an explicit ``match_threshold`` / ``match_margin`` setting, the school's calibrated point
    (``calibrated``: ``attendance calibrate --apply``), the model's measured default (the manifest).

    The overrides hold distances of one model, so they apply to the model ``recognition_model`` names, or,
    with ``recognition_model = "auto"``, to dlib's ResNet only (the installed default): an override tuned
    for dlib's distances must never follow "auto" to a newly installed model.
    """
    point = calibrated or get_profile(model_id).point
    from models.manifest import load_manifest

    entry = load_manifest().get(settings.recognition_model)
    overridden_space = entry.model_id if entry is not None else "dlib_resnet_v1"
    if model_id != overridden_space:
        return point
    threshold = settings.match_threshold if settings.match_threshold > 0 else point.threshold
    margin = settings.match_margin if settings.match_margin >= 0 else point.margin
    return OperatingPoint(threshold=threshold, margin=margin)


def vector_to_bytes(vector: np.ndarray) -> bytes:
    """A face vector as stored in ``face_templates.vector``: little-endian float32."""
    return np.asarray(vector, dtype="<f4").tobytes()


def bytes_to_vector(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


def load_gallery(session: Session, school_id: int, model_id: str) -> tuple[Gallery, dict[int, Student]]:
    """The gallery of ``model_id`` for the school's active students with guardian consent on record
    (the same students the agents get), keyed by student id; and those students."""
    profile = get_profile(model_id)
    rows = session.execute(
        select(FaceTemplate.student_id, FaceTemplate.vector, Student)
        .join(Student, Student.id == FaceTemplate.student_id)
        .where(Student.school_id == school_id, Student.active.is_(True), where_recognition_consented(),
               FaceTemplate.model_id == model_id)
    ).all()
    students = {row.Student.id: row.Student for row in rows}
    vectors = np.array([bytes_to_vector(row.vector) for row in rows], dtype=np.float32).reshape(len(rows), profile.dim)
    gallery = Gallery(model_id, profile.metric, vectors, [row.student_id for row in rows], combine=profile.combine)
    return gallery, students
