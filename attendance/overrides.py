"""Teachers' overrides of the roll: a student marked ``excused`` or ``present`` on a day, with a reason, audited.

An override wins over the camera on its day (``attendance.roll``); it can be set only on a school day and
is replaced by a later one of the same day. Setting and clearing one writes an audit entry.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from attendance.db.models import OVERRIDE_STATUSES, RollOverride, School, Student
from attendance.errors import InvalidInput
from attendance.school_rules import load_day_rules
from attendance.users import actor_of, record_audit

MAX_REASON_CHARS = 500


def set_override(session, student: Student, school_date: dt.date, status: str, reason: str,
                 user_id: int | None) -> RollOverride:
    """Mark ``student`` ``excused`` or ``present`` on ``school_date`` with a reason (replacing any earlier
    override of that day) and audit it. InvalidInput for a bad status, an empty reason or a non-school day.
    """
    if status not in OVERRIDE_STATUSES:
        raise InvalidInput(f"an override status is one of {', '.join(OVERRIDE_STATUSES)}, got {status!r}")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("an override needs a reason")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(f"a reason is at most {MAX_REASON_CHARS} characters")
    school = session.get(School, student.school_id)
    if not load_day_rules(session, school, school_date).is_school_day:
        raise InvalidInput(f"{school_date.isoformat()} is not a school day")
    override = session.scalar(select(RollOverride).where(
        RollOverride.student_id == student.id, RollOverride.school_date == school_date))
    previous = {"status": override.status, "reason": override.reason} if override else None
    if override is None:
        override = RollOverride(student_id=student.id, school_date=school_date)
        session.add(override)
    override.status = status
    override.reason = reason
    override.created_by_id = user_id
    record_audit(session, actor_of(session, user_id), "roll.override", user_id=user_id, school_id=student.school_id,
                 target=f"student:{student.student_code}",
                 detail={"school_date": school_date.isoformat(), "status": status, "reason": reason,
                         "previous": previous})
    session.flush()
    return override


def clear_override(session, student: Student, school_date: dt.date, user_id: int | None) -> bool:
    """Remove the override of ``student`` on ``school_date`` (audited); False when there was none."""
    override = session.scalar(select(RollOverride).where(
        RollOverride.student_id == student.id, RollOverride.school_date == school_date))
    if override is None:
        return False
    record_audit(session, actor_of(session, user_id), "roll.override_clear", user_id=user_id,
                 school_id=student.school_id, target=f"student:{student.student_code}",
                 detail={"school_date": school_date.isoformat(), "status": override.status,
                         "reason": override.reason})
    session.delete(override)
    session.flush()
    return True
