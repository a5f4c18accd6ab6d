"""The gallery a gate agent downloads: its school's enrolled templates of one model, with a version tag.

Only active students who have consent on record and at least one template of the model are included.
The version is a SHA-256 over the small columns that define the content (student ids, codes, names, class
codes; template ids; the school's calibrated operating point and time zone), never the vectors: templates
are immutable (a new embedding is a new row), so the ids stand for them. Computing it reads ~12k small
rows for a school of 3,000 students (milliseconds), so an agent's poll with ``If-None-Match`` costs little;
the full export also reads the vectors.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from sqlalchemy import select

from attendance.consent import where_recognition_consented
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


def _version(model_id: str, students: list[tuple], template_ids: list[tuple[int, int]],
             point: dict[str, Any] | None, timezone: str) -> str:
    digest = hashlib.sha256(model_id.encode("utf-8"))
    digest.update(timezone.encode("utf-8"))
    digest.update(repr(sorted(point.items()) if point else None).encode("utf-8"))
    for row in students:
        digest.update(repr(tuple(row)).encode("utf-8"))
    digest.update(b"|")
    for template_id, student_id in template_ids:
        digest.update(b"%d:%d," % (template_id, student_id))
    return digest.hexdigest()[:32]


def gallery_version(session, school: School, model_id: str) -> str:
    """The version (an ETag value) of ``school``'s gallery for ``model_id``; changes with any template or
    student (added, removed, renamed, moved class, deactivated, consent withdrawn), the calibrated point or
    the school's time zone."""
    students = session.execute(_students_query(school)).all()
    templates = session.execute(_templates_query(school, model_id)).all()
    return _version(model_id, students, [(t, s) for t, s in templates], _point(session, school, model_id),
                    school.timezone)


def export_gallery(session, school: School, model_id: str) -> dict[str, Any]:
    """The gallery document: ``{model_id, metric, dim, version, operating_point, timezone, students:
    [{student_code, full_name, class_code, templates: [[float, ...], ...]}]}``; ``dim`` is None when there are
    no templates; ``operating_point`` is the school's calibrated ``{threshold, margin, set_at}`` or None;
    ``timezone`` the school's IANA zone, in which the agents decide a check-in's school day."""
    students = session.execute(_students_query(school)).all()
    templates = session.execute(_templates_query(school, model_id, FaceTemplate.vector)).all()
    point = _point(session, school, model_id)
    version = _version(model_id, students, [(t, s) for t, s, _ in templates], point, school.timezone)
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
