"""Adding a student: one rule for the admin page, the roster import and the enrollment CLI.

A new student has a checked code (unique in the school), a name stored NFC with single spaces (1-200
characters), a class of the same school or none, and starts active; adding one is audited, and the
guardian's consent, when it came with the student (the add form, bulk enrollment), is recorded at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from sqlalchemy.orm import Session

from attendance.consent import ConsentAnswer, record_consent
from attendance.db.models import School, SchoolClass, Student
from attendance.directory import check_student_code, find_student, normalise_name
from attendance.errors import Conflict, InvalidInput
from attendance.text import check_text
from attendance.users import record_audit

MAX_NAME_CHARS = 200


def build_student(school: School, student_code: str, full_name: str, *, school_class: SchoolClass | None = None,
                  date_of_birth: dt.date | None = None) -> Student:
    """A new active ``Student`` of ``school``, not yet added to a session. Raises ``InvalidInput`` for a bad
    code, an empty or unstorable name, or a class of another school."""
    code = check_student_code(student_code)
    name = check_text(normalise_name(full_name), "the name", MAX_NAME_CHARS, min_chars=1)
    if school_class is not None and school_class.school_id != school.id:
        raise InvalidInput("unknown class")
    return Student(school_id=school.id, student_code=code, full_name=name, date_of_birth=date_of_birth,
                   class_id=school_class.id if school_class else None, active=True)


def add_student(session: Session, school: School, student_code: str, full_name: str, *,
                school_class: SchoolClass | None = None, date_of_birth: dt.date | None = None,
                consent: ConsentAnswer | None = None, actor: str = "cli", user_id: int | None = None,
                instance_path: str | Path | None = None) -> Student:
    """Add a student to ``school`` (see ``build_student``), audited as ``actor``, with ``consent`` recorded
    when given. Raises ``Conflict`` when the code is in use in the school, ``InvalidInput`` for a bad field
    or consent form. The caller commits."""
    student = build_student(school, student_code, full_name, school_class=school_class,
                            date_of_birth=date_of_birth)
    if find_student(session, school, student.student_code) is not None:
        raise Conflict(f"student code {student.student_code} is already in use")
    session.add(student)
    session.flush()
    record_audit(session, actor, "student.create", user_id=user_id, school_id=school.id,
                 target=f"student:{student.student_code}")
    if consent is not None:
        answer = {f.name: getattr(consent, f.name) for f in dataclasses.fields(consent)}
        record_consent(session, student, **answer, actor=actor, user_id=user_id, instance_path=instance_path)
    return student


def get_or_create_student(session: Session, school: School, student_code: str, full_name: str,
                          school_class: SchoolClass | None, *, consent: ConsentAnswer | None = None,
                          actor: str = "cli", instance_path: str | Path | None = None) -> tuple[Student, bool]:
    """(student, created), for enrollment from a roster. An existing student keeps their code, takes a new
    name or class, and keeps their consent (given or withdrawn: the school's record); a new one is added
    with ``consent`` (``add_student``)."""
    student = find_student(session, school, check_student_code(student_code))
    if student is None:
        return add_student(session, school, student_code, full_name, school_class=school_class, consent=consent,
                           actor=actor, instance_path=instance_path), True
    student.full_name = check_text(normalise_name(full_name), "the name", MAX_NAME_CHARS, min_chars=1)
    if school_class is not None:
        student.class_id = school_class.id
    return student, False


def update_student(session: Session, student: Student, student_code: str, full_name: str, *,
                   school_class: SchoolClass | None, date_of_birth: dt.date | None, active: bool,
                   actor: str = "cli", user_id: int | None = None) -> Student:
    """Change a student's code, name, class, date of birth and active flag by the same rules as
    ``build_student``; audited. Raises ``Conflict`` when the new code is another student's, ``InvalidInput``
    for a bad field. The caller commits."""
    school = session.get_one(School, student.school_id)
    checked = build_student(school, student_code, full_name, school_class=school_class, date_of_birth=date_of_birth)
    if checked.student_code != student.student_code and find_student(session, school, checked.student_code):
        raise Conflict(f"student code {checked.student_code} is already in use")
    student.student_code, student.full_name = checked.student_code, checked.full_name
    student.class_id, student.date_of_birth, student.active = checked.class_id, date_of_birth, active
    record_audit(session, actor, "student.update", user_id=user_id, school_id=student.school_id,
                 target=f"student:{student.student_code}",
                 detail={"active": active, "class": school_class.code if school_class else None})
    return student
