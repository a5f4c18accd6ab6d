"""A school's rules on a date: whether it is a school day and its cutoffs, from the dated rule history.

The rules of day D are those of the school's latest ``SchoolRuleChange`` dated on or before D (the school's
own columns while it has none; ``attendance.db.history`` records a change whenever they are edited), and D
is a school day when its ISO weekday is one of those rules' days and it is not a holiday. Holidays are
dated rows: one may be added or removed for today or a later day, never for a day already past, so no change
of rules ever rewrites a day before its own date.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select

from attendance.db.models import Holiday, School, SchoolRuleChange
from attendance.errors import InvalidInput
from attendance.school_day import find_zone, school_date_at

_OVERRIDE_TO_STATUS = {"excused": "excused", "present": "present_manual"}


@dataclass(frozen=True)
class RuleSet:
    """The rules a school had from ``effective_from`` (None: from the start) until its next change."""

    effective_from: dt.date | None
    weekdays: frozenset[int]
    on_time_cutoff: dt.time
    absence_cutoff: dt.time

    @classmethod
    def of_school(cls, school: School, effective_from: dt.date | None = None) -> RuleSet:
        """The rules in the school's own columns (its latest ones)."""
        return cls(effective_from, parse_weekdays(school.school_days), school.on_time_cutoff, school.absence_cutoff)


@dataclass(frozen=True)
class DayRules:
    """A school's rules for one date, as UTC instants."""

    school_date: dt.date
    is_school_day: bool
    on_time_until: dt.datetime
    absent_from: dt.datetime

    def judge(self, first_seen_at: dt.datetime | None, override: str | None,
              now_at: dt.datetime) -> tuple[str, int | None]:
        """The status and minutes late of one student from their first check-in and override (see
        ``attendance.roll``): the one place where on time, late, absent and not yet are decided."""
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


class SchoolCalendar:
    """A school's rule history and its holidays of a period: ``rules_on(day)`` for any day of it."""

    def __init__(self, school: School, rule_sets: list[RuleSet], holidays: Collection[dt.date]) -> None:
        self.zone = find_zone(school.timezone)
        self.rule_sets = sorted(rule_sets, key=lambda r: r.effective_from or dt.date.min) or [RuleSet.of_school(school)]
        self.holidays = frozenset(holidays)

    def rule_set_on(self, day: dt.date) -> RuleSet:
        """The rule set in force on ``day`` (the earliest one for a day before every dated change)."""
        chosen = self.rule_sets[0]
        for rule_set in self.rule_sets:
            if rule_set.effective_from is None or rule_set.effective_from <= day:
                chosen = rule_set
        return chosen

    def rules_on(self, day: dt.date) -> DayRules:
        rule_set = self.rule_set_on(day)

        def at(t: dt.time) -> dt.datetime:
            return dt.datetime.combine(day, t, tzinfo=self.zone).astimezone(dt.timezone.utc)

        school_day = day.isoweekday() in rule_set.weekdays and day not in self.holidays
        return DayRules(day, school_day, at(rule_set.on_time_cutoff), at(rule_set.absence_cutoff))


def parse_weekdays(text: str | None) -> frozenset[int]:
    """ISO weekdays (1 = Monday) from a list like "1,2,3,4,5"."""
    return frozenset(int(part) for part in (text or "").split(",") if part.strip().isdigit())


def school_zone(school: School) -> ZoneInfo:
    return find_zone(school.timezone)


def school_local_date(school: School, at: dt.datetime) -> dt.date:
    """The school-local date of the aware instant ``at`` (00:30 UTC is 07:30 the same day in Ho Chi Minh);
    the rule the agents apply too (``attendance.school_day``)."""
    return school_date_at(at, school.timezone)


def school_weekdays(school: School) -> frozenset[int]:
    """ISO weekdays (1 = Monday) of the school's latest rules."""
    return parse_weekdays(school.school_days)


def is_school_day(school: School, day: dt.date, holidays: Collection[dt.date] | Iterable[Holiday]) -> bool:
    """True when ``day`` is one of the school's latest weekdays and not in ``holidays`` (dates or Holiday
    rows). For a past day use ``load_day_rules``, which follows the rule history."""
    days = {h if isinstance(h, dt.date) else h.day for h in holidays}
    return day.isoweekday() in school_weekdays(school) and day not in days


def holidays_between(session, school: School, first: dt.date, last: dt.date) -> set[dt.date]:
    """The school's holidays from ``first`` to ``last`` inclusive."""
    return set(session.scalars(select(Holiday.day).where(
        Holiday.school_id == school.id, Holiday.day >= first, Holiday.day <= last)))


def load_rule_sets(session, school: School) -> list[RuleSet]:
    """The school's rule history, oldest first (its own columns when it has none)."""
    rows = session.execute(select(SchoolRuleChange.effective_from, SchoolRuleChange.school_days,
                                  SchoolRuleChange.on_time_cutoff, SchoolRuleChange.absence_cutoff)
                           .where(SchoolRuleChange.school_id == school.id)).all()
    if not rows:
        return [RuleSet.of_school(school)]
    return [RuleSet(row[0], parse_weekdays(row[1]), row[2], row[3]) for row in rows]


def load_calendar(session, school: School, first: dt.date, last: dt.date) -> SchoolCalendar:
    """The school's rules for the days ``first``..``last`` (two queries: rule history and holidays)."""
    return SchoolCalendar(school, load_rule_sets(session, school), holidays_between(session, school, first, last))


def load_day_rules(session, school: School, school_date: dt.date) -> DayRules:
    """The rules of ``school`` on ``school_date``, as they were that day."""
    return load_calendar(session, school, school_date, school_date).rules_on(school_date)


def check_holiday_change(school: School, day: dt.date, now_at: dt.datetime) -> None:
    """InvalidInput when ``day`` is before the school's today: a past roll is never rewritten (mark the
    students excused instead)."""
    if day < school_local_date(school, now_at):
        raise InvalidInput(f"{day.isoformat()} is past: a holiday can be added or removed only for today or "
                           "a later day (mark the students excused instead)")
