"""Effective-dated history: which class each student was on the roll of, and which rules a school had, by date.

* A student is on a class's roll on day D when one of their ``ClassMembership`` rows of that class covers
  D (``from_date <= D < until_date``, None being open). A change of a student's class or active flag made
  on day T (school-local) closes the open membership at T and opens the new one from T: the change shows
  from T on, and the rolls of earlier days keep who was in the class then.
* A school's rules on day D are those of its latest ``SchoolRuleChange`` dated on or before D, or the
  school's own columns while it has none. A change of its school days or cutoffs made on day T is recorded
  from T (the first one also records the old rules "since always"), so earlier days are never rewritten.

Both are kept by a ``before_flush`` hook, so every path that edits a student or a school (pages, roster
import, CLI, tests) keeps the history without knowing about it. "Today" is the school-local date of
``session.info["clock"]()`` when the session carries a clock (the dashboard passes its own), else of the
wall clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from attendance.db.models import ClassMembership, School, SchoolRuleChange, Student, utcnow
from attendance.school_day import school_date_at

RULE_FIELDS = ("school_days", "on_time_cutoff", "absence_cutoff")


def session_now(session: Session) -> dt.datetime:
    """The session's clock (``session.info["clock"]``, a callable giving aware UTC) or the wall clock."""
    clock: Callable[[], dt.datetime] | None = session.info.get("clock")
    return clock() if clock else utcnow()


def _school_today(session: Session, school_id: int | None, timezone: str | None = None) -> dt.date:
    if timezone is None:
        school = session.get(School, school_id) if school_id is not None else None
        timezone = school.timezone if school is not None else "UTC"
    return school_date_at(session_now(session), timezone)


def covers(from_date: dt.date | None, until_date: dt.date | None, day: dt.date) -> bool:
    """Whether a membership (or any half-open span) from ``from_date`` until before ``until_date`` holds ``day``."""
    return (from_date is None or from_date <= day) and (until_date is None or day < until_date)


def place_student(session: Session, student: Student, class_id: int | None, day: dt.date) -> None:
    """Put ``student`` on the roll of ``class_id`` (None: of no class) from ``day`` on; earlier days keep
    their membership. Called by the flush hook; callable directly to date a change explicitly."""
    if student.id is None:
        if class_id is not None:
            session.add(ClassMembership(student=student, class_id=class_id, from_date=day))
        return
    open_rows = session.scalars(select(ClassMembership).where(
        ClassMembership.student_id == student.id, ClassMembership.until_date.is_(None))).all()
    for row in open_rows:
        if row.class_id == class_id and class_id is not None:
            return  # already there
    for row in open_rows:
        if row.from_date is not None and row.from_date >= day:
            session.delete(row)  # opened the same day: it never held a school day
        else:
            row.until_date = day
    if class_id is None:
        return
    undone = session.scalars(select(ClassMembership).where(
        ClassMembership.student_id == student.id, ClassMembership.class_id == class_id,
        ClassMembership.until_date == day)).first()
    if undone is not None:  # moved away and back the same day: one membership, as if never moved
        undone.until_date = None
    else:
        session.add(ClassMembership(student_id=student.id, class_id=class_id, from_date=day))


def _wanted_class_id(student: Student) -> int | None:
    if student.active is False:  # None on a new student: the column's default, True
        return None
    if student.class_id is not None:
        return student.class_id
    return student.school_class.id if student.school_class is not None else None


def _track_student(session: Session, student: Student, is_new: bool) -> None:
    if not is_new:
        attrs = inspect(student).attrs
        if not (attrs.class_id.history.has_changes() or attrs.active.history.has_changes()):
            return
    if is_new and student.class_id is None and student.school_class is not None and student.school_class.id is None:
        # a class made in the same flush: membership through the relationship
        if student.active is not False:
            session.add(ClassMembership(student=student, school_class=student.school_class,
                                        from_date=_school_today(session, student.school_id)))
        return
    place_student(session, student, _wanted_class_id(student), _school_today(session, student.school_id))


def _track_school(session: Session, school: School) -> None:
    attrs = inspect(school).attrs
    histories = {name: attrs[name].history for name in RULE_FIELDS}
    if not any(h.has_changes() for h in histories.values()):
        return
    old = {name: (h.deleted[0] if h.deleted else getattr(school, name)) for name, h in histories.items()}
    new = {name: getattr(school, name) for name in RULE_FIELDS}
    if old == new:
        return
    today = _school_today(session, school.id, school.timezone)
    changes = session.scalars(select(SchoolRuleChange).where(SchoolRuleChange.school_id == school.id)).all()
    if not changes:
        session.add(SchoolRuleChange(school_id=school.id, effective_from=None, **old))
    for change in changes:
        if change.effective_from is not None and change.effective_from > today:
            session.delete(change)  # a change planned for later is replaced by this one
        elif change.effective_from == today:
            for name, value in new.items():
                setattr(change, name, value)
            return
    session.add(SchoolRuleChange(school_id=school.id, effective_from=today, **new))


@event.listens_for(Session, "before_flush")
def _record_history(session: Session, flush_context, instances) -> None:  # noqa: ANN001 (SQLAlchemy's)
    with session.no_autoflush:
        for obj in list(session.new):
            if isinstance(obj, Student):
                _track_student(session, obj, is_new=True)
        for obj in list(session.dirty):
            if isinstance(obj, Student):
                _track_student(session, obj, is_new=False)
            elif isinstance(obj, School):
                _track_school(session, obj)
