"""The roll: who came to school on a day, on time or late, from the stored check-ins and teachers' overrides.

This module is the one place the rules are applied; every page, export, the CLI, the API and the webhooks
take their statuses from it. Rules (times in the school's zone, check-ins stored in UTC; the clock is always
passed in as ``now_at``):

* A class's roll of day D lists the students who were in the class on D (``attendance.db.history``): a
  student added or moved in on D is on it from D, and one who left is on the rolls of the days before.
* The school's rules of D are those in force on D (``attendance.school_rules``): a change of school days,
  cutoffs or holidays applies from its own date on. A day that is not a school day is ``no_school`` for
  everyone (overrides cannot be set on it).
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
  always with a reason (``attendance.overrides``).
* A leave request (``attendance.leave``) is an ``excused`` override of each day of its range, made ahead
  of time; a teacher's own override of one of those days wins over it.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select

from attendance.db.history import covers
from attendance.db.models import Camera, CheckIn, ClassMembership, RollOverride, School, SchoolClass, Student
from attendance.errors import InvalidInput
from attendance.leave import LeaveDay, expand_leave_days, list_leaves
from attendance.names import vietnamese_sort_key
from attendance.overrides import MAX_REASON_CHARS, clear_override, set_override  # noqa: F401 (the roll's API)
from attendance.school_rules import (  # noqa: F401 (the roll's API)
    DayRules, holidays_between, is_school_day, load_calendar, load_day_rules, school_local_date, school_weekdays,
    school_zone,
)

STATUSES = ("on_time", "late", "absent", "excused", "present_manual", "not_yet", "no_school")
COUNTED_STATUSES = ("on_time", "late", "absent", "excused", "present_manual", "not_yet")
PRESENT_STATUSES = ("on_time", "late", "present_manual")  # at school that day
DECIDED_STATUSES = (*PRESENT_STATUSES, "absent", "excused")  # the school days counted in a rate


@dataclass(frozen=True)
class RollEntry:
    """One student's line of a class roll. ``first_seen_at`` is aware UTC; ``minutes_late`` only when late;
    ``received_on`` is the school date the first check-in reached the server when later than its own day (an
    agent that was offline); ``source`` is ``camera`` or ``review`` (named on the unknown-faces page)."""

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
    source: str | None = None
    received_on: dt.date | None = None
    review_status: str | None = None  # the first check-in's liveness review: None, pending or confirmed
    leave_id: int | None = None  # excused by this leave request (no teacher's mark of the day)


@dataclass(frozen=True)
class MonthRow:
    """One student's month: days per status; ``school_days`` counts the school days already decided (only
    days they were in the class)."""

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
    days: dict[dt.date, str | None] = field(default_factory=dict)  # every day of the month: its status, None
    # when not in the class that day (the day-by-day grid of the month report)


@dataclass(frozen=True)
class Arrival:
    """A student's first check-in of a day with the roll's status, for the live feed."""

    checkin_id: int
    student_id: int
    full_name: str
    class_code: str
    first_seen_at: dt.datetime
    status: str
    minutes_late: int | None
    camera_name: str
    has_snapshot: bool
    source: str


def _member_on(day: dt.date):
    return and_(or_(ClassMembership.from_date.is_(None), ClassMembership.from_date <= day),
                or_(ClassMembership.until_date.is_(None), ClassMembership.until_date > day))


def _member_during(first: dt.date, last: dt.date):
    return and_(or_(ClassMembership.from_date.is_(None), ClassMembership.from_date <= last),
                or_(ClassMembership.until_date.is_(None), ClassMembership.until_date > first))


def members_on(class_ids: Any, day: dt.date):
    """A SELECT of (student_id, class_id) of the students on the rolls of ``class_ids`` on ``day``."""
    return select(ClassMembership.student_id, ClassMembership.class_id).where(
        ClassMembership.class_id.in_(class_ids), _member_on(day))


def _as_utc(value: dt.datetime | str | None) -> dt.datetime | None:
    # MIN() over a UTCDateTime column comes back as a plain value: naive UTC on SQLite, aware on PostgreSQL.
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is dt.timezone.utc:  # already converted by the column's type (2,000 rows on Today)
        return value
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def counts_on_roll():
    """The SQL condition of a check-in that counts: any but one a teacher rejected as a presentation attack."""
    return or_(CheckIn.review_status.is_(None), CheckIn.review_status != "rejected")


def _first_checkins(session, school_id: int, first: dt.date, last: dt.date, student_ids: Any = None):
    """{(student_id, school_date): first captured_at} of the students ``student_ids`` (ids; None: the school's)."""
    query = (select(CheckIn.student_id, CheckIn.school_date, func.min(CheckIn.captured_at))
             .where(CheckIn.school_id == school_id, CheckIn.school_date >= first, CheckIn.school_date <= last,
                    counts_on_roll())
             .group_by(CheckIn.student_id, CheckIn.school_date))
    if student_ids is not None:
        query = query.where(CheckIn.student_id.in_(student_ids))
    return {(sid, day): _as_utc(at) for sid, day, at in session.execute(query)}


def _overrides(session, student_ids: Any, first: dt.date, last: dt.date,
               ) -> dict[tuple[int, dt.date], RollOverride | LeaveDay]:
    """{(student_id, day): the override of that day}: a teacher's mark of the day, else a leave request's
    ``excused`` (``attendance.leave``). Both have ``status`` and ``reason``."""
    rows = session.scalars(select(RollOverride).where(
        RollOverride.student_id.in_(student_ids), RollOverride.school_date >= first,
        RollOverride.school_date <= last))
    marks: dict[tuple[int, dt.date], RollOverride | LeaveDay] = {(row.student_id, row.school_date): row for row in rows}
    for key, leave_day in expand_leave_days(list_leaves(session, student_ids, first, last), first, last).items():
        marks.setdefault(key, leave_day)
    return marks


def roster(session, school_class: SchoolClass, first: dt.date, last: dt.date | None = None,
           ) -> list[tuple[Student, list[tuple[dt.date | None, dt.date | None]]]]:
    """The students on the class's roll on some day of ``first``..``last``, in Vietnamese roster order, each
    with their spans in the class (``(from_date, until_date)``, see ``attendance.db.history``)."""
    last = last or first
    rows = session.execute(select(Student, ClassMembership.from_date, ClassMembership.until_date)
                           .join(ClassMembership, ClassMembership.student_id == Student.id)
                           .where(ClassMembership.class_id == school_class.id, _member_during(first, last)))
    spans: dict[int, list] = {}
    students: dict[int, Student] = {}
    for student, from_date, until_date in rows:
        students[student.id] = student
        spans.setdefault(student.id, []).append((from_date, until_date))
    ordered = sorted(students.values(), key=lambda s: vietnamese_sort_key(s.full_name))
    return [(student, spans[student.id]) for student in ordered]


def compute_class_roll(session, school_class: SchoolClass, school_date: dt.date,
                       now_at: dt.datetime, *, rules: DayRules | None = None) -> list[RollEntry]:
    """The roll of ``school_class`` on ``school_date`` as seen at ``now_at`` (aware UTC), in roster order.

    Three queries after the school's rules (``rules``: the day's, when the caller already holds them): the
    roster, the class's check-ins of the day, the overrides.
    """
    school = session.get(School, school_class.school_id)
    if rules is None:
        rules = load_day_rules(session, school, school_date)
    students = [student for student, _ in roster(session, school_class, school_date)]
    ids = [s.id for s in students]
    # Every sighting of the class that day, earliest first; the first per student wins. A few rows per
    # student, and one plain indexed query is faster on both backends than a window function.
    sightings = session.execute(
        select(CheckIn.id, CheckIn.student_id, CheckIn.captured_at, CheckIn.snapshot_path, CheckIn.source,
               CheckIn.received_at, CheckIn.review_status, Camera.name)
        .join(Camera, Camera.id == CheckIn.camera_id)
        .where(CheckIn.school_id == school.id, CheckIn.school_date == school_date, CheckIn.student_id.in_(ids),
               counts_on_roll())
        .order_by(CheckIn.student_id, CheckIn.captured_at, CheckIn.id))
    firsts: dict[int, Any] = {}
    for row in sightings:
        firsts.setdefault(row.student_id, row)
    overrides = _overrides(session, ids, school_date, school_date)
    entries = []
    for student in students:
        first = firsts.get(student.id)
        override = overrides.get((student.id, school_date))
        first_seen_at = first.captured_at if first else None
        status, minutes_late = rules.judge(first_seen_at, override.status if override else None, now_at)
        received_on = school_local_date(school, first.received_at) if first else None
        entries.append(RollEntry(
            student_id=student.id, student_code=student.student_code, full_name=student.full_name,
            class_code=school_class.code, status=status, first_seen_at=first_seen_at, minutes_late=minutes_late,
            camera_name=first.name if first else None, snapshot_path=first.snapshot_path if first else None,
            checkin_id=first.id if first else None, override_reason=override.reason if override else None,
            source=first.source if first else None,
            received_on=received_on if received_on is not None and received_on > school_date else None,
            review_status=first.review_status if first else None,
            leave_id=override.leave_id if isinstance(override, LeaveDay) else None,
        ))
    return entries


def compute_school_statuses(session, school: School, school_date: dt.date, now_at: dt.datetime, *,
                            rules: DayRules | None = None) -> tuple[list[int], list[tuple[int, int, str]]]:
    """(every class id of the school, ``(student_id, class_id, status)`` of each student on a class's roll on
    ``school_date``). Five queries whatever the size of the school: rules, members, check-ins, overrides;
    the rules' two are skipped when the caller already holds the day's ``rules``."""
    if rules is None:
        rules = load_day_rules(session, school, school_date)
    rows = session.execute(
        select(SchoolClass.id, ClassMembership.student_id)
        .outerjoin(ClassMembership, and_(ClassMembership.class_id == SchoolClass.id, _member_on(school_date)))
        .where(SchoolClass.school_id == school.id)).all()
    class_ids = list(dict.fromkeys(class_id for class_id, _ in rows))
    members = {student_id: class_id for class_id, student_id in rows if student_id is not None}
    school_members = members_on(select(SchoolClass.id).where(SchoolClass.school_id == school.id),
                                school_date).with_only_columns(ClassMembership.student_id)
    firsts = _first_checkins(session, school.id, school_date, school_date)  # every one: faster than IN (...)
    overrides = {sid: row.status for (sid, _), row in
                 _overrides(session, school_members, school_date, school_date).items()}
    statuses = []
    for student_id, class_id in members.items():
        status, _ = rules.judge(firsts.get((student_id, school_date)), overrides.get(student_id), now_at)
        statuses.append((student_id, class_id, status))
    return class_ids, statuses


def compute_school_counts(session, school: School, school_date: dt.date, now_at: dt.datetime, *,
                          rules: DayRules | None = None) -> dict[int, dict[str, int]]:
    """Per class id, how many students of its roll of ``school_date`` are in each status (keys
    ``COUNTED_STATUSES`` + ``no_school``). Every class of the school appears, empty ones with zeros.
    ``rules``: the day's, when the caller already holds them."""
    class_ids, statuses = compute_school_statuses(session, school, school_date, now_at, rules=rules)
    counts = {class_id: dict.fromkeys((*COUNTED_STATUSES, "no_school"), 0) for class_id in class_ids}
    for _, class_id, status in statuses:
        counts[class_id][status] += 1
    return counts


def _month_span(year: int, month: int) -> tuple[dt.date, dt.date]:
    if not 1 <= month <= 12:
        raise InvalidInput(f"month must be 1 to 12, got {month}")
    if not 1 <= year <= 9999:
        raise InvalidInput(f"year must be 1 to 9999, got {year}")
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def compute_month_report(session, school_class: SchoolClass, year: int, month: int,
                         now_at: dt.datetime) -> list[MonthRow]:
    """Each student's days of ``year``-``month`` in the class by status, in roster order.

    Only the days a student was in the class count. Days still ``not_yet`` (the rest of the month, or today
    before the absence cutoff) are not counted, so ``school_days`` is the number of school days decided so
    far; ``no_school`` days are never counted.
    """
    first, last = _month_span(year, month)
    school = session.get(School, school_class.school_id)
    school_calendar = load_calendar(session, school, first, last)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    rules = [school_calendar.rules_on(day) for day in days]
    students = roster(session, school_class, first, last)
    ids = [student.id for student, _ in students]
    firsts = _first_checkins(session, school.id, first, last, ids)
    overrides = {key: row.status for key, row in _overrides(session, ids, first, last).items()}
    report = []
    for student, spans in students:
        tally = dict.fromkeys(STATUSES, 0)
        statuses: dict[dt.date, str | None] = {}
        for day_rule in rules:
            day = day_rule.school_date
            if not any(covers(start, until, day) for start, until in spans):
                statuses[day] = None
                continue
            key = (student.id, day)
            status, _ = day_rule.judge(firsts.get(key), overrides.get(key), now_at)
            statuses[day] = status
            tally[status] += 1
        report.append(MonthRow(
            student_id=student.id, student_code=student.student_code, full_name=student.full_name,
            class_code=school_class.code, on_time=tally["on_time"], late=tally["late"], absent=tally["absent"],
            excused=tally["excused"], present_manual=tally["present_manual"],
            school_days=sum(tally[s] for s in DECIDED_STATUSES), days=statuses,
        ))
    return report


def compute_student_month(session, student: Student, year: int, month: int,
                          now_at: dt.datetime) -> dict[dt.date, str | None]:
    """The student's status on every day of a month (``no_school`` included); None on the days they were on
    no class's roll (before they joined, after they left)."""
    first, last = _month_span(year, month)
    school = session.get(School, student.school_id)
    school_calendar = load_calendar(session, school, first, last)
    spans = session.execute(select(ClassMembership.from_date, ClassMembership.until_date).where(
        ClassMembership.student_id == student.id, _member_during(first, last))).all()
    firsts = _first_checkins(session, school.id, first, last, [student.id])
    overrides = {day: row.status for (_, day), row in _overrides(session, [student.id], first, last).items()}
    statuses: dict[dt.date, str | None] = {}
    for offset in range((last - first).days + 1):
        day = first + dt.timedelta(days=offset)
        if not any(covers(start, until, day) for start, until in spans):
            statuses[day] = None
            continue
        statuses[day] = school_calendar.rules_on(day).judge(firsts.get((student.id, day)), overrides.get(day),
                                                            now_at)[0]
    return statuses


def list_arrivals(session, school: School, school_date: dt.date, class_ids: list[int], now_at: dt.datetime, *,
                  after_id: int = 0, limit: int = 20, rules: DayRules | None = None) -> list[Arrival]:
    """The first check-in of each student of ``class_ids``' rolls on ``school_date``, with the roll's status.

    Newest arrival first; with ``after_id``, only first check-ins stored after that id, newest stored first
    (a batch an agent sends late still reaches a live page). At most ``limit``. ``rules``: the day's, when the
    caller already holds them.
    """
    if not class_ids:
        return []
    if rules is None:
        rules = load_day_rules(session, school, school_date)
    members = members_on(class_ids, school_date).subquery()
    # Each student's first counted check-in, by a window over the school's day: one scan of the day's rows.
    # (A NOT EXISTS over earlier rows reads them again per row; on a morning's fresh rows, which the planner's
    # statistics do not know yet, PostgreSQL ran it as a nested loop over the whole day: 200 ms at 300 students.)
    ranked = (select(CheckIn.id, CheckIn.student_id, CheckIn.captured_at, CheckIn.snapshot_path, CheckIn.source,
                     CheckIn.camera_id,
                     func.row_number().over(partition_by=CheckIn.student_id,
                                            order_by=(CheckIn.captured_at, CheckIn.id)).label("rank"))
              .where(CheckIn.school_id == school.id, CheckIn.school_date == school_date, counts_on_roll())
              .subquery())
    order = (ranked.c.id.desc(),) if after_id else (ranked.c.captured_at.desc(), ranked.c.id.desc())
    rows = session.execute(
        select(ranked.c.id, ranked.c.student_id, ranked.c.captured_at, ranked.c.snapshot_path, ranked.c.source,
               Student.full_name, SchoolClass.code, Camera.name)
        .join(members, members.c.student_id == ranked.c.student_id)
        .join(Student, Student.id == ranked.c.student_id)
        .join(SchoolClass, SchoolClass.id == members.c.class_id)
        .join(Camera, Camera.id == ranked.c.camera_id)
        .where(ranked.c.rank == 1, ranked.c.id > after_id)
        .order_by(*order).limit(limit)).all()
    overrides = _overrides(session, [row.student_id for row in rows], school_date, school_date)
    arrivals = []
    for row in rows:
        override = overrides.get((row.student_id, school_date))
        status, minutes_late = rules.judge(row.captured_at, override.status if override else None, now_at)
        arrivals.append(Arrival(
            checkin_id=row.id, student_id=row.student_id, full_name=row.full_name, class_code=row.code,
            first_seen_at=row.captured_at, status=status, minutes_late=minutes_late, camera_name=row.name,
            has_snapshot=bool(row.snapshot_path), source=row.source))
    return arrivals
