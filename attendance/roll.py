"""The roll: who came to school on a day, on time or late, from the stored check-ins and teachers' overrides.

Rules (times in the school's zone, check-ins stored in UTC; the clock is always passed in as ``now_at``):

* A day is a school day when its ISO weekday is in ``School.school_days`` and it is not a Holiday; any
  other day is ``no_school`` for everyone (overrides cannot be set on it).
* The student's first check-in of the day counts; later sightings never change it, and an early one
  (a student at the gate at 05:00) is on time.
* First check-in at or before ``on_time_cutoff``: ``on_time``. After it and at or before
  ``absence_cutoff``: ``late``, with ``minutes_late`` rounded up (07:00:01 is 1 minute late).
* No check-in by ``absence_cutoff``: ``absent`` (a first check-in after the cutoff also leaves the student
  absent, as the absence notice has gone out; the roll still shows when they came, and a teacher can mark
  them present). Before the cutoff of today, or any future day, the status is ``not_yet``.
* A check-in flagged as a suspected presentation attack counts while it waits for review (the roll shows
  its badge, ``review_status`` "pending"); a teacher's "rejected" removes it from the roll, "confirmed" keeps it.
* A teacher's override wins over the camera: ``excused`` or ``present_manual`` (stored as "present"),
  always with a reason; setting and clearing one writes an audit entry.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, or_, select

from attendance.db.models import (
    OVERRIDE_STATUSES, AuditEntry, Camera, CheckIn, Holiday, RollOverride, School, SchoolClass, Student, User,
)
from attendance.errors import InvalidInput
from attendance.names import vietnamese_sort_key

STATUSES = ("on_time", "late", "absent", "excused", "present_manual", "not_yet", "no_school")
COUNTED_STATUSES = ("on_time", "late", "absent", "excused", "present_manual", "not_yet")
_OVERRIDE_TO_STATUS = {"excused": "excused", "present": "present_manual"}
MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class RollEntry:
    """One student's line of a class roll. ``first_seen_at`` is aware UTC; ``minutes_late`` only when late."""

    student_id: int
    student_code: str
    full_name: str
    class_code: str
    status: str
    first_seen_at: dt.datetime | None
    minutes_late: int | None
    camera_name: str | None
    snapshot_path: str | None
    checkin_id: int | None
    override_reason: str | None
    review_status: str | None = None  # the first check-in's liveness review: None, pending or confirmed


@dataclass(frozen=True)
class MonthRow:
    """One student's month: days per status; ``school_days`` counts the school days already decided."""

    student_id: int
    student_code: str
    full_name: str
    class_code: str
    on_time: int
    late: int
    absent: int
    excused: int
    present_manual: int
    school_days: int


@dataclass(frozen=True)
class DayRules:
    """A school's rules for one date, as UTC instants."""

    school_date: dt.date
    is_school_day: bool
    on_time_until: dt.datetime
    absent_from: dt.datetime

    def judge(self, first_seen_at: dt.datetime | None, override: str | None,
              now_at: dt.datetime) -> tuple[str, int | None]:
        """The status and minutes late of one student from their first check-in and override."""
        if not self.is_school_day:
            return "no_school", None
        if override is not None:
            return _OVERRIDE_TO_STATUS[override], None
        if first_seen_at is not None and first_seen_at <= self.absent_from:
            if first_seen_at <= self.on_time_until:
                return "on_time", None
            return "late", math.ceil((first_seen_at - self.on_time_until).total_seconds() / 60)
        if now_at < self.absent_from:
            return "not_yet", None
        return "absent", None


def school_zone(school: School) -> ZoneInfo:
    return ZoneInfo(school.timezone)


def school_local_date(school: School, at: dt.datetime) -> dt.date:
    """The school-local date of the aware instant ``at`` (00:30 UTC is 07:30 the same day in Ho Chi Minh)."""
    if at.tzinfo is None:
        raise InvalidInput("a naive datetime has no school date; give an aware one")
    return at.astimezone(school_zone(school)).date()


def school_weekdays(school: School) -> frozenset[int]:
    """ISO weekdays (1 = Monday) of the roll, from ``School.school_days`` like "1,2,3,4,5"."""
    return frozenset(int(part) for part in (school.school_days or "").split(",") if part.strip().isdigit())


def is_school_day(school: School, day: dt.date, holidays: Collection[dt.date] | Iterable[Holiday]) -> bool:
    """True when ``day`` is one of the school's weekdays and not in ``holidays`` (dates or Holiday rows)."""
    days = {h if isinstance(h, dt.date) else h.day for h in holidays}
    return day.isoweekday() in school_weekdays(school) and day not in days


