"""Leave requests: a student excused ahead of time for a range of dates (a family trip, a hospital stay).

A leave request excuses the student on every school day of ``first_date``..``last_date``; the roll reads
it through its one rule (``attendance.roll``): on those days the student is ``excused`` with the leave's
reason, unless a teacher marked that day otherwise (a student on leave who comes after all is marked
present, and the day's mark wins). Creating and cancelling are audited; a cancelled request stays stored
(with who cancelled it) and no longer excuses anyone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from attendance.db.models import LeaveRequest, Student, utcnow
from attendance.errors import InvalidInput, NotFound
from attendance.users import actor_of, record_audit

MAX_REASON_CHARS = 500
MAX_LEAVE_DAYS = 366  # a school year; a longer absence is a change of the roster, not a leave


@dataclass(frozen=True)
class LeaveDay:
    """A day a leave request excuses a student: read by the roll as an ``excused`` override."""

    status: str
    reason: str
    leave_id: int


def create_leave(session, student: Student, first_date: dt.date, last_date: dt.date, reason: str,
                 user_id: int | None) -> LeaveRequest:
    """Excuse ``student`` from ``first_date`` to ``last_date`` (inclusive) with a reason; audited.

    InvalidInput for an empty or long reason, a range that ends before it starts or spans more than
    ``MAX_LEAVE_DAYS`` days. Days already past may be included (a note brought back after an illness).
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a leave request needs a reason")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(f"a reason is at most {MAX_REASON_CHARS} characters")
    if last_date < first_date:
        raise InvalidInput("the last day of the leave is before its first day")
    if (last_date - first_date).days + 1 > MAX_LEAVE_DAYS:
        raise InvalidInput(f"a leave request covers at most {MAX_LEAVE_DAYS} days")
    actor = actor_of(session, user_id)
    leave = LeaveRequest(school_id=student.school_id, student_id=student.id, first_date=first_date,
                         last_date=last_date, reason=reason, created_by_id=user_id, created_by=actor)
    session.add(leave)
    session.flush()
    record_audit(session, actor, "leave.create", user_id=user_id, school_id=student.school_id,
                 target=f"student:{student.student_code}",
                 detail={"leave_id": leave.id, "first_date": first_date.isoformat(),
                         "last_date": last_date.isoformat(), "reason": reason})
    session.flush()
    return leave


def cancel_leave(session, leave_id: int, user_id: int | None, *, school_id: int | None = None) -> LeaveRequest:
    """Cancel a leave request (audited); NotFound when there is none (of ``school_id``, when given),
    InvalidInput when it was already cancelled."""
    leave = session.get(LeaveRequest, leave_id)
    if leave is None or (school_id is not None and leave.school_id != school_id):
        raise NotFound(f"no leave request {leave_id}")
    if leave.cancelled_at is not None:
        raise InvalidInput("the leave request was already cancelled")
    leave.cancelled_at = utcnow()
    leave.cancelled_by_id = user_id
    student = session.get(Student, leave.student_id)
    record_audit(session, actor_of(session, user_id), "leave.cancel", user_id=user_id, school_id=leave.school_id,
                 target=f"student:{student.student_code if student else leave.student_id}",
                 detail={"leave_id": leave.id, "first_date": leave.first_date.isoformat(),
                         "last_date": leave.last_date.isoformat()})
    session.flush()
    return leave


def list_leaves(session, student_ids: Any, first: dt.date, last: dt.date, *,
                include_cancelled: bool = False) -> list[LeaveRequest]:
    """Leave requests of ``student_ids`` (ids or a SELECT of ids) that overlap ``first``..``last``, by first day."""
    query = select(LeaveRequest).where(LeaveRequest.student_id.in_(student_ids), LeaveRequest.first_date <= last,
                                       LeaveRequest.last_date >= first)
    if not include_cancelled:
        query = query.where(LeaveRequest.cancelled_at.is_(None))
    return list(session.scalars(query.order_by(LeaveRequest.first_date, LeaveRequest.id)))


def expand_leave_days(leaves: Iterable[LeaveRequest], first: dt.date,
                      last: dt.date) -> dict[tuple[int, dt.date], LeaveDay]:
    """{(student_id, day): LeaveDay} for each day of ``first``..``last`` a leave request covers."""
    days: dict[tuple[int, dt.date], LeaveDay] = {}
    for leave in leaves:
        day = max(first, leave.first_date)
        while day <= min(last, leave.last_date):
            days.setdefault((leave.student_id, day), LeaveDay("excused", leave.reason, leave.id))
            day += dt.timedelta(days=1)
    return days
