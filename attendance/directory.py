"""Schools, classes and students: finding and creating them, with names stored NFC-normalised."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from attendance.db.models import School, SchoolClass, Student
from attendance.errors import InvalidInput, NotFound

DEFAULT_SCHOOL_CODE = "school"
STUDENT_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


def normalise_name(name: str) -> str:
    """A person's name in NFC with single spaces: ``"  Nguyễn   Văn An "`` -> ``"Nguyễn Văn An"``."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def check_student_code(code: str) -> str:
    """The code, stripped, if it is 1-32 letters, digits, dots, dashes or underscores; else InvalidInput."""
    code = code.strip()
    if not STUDENT_CODE_RE.match(code):
        raise InvalidInput(f"student code {code!r} must be 1-32 letters, digits, '.', '-' or '_'")
    return code


def find_school(session: Session, code: str | None = None) -> School:
    """The school with ``code``; without a code, the only school (NotFound if there are none or several)."""
    if code:
        school = session.scalar(select(School).where(School.code == code))
        if school is None:
            raise NotFound(f"no school with code {code!r}")
        return school
    schools = session.scalars(select(School).order_by(School.code).limit(2)).all()
    if len(schools) == 1:
        return schools[0]
    if not schools:
        raise NotFound("there is no school yet")
    all_codes = session.scalars(select(School.code).order_by(School.code)).all()
    raise NotFound(f"several schools: choose one with --school ({', '.join(all_codes)})")


def get_or_create_school(session: Session, code: str | None, *, name: str = "",
                         timezone: str = "Asia/Ho_Chi_Minh", create_default: bool = True) -> School:
    """The school to work in, for the CLI and scripts: the one with ``code`` (created with ``name`` and
    ``timezone`` when missing), else the only one, else (in an empty database) a new one with the code
    ``school`` (with ``create_default=False``: ``InvalidInput`` asking for the school instead, as for a first
    admin, who should name the real school). Raises ``NotFound`` without a code when there are several schools
    (naming their codes)."""
    code = (code or "").strip()
    if code:
        school = session.scalar(select(School).where(School.code == code))
    else:
        count = session.scalar(select(func.count()).select_from(School))
        if not count and not create_default:
            raise InvalidInput("no school yet: give --school CODE --school-name NAME")
        school = find_school(session) if count else None
        code = DEFAULT_SCHOOL_CODE
    if school is None:
        school = School(code=code, name=(name or code).strip(), timezone=timezone)
        session.add(school)
        session.flush()
    return school


def get_or_create_class(session: Session, school: School, code: str, school_year: str = "") -> SchoolClass:
    """The class ``code`` (e.g. ``10A1``) of the school, created if missing; the grade comes from the code."""
    code = code.strip().upper()
    if not code:
        raise InvalidInput("class code is empty")
    query = select(SchoolClass).where(SchoolClass.school_id == school.id, SchoolClass.code == code)
    if school_year:
        query = query.where(SchoolClass.school_year == school_year)
    school_class = session.scalars(query.order_by(SchoolClass.school_year.desc())).first()
    if school_class is None:
        grade = re.match(r"^(\d{1,2})", code)
        school_class = SchoolClass(school_id=school.id, code=code, school_year=school_year,
                                   grade=int(grade.group(1)) if grade else None)
        session.add(school_class)
        session.flush()
    return school_class


def find_student(session: Session, school: School, student_code: str) -> Student | None:
    return session.scalar(
        select(Student).where(Student.school_id == school.id, Student.student_code == student_code)
    )