def holidays_between(session, school: School, first: dt.date, last: dt.date) -> set[dt.date]:
    """The school's holidays from ``first`` to ``last`` inclusive."""
    return set(session.scalars(select(Holiday.day).where(
        Holiday.school_id == school.id, Holiday.day >= first, Holiday.day <= last)))


def day_rules(school: School, school_date: dt.date, holidays: Collection[dt.date]) -> DayRules:
    """The rules of ``school`` on ``school_date`` (cutoffs as UTC instants, DST-safe via the zone)."""
    zone = school_zone(school)

    def at(t: dt.time) -> dt.datetime:
        return dt.datetime.combine(school_date, t, tzinfo=zone).astimezone(dt.timezone.utc)

    return DayRules(school_date, is_school_day(school, school_date, holidays),
                    at(school.on_time_cutoff), at(school.absence_cutoff))


def load_day_rules(session, school: School, school_date: dt.date) -> DayRules:
    return day_rules(school, school_date, holidays_between(session, school, school_date, school_date))


def counts_on_roll():
    """The SQL condition of a check-in that counts: any but one a teacher rejected as a presentation attack."""
    return or_(CheckIn.review_status.is_(None), CheckIn.review_status != "rejected")


def _first_checkins(session, school_id: int, first: dt.date, last: dt.date, class_id: int | None = None):
    """(student_id, school_date, first captured_at) for each student's first check-in of each day."""
    query = (select(CheckIn.student_id, CheckIn.school_date, func.min(CheckIn.captured_at))
             .where(CheckIn.school_id == school_id, CheckIn.school_date >= first, CheckIn.school_date <= last,
                    counts_on_roll())
             .group_by(CheckIn.student_id, CheckIn.school_date))
    if class_id is not None:
        query = query.where(CheckIn.student_id.in_(select(Student.id).where(Student.class_id == class_id)))
    return session.execute(query)


def _overrides(session, student_ids_query, first: dt.date, last: dt.date) -> dict[tuple[int, dt.date], RollOverride]:
    rows = session.scalars(select(RollOverride).where(
        RollOverride.student_id.in_(student_ids_query), RollOverride.school_date >= first,
        RollOverride.school_date <= last))
    return {(row.student_id, row.school_date): row for row in rows}


def _as_utc(value: dt.datetime | None) -> dt.datetime | None:
    # MIN() over a UTCDateTime column comes back as a plain value: naive UTC on SQLite, aware on PostgreSQL.
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def roster(session, school_class: SchoolClass, first: dt.date | None = None,
           last: dt.date | None = None) -> list[Student]:
    """The class's students in Vietnamese roster order: the active ones, and for a period ``first``..``last``
    also those deactivated since who have a check-in or an override in it (a past roll keeps them)."""
    wanted = Student.active.is_(True)
    if first is not None:
        last = last or first
        wanted = or_(
            wanted,
            exists().where(CheckIn.student_id == Student.id, CheckIn.school_date.between(first, last)),
            exists().where(RollOverride.student_id == Student.id, RollOverride.school_date.between(first, last)),
        )
    students = session.scalars(select(Student).where(Student.class_id == school_class.id, wanted))
    return sorted(students, key=lambda s: vietnamese_sort_key(s.full_name))


def compute_class_roll(session, school_class: SchoolClass, school_date: dt.date,
                       now_at: dt.datetime) -> list[RollEntry]:
    """The roll of ``school_class`` on ``school_date`` as seen at ``now_at`` (aware UTC), in roster order.

    Three queries after the school's rules: the roster, the class's check-ins of the day, the overrides.
    """
    school = session.get(School, school_class.school_id)
    rules = load_day_rules(session, school, school_date)
    students = roster(session, school_class, school_date)
    class_students = select(Student.id).where(Student.class_id == school_class.id)
    # Every sighting of the class that day, earliest first; the first per student wins. A few rows per
    # student, and one plain indexed query is faster on both backends than a window function.
    sightings = session.execute(
        select(CheckIn.id, CheckIn.student_id, CheckIn.captured_at, CheckIn.snapshot_path, CheckIn.review_status,
               Camera.name)
        .join(Camera, Camera.id == CheckIn.camera_id)
        .where(CheckIn.school_id == school.id, CheckIn.school_date == school_date,
               CheckIn.student_id.in_([s.id for s in students]), counts_on_roll())
        .order_by(CheckIn.student_id, CheckIn.captured_at, CheckIn.id))
    firsts: dict[int, Any] = {}
    for row in sightings:
        firsts.setdefault(row.student_id, row)
    overrides = _overrides(session, class_students, school_date, school_date)
    entries = []
    for student in students:
        first = firsts.get(student.id)
        override = overrides.get((student.id, school_date))
        first_seen_at = first.captured_at if first else None
        status, minutes_late = rules.judge(first_seen_at, override.status if override else None, now_at)
        entries.append(RollEntry(
            student_id=student.id, student_code=student.student_code, full_name=student.full_name,
            class_code=school_class.code, status=status, first_seen_at=first_seen_at, minutes_late=minutes_late,
            camera_name=first.name if first else None, snapshot_path=first.snapshot_path if first else None,
            checkin_id=first.id if first else None, override_reason=override.reason if override else None,
            review_status=first.review_status if first else None,
        ))
    return entries


