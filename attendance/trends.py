"""Attendance trends: per school day of a month, how many of a class (or the whole school) came on time,
late, or were absent, from the roll's one rule (``attendance.roll.compute_school_statuses``).

A rate is a share of the day's decided statuses (on time, late, present by hand, excused, absent); days that
are not school days, and days not decided yet (``not_yet``: today before the absence cutoff, the future),
are left out.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

from attendance.db.models import School
from attendance.errors import InvalidInput
from attendance.roll import DECIDED_STATUSES, compute_school_statuses, load_calendar, school_local_date

TREND_STATUSES = ("on_time", "late", "present_manual", "excused", "absent")  # bottom to top in the chart


@dataclass
class DayCounts:
    """One school day's decided statuses (``counts`` by status) of the class or school."""

    school_date: dt.date
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TREND_STATUSES, 0))

    @property
    def decided(self) -> int:
        return sum(self.counts.values())

    def rate(self, status: str) -> float:
        """The share of ``status`` among the day's decided statuses, 0.0-1.0 (0.0 for an empty day)."""
        return self.counts[status] / self.decided if self.decided else 0.0


@dataclass
class MonthTrend:
    """A month of days for one school (``class_id`` None) or one class, and the month's totals per class."""

    year: int
    month: int
    days: list[DayCounts]
    by_class: dict[int, dict[str, int]]

    def totals(self) -> DayCounts:
        """The whole month's counts (its ``school_date`` is the first of the month)."""
        total = DayCounts(dt.date(self.year, self.month, 1))
        for day in self.days:
            for status, n in day.counts.items():
                total.counts[status] += n
        return total


def compute_month_trend(session, school: School, year: int, month: int, now_at: dt.datetime, *,
                        class_id: int | None = None) -> MonthTrend:
    """The decided statuses of each school day of ``year``-``month`` of ``school`` (or of its class
    ``class_id``), as seen at ``now_at`` (aware UTC). Two queries for the month's rules, then four per school
    day (about 90 for a month)."""
    if not (1 <= month <= 12 and 1 <= year <= 9999):
        raise InvalidInput(f"no month {year}-{month}")
    first = dt.date(year, month, 1)
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    today = school_local_date(school, now_at)
    school_calendar = load_calendar(session, school, first, last)
    days: list[DayCounts] = []
    by_class: dict[int, dict[str, int]] = {}
    day = first
    while day <= last:
        rules = school_calendar.rules_on(day)
        if rules.is_school_day and day <= today:
            counts = DayCounts(day)
            _, statuses = compute_school_statuses(session, school, day, now_at, rules=rules)
            for _, member_class, status in statuses:
                if status not in DECIDED_STATUSES or (class_id is not None and member_class != class_id):
                    continue
                counts.counts[status] += 1
                tally = by_class.setdefault(member_class, dict.fromkeys(TREND_STATUSES, 0))
                tally[status] += 1
            if counts.decided:
                days.append(counts)
        day += dt.timedelta(days=1)
    return MonthTrend(year, month, days, by_class)
