"""Property tests (Hypothesis) of the roll rules over dates, cutoffs and class changes.

* The first check-in decides: on time iff at or before the on-time cutoff, late (by the minutes rounded up)
  iff after it and at or before the absence cutoff, absent otherwise once the cutoff has passed; later
  sightings never change the status.
* A rule change dated D never changes any day before D (pure calendar, and through the database).
* A student is on a class's roll exactly on the days they were in it: never before joining, never after
  leaving, whatever sequence of moves, departures and returns.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attendance.checkins import record_checkins
from attendance.roll import compute_class_roll, list_arrivals
from attendance.school_rules import RuleSet, SchoolCalendar
from factories import make_camera, make_class, make_school, make_student

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
START = dt.date(2026, 9, 7)  # a Monday
DB_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

times = st.times(min_value=dt.time(4, 0), max_value=dt.time(12, 0))
cutoff_pairs = st.tuples(times, times).map(sorted)
weekday_sets = st.frozensets(st.integers(1, 7), min_size=1)
days = st.integers(0, 27).map(lambda n: START + dt.timedelta(days=n))


def local(day: dt.date, at: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=HCM).astimezone(dt.timezone.utc)


def calendar_of(rule_sets: list[RuleSet]) -> SchoolCalendar:
    school = SimpleNamespace(timezone="Asia/Ho_Chi_Minh", school_days="1,2,3,4,5", on_time_cutoff=dt.time(7),
                             absence_cutoff=dt.time(9))
    return SchoolCalendar(school, rule_sets, holidays=())


@st.composite
def rule_sets(draw) -> RuleSet:
    on_time, absent = draw(cutoff_pairs)
    return RuleSet(draw(days), draw(weekday_sets), on_time, absent)


@given(cutoffs=cutoff_pairs, weekdays=weekday_sets, day=days, sightings=st.lists(times, min_size=1, max_size=6),
       now=times)
def test_the_first_checkin_decides_on_time_late_or_absent(cutoffs, weekdays, day, sightings, now):
    rules = calendar_of([RuleSet(None, weekdays, cutoffs[0], cutoffs[1])]).rules_on(day)
    first = local(day, min(sightings))
    status, minutes = rules.judge(first, None, local(day, now))
    if day.isoweekday() not in weekdays:
        assert status == "no_school"
        return
    if first <= rules.on_time_until:
        assert (status, minutes) == ("on_time", None)
    elif first <= rules.absent_from:
        assert status == "late"
        assert minutes == math.ceil((first - rules.on_time_until).total_seconds() / 60) >= 1
    else:
        assert status in ("absent", "not_yet") and minutes is None
    assert rules.judge(first, "excused", local(day, now))[0] == "excused"  # an override always wins


@given(history=st.lists(rule_sets(), max_size=4), change=rule_sets())
def test_a_rule_change_dated_d_never_changes_a_day_before_d(history, change):
    base = [RuleSet(None, frozenset({1, 2, 3, 4, 5}), dt.time(7), dt.time(9)),
            *[r for r in history if r.effective_from != change.effective_from]]
    before, after = calendar_of(base), calendar_of([*base, change])
    for offset in range(28):
        day = START + dt.timedelta(days=offset)
        if day < change.effective_from:
            assert before.rules_on(day) == after.rules_on(day)
        elif not any(r.effective_from and change.effective_from < r.effective_from <= day for r in base):
            assert after.rule_set_on(day) == change


# --- through the database: the flush hook dates each change by the session's clock ---------------------------

_codes = itertools.count(1)
actions = st.lists(st.tuples(st.integers(0, 20), st.sampled_from(["A", "B", "leave", "return"])), max_size=5)


@DB_SETTINGS
@given(joined=st.integers(0, 5), changes=actions)
def test_a_student_is_on_a_roll_exactly_on_their_days_in_the_class(session, joined, changes):
    n = next(_codes)
    school = make_school(session, f"P{n}")
    classes = {"A": make_class(session, school, "6A1"), "B": make_class(session, school, "6A2")}
    join_day = START + dt.timedelta(days=joined)
    session.info["clock"] = lambda: local(join_day, dt.time(10))
    student = make_student(session, classes["A"], f"S{n}", joined_on=join_day)
    expected = {}  # day -> the class letter whose roll has the student
    current, active = "A", True
    timeline = [(join_day, current, active)]
    for offset, action in sorted(changes):
        day = join_day + dt.timedelta(days=offset)
        session.info["clock"] = lambda day=day: local(day, dt.time(10))
        if action in ("A", "B"):
            current = action
            student.class_id = classes[action].id
        else:
            active = action == "return"
            student.active = active
        session.flush()
        timeline.append((day, current, active))
    for offset in range(-3, 28):
        day = join_day + dt.timedelta(days=offset)
        state = [(c, a) for since, c, a in timeline if since <= day]
        expected[day] = state[-1][0] if state and state[-1][1] else None
        for letter, school_class in classes.items():
            on_roll = student.id in {e.student_id for e in compute_class_roll(session, school_class, day,
                                                                              local(day, dt.time(20)))}
            assert on_roll == (expected[day] == letter), (day, letter, timeline)


@DB_SETTINGS
@given(arrivals=st.lists(times, min_size=5, max_size=5), change_day=st.integers(1, 4), cutoffs=cutoff_pairs,
       weekdays=weekday_sets)
def test_a_settings_change_through_the_database_keeps_every_earlier_day(session, arrivals, change_day, cutoffs,
                                                                         weekdays):
    n = next(_codes)
    school = make_school(session, f"R{n}")
    klass = make_class(session, school, "6A1")
    camera, _ = make_camera(session, school, f"gate-{n}")
    student = make_student(session, klass, f"S{n}")
    week = [START + dt.timedelta(days=i) for i in range(5)]
    for i, (day, at) in enumerate(zip(week, arrivals)):
        record_checkins(session, camera, [{"event_id": f"e{i}", "seq": i, "student_code": student.student_code,
                                           "captured_at": local(day, at).isoformat()}], local(day, dt.time(12)))
    later = local(week[-1], dt.time(20))

    def statuses():
        return [next(e for e in compute_class_roll(session, klass, day, later)).status for day in week]

    before = statuses()
    change = week[change_day]
    session.info["clock"] = lambda: local(change, dt.time(5))
    school.on_time_cutoff, school.absence_cutoff = cutoffs
    school.school_days = ",".join(str(d) for d in sorted(weekdays))
    session.flush()
    assert statuses()[:change_day] == before[:change_day]


@DB_SETTINGS
@given(sightings=st.lists(st.lists(times, min_size=1, max_size=4), min_size=1, max_size=4), now=times,
       cutoffs=cutoff_pairs)
def test_the_roll_and_the_live_feed_give_each_student_the_status_of_their_first_checkin(session, sightings, now,
                                                                                         cutoffs):
    n = next(_codes)
    school = make_school(session, f"F{n}", on_time_cutoff=cutoffs[0], absence_cutoff=cutoffs[1])
    klass = make_class(session, school, "6A1")
    camera, _ = make_camera(session, school, f"gate-{n}")
    day, now_at = START, local(START, now)
    rules = calendar_of([RuleSet(None, frozenset({1, 2, 3, 4, 5}), *cutoffs)]).rules_on(day)
    expected = {}
    for i, seen in enumerate(sightings):
        student = make_student(session, klass, f"S{n}x{i}")
        for j, at in enumerate(seen):  # sent in the drawn order, not in time order
            record_checkins(session, camera, [{"event_id": f"e{i}-{j}", "seq": j, "student_code": student.student_code,
                                               "captured_at": local(day, at).isoformat()}], local(day, dt.time(12)))
        expected[student.id] = (local(day, min(seen)), rules.judge(local(day, min(seen)), None, now_at)[0])
    roll = {e.student_id: (e.first_seen_at, e.status) for e in compute_class_roll(session, klass, day, now_at)}
    feed = {a.student_id: (a.first_seen_at, a.status) for a in list_arrivals(session, school, day, [klass.id], now_at)}
    assert roll == expected == feed
