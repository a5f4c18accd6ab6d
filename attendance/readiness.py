"""Students the cameras cannot recognise yet, and why: the list a teacher and an admin work through.

A student is listed with every reason that applies (``REASONS``):

* ``no_consent``: no guardian consent recorded, so no face may be enrolled or matched;
* ``no_photo``: no enrollment photo (and no template of any model);
* ``no_template``: photos, but no template for the recognition model in use (enrolled under another model,
  or every photo was refused); a template of the model in use is enough, whatever became of the photos;
* ``marked_by_hand``: marked present by a teacher on ``MANUAL_RUN_DAYS`` or more school days running while
  the cameras were working (the school had camera check-ins those days): the camera keeps missing them.

Only active students on a class's roll today are listed, in roster order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from attendance.consent import has_recognition_consent
from attendance.db.models import CheckIn, EnrollmentPhoto, FaceTemplate, RollOverride, SchoolClass, Student
from attendance.names import vietnamese_sort_key

REASONS = ("no_consent", "no_photo", "no_template", "marked_by_hand")
MANUAL_RUN_DAYS = 3  # school days running marked present by hand while cameras work
LOOKBACK_DAYS = 21  # calendar days searched for that run


@dataclass(frozen=True)
class Unrecognisable:
    """A student the cameras cannot recognise yet; ``manual_days`` is the run of days marked by hand."""

    student_id: int
    student_code: str
    full_name: str
    class_id: int | None
    class_code: str
    reasons: tuple[str, ...]
    manual_days: int = 0


def list_unrecognisable(session, school_id: int, today: dt.date, model_id: str | None, *,
                        class_ids: list[int] | None = None) -> list[Unrecognisable]:
    """The active students of the school (of ``class_ids`` when given) who cannot be recognised, with why.

    ``model_id`` is the recognition model in use (``attendance.models_manager.model_in_use``); None skips the
    ``no_template`` check (any model's template counts). Five queries whatever the school's size.
    """
    query = (select(Student, SchoolClass.code).outerjoin(SchoolClass, SchoolClass.id == Student.class_id)
             .where(Student.school_id == school_id, Student.active.is_(True)))
    if class_ids is not None:
        query = query.where(Student.class_id.in_(class_ids))
    students = session.execute(query).all()
    ids = [student.id for student, _ in students]
    if not ids:
        return []
    with_photo = set(session.scalars(select(EnrollmentPhoto.student_id).where(
        EnrollmentPhoto.student_id.in_(ids)).distinct()))
    templates = session.execute(select(FaceTemplate.student_id, FaceTemplate.model_id).where(
        FaceTemplate.student_id.in_(ids)).distinct()).all()
    with_any_template = {student_id for student_id, _ in templates}
    with_template = {student_id for student_id, model in templates if model_id is None or model == model_id}
    manual_runs = _manual_runs(session, school_id, ids, today)
    listed = []
    for student, class_code in students:
        reasons = []
        if not has_recognition_consent(student):
            reasons.append("no_consent")
        if student.id not in with_template:
            has_photo = student.id in with_photo or student.id in with_any_template
            reasons.append("no_template" if has_photo else "no_photo")
        run = manual_runs.get(student.id, 0)
        if run >= MANUAL_RUN_DAYS:
            reasons.append("marked_by_hand")
        if reasons:
            listed.append(Unrecognisable(student.id, student.student_code, student.full_name, student.class_id,
                                         class_code or "", tuple(reasons), run))
    return sorted(listed, key=lambda u: (u.class_code, vietnamese_sort_key(u.full_name)))


def _manual_runs(session, school_id: int, student_ids: list[int], today: dt.date) -> dict[int, int]:
    """{student_id: school days running, back from the latest camera day, the student was marked present}."""
    since = today - dt.timedelta(days=LOOKBACK_DAYS)
    marked: dict[int, set[dt.date]] = {}
    for student_id, day in session.execute(select(RollOverride.student_id, RollOverride.school_date).where(
            RollOverride.student_id.in_(student_ids), RollOverride.status == "present",
            RollOverride.school_date >= since)):
        marked.setdefault(student_id, set()).add(day)
    if not marked:  # the usual case, and the camera days cost a scan of the school's three weeks
        return {}
    camera_days = list(session.scalars(
        select(CheckIn.school_date).where(CheckIn.school_id == school_id, CheckIn.source == "camera",
                                          CheckIn.school_date >= since, CheckIn.school_date <= today)
        .group_by(CheckIn.school_date).order_by(CheckIn.school_date.desc())))
    runs = {}
    for student_id, days in marked.items():
        run = 0
        for day in camera_days:
            if day not in days:
                if day == today and run == 0:
                    continue  # today is not decided yet: a run may end yesterday
                break
            run += 1
        runs[student_id] = run
    return runs
