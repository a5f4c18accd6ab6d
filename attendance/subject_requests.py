"""Data subjects' requests about a student (a copy, a correction, a deletion, a withdrawal): logged with the
date received, a deadline of two working days (Decree 356/2025 sets that for several kinds; working days
here are Monday to Friday less the school's holidays) and the date answered. Every step is audited.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from attendance.db.models import DATA_REQUEST_KINDS, DataRequest, Holiday, Student, utcnow
from attendance.errors import InvalidInput, NotFound
from attendance.users import record_audit

ANSWER_WITHIN_WORKING_DAYS = 2
MAX_TEXT_CHARS = 2000


def add_working_days(day: dt.date, working_days: int, holidays: set[dt.date] | frozenset[dt.date] = frozenset()) -> dt.date:
    """The date ``working_days`` working days after ``day`` (Monday to Friday, not in ``holidays``)."""
    while working_days > 0:
        day += dt.timedelta(days=1)
        if day.isoweekday() <= 5 and day not in holidays:
            working_days -= 1
    return day


def due_date(session: Session, school_id: int, received_on: dt.date) -> dt.date:
    """The last day to answer a request received on ``received_on`` (two working days later)."""
    horizon = received_on + dt.timedelta(days=60)
    holidays = set(session.scalars(select(Holiday.day).where(Holiday.school_id == school_id,
                                                             Holiday.day > received_on, Holiday.day <= horizon)))
    return add_working_days(received_on, ANSWER_WITHIN_WORKING_DAYS, holidays)


def log_request(session: Session, student: Student, kind: str, received_on: dt.date, *, requested_by: str = "",
                note: str = "", actor: str, user_id: int | None = None) -> DataRequest:
    """Log a request about ``student`` received on ``received_on`` (school-local date); audited as
    ``request.log``. ``kind`` is one of DATA_REQUEST_KINDS. InvalidInput otherwise. The caller commits."""
    if kind not in DATA_REQUEST_KINDS:
        raise InvalidInput(f"the kind of request must be one of {', '.join(DATA_REQUEST_KINDS)}")
    if received_on > utcnow().date() + dt.timedelta(days=1):
        raise InvalidInput("the date received is in the future")
    request = DataRequest(school_id=student.school_id, student_id=student.id, student_code=student.student_code,
                          kind=kind, requested_by=requested_by.strip()[:200], received_on=received_on,
                          due_on=due_date(session, student.school_id, received_on),
                          note=note.strip()[:MAX_TEXT_CHARS], answer="", created_by=actor[:120], created_at=utcnow())
    session.add(request)
    session.flush()
    record_audit(session, actor, "request.log", user_id=user_id, school_id=student.school_id,
                 target=f"student:{student.student_code}",
                 detail={"request_id": request.id, "kind": kind, "received_on": received_on.isoformat(),
                         "due_on": request.due_on.isoformat()})
    return request


def answer_request(session: Session, school_id: int, request_id: int, answer: str, *, actor: str,
                   user_id: int | None = None) -> DataRequest:
    """Mark a request of the school answered now, with what was done; audited as ``request.answer``.
    NotFound for another school's request, InvalidInput for one already answered. The caller commits."""
    request = session.get(DataRequest, request_id)
    if request is None or request.school_id != school_id:
        raise NotFound("no such request")
    if request.answered_at is not None:
        raise InvalidInput("this request was already answered")
    request.answered_at = utcnow()
    request.answer = answer.strip()[:MAX_TEXT_CHARS]
    record_audit(session, actor, "request.answer", user_id=user_id, school_id=school_id,
                 target=f"student:{request.student_code}",
                 detail={"request_id": request.id, "kind": request.kind,
                         "answered_at": request.answered_at.isoformat()})
    return request


def list_requests(session: Session, school_id: int, *, student_id: int | None = None,
                  limit: int = 500) -> list[DataRequest]:
    """The school's requests (or one student's), open ones first by deadline, then answered, newest first."""
    query = select(DataRequest).where(DataRequest.school_id == school_id)
    if student_id is not None:
        query = query.where(DataRequest.student_id == student_id)
    rows = list(session.scalars(query.order_by(DataRequest.id.desc()).limit(limit)))
    open_rows = sorted((r for r in rows if r.answered_at is None), key=lambda r: (r.due_on, r.id))
    return open_rows + [r for r in rows if r.answered_at is not None]


def answer_open_requests(session: Session, student: Student, kind: str, answer: str, *, actor: str,
                         user_id: int | None = None) -> int:
    """Mark the student's open requests of ``kind`` answered (a deletion or withdrawal done from their
    page answers the request that asked for it); the number answered. The caller commits."""
    rows = session.scalars(select(DataRequest.id).where(DataRequest.student_id == student.id, DataRequest.kind == kind,
                                                        DataRequest.answered_at.is_(None))).all()
    for request_id in rows:
        answer_request(session, student.school_id, request_id, answer, actor=actor, user_id=user_id)
    return len(rows)
