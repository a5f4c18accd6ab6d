"""Recognition set-up: each model's measured operating point, and galleries loaded from the database."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

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


# Measured on ../shared/faces/lfw/split.csv with `python -m bench.bench_lfw` (README, "Accuracy"): the
# threshold keeps strangers named (FPIR) under 1% with room to spare, and the margin to the next student
# is what lets the threshold sit higher than face_recognition's recipe could at the same FPIR.
MODEL_PROFILES: dict[str, ModelProfile] = {
    "dlib_resnet_v1": ModelProfile(
        "dlib_resnet_v1", "euclidean", 128, OperatingPoint(threshold=0.45, margin=0.06), combine="centroid"
    ),
}


def register_profile(profile: ModelProfile) -> None:
    """Add or replace a model's profile (the model manager registers the models it installs)."""
    MODEL_PROFILES[profile.model_id] = profile


def get_profile(model_id: str) -> ModelProfile:
    try:
        return MODEL_PROFILES[model_id]
    except KeyError as err:
        raise ModelError(f"no measured operating point for model {model_id!r}") from err


def combine_rule_for(model_id: str) -> str:
    """How a student's templates combine for ``model_id`` (its profile's rule; "nearest" for a model without one)."""
    profile = MODEL_PROFILES.get(model_id)
    return profile.combine if profile else "nearest"


def resolve_operating_point(settings: Settings, model_id: str) -> OperatingPoint:
    """The model's measured point, with ``match_threshold`` / ``match_margin`` overriding when set."""
    point = get_profile(model_id).point
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
        .where(Student.school_id == school_id, Student.active.is_(True), Student.consent_given.is_(True),
               FaceTemplate.model_id == model_id)
    ).all()
    students = {row.Student.id: row.Student for row in rows}
    vectors = np.array([bytes_to_vector(row.vector) for row in rows], dtype=np.float32).reshape(len(rows), profile.dim)
    gallery = Gallery(model_id, profile.metric, vectors, [row.student_id for row in rows], combine=profile.combine)
    return gallery, students
