"""Guardian consent recorded for many students at once, from one paper form (a class's consent sheet).

Today a student carries ``consent_given``, ``consent_by`` (the guardian) and ``consent_at``; the form's
reference and date go into the audit entry, so "which sheet said yes for this child" stays answerable.
A richer consent record (issue 12) can replace the body of ``record_consent_for`` without changing callers.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from attendance.db.models import School, Student
from attendance.errors import InvalidInput
from attendance.users import record_audit

MAX_REFERENCE_CHARS = 100


def check_consent_form(reference: str, given_on: dt.date | None, today: dt.date) -> str:
    """The form's reference, NFC and trimmed; raises ``InvalidInput`` when it or the date is missing or wrong."""
    reference = unicodedata.normalize("NFC", reference).strip()
    if not reference or len(reference) > MAX_REFERENCE_CHARS:
        raise InvalidInput(f"the consent form reference must be 1 to {MAX_REFERENCE_CHARS} characters")
    if given_on is None:
        raise InvalidInput("give the date on the consent form")
    if given_on > today:
        raise InvalidInput("the consent form date is in the future")
    return reference


def record_consent_for(session: Session, school: School, student_ids: Iterable[int], reference: str,
                       given_on: dt.date, actor: str, *, user_id: int | None = None,
                       today: dt.date | None = None) -> list[Student]:
    """Mark guardian consent given for each of ``student_ids`` (students of ``school``) from one form.

    ``reference`` is the paper form's number or name ("PĐ-6A1-2026"), ``given_on`` the date written on it
    (a local date, not in the future). ``consent_at`` becomes the start of that day in the school's zone;
    ``consent_by`` (a guardian's name) is kept. One audit entry per student, with the form's reference and
    date. Returns the students changed, in id order; raises ``InvalidInput`` for an empty selection or a
    student of another school.
    """
    ids = sorted({int(i) for i in student_ids})
    if not ids:
        raise InvalidInput("choose at least one student")
    zone = ZoneInfo(school.timezone)
    today = today or dt.datetime.now(zone).date()
    reference = check_consent_form(reference, given_on, today)
    students = list(session.scalars(select(Student).where(Student.id.in_(ids)).order_by(Student.id)))
    if len(students) != len(ids) or any(s.school_id != school.id for s in students):
        raise InvalidInput("a chosen student is not of this school")
    consent_at = dt.datetime.combine(given_on, dt.time(0, 0), zone).astimezone(dt.timezone.utc)
    for student in students:
        already = student.consent_given
        student.consent_given = True
        student.consent_at = consent_at
        record_audit(session, actor, "student.consent", user_id=user_id, school_id=school.id,
                     target=f"student:{student.student_code}",
                     detail={"form_reference": reference, "given_on": given_on.isoformat(), "already": already})
    return students
