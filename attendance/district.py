"""The district's day: every school's roll counts of its own today, from one aggregate query.

A district of fifty schools has 100,000 students; computing each school's roll in turn (``roll.compute_school_
counts``, five queries and a Python pass over its students) costs seconds. Here the database counts the
students on a roll by the only things the roll's rules look at (``attendance.roll``): the teacher's mark of the
day, a leave request, and where the first counted check-in falls against the school's two cutoffs of the day.
Each group is then judged once by the same ``DayRules.judge`` the class roll uses, with a time from its
group, so the counts always agree with the school's own Today page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Date, Integer, and_, case, func, literal, or_, select, union_all

from attendance.db.models import (
    CheckIn, ClassMembership, Holiday, LeaveRequest, RollOverride, School, SchoolClass, SchoolRuleChange, UTCDateTime,
)
from attendance.roll import COUNTED_STATUSES, counts_on_roll
from attendance.school_rules import DayRules, RuleSet, SchoolCalendar, parse_weekdays, school_local_date


@dataclass(frozen=True)
class SchoolDay:
    """One school's day for the district page: its date (in its own zone), whether it is a school day, and
    how many students of its classes' rolls are in each status (keys ``COUNTED_STATUSES`` + ``no_school``)."""

    school_id: int
    school_date: dt.date
    is_school_day: bool
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Students on a roll that day."""
        return sum(self.counts.values())


def load_school_days(session, schools: list[School], now_at: dt.datetime) -> dict[int, DayRules]:
    """{school id: the rules of its today (its own zone) as they were that day}: two queries for all schools."""
    dates = {school.id: school_local_date(school, now_at) for school in schools}
    ids = list(dates)
    rule_rows = session.execute(select(SchoolRuleChange.school_id, SchoolRuleChange.effective_from,
                                       SchoolRuleChange.school_days, SchoolRuleChange.on_time_cutoff,
                                       SchoolRuleChange.absence_cutoff)
                                .where(SchoolRuleChange.school_id.in_(ids))).all() if ids else []
    rule_sets: dict[int, list[RuleSet]] = {}
    for school_id, effective_from, days, on_time, absence in rule_rows:
        rule_sets.setdefault(school_id, []).append(RuleSet(effective_from, parse_weekdays(days), on_time, absence))
    holidays: dict[int, set[dt.date]] = {}
    if ids:
        for school_id, day in session.execute(select(Holiday.school_id, Holiday.day).where(
                Holiday.school_id.in_(ids), Holiday.day.in_(set(dates.values())))):
            holidays.setdefault(school_id, set()).add(day)
    return {school.id: SchoolCalendar(school, rule_sets.get(school.id) or [RuleSet.of_school(school)],
                                      holidays.get(school.id, set())).rules_on(dates[school.id])
            for school in schools}


def compute_district_counts(session, schools: list[School], now_at: dt.datetime) -> list[SchoolDay]:
    """Each school's counts of its today as seen at ``now_at`` (aware UTC), in the order of ``schools``: the
    same numbers as summing ``roll.compute_school_counts`` over its classes, in three queries in all."""
    rules = load_school_days(session, schools, now_at)
    days = [SchoolDay(school.id, rules[school.id].school_date, rules[school.id].is_school_day,
                      dict.fromkeys((*COUNTED_STATUSES, "no_school"), 0)) for school in schools]
    if not days:
        return days
    by_school = {day.school_id: day for day in days}
    for school_id, override, on_leave, bucket, students in session.execute(_grouped_roll(rules)):
        day_rules = rules[school_id]
        # a time standing for its group: the roll's rules only ask on which side of each cutoff it is
        first_seen_at = {"on_time": day_rules.on_time_until, "late": day_rules.absent_from,
                         "after": day_rules.absent_from + dt.timedelta(seconds=1)}.get(bucket)
        status, _ = day_rules.judge(first_seen_at, override or ("excused" if on_leave else None), now_at)
        by_school[school_id].counts[status] += students
    return days


def _grouped_roll(rules: dict[int, DayRules]):
    """SELECT (school id, the day's override status, on leave, check-in bucket, students) over every school's
    rolls of its day; the bucket is ``on_time``/``late``/``after`` by the day's cutoffs, or None.

    Each part is reduced to the day before the join (the day's first check-ins, marks and leave), and the
    check-ins are found through their (school, date) index: a hash join of ~100,000 members with ~100,000
    first check-ins for a district of 100,000 students."""
    day_rows = [select(literal(school_id, Integer).label("school_id"), literal(r.school_date, Date).label("school_date"),
                       literal(r.on_time_until, UTCDateTime()).label("on_time_until"),
                       literal(r.absent_from, UTCDateTime()).label("absent_from"))
                for school_id, r in rules.items()]
    days = (union_all(*day_rows) if len(day_rows) > 1 else day_rows[0]).cte("days")
    school_ids, dates = list(rules), sorted({r.school_date for r in rules.values()})
    # no join with the days here: the morning's rows are not in the planner's statistics yet, and a join it
    # believes to be of one row becomes a nested loop over every check-in of the day
    firsts = (select(CheckIn.school_id, CheckIn.student_id, CheckIn.school_date,
                     func.min(CheckIn.captured_at).label("first_at"))
              .where(CheckIn.school_id.in_(school_ids), CheckIn.school_date.in_(dates), counts_on_roll())
              .group_by(CheckIn.school_id, CheckIn.student_id, CheckIn.school_date)).subquery("firsts")
    marks = (select(RollOverride.student_id, RollOverride.school_date, RollOverride.status)
             .where(RollOverride.school_date.in_(dates))).subquery("marks")
    leave = (select(LeaveRequest.student_id, days.c.school_date)
             .join(days, and_(days.c.school_id == LeaveRequest.school_id,
                              LeaveRequest.first_date <= days.c.school_date, LeaveRequest.last_date >= days.c.school_date))
             .where(LeaveRequest.cancelled_at.is_(None), LeaveRequest.first_date <= dates[-1],
                    LeaveRequest.last_date >= dates[0])
             .group_by(LeaveRequest.student_id, days.c.school_date)).subquery("leave")
    bucket = case((firsts.c.first_at.is_(None), None),
                  (firsts.c.first_at <= days.c.on_time_until, "on_time"),
                  (firsts.c.first_at <= days.c.absent_from, "late"), else_="after").label("bucket")
    on_leave = leave.c.student_id.is_not(None).label("on_leave")
    return (select(SchoolClass.school_id, marks.c.status, on_leave, bucket, func.count())
            .select_from(ClassMembership)
            .join(SchoolClass, SchoolClass.id == ClassMembership.class_id)
            .join(days, days.c.school_id == SchoolClass.school_id)
            .outerjoin(firsts, and_(firsts.c.school_id == SchoolClass.school_id,
                                    firsts.c.student_id == ClassMembership.student_id,
                                    firsts.c.school_date == days.c.school_date))
            .outerjoin(marks, and_(marks.c.student_id == ClassMembership.student_id,
                                   marks.c.school_date == days.c.school_date))
            .outerjoin(leave, and_(leave.c.student_id == ClassMembership.student_id,
                                   leave.c.school_date == days.c.school_date))
            .where(SchoolClass.school_id.in_(school_ids),
                   or_(ClassMembership.from_date.is_(None), ClassMembership.from_date <= days.c.school_date),
                   or_(ClassMembership.until_date.is_(None), ClassMembership.until_date > days.c.school_date))
            .group_by(SchoolClass.school_id, marks.c.status, on_leave, bucket))