def compute_school_counts(session, school: School, school_date: dt.date,
                          now_at: dt.datetime) -> dict[int, dict[str, int]]:
    """Per class id, how many active students are in each status (keys ``COUNTED_STATUSES`` + ``no_school``).

    Every class of the school appears, empty ones with zeros. Four grouped queries whatever the size of the
    school (a school of 3,000 students takes a few milliseconds); students with no class are left out.
    """
    rules = load_day_rules(session, school, school_date)
    counts = {class_id: dict.fromkeys((*COUNTED_STATUSES, "no_school"), 0)
              for class_id in session.scalars(select(SchoolClass.id).where(SchoolClass.school_id == school.id))}
    students = session.execute(select(Student.id, Student.class_id).where(
        Student.school_id == school.id, Student.active.is_(True), Student.class_id.is_not(None))).all()
    firsts = {student_id: _as_utc(first) for student_id, _, first in
              _first_checkins(session, school.id, school_date, school_date)}
    overrides = {sid: row.status for (sid, _), row in _overrides(
        session, select(Student.id).where(Student.school_id == school.id), school_date, school_date).items()}
    for student_id, class_id in students:
        status, _ = rules.judge(firsts.get(student_id), overrides.get(student_id), now_at)
        if class_id not in counts:  # a class added since the first query
            counts[class_id] = dict.fromkeys((*COUNTED_STATUSES, "no_school"), 0)
        counts[class_id][status] += 1
    return counts


def compute_month_report(session, school_class: SchoolClass, year: int, month: int,
                         now_at: dt.datetime) -> list[MonthRow]:
    """Each active student's days of ``year``-``month`` by status, in roster order.

    Days still ``not_yet`` (the rest of the month, or today before the absence cutoff) are not counted, so
    ``school_days`` is the number of school days decided so far; ``no_school`` days are never counted.
    """
    if not 1 <= month <= 12:
        raise InvalidInput(f"month must be 1 to 12, got {month}")
    school = session.get(School, school_class.school_id)
    first = dt.date(year, month, 1)
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    holidays = holidays_between(session, school, first, last)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    rules = [day_rules(school, day, holidays) for day in days if is_school_day(school, day, holidays)]
    students = roster(session, school_class, first, last)
    firsts = {(sid, day): _as_utc(at) for sid, day, at in _first_checkins(session, school.id, first, last,
                                                                         class_id=school_class.id)}
    overrides = {key: row.status for key, row in _overrides(
        session, select(Student.id).where(Student.class_id == school_class.id), first, last).items()}
    report = []
    for student in students:
        tally = dict.fromkeys(STATUSES, 0)
        for day_rule in rules:
            key = (student.id, day_rule.school_date)
            status, _ = day_rule.judge(firsts.get(key), overrides.get(key), now_at)
            tally[status] += 1
        report.append(MonthRow(
            student_id=student.id, student_code=student.student_code, full_name=student.full_name,
            class_code=school_class.code, on_time=tally["on_time"], late=tally["late"], absent=tally["absent"],
            excused=tally["excused"], present_manual=tally["present_manual"],
            school_days=sum(tally[s] for s in ("on_time", "late", "absent", "excused", "present_manual")),
        ))
    return report


def _actor(session, user_id: int | None) -> str:
    if user_id is None:
        return "cli"
    user = session.get(User, user_id)
    return f"user:{user.username}" if user else f"user:{user_id}"


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
    session.add(AuditEntry(
        school_id=student.school_id, user_id=user_id, actor=_actor(session, user_id), action="roll.override",
        target=f"student:{student.student_code}",
        detail={"school_date": school_date.isoformat(), "status": status, "reason": reason, "previous": previous},
    ))
    session.flush()
    return override


def clear_override(session, student: Student, school_date: dt.date, user_id: int | None) -> bool:
    """Remove the override of ``student`` on ``school_date`` (audited); False when there was none."""
    override = session.scalar(select(RollOverride).where(
        RollOverride.student_id == student.id, RollOverride.school_date == school_date))
    if override is None:
        return False
    session.add(AuditEntry(
        school_id=student.school_id, user_id=user_id, actor=_actor(session, user_id),
        action="roll.override_clear", target=f"student:{student.student_code}",
        detail={"school_date": school_date.isoformat(), "status": override.status, "reason": override.reason},
    ))
    session.delete(override)
    session.flush()
    return True
