"""Reading the audit log: who changed which roll, student, camera or user, filtered and paged for admins.

Entries are written by ``attendance.users.record_audit``; this module only reads them. Times are aware UTC;
a date range is given as local school dates and converted here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from attendance.db.models import AuditEntry, Student
from attendance.names import matches_search

MAX_TARGET_STUDENTS = 200  # a name search naming more students than this is too broad to be a filter


@dataclass(frozen=True)
class AuditFilter:
    """What to show: an exact actor ("user:lan", "camera:gate-1"), an action or action family ("student" for
    every "student.*"), a target text (a code, or a student's name without diacritics), local dates."""

    actor: str = ""
    action: str = ""
    target: str = ""
    first_day: dt.date | None = None
    last_day: dt.date | None = None


def _filtered(session: Session, school_id: int, timezone: str, wanted: AuditFilter):
    query = select(AuditEntry).where(AuditEntry.school_id == school_id)
    if wanted.actor:
        query = query.where(AuditEntry.actor == wanted.actor)
    if wanted.action:
        query = query.where(or_(AuditEntry.action == wanted.action, AuditEntry.action.like(f"{wanted.action}.%")))
    zone = ZoneInfo(timezone)
    if wanted.first_day:
        query = query.where(AuditEntry.created_at >= dt.datetime.combine(wanted.first_day, dt.time(0), zone))
    if wanted.last_day:
        end = dt.datetime.combine(wanted.last_day + dt.timedelta(days=1), dt.time(0), zone)
        query = query.where(AuditEntry.created_at < end)
    if wanted.target.strip():
        text = wanted.target.strip()
        codes = [code for code, name in session.execute(
            select(Student.student_code, Student.full_name).where(Student.school_id == school_id))
            if matches_search(text, name)][:MAX_TARGET_STUDENTS]
        like = f"%{text.replace('%', '').replace('_', '')}%"
        query = query.where(or_(AuditEntry.target.ilike(like), AuditEntry.target.in_([f"student:{c}" for c in codes])))
    return query


def count_audit(session: Session, school_id: int, timezone: str, wanted: AuditFilter) -> int:
    """How many of the school's audit entries pass ``wanted``."""
    query = select(func.count()).select_from(_filtered(session, school_id, timezone, wanted).subquery())
    return session.scalar(query) or 0


def list_audit(session: Session, school_id: int, timezone: str, wanted: AuditFilter, *, offset: int = 0,
               limit: int = 50) -> list[AuditEntry]:
    """The school's audit entries passing ``wanted``, newest first, ``limit`` from ``offset``."""
    query = _filtered(session, school_id, timezone, wanted)
    return list(session.scalars(query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
                                .offset(offset).limit(limit)))


def list_audit_choices(session: Session, school_id: int) -> tuple[list[str], list[str]]:
    """The actors and actions found in the school's log, sorted: the choices of the filter's two pickers."""
    actors = sorted(session.scalars(select(AuditEntry.actor).where(AuditEntry.school_id == school_id).distinct()))
    actions = sorted(session.scalars(select(AuditEntry.action).where(AuditEntry.school_id == school_id).distinct()))
    return actors, actions
