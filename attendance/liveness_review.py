"""Teachers' review of check-ins flagged as suspected presentation attacks (a photo or screen at the gate).

A flagged check-in (``CheckIn.review_status`` "pending", see ``checkins.py``) counts on the roll until a
teacher looks at its snapshot: "confirm" (the student was really there) keeps it, "reject" (someone held up
their photo) takes it off the roll. Every decision is audited (``checkin.liveness_review``) and can be changed again.
The liveness score behind a flag is a signal for review, not proof either way.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from attendance.db.models import CheckIn, Student, User
from attendance.errors import InvalidInput, NotFound
from attendance.users import record_audit

DECISIONS = {"confirm": "confirmed", "reject": "rejected"}


def review_checkin(session, checkin_id: int, decision: str, user_id: int | None, *,
                   school_id: int | None = None) -> CheckIn:
    """Record a teacher's ``decision`` ("confirm" or "reject") on a flagged check-in and audit it.

    ``school_id`` limits the look-up to one school (None: any, for a district admin or the CLI). Raises
    ``NotFound`` for a missing check-in, ``InvalidInput`` for a bad decision or a check-in never flagged.
    """
    if decision not in DECISIONS:
        raise InvalidInput(f"a review decision is confirm or reject, got {decision!r}")
    checkin = session.get(CheckIn, checkin_id)
    if checkin is None or (school_id is not None and checkin.school_id != school_id):
        raise NotFound(f"no check-in {checkin_id}")
    if checkin.review_status is None:
        raise InvalidInput(f"check-in {checkin_id} was not flagged for review")
    previous = checkin.review_status
    checkin.review_status = DECISIONS[decision]
    student = session.get(Student, checkin.student_id)
    user = session.get(User, user_id) if user_id is not None else None
    actor = f"user:{user.username}" if user else "cli"
    record_audit(session, actor, "checkin.liveness_review", user_id=user_id, school_id=checkin.school_id,
                 target=f"student:{student.student_code if student else checkin.student_id}",
                 detail={"checkin_id": checkin.id, "school_date": checkin.school_date.isoformat(),
                         "decision": checkin.review_status, "previous": previous,
                         "score_mean": (checkin.liveness or {}).get("spoof_score_mean")})
    session.flush()
    return checkin


def count_flagged(session, school_id: int, school_date: dt.date) -> dict[str, int]:
    """How many of the school's check-ins of ``school_date`` are in each review state (pending, confirmed,
    rejected); states with none are 0."""
    counts = dict.fromkeys(DECISIONS.values(), 0) | {"pending": 0}
    rows = session.execute(select(CheckIn.review_status, func.count()).where(
        CheckIn.school_id == school_id, CheckIn.school_date == school_date, CheckIn.review_status.is_not(None),
    ).group_by(CheckIn.review_status))
    for status, count in rows:
        counts[status] = count
    return counts
