"""Leave requests through the roll's one rule, the change counter, and who cannot be recognised yet."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from attendance.db.changes import read_version
from attendance.db.models import AuditEntry, CheckIn, EnrollmentPhoto
from attendance.errors import InvalidInput, NotFound
from attendance.leave import cancel_leave, create_leave
from attendance.readiness import MANUAL_RUN_DAYS, list_unrecognisable
from attendance.roll import (
    clear_override, compute_class_roll, compute_month_report, compute_school_counts, compute_student_month,
    set_override,
)
from factories import make_camera, make_class, make_school, make_student

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY = dt.date(2026, 9, 7)
MODEL = "dlib_resnet_v1"


def local(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=HCM).astimezone(dt.timezone.utc)


@pytest.fixture
def world(session):
    school = make_school(session, "THCS1")
    klass = make_class(session, school, "6A1")
    camera, _ = make_camera(session, school, "gate-1")
    return school, klass, camera


def status(session, klass, student, day, now_at):
    return next(e for e in compute_class_roll(session, klass, day, now_at) if e.student_id == student.id)


def test_a_leave_excuses_the_school_days_of_its_range_and_a_days_mark_wins(session, world):
    school, klass, camera = world
    an = make_student(session, klass, "HS1", "Nguyễn Văn An")
    leave = create_leave(session, an, MONDAY, MONDAY + dt.timedelta(days=6), "Về quê dự đám cưới", None)
    later = local(MONDAY + dt.timedelta(days=7), 10)
    entry = status(session, klass, an, MONDAY, later)
    assert entry.status == "excused" and entry.leave_id == leave.id and entry.override_reason == "Về quê dự đám cưới"
    # the week: five school days excused, the weekend stays no school
    days = compute_student_month(session, an, 2026, 9, later)
    assert [days[MONDAY + dt.timedelta(days=i)] for i in range(7)] == ["excused"] * 5 + ["no_school"] * 2
    assert days[MONDAY + dt.timedelta(days=7)] == "absent"  # the next Monday: back, and not seen
    [row] = compute_month_report(session, klass, 2026, 9, later)
    assert row.excused == 5 and row.days[MONDAY] == "excused"
    counts = compute_school_counts(session, school, MONDAY, later)
    assert counts[klass.id]["excused"] == 1
    # a teacher's mark of one of those days wins (the student came after all)
    set_override(session, an, MONDAY + dt.timedelta(days=1), "present", "đi học lại sớm", None)
    entry = status(session, klass, an, MONDAY + dt.timedelta(days=1), later)
    assert entry.status == "present_manual" and entry.leave_id is None
    clear_override(session, an, MONDAY + dt.timedelta(days=1), None)
    assert status(session, klass, an, MONDAY + dt.timedelta(days=1), later).status == "excused"


def test_a_cancelled_leave_excuses_nobody_and_both_are_audited(session, world):
    school, klass, camera = world
    an = make_student(session, klass, "HS1")
    leave = create_leave(session, an, MONDAY, MONDAY, "ốm", None)
    cancel_leave(session, leave.id, None, school_id=school.id)
    assert status(session, klass, an, MONDAY, local(MONDAY, 10)).status == "absent"
    actions = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-2:] == ["leave.create", "leave.cancel"]
    with pytest.raises(InvalidInput):
        cancel_leave(session, leave.id, None)
    with pytest.raises(NotFound):
        cancel_leave(session, leave.id, None, school_id=school.id + 1)


@pytest.mark.parametrize("first, last, reason", [
    (MONDAY, MONDAY - dt.timedelta(days=1), "ốm"), (MONDAY, MONDAY, "  "),
    (MONDAY, MONDAY + dt.timedelta(days=400), "du học"), (MONDAY, MONDAY, "x" * 501)])
def test_a_leave_needs_a_reason_and_a_sane_range(session, world, first, last, reason):
    _, klass, _ = world
    with pytest.raises(InvalidInput):
        create_leave(session, make_student(session, klass), first, last, reason, None)


def test_the_change_counter_counts_checkins_marks_and_leaves(session, world):
    school, klass, camera = world
    an = make_student(session, klass, "HS1")
    before = read_version(session, school.id)
    session.add(CheckIn(school_id=school.id, camera_id=camera.id, student_id=an.id, event_id="x1",
                        captured_at=local(MONDAY, 6, 50), school_date=MONDAY))
    session.flush()
    assert read_version(session, school.id) == before + 1
    set_override(session, an, MONDAY, "excused", "ốm", None)
    assert read_version(session, school.id) == before + 2
    leave = create_leave(session, an, MONDAY, MONDAY, "ốm", None)
    cancel_leave(session, leave.id, None)
    assert read_version(session, school.id) == before + 4
    other = make_school(session, "THCS2")
    assert read_version(session, other.id) == 0  # another school's pages stay quiet


def test_who_cannot_be_recognised_and_why(session, world):
    school, klass, camera = world
    ready = make_student(session, klass, "HS1", "Nguyễn Văn An", templates=2)
    no_consent = make_student(session, klass, "HS2", "Trần Thị Bình", templates=1, consent=False)
    no_photo = make_student(session, klass, "HS3", "Lê Văn Cường")
    other_model = make_student(session, klass, "HS4", "Phạm Thị Dung", templates=1, model_id="arcface_r100")
    photo_only = make_student(session, klass, "HS5", "Võ Văn Em")
    session.add(EnrollmentPhoto(student_id=photo_only.id, sha256="0" * 64))
    make_student(session, klass, "HS6", "Inactive", active=False)
    session.flush()
    found = {u.student_code: u.reasons for u in list_unrecognisable(session, school.id, MONDAY, MODEL)}
    assert found == {"HS2": ("no_consent",), "HS3": ("no_photo",), "HS4": ("no_template",),
                     "HS5": ("no_template",)}
    assert ready.id and no_consent.id and no_photo.id and other_model.id
    # with no model installed, a template of any model counts
    found = {u.student_code for u in list_unrecognisable(session, school.id, MONDAY, None)}
    assert found == {"HS2", "HS3", "HS5"}
    other_class = make_class(session, school, "6A2")
    assert list_unrecognisable(session, school.id, MONDAY, MODEL, class_ids=[other_class.id]) == []


def test_marked_present_by_hand_days_running_while_the_cameras_work(session, world):
    school, klass, camera = world
    missed = make_student(session, klass, "HS1", "Nguyễn Văn An", templates=1)
    seen = make_student(session, klass, "HS2", "Trần Thị Bình", templates=1)
    days = [MONDAY + dt.timedelta(days=i) for i in range(4)]  # Monday to Thursday
    for n, day in enumerate(days):
        session.add(CheckIn(school_id=school.id, camera_id=camera.id, student_id=seen.id, event_id=f"s{n}",
                            captured_at=local(day, 6, 50), school_date=day))
        if n >= 4 - MANUAL_RUN_DAYS:
            set_override(session, missed, day, "present", "camera không nhận", None)
    session.flush()
    thursday = days[-1]
    [found] = list_unrecognisable(session, school.id, thursday, MODEL)
    assert found.student_code == "HS1" and found.reasons == ("marked_by_hand",) and found.manual_days == MANUAL_RUN_DAYS
    # today not marked yet: the run ending yesterday still counts; a gap breaks it
    friday = thursday + dt.timedelta(days=1)
    session.add(CheckIn(school_id=school.id, camera_id=camera.id, student_id=seen.id, event_id="s9",
                        captured_at=local(friday, 6, 50), school_date=friday))
    session.flush()
    assert [u.student_code for u in list_unrecognisable(session, school.id, friday, MODEL)] == ["HS1"]
    clear_override(session, missed, days[2], None)
    assert list_unrecognisable(session, school.id, friday, MODEL) == []
