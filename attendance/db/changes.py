"""The per-school change counter that live pages poll: one row per school, bumped with every roll change.

An ``after_flush`` hook bumps ``school_changes.version`` of each school whose check-ins, overrides or leave
requests the flush inserted, changed or deleted, in the same transaction: every path that stores them (the
agent API, pages, CLI, tests) bumps it without knowing, and the bump commits or rolls back with the change.
A page then asks "anything new since version N?" with one primary-key read (``read_version``), from any
server process on the same database. The upsert is atomic on SQLite and PostgreSQL, so two processes that
store check-ins of one school at once both count.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from attendance.db.models import CheckIn, LeaveRequest, RollOverride, School, SchoolChange, Student, User


@dataclass(frozen=True)
class LiveState:
    """What a live page's poll needs: the school's zone and cutoffs (to tell the part of the day) and counter."""

    school_id: int
    timezone: str
    on_time_cutoff: dt.time
    absence_cutoff: dt.time
    version: int


def read_version(session: Session, school_id: int) -> int:
    """The school's change counter (0 before its first change): one primary-key read."""
    return session.scalar(select(SchoolChange.version).where(SchoolChange.school_id == school_id)) or 0


# Built once: a poll runs it hundreds of times a second, and building the statement costs more than running it.
_LIVE_STATE = (
    select(User.active, User.session_token, School.id, School.timezone, School.on_time_cutoff,
           School.absence_cutoff, SchoolChange.version)
    .select_from(User).join(School, School.id == func.coalesce(User.school_id, bindparam("picked")))
    .outerjoin(SchoolChange, SchoolChange.school_id == School.id)
    .where(User.id == bindparam("user_id")))


def read_live_state(session: Session, user_id: int, session_token: str,
                    picked_school_id: int | None = None) -> LiveState | None:
    """The live state of the school of an active user whose session carries ``session_token``: one indexed
    read (user, school, counter by primary key). ``picked_school_id`` is the school a district admin chose.
    None when the user is unknown, inactive, logged out since, or has no school here."""
    row = session.connection().execute(_LIVE_STATE, {
        "user_id": user_id, "picked": picked_school_id if picked_school_id is not None else -1}).first()
    if row is None or not row.active or not row.session_token:
        return None
    if not hmac.compare_digest(row.session_token.encode(), session_token.encode()):
        return None
    return LiveState(school_id=row.id, timezone=row.timezone, on_time_cutoff=row.on_time_cutoff,
                     absence_cutoff=row.absence_cutoff, version=row.version or 0)


def bump_versions(session: Session, school_ids: Iterable[int]) -> None:
    """Add one to the counter of each school in ``school_ids`` (creating its row), in the session's transaction."""
    ids = sorted(set(school_ids))  # a fixed order: two transactions never lock the rows crosswise
    if not ids:
        return
    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    for school_id in ids:
        statement = dialect.insert(SchoolChange).values(school_id=school_id, version=1)
        connection.execute(statement.on_conflict_do_update(
            index_elements=[SchoolChange.school_id], set_={"version": SchoolChange.version + 1}))


def _school_of(session: Session, obj: object) -> int | None:
    if isinstance(obj, (CheckIn, LeaveRequest)):
        return obj.school_id
    if isinstance(obj, RollOverride):
        student = session.get(Student, obj.student_id)
        return student.school_id if student is not None else None
    return None


@event.listens_for(Session, "after_flush")
def _bump_changed_schools(session: Session, flush_context) -> None:  # noqa: ANN001 (SQLAlchemy's)
    changed = [obj for group in (session.new, session.dirty, session.deleted) for obj in group
               if isinstance(obj, (CheckIn, RollOverride, LeaveRequest))]
    if not changed:
        return
    with session.no_autoflush:
        school_ids = {_school_of(session, obj) for obj in changed}
    bump_versions(session, (school_id for school_id in school_ids if school_id is not None))
