"""The gallery a gate agent downloads: its school's enrolled templates of one model, with a version tag.

Only active students who have consent on record and at least one template of the model are included.
The version is the stored one (``attendance.db.gallery_versions``): replaced in the same transaction as any
change to what the export sends (a template added or removed, a student added, renamed, moved, deactivated or
withdrawn, a class renamed, the school's operating point set or its time zone changed), so an agent's poll with ``If-None-Match`` costs
one primary-key read; the full export also reads the vectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select

from attendance.consent import where_recognition_consented
from attendance.db.gallery_versions import read_gallery_version
from attendance.db.models import FaceTemplate, School, SchoolClass, Student
from attendance.errors import ModelError
from attendance.operating_points import find_school_point
from attendance.recognition import get_profile

# Vectors go out rounded to 6 decimals: half the JSON of full float64 reprs, far below any threshold.
DECIMALS = 6


def model_metric(model_id: str) -> str:
    """"euclidean" or "cosine" for ``model_id`` (from the model manifest; "cosine" for a model not in it)."""
    try:
        return get_profile(model_id).metric
    except ModelError:
        return "cosine"


def _students_query(school: School):
    return (select(Student.id, Student.student_code, Student.full_name, SchoolClass.code)
            .outerjoin(SchoolClass, SchoolClass.id == Student.class_id)
            .where(Student.school_id == school.id, Student.active.is_(True), where_recognition_consented())
            .order_by(Student.id))


def _templates_query(school: School, model_id: str, *columns):
    return (select(FaceTemplate.id, FaceTemplate.student_id, *columns)
            .join(Student, Student.id == FaceTemplate.student_id)
            .where(Student.school_id == school.id, FaceTemplate.model_id == model_id)
            .order_by(FaceTemplate.student_id, FaceTemplate.id))


def _point(session, school: School, model_id: str) -> dict[str, Any] | None:
    """The school's calibrated point for the model as sent to the agents (None: the agent keeps its own)."""
    row = find_school_point(session, school.id, model_id)
    if row is None:
        return None
    return {"threshold": row.threshold, "margin": row.margin, "set_at": row.set_at.isoformat()}


def gallery_version(session, school_id: int, model_id: str) -> str:
    """The version (an ETag value, e.g. ``"3f2a….9c1d…"``) of the school's gallery for ``model_id``; changes
    with any template or student (added, removed, renamed, moved class, deactivated, consent withdrawn) and
    with the school's operating point and time zone."""
    return read_gallery_version(session, school_id, model_id)


def export_gallery(session, school: School, model_id: str) -> dict[str, Any]:
    """The gallery document: ``{model_id, metric, dim, version, operating_point, timezone, students:
    [{student_code, full_name, class_code, templates: [[float, ...], ...]}]}``; ``dim`` is None when there are
    no templates; ``operating_point`` is the school's calibrated ``{threshold, margin, set_at}`` or None;
    ``timezone`` the school's IANA zone, in which the agents decide a check-in's school day."""
    # the version first: a change committed between the reads then gives a newer body under an older tag,
    # which the next poll replaces, never an older body under the newer tag
    version = gallery_version(session, school.id, model_id)
    students = session.execute(_students_query(school)).all()
    templates = session.execute(_templates_query(school, model_id, FaceTemplate.vector)).all()
    point = _point(session, school, model_id)
    by_student: dict[int, list[bytes]] = {}
    for _, student_id, vector in templates:
        by_student.setdefault(student_id, []).append(vector)
    dim = None
    entries = []
    for student_id, code, full_name, class_code in students:
        vectors = by_student.get(student_id)
        if not vectors:
            continue
        matrix = np.frombuffer(b"".join(vectors), dtype="<f4").reshape(len(vectors), -1)
        dim = matrix.shape[1]
        entries.append({"student_code": code, "full_name": full_name, "class_code": class_code,
                        "templates": np.round(matrix.astype(np.float64), DECIMALS).tolist()})
    return {"model_id": model_id, "metric": model_metric(model_id), "dim": dim, "version": version,
            "operating_point": point, "timezone": school.timezone, "students": entries}
