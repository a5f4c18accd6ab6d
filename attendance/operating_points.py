"""A school's own operating points: calibrating on its enrolled templates, storing the chosen point, reading it back.

The point is stored per school and model (``school_operating_points``) with who set it and when, and every
change is audited (``calibration.apply``). ``resolve_operating_point`` in ``attendance.recognition`` decides
what a search uses: an explicit setting, else this point, else the model's measured default.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from attendance.calibration import DEFAULT_TARGET_FPIR, Calibration, calibrate
from attendance.consent import where_recognition_consented
from attendance.db.models import FaceTemplate, School, SchoolOperatingPoint, Student, utcnow
from attendance.errors import InvalidInput
from attendance.gallery import OperatingPoint
from attendance.recognition import bytes_to_vector, get_profile, resolve_operating_point
from attendance.settings import Settings
from attendance.users import record_audit


def find_school_point(session: Session, school_id: int, model_id: str) -> SchoolOperatingPoint | None:
    """The stored row of the school's point for ``model_id``, if an admin applied one."""
    return session.scalar(select(SchoolOperatingPoint).where(
        SchoolOperatingPoint.school_id == school_id, SchoolOperatingPoint.model_id == model_id))


def school_point(session: Session, school_id: int, model_id: str) -> OperatingPoint | None:
    """The school's calibrated point for ``model_id`` as an ``OperatingPoint``, or None."""
    row = find_school_point(session, school_id, model_id)
    return OperatingPoint(row.threshold, row.margin) if row else None


def school_operating_point(session: Session, settings: Settings, school_id: int, model_id: str) -> OperatingPoint:
    """The point a search of this school's gallery uses: setting > school's calibrated point > model default."""
    return resolve_operating_point(settings, model_id, school_point(session, school_id, model_id))


def load_templates(session: Session, school_id: int, model_id: str) -> tuple[np.ndarray, list[int], list[int | None], dict[int, Student]]:
    """The templates of ``model_id`` of the school's students the cameras search (active, consent on record):
    vectors (P, D), the student id and photo id of each, and the students by id."""
    rows = session.execute(
        select(FaceTemplate.student_id, FaceTemplate.photo_id, FaceTemplate.vector, Student)
        .join(Student, Student.id == FaceTemplate.student_id)
        .where(Student.school_id == school_id, Student.active.is_(True), where_recognition_consented(),
               FaceTemplate.model_id == model_id)
        .order_by(FaceTemplate.student_id, FaceTemplate.id)
    ).all()
    dim = get_profile(model_id).dim
    vectors = np.array([bytes_to_vector(r.vector) for r in rows], dtype=np.float32).reshape(len(rows), dim)
    return vectors, [r.student_id for r in rows], [r.photo_id for r in rows], {r.Student.id: r.Student for r in rows}


def calibrate_school(session: Session, settings: Settings, school: School, model_id: str,
                     target_fpir: float = DEFAULT_TARGET_FPIR) -> tuple[Calibration, dict[int, Student]]:
    """Calibrate ``model_id`` on the school's enrolled students; the result and the students by id.

    Raises ``ModelError`` for a model not in the manifest, ``InvalidInput`` for a target outside (0, 1).
    """
    if not 0.0 < target_fpir < 1.0:
        raise InvalidInput(f"the target FPIR must be between 0 and 1, not {target_fpir:g}")
    profile = get_profile(model_id)
    vectors, keys, photo_ids, students = load_templates(session, school.id, model_id)
    current = school_operating_point(session, settings, school.id, model_id)
    calibration = calibrate(model_id, profile.metric, profile.combine, vectors, keys, photo_ids,
                            current=current, default=profile.point, target_fpir=target_fpir)
    return calibration, students


def apply_calibration(session: Session, school: School, calibration: Calibration, *, actor: str,
                      user_id: int | None = None) -> SchoolOperatingPoint:
    """Store the recommended point as the school's point for the model, and audit the change.

    Raises ``InvalidInput`` when the calibration was not reliable (too few students): the default stays.
    """
    if not calibration.reliable:
        raise InvalidInput(f"nothing applied: {calibration.message}")
    row = find_school_point(session, school.id, calibration.model_id)
    before = {"threshold": row.threshold, "margin": row.margin} if row else None
    if row is None:
        row = SchoolOperatingPoint(school_id=school.id, model_id=calibration.model_id)
        session.add(row)
    row.threshold, row.margin = round(calibration.threshold, 4), round(calibration.margin, 4)
    row.target_fpir = calibration.target_fpir
    row.expected_fpir, row.expected_fnir = calibration.expected_fpir, calibration.expected_fnir
    row.students, row.photos = calibration.students, calibration.photos
    row.set_by, row.set_by_id, row.set_at = actor[:120], user_id, utcnow()
    record_audit(session, actor, "calibration.apply", user_id=user_id, school_id=school.id,
                 target=f"model:{calibration.model_id}", detail={
                     "before": before, "threshold": row.threshold, "margin": row.margin,
                     "target_fpir": row.target_fpir, "expected_fpir": _rounded(row.expected_fpir),
                     "expected_fnir": _rounded(row.expected_fnir), "students": row.students, "photos": row.photos})
    session.flush()
    return row


def reset_school_point(session: Session, school: School, model_id: str, *, actor: str,
                       user_id: int | None = None) -> bool:
    """Remove the school's point for ``model_id`` (back to the model's default), audited; False if there was none."""
    row = find_school_point(session, school.id, model_id)
    if row is None:
        return False
    record_audit(session, actor, "calibration.reset", user_id=user_id, school_id=school.id, target=f"model:{model_id}",
                 detail={"before": {"threshold": row.threshold, "margin": row.margin}})
    session.delete(row)
    session.flush()
    return True


def calibration_document(school: School, calibration: Calibration, students: dict[int, Student]) -> dict[str, Any]:
    """The one JSON object ``attendance calibrate --json`` prints (and the admin page shows)."""
    def code(student_id: object) -> str:
        student = students.get(student_id) if isinstance(student_id, int) else None
        return student.student_code if student else str(student_id)

    def name(student_id: object) -> str:
        student = students.get(student_id) if isinstance(student_id, int) else None
        return student.full_name if student else ""

    return {
        "school": school.code, "model": calibration.model_id,
        "students": calibration.students, "photos": calibration.photos,
        "threshold": round(calibration.threshold, 4), "margin": round(calibration.margin, 4),
        "current_threshold": round(calibration.current.threshold, 4),
        "current_margin": round(calibration.current.margin, 4),
        "expected_fpir": _rounded(calibration.expected_fpir), "expected_fnir": _rounded(calibration.expected_fnir),
        "current_expected_fpir": _rounded(calibration.current_fpir),
        "current_expected_fnir": _rounded(calibration.current_fnir),
        "observed_fpir": _rounded(calibration.observed_fpir),
        "current_observed_fpir": _rounded(calibration.current_observed_fpir),
        "target_fpir": calibration.target_fpir, "reliable": calibration.reliable, "message": calibration.message,
        "closest_pairs": [{
            "student_a": code(p.student_a), "name_a": name(p.student_a), "photo_a": p.photo_a,
            "student_b": code(p.student_b), "name_b": name(p.student_b), "photo_b": p.photo_b,
            "distance": round(p.distance, 4),
        } for p in calibration.closest_pairs],
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)
