"""Who sees what: the current school, the classes a user may open, and lookups that 404 or 403 otherwise.

A teacher sees only the classes they are homeroom teacher of; a school admin every class of their school;
a district admin every school, working in one at a time (``?school=ID``, remembered in the session).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, overload

from flask import abort, redirect, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from attendance.db.models import School, SchoolClass, Student
from attendance.school_rules import school_local_date
from dashboard.clock import now_at
from dashboard.db import get_db_session
from dashboard.forms import parse_id

# Dates on pages and in forms: a school's records span these years; others fall back to the default day.
FIRST_YEAR, LAST_YEAR = 1900, 2999


def school_today(school: School) -> dt.date:
    """Today's date where the school is."""
    return school_local_date(school, now_at())


def all_schools() -> list[School]:
    return list(get_db_session().scalars(select(School).order_by(School.name)))


def current_school() -> School | None:
    """The school the user works in now (None for a district admin who has not picked one)."""
    if not current_user.is_authenticated:
        return None
    db = get_db_session()
    if current_user.role != "district_admin":
        return db.get(School, current_user.school_id) if current_user.school_id else None
    requested = parse_id(request.args.get("school"))
    if requested is not None and db.get(School, requested) is not None:
        session["school_id"] = requested
    school_id = session.get("school_id")
    school = db.get(School, school_id) if school_id else None
    if school is None:
        schools = list(db.scalars(select(School).limit(2)))
        school = schools[0] if len(schools) == 1 else None
    return school


def require_school() -> School:
    """The current school, or (district admin with no school picked) a redirect to the district page."""
    school = current_school()
    if school is None:
        if current_user.role == "district_admin":
            abort(redirect(url_for("pages.district")))
        abort(403)
    return school


def visible_classes(school: School) -> list[SchoolClass]:
    """The classes of ``school`` this user may open, by grade then code."""
    query = select(SchoolClass).where(SchoolClass.school_id == school.id)
    if current_user.role == "teacher":
        query = query.where(SchoolClass.teachers.any(id=current_user.id))
    classes = list(get_db_session().scalars(query))
    return sorted(classes, key=class_sort_key)


def class_sort_key(school_class: SchoolClass) -> tuple:
    return (school_class.grade if school_class.grade is not None else 99, _natural(school_class.code),
            school_class.school_year)


def _natural(code: str) -> tuple:
    """``6A2`` before ``6A10``."""
    parts: list[Any] = []
    number = ""
    for ch in code:
        if ch.isascii() and ch.isdigit():  # "²" is a digit to isdigit() and not to int()
            number += ch
            continue
        if number:
            parts.append((0, int(number)))
            number = ""
        parts.append((1, ch))
    if number:
        parts.append((0, int(number)))
    return tuple(parts)


def can_see_school(school_id: int | None) -> bool:
    return current_user.role == "district_admin" or (school_id is not None and school_id == current_user.school_id)


def can_see_class(school_class: SchoolClass) -> bool:
    if not can_see_school(school_class.school_id):
        return False
    if current_user.role == "teacher":
        return any(teacher.id == current_user.id for teacher in school_class.teachers)
    return True


def require_class(class_id: int) -> SchoolClass:
    """The class, if this user may open it: 404 when it does not exist or is another school's, 403 otherwise."""
    school_class = get_db_session().get(SchoolClass, class_id)
    if school_class is None or not can_see_school(school_class.school_id):
        abort(404)
    if not can_see_class(school_class):
        abort(403)
    _follow_school(school_class.school_id)
    return school_class


def require_student(student_id: int) -> Student:
    """The student, if this user may see them (a teacher: only students of their classes)."""
    student = get_db_session().get(Student, student_id)
    if student is None or not can_see_school(student.school_id):
        abort(404)
    if current_user.role == "teacher":
        if student.school_class is None or not can_see_class(student.school_class):
            abort(403)
    _follow_school(student.school_id)
    return student


def _follow_school(school_id: int) -> None:
    if current_user.role == "district_admin":
        session["school_id"] = school_id


@overload
def parse_day(text: str | None, default: dt.date) -> dt.date: ...
@overload
def parse_day(text: str | None, default: None) -> dt.date | None: ...


def parse_day(text: str | None, default: dt.date | None) -> dt.date | None:
    """A date from a query string (ISO from ``<input type=date>``, or dd/mm/yyyy); ``default`` if absent, bad
    or outside the years a school's records can span (``FIRST_YEAR`` to ``LAST_YEAR``: the day before
    0001-01-01 or after 9999-12-31 cannot be computed)."""
    text = (text or "").strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        return day if FIRST_YEAR <= day.year <= LAST_YEAR else default
    return default


def parse_month(text: str | None, default: dt.date) -> tuple[int, int]:
    """(year, month) from ``YYYY-MM`` (``<input type=month>``) or ``MM/YYYY``; ``default``'s month otherwise."""
    text = (text or "").strip()
    for fmt in ("%Y-%m", "%m/%Y"):
        try:
            day = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if FIRST_YEAR <= day.year <= LAST_YEAR:
            return day.year, day.month
    return default.year, default.month


def inject_template_context() -> dict[str, Any]:
    """``school`` (the current one), ``nav_classes`` and role flags for every template."""
    if not current_user.is_authenticated:
        return {"school": None, "nav_classes": [], "is_admin": False, "is_district": False}
    school = current_school()
    return {
        "school": school,
        "school_tz": school.timezone if school else "Asia/Ho_Chi_Minh",
        "nav_classes": visible_classes(school) if school else [],
        "is_admin": current_user.role in ("school_admin", "district_admin"),
        "is_district": current_user.role == "district_admin",
    }
