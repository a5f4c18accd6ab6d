"""Identification of the faces in a photo against a school's gallery: who, how close, how sure."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from attendance.db.models import Student
from attendance.faces.engine import FaceEngine
from attendance.faces.types import Face
from attendance.gallery import Gallery, Match, OperatingPoint


@dataclass
class FaceIdentity:
    """One face of a photo and the open-set decision about it."""

    face: Face
    match: Match
    student: Student | None

    def as_dict(self) -> dict:
        """``{"box", "student_code", "name", "distance", "margin"}`` (code and name are None when unknown)."""
        return {
            "box": [int(v) for v in self.face.box],
            "student_code": self.student.student_code if self.student else None,
            "name": self.student.full_name if self.student else None,
            "distance": _finite_or_none(self.match.distance),
            "margin": _finite_or_none(self.match.margin),
        }


def identify_faces(engine: FaceEngine, gallery: Gallery, point: OperatingPoint, students: dict[int, Student],
                   image_rgb: np.ndarray) -> list[FaceIdentity]:
    """Every face of ``image_rgb``, largest first, named or unknown at operating point ``point``."""
    faces = engine.find_faces(image_rgb, embed=True)
    if not faces:
        return []
    started = time.perf_counter()
    matches = gallery.search(np.stack([f.require_embedding() for f in faces]), point)
    engine.times.add("match", started)
    # the gallery is keyed by student id (load_gallery); an unknown face has no key
    return [FaceIdentity(face, match, students.get(match.student_key) if isinstance(match.student_key, int) else None)
            for face, match in zip(faces, matches)]


def _finite_or_none(value: float) -> float | None:
    return round(float(value), 4) if np.isfinite(value) else None
