"""The roll rules with a fake clock: cutoffs in Ho Chi Minh time around midnight UTC, holidays, overrides."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from attendance.checkins import record_checkins
from attendance.db.models import AuditEntry, Holiday, RollOverride, Student
from attendance.errors import InvalidInput
from attendance.roll import (
    clear_override, compute_class_roll, compute_month_report, compute_school_counts, is_school_day,
    school_local_date, set_override,
)
from factories import make_camera, make_class, make_school, make_student, make_user

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY = dt.date(2026, 9, 7)
SATURDAY = dt.date(2026, 9, 5)


def local(day: dt.date, hh: int, mm: int = 0, ss: int = 0) -> dt.datetime:
    """An aware UTC instant for a wall-clock time in Ho Chi Minh."""
    return dt.datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=HCM).astimezone(dt.timezone.utc)


@pytest.fixture
def world(session):
    school = make_school(session, "THCS1")
    klass = make_class(session, school, "6A1")
    camera, _ = make_camera(session, school, "gate-1")
    return school, klass, camera


_seq = iter(range(1, 10**6))


def check_in(session, camera, student, at: dt.datetime) -> dict:
    n = next(_seq)
    [result] = record_checkins(session, camera, [{
        "event_id": f"e{n}", "seq": n, "student_code": student.student_code, "captured_at": at.isoformat(),
        "distance": 0.3, "margin": 0.1, "votes": 3, "model_id": "dlib_resnet_v1"}], at)
    assert result["status"] == "created", result
    return result


def status_of(session, klass, student, day, now_at):
    entry = next(e for e in compute_class_roll(session, klass, day, now_at) if e.student_id == student.id)
    return entry


def test_school_local_date_around_midnight_utc(world):
    school, _, _ = world
    assert school_local_date(school, dt.datetime(2026, 9, 6, 23, 30, tzinfo=dt.timezone.utc)) == MONDAY
    assert school_local_date(school, dt.datetime(2026, 9, 6, 16, 59, tzinfo=dt.timezone.utc)) == dt.date(2026, 9, 6)
    with pytest.raises(InvalidInput):
        school_local_date(school, dt.datetime(2026, 9, 7, 1, 0))  # noqa: DTZ001 (a naive time is refused)


def test_school_days_weekends_and_holidays(world):
    school, _, _ = world
    assert is_school_day(school, MONDAY, [])
    assert not is_school_day(school, SATURDAY, [])
    assert not is_school_day(school, MONDAY, [MONDAY])
    assert not is_school_day(school, MONDAY, [Holiday(day=MONDAY)])
    school.school_days = "1,2,3,4,5,6"
    assert is_school_day(school, SATURDAY, [])


def test_cutoffs_at_07_00_ho_chi_minh_which_is_midnight_utc(session, world):
    school, klass, camera = world
    students = [make_student(session, klass, f"S{i}") for i in range(6)]
    check_in(session, camera, students[0], local(MONDAY, 6, 59, 59))  # 23:59:59 UTC on Sunday
    check_in(session, camera, students[1], local(MONDAY, 7, 0, 0))  # 00:00:00 UTC: still on time
    check_in(session, camera, students[2], local(MONDAY, 7, 0, 1))  # one second late is a minute late
    check_in(session, camera, students[3], local(MONDAY, 7, 15))
    check_in(session, camera, students[4], local(MONDAY, 5, 0))  # before check-in opens (05:30): counts
    assert local(MONDAY, 7).isoformat() == "2026-09-07T00:00:00+00:00"
    now = local(MONDAY, 8)
    got = {e.student_code: (e.status, e.minutes_late) for e in compute_class_roll(session, klass, MONDAY, now)}
    assert got == {"S0": ("on_time", None), "S1": ("on_time", None), "S2": ("late", 1), "S3": ("late", 15),
                   "S4": ("on_time", None), "S5": ("not_yet", None)}
    entry = status_of(session, klass, students[0], MONDAY, now)
    assert entry.first_seen_at == local(MONDAY, 6, 59, 59)
    assert entry.first_seen_at.tzinfo is not None
    assert entry.camera_name == "gate-1" and entry.checkin_id is not None


def test_absent_after_the_absence_cutoff_and_not_yet_before(session, world):
    _, klass, camera = world
    student = make_student(session, klass, "S1")
    assert status_of(session, klass, student, MONDAY, local(MONDAY, 8, 59, 59)).status == "not_yet"
    assert status_of(session, klass, student, MONDAY, local(MONDAY, 9, 0)).status == "absent"
    # a future day is not yet, a past day with nothing is absent
    assert status_of(session, klass, student, MONDAY + dt.timedelta(days=1), local(MONDAY, 10)).status == "not_yet"
    assert status_of(session, klass, student, MONDAY, local(MONDAY + dt.timedelta(days=3), 6)).status == "absent"


def test_arriving_after_the_absence_cutoff_stays_absent_but_shows_the_time(session, world):
    _, klass, camera = world
    student = make_student(session, klass, "S1")
    check_in(session, camera, student, local(MONDAY, 9, 30))
    entry = status_of(session, klass, student, MONDAY, local(MONDAY, 10))
    assert (entry.status, entry.minutes_late) == ("absent", None)
    assert entry.first_seen_at == local(MONDAY, 9, 30)


def test_later_sightings_never_change_the_first_checkin(session, world):
    _, klass, camera = world
    student = make_student(session, klass, "S1")
    check_in(session, camera, student, local(MONDAY, 7, 30))  # sent first (an agent back online later)
    first = check_in(session, camera, student, local(MONDAY, 6, 45))
    check_in(session, camera, student, local(MONDAY, 7, 50))
    entry = status_of(session, klass, student, MONDAY, local(MONDAY, 12))
    assert (entry.status, entry.first_seen_at, entry.checkin_id) == ("on_time", local(MONDAY, 6, 45), first["checkin_id"])


def test_weekends_and_holidays_are_no_school(session, world):
    school, klass, camera = world
    student = make_student(session, klass, "S1")
    check_in(session, camera, student, local(SATURDAY, 7, 30))
    assert status_of(session, klass, student, SATURDAY, local(SATURDAY, 12)).status == "no_school"
    holiday = dt.date(2026, 9, 2)  # Quốc khánh, a Wednesday
    session.add(Holiday(school_id=school.id, day=holiday, name="Quốc khánh"))
    session.flush()
    assert status_of(session, klass, student, holiday, local(holiday, 12)).status == "no_school"
    counts = compute_school_counts(session, school, holiday, local(holiday, 12))
    assert counts[klass.id]["no_school"] == 1 and counts[klass.id]["absent"] == 0


def test_overrides_win_need_a_reason_and_are_audited(session, world):
    school, klass, camera = world
    teacher = make_user(session, "co_lan", school=school, classes=[klass])
    late, absent = make_student(session, klass, "S1"), make_student(session, klass, "S2")
    check_in(session, camera, late, local(MONDAY, 7, 40))
    now = local(MONDAY, 10)
    with pytest.raises(InvalidInput):
        set_override(session, absent, MONDAY, "excused", "   ", teacher.id)
    with pytest.raises(InvalidInput):
        set_override(session, absent, MONDAY, "on_time", "reason", teacher.id)
    with pytest.raises(InvalidInput):
        set_override(session, absent, SATURDAY, "excused", "ốm", teacher.id)
    set_override(session, absent, MONDAY, "excused", "ốm, mẹ gọi điện", teacher.id)
    set_override(session, late, MONDAY, "present", "xe buýt trễ", teacher.id)
    entries = {e.student_code: e for e in compute_class_roll(session, klass, MONDAY, now)}
    assert (entries["S2"].status, entries["S2"].override_reason) == ("excused", "ốm, mẹ gọi điện")
    assert (entries["S1"].status, entries["S1"].first_seen_at) == ("present_manual", local(MONDAY, 7, 40))
    # setting again replaces, clearing goes back to the camera's verdict
    set_override(session, absent, MONDAY, "present", "đến bằng cổng sau", teacher.id)
    assert session.scalar(select(RollOverride.status).where(RollOverride.student_id == absent.id)) == "present"
    assert clear_override(session, late, MONDAY, teacher.id) is True
    assert clear_override(session, late, MONDAY, teacher.id) is False
    assert status_of(session, klass, late, MONDAY, now).status == "late"
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action.like("roll.%")).order_by(AuditEntry.id)).all()
    assert [(a.action, a.actor) for a in audit] == [
        ("roll.override", "user:co_lan"), ("roll.override", "user:co_lan"), ("roll.override", "user:co_lan"),
        ("roll.override_clear", "user:co_lan")]
    assert audit[2].detail["previous"] == {"status": "excused", "reason": "ốm, mẹ gọi điện"}


def test_roster_is_in_vietnamese_order_and_skips_inactive_students(session, world):
    _, klass, _ = world
    for code, name in [("S1", "Nguyễn Văn Bình"), ("S2", "Trần Thị An"), ("S3", "Lê Văn Ánh"), ("S4", "Đỗ Văn An")]:
        make_student(session, klass, code, name)
    make_student(session, klass, "S5", "Võ Văn Ẩn", active=False)
    names = [e.full_name for e in compute_class_roll(session, klass, MONDAY, local(MONDAY, 8))]
    assert names == ["Trần Thị An", "Đỗ Văn An", "Lê Văn Ánh", "Nguyễn Văn Bình"]


def test_school_counts_use_a_few_grouped_queries(session, db, world):
    school, klass, camera = world
    other = make_class(session, school, "6A2")
    empty = make_class(session, school, "6A3")
    students = [make_student(session, klass if i % 2 else other, f"S{i}") for i in range(40)]
    for i, student in enumerate(students[:20]):
        check_in(session, camera, student, local(MONDAY, 6, 30 + i))  # 06:30 .. 06:49, then late after 07:00
    set_override(session, students[39], MONDAY, "excused", "ốm", None)
    make_student(session, school=school, code="NOCLASS")
    statements = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    counts = compute_school_counts(session, school, MONDAY, local(MONDAY, 8))
    assert len(statements) <= 6  # rules (2), members, check-ins, overrides, leave requests
    assert counts[empty.id] == dict.fromkeys(("on_time", "late", "absent", "excused", "present_manual", "not_yet",
                                              "no_school"), 0)
    assert counts[klass.id]["on_time"] + counts[other.id]["on_time"] == 20
    assert counts[klass.id]["excused"] == 1  # S39 is odd: class 6A1
    assert counts[klass.id]["not_yet"] + counts[other.id]["not_yet"] == 19
    after = compute_school_counts(session, school, MONDAY, local(MONDAY, 9))
    assert after[klass.id]["absent"] + after[other.id]["absent"] == 19


def test_month_report(session, world):
    school, klass, camera = world
    student = make_student(session, klass, "S1", "Nguyễn Văn An")
    session.add(Holiday(school_id=school.id, day=dt.date(2026, 9, 2), name="Quốc khánh"))
    session.flush()
    check_in(session, camera, student, local(dt.date(2026, 9, 1), 6, 50))  # Tue: on time
    check_in(session, camera, student, local(dt.date(2026, 9, 3), 7, 10))  # Thu: late
    check_in(session, camera, student, local(dt.date(2026, 9, 3), 6, 0))  # earlier sighting sent later
    set_override(session, student, dt.date(2026, 9, 4), "excused", "ốm", None)  # Fri
    check_in(session, camera, student, local(dt.date(2026, 9, 8), 7, 30))  # Tue: late, then marked present
    set_override(session, student, dt.date(2026, 9, 8), "present", "xe hỏng", None)
    # "now" is Wednesday 9 September at 08:00: Mon 7 absent, Wed 9 not yet decided, rest of month not yet
    [row] = compute_month_report(session, klass, 2026, 9, local(dt.date(2026, 9, 9), 8))
    assert (row.on_time, row.late, row.absent, row.excused, row.present_manual) == (2, 0, 1, 1, 1)
    assert row.school_days == 5  # 1, 3, 4, 7, 8 (2 is a holiday, 5-6 a weekend, 9 not decided yet)
    [done] = compute_month_report(session, klass, 2026, 9, local(dt.date(2026, 10, 1), 8))
    assert done.school_days == 21  # 22 weekdays in September 2026 less the holiday
    assert done.absent == 21 - 4
    with pytest.raises(InvalidInput):
        compute_month_report(session, klass, 2026, 13, local(MONDAY, 8))


def test_a_deactivated_student_stays_on_the_rolls_of_days_with_records(session, world):
    school, klass, camera = world
    leaver = make_student(session, klass, "HS900", "Trần Văn Rời")
    check_in(session, camera, leaver, local(MONDAY, 6, 40))
    tuesday = MONDAY + dt.timedelta(days=1)
    session.info["clock"] = lambda: local(tuesday, 6)  # he leaves on Tuesday morning
    leaver.active = False
    session.flush()
    evening = local(MONDAY, 20)
    assert status_of(session, klass, leaver, MONDAY, evening).status == "on_time"
    assert leaver.id not in {e.student_id for e in compute_class_roll(session, klass, tuesday, local(tuesday, 20))}
    report = {row.student_id: row for row in compute_month_report(session, klass, 2026, 9, local(tuesday, 20))}
    assert leaver.id in report


# --- history: who was in the class, and which rules held, on each day -----------------------------------------


def on_roll(session, klass, day) -> set[str]:
    return {e.student_code for e in compute_class_roll(session, klass, day, local(day, 20))}


def test_a_student_added_today_is_not_absent_on_past_days(session, world):
    school, klass, camera = world
    make_student(session, klass, "OLD")
    wednesday = dt.date(2026, 9, 23)
    session.info["clock"] = lambda: local(wednesday, 10)
    newcomer = Student(school_id=school.id, class_id=klass.id, student_code="NEW", full_name="Lê Thị Mới",
                       consent_given=True)
    session.add(newcomer)
    session.flush()
    assert on_roll(session, klass, wednesday - dt.timedelta(days=1)) == {"OLD"}
    assert on_roll(session, klass, wednesday) == {"OLD", "NEW"}
    report = {row.student_code: row for row in compute_month_report(session, klass, 2026, 9, local(dt.date(2026, 10, 1), 8))}
    assert (report["NEW"].absent, report["NEW"].school_days) == (6, 6)  # Wed 23 .. Wed 30
    assert report["OLD"].school_days == 22


def test_a_student_who_moves_class_is_on_each_roll_of_their_own_days(session, world):
    school, klass, camera = world
    other = make_class(session, school, "6A2")
    mover = make_student(session, klass, "MOVER")
    check_in(session, camera, mover, local(MONDAY, 6, 50))
    tuesday = MONDAY + dt.timedelta(days=1)
    session.info["clock"] = lambda: local(tuesday, 12)
    mover.class_id = other.id
    session.flush()
    assert "MOVER" in on_roll(session, klass, MONDAY) and "MOVER" not in on_roll(session, other, MONDAY)
    assert "MOVER" not in on_roll(session, klass, tuesday) and "MOVER" in on_roll(session, other, tuesday)
    counts = compute_school_counts(session, school, MONDAY, local(MONDAY, 20))
    assert (counts[klass.id]["on_time"], sum(counts[other.id].values())) == (1, 0)
    # moved back the same day: one membership again, as if never moved
    mover.class_id = klass.id
    session.flush()
    assert "MOVER" in on_roll(session, klass, tuesday) and "MOVER" not in on_roll(session, other, tuesday)


def test_a_change_of_cutoffs_or_school_days_applies_from_its_own_date(session, world):
    school, klass, camera = world
    student = make_student(session, klass, "S1")
    friday, saturday = MONDAY - dt.timedelta(days=3), SATURDAY
    check_in(session, camera, student, local(friday, 7, 20))
    check_in(session, camera, student, local(MONDAY, 7, 20))
    session.info["clock"] = lambda: local(MONDAY, 5)
    school.on_time_cutoff = dt.time(7, 30)
    school.school_days = "1,2,3,4,5,6"
    session.flush()
    assert status_of(session, klass, student, friday, local(MONDAY, 12)).status == "late"
    assert status_of(session, klass, student, saturday, local(MONDAY, 12)).status == "no_school"
    assert status_of(session, klass, student, MONDAY, local(MONDAY, 12)).status == "on_time"
    next_saturday = SATURDAY + dt.timedelta(days=7)
    assert status_of(session, klass, student, next_saturday, local(next_saturday, 12)).status == "absent"
    # a second change the same day replaces the first; the days before keep the original rules
    school.on_time_cutoff = dt.time(7, 10)
    session.flush()
    assert status_of(session, klass, student, MONDAY, local(MONDAY, 12)).minutes_late == 10
    assert status_of(session, klass, student, friday, local(MONDAY, 12)).minutes_late == 20


def test_a_holiday_cannot_be_changed_on_a_past_day(world):
    from attendance.school_rules import check_holiday_change

    school, _, _ = world
    check_holiday_change(school, MONDAY, local(MONDAY, 10))
    with pytest.raises(InvalidInput):
        check_holiday_change(school, MONDAY - dt.timedelta(days=1), local(MONDAY, 10))


# --- check-ins of other days from cameras ---------------------------------------------------------------------


def test_a_checkin_for_a_past_day_changes_that_roll_visibly_and_is_audited(session, world):
    _, klass, camera = world
    student = make_student(session, klass, "S1")
    tuesday = MONDAY + dt.timedelta(days=1)
    assert status_of(session, klass, student, MONDAY, local(tuesday, 6)).status == "absent"
    [result] = record_checkins(session, camera, [{
        "event_id": "late-sync", "seq": 1, "student_code": "S1", "captured_at": local(MONDAY, 6, 50).isoformat()}],
        local(tuesday, 6, 30))
    assert result["status"] == "created"
    entry = status_of(session, klass, student, MONDAY, local(tuesday, 7))
    assert (entry.status, entry.camera_name, entry.received_on, entry.source) == ("on_time", "gate-1", tuesday, "camera")
    [audit] = session.scalars(select(AuditEntry).where(AuditEntry.action == "checkin.past_day")).all()
    assert (audit.actor, audit.target, audit.detail["school_date"]) == ("camera:gate-1", "student:S1", "2026-09-07")
    # a check-in of the same day is not "late news"
    check_in(session, camera, student, local(tuesday, 6, 55))
    assert status_of(session, klass, student, tuesday, local(tuesday, 8)).received_on is None
    assert len(session.scalars(select(AuditEntry).where(AuditEntry.action == "checkin.past_day")).all()) == 1


def test_a_camera_cannot_check_a_student_in_for_a_future_day(session, world):
    _, klass, camera = world
    make_student(session, klass, "S1")
    evening = local(MONDAY, 22)
    results = record_checkins(session, camera, [
        {"event_id": "tomorrow", "seq": 1, "student_code": "S1",
         "captured_at": local(MONDAY + dt.timedelta(days=1), 6, 50).isoformat()},
        {"event_id": "tonight", "seq": 2, "student_code": "S1", "captured_at": local(MONDAY, 21, 59).isoformat()},
    ], evening)
    assert [r["status"] for r in results] == ["error", "created"]
    assert results[0]["error"]["code"] == "future_day"
