"""The change counters that live pages poll: one row per school and one per class, bumped with every roll change.

An ``after_flush`` hook bumps ``school_changes.version`` of each school, and ``class_changes.version`` of
each class, whose students' check-ins, overrides or leave requests the flush inserted, changed or deleted,
in the same transaction: every path that stores them (the agent API, pages, CLI, tests) bumps them without
knowing, and the bump commits or rolls back with the change. A page then asks "anything new since version
N?" with one indexed read (``read_live_state``), from any server process on the same database: the Today
page watches its school, a class roll its class (the student's class now; a change to a day when they were
in another class bumps the school only). The upserts are atomic on SQLite and PostgreSQL, so two processes
that store check-ins of one school at once both count.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Integer, and_, bindparam, event, func, literal, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from attendance.db.models import (
    CheckIn, ClassChange, ClassTeacher, LeaveRequest, RollOverride, School, SchoolChange, SchoolClass, Student, User,
)


@dataclass(frozen=True)
class LiveState:
    """What a live page's poll needs: the school's zone and cutoffs (to tell the part of the day) and the
    counter it watches (the school's, or a class's when the poll names one)."""

    school_id: int
    timezone: str
    on_time_cutoff: dt.time
    absence_cutoff: dt.time
    version: int


def read_version(session: Session, school_id: int, class_id: int | None = None) -> int:
    """The school's (or, given ``class_id``, the class's) change counter; 0 before its first change."""
    if class_id is not None:
        return session.scalar(select(ClassChange.version).where(ClassChange.class_id == class_id)) or 0
    return session.scalar(select(SchoolChange.version).where(SchoolChange.school_id == school_id)) or 0


# Built once: a poll runs these hundreds of times a second, and building a statement costs more than running it.
_USER_SCHOOL = (
    select(User.active, User.session_token, School.id, School.timezone, School.on_time_cutoff,
           School.absence_cutoff)
    .select_from(User).join(School, School.id == func.coalesce(User.school_id, bindparam("picked")))
    .where(User.id == bindparam("user_id")))
_SCHOOL_STATE = _USER_SCHOOL.add_columns(SchoolChange.version).outerjoin(
    SchoolChange, SchoolChange.school_id == School.id)
_CLASS_STATE = (_USER_SCHOOL.add_columns(ClassChange.version, User.role, ClassTeacher.user_id.label("teaches"))
                .join(SchoolClass, and_(SchoolClass.id == bindparam("class_id"), SchoolClass.school_id == School.id))
                .outerjoin(ClassChange, ClassChange.class_id == SchoolClass.id)
                .outerjoin(ClassTeacher, and_(ClassTeacher.class_id == SchoolClass.id, ClassTeacher.user_id == User.id)))


def read_live_state(session: Session, user_id: int, session_token: str, picked_school_id: int | None = None,
                    class_id: int | None = None) -> LiveState | None:
    """The live state of an active user's school whose session carries ``session_token``: one indexed read
    (user, school and counter by primary key). ``picked_school_id`` is the school a district admin chose;
    ``class_id`` asks for that class's counter (a class of the user's school; a teacher's own). None when the
    user is unknown, inactive or logged out since, has no school here, or may not open the class."""
    params = {"user_id": user_id, "picked": picked_school_id if picked_school_id is not None else -1}
    if class_id is not None:
        params["class_id"] = class_id
    row = session.connection().execute(_CLASS_STATE if class_id is not None else _SCHOOL_STATE, params).first()
    if row is None or not row.active or not row.session_token:
        return None
    if not hmac.compare_digest(row.session_token.encode(), session_token.encode()):
        return None
    if class_id is not None and row.role == "teacher" and row.teaches is None:
        return None  # a teacher watches her own classes only
    return LiveState(school_id=row.id, timezone=row.timezone, on_time_cutoff=row.on_time_cutoff,
                     absence_cutoff=row.absence_cutoff, version=row.version or 0)


def bump_versions(session: Session, school_ids: Iterable[int], class_ids: Iterable[int] = ()) -> None:
    """Add one to the counter of each school and class named (creating its row), in the session's transaction."""
    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    # a fixed order (schools, then classes, by id): two transactions never lock the rows crosswise; one
    # statement per table (a batch of 100 check-ins touches ~50 classes: 50 round trips were 40 % of its time)
    for model, key, ids in ((SchoolChange, SchoolChange.school_id, school_ids),
                            (ClassChange, ClassChange.class_id, class_ids)):
        ordered = sorted(set(ids))
        if not ordered:
            continue
        if dialect is postgresql:  # one fixed statement whatever the ids (a list of VALUES compiles anew each time)
            source = select(func.unnest(bindparam("ids", type_=postgresql.ARRAY(Integer))).label("id"),
                            literal(1, Integer)).order_by(literal_column("1"))
            statement = postgresql.insert(model).from_select([key, model.version], source)
            connection.execute(statement.on_conflict_do_update(
                index_elements=[key], set_={"version": model.version + 1}), {"ids": ordered})
            continue
        statement = dialect.insert(model).values([{key.key: row_id, "version": 1} for row_id in ordered])
        connection.execute(statement.on_conflict_do_update(
            index_elements=[key], set_={"version": model.version + 1}))


def bump_for_students(session: Session, school_id: int, student_ids: Iterable[int]) -> None:
    """Bump the school's counter and those of the students' classes (for rows stored without the ORM)."""
    ids = set(student_ids)
    class_ids = [class_id for class_id in session.scalars(
        select(Student.class_id).where(Student.id.in_(ids), Student.class_id.is_not(None)).distinct())
        if class_id is not None] if ids else []
    bump_versions(session, [school_id], class_ids)


@event.listens_for(Session, "after_flush")
def _bump_changed(session: Session, flush_context) -> None:  # noqa: ANN001 (SQLAlchemy's)
    changed = [obj for group in (session.new, session.dirty, session.deleted) for obj in group
               if isinstance(obj, (CheckIn, RollOverride, LeaveRequest))]
    if not changed:
        return
    school_ids, class_ids = set(), set()
    with session.no_autoflush:
        for obj in changed:
            student = session.get(Student, obj.student_id)
            if student is None:
                continue
            school_ids.add(student.school_id)
            if student.class_id is not None:
                class_ids.add(student.class_id)
    bump_versions(session, school_ids, class_ids)
