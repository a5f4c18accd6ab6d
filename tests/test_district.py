"""The district's day: one aggregate query gives every school the counts its own roll gives, and the page shows them."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from attendance.db.models import CheckIn, RollOverride
from attendance.district import compute_district_counts
from attendance.leave import create_leave
from attendance.roll import COUNTED_STATUSES, compute_school_counts, school_local_date
from factories import make_camera, make_class, make_school, make_student, make_user

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY = dt.date(2026, 9, 7)
PASSWORD = "district-pass-123"


def local(day: dt.date, hh: int, mm: int = 0, ss: int = 0, zone=HCM) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=zone).astimezone(dt.timezone.utc)


@pytest.fixture
def district(session):
    return build_district(session)


def build_district(session):
    """Three schools: Lê Lợi (every case of the rules), Bangkok-time (other cutoffs), and a holiday today."""
    ll = make_school(session, "LL", "THCS Lê Lợi")
    bkk = make_school(session, "BK", "Bangkok", timezone="Asia/Bangkok", on_time_cutoff=dt.time(7, 30),
                      absence_cutoff=dt.time(8, 15))
    off = make_school(session, "OFF", "Nghỉ", holidays=[MONDAY])
    cases = {}
    a1, a2 = make_class(session, ll, "6A1"), make_class(session, ll, "6A2")
    cam = make_camera(session, ll, "gate")[0]
    times = {"early": (5, 2), "on_time": (7, 0), "late": (7, 0, 1), "at_cutoff": (9, 0), "after": (9, 30)}
    for index, (name, hms) in enumerate(times.items()):
        student = make_student(session, a1 if index % 2 else a2, f"LL{index}", f"Học Sinh {name}")
        session.add(CheckIn(school_id=ll.id, camera_id=cam.id, student_id=student.id, event_id=f"ll{index}",
                            captured_at=local(MONDAY, *hms), school_date=MONDAY))
        session.add(CheckIn(school_id=ll.id, camera_id=cam.id, student_id=student.id, event_id=f"ll{index}b",
                            captured_at=local(MONDAY, 10), school_date=MONDAY))  # a later sighting
        cases[name] = student
    rejected = make_student(session, a1, "LL20", "Bị Từ Chối")
    session.add(CheckIn(school_id=ll.id, camera_id=cam.id, student_id=rejected.id, event_id="rej",
                        captured_at=local(MONDAY, 6, 30), school_date=MONDAY, review_status="rejected"))
    pending = make_student(session, a1, "LL21", "Chờ Xem")
    session.add(CheckIn(school_id=ll.id, camera_id=cam.id, student_id=pending.id, event_id="pend",
                        captured_at=local(MONDAY, 6, 30), school_date=MONDAY, review_status="pending"))
    make_student(session, a1, "LL22", "Không Đến")
    excused = make_student(session, a2, "LL23", "Có Phép")
    present = make_student(session, a2, "LL24", "Cô Đánh Dấu")
    on_leave = make_student(session, a2, "LL25", "Nghỉ Phép")
    both = make_student(session, a2, "LL26", "Phép Và Đánh Dấu")
    session.add_all([RollOverride(student_id=excused.id, school_date=MONDAY, status="excused", reason="ốm"),
                     RollOverride(student_id=present.id, school_date=MONDAY, status="present", reason="quên"),
                     RollOverride(student_id=both.id, school_date=MONDAY, status="present", reason="đã đến")])
    create_leave(session, on_leave, MONDAY - dt.timedelta(days=1), MONDAY + dt.timedelta(days=2), "về quê", None)
    create_leave(session, both, MONDAY, MONDAY, "về quê", None)
    yesterday = make_student(session, a2, "LL27", "Hôm Qua")
    session.add(CheckIn(school_id=ll.id, camera_id=cam.id, student_id=yesterday.id, event_id="old",
                        captured_at=local(MONDAY - dt.timedelta(days=3), 6, 30),
                        school_date=MONDAY - dt.timedelta(days=3)))
    make_class(session, ll, "9Z")  # empty
    b1 = make_class(session, bkk, "7B")
    bcam = make_camera(session, bkk, "gate")[0]
    bangkok = ZoneInfo("Asia/Bangkok")
    for index, hms in enumerate([(7, 29), (7, 31), (8, 15), (8, 16)]):
        student = make_student(session, b1, f"BK{index}", f"Bangkok {index}")
        session.add(CheckIn(school_id=bkk.id, camera_id=bcam.id, student_id=student.id, event_id=f"bk{index}",
                            captured_at=local(MONDAY, *hms, zone=bangkok), school_date=MONDAY))
    make_student(session, b1, "BK9", "Chưa Đến")
    o1 = make_class(session, off, "8C")
    make_student(session, o1, "OFF1", "Ngày Nghỉ")
    session.flush()
    return [ll, bkk, off]


def summed_school_counts(session, school, now_at):
    totals = dict.fromkeys((*COUNTED_STATUSES, "no_school"), 0)
    day = school_local_date(school, now_at)
    for class_counts in compute_school_counts(session, school, day, now_at).values():
        for status, n in class_counts.items():
            totals[status] += n
    return totals


@pytest.mark.parametrize("now_at", [local(MONDAY, 6, 50), local(MONDAY, 8, 0), local(MONDAY, 8, 20),
                                    local(MONDAY, 9, 0), local(MONDAY, 11, 0)])
def test_the_district_counts_agree_with_each_school_roll(session, district, now_at):
    days = compute_district_counts(session, district, now_at)
    assert [d.school_id for d in days] == [s.id for s in district]
    for school, day in zip(district, days):
        assert day.school_date == school_local_date(school, now_at)
        assert day.counts == summed_school_counts(session, school, now_at), school.code
    ll, bkk, off = days
    assert off.is_school_day is False and off.counts["no_school"] == 1
    if now_at == local(MONDAY, 11, 0):
        assert (ll.counts["on_time"], ll.counts["late"], ll.counts["absent"], ll.counts["excused"],
                ll.counts["present_manual"]) == (3, 2, 4, 2, 2)
        assert (bkk.counts["on_time"], bkk.counts["late"], bkk.counts["absent"]) == (1, 2, 2)


def test_the_district_counts_take_three_queries_whatever_the_number_of_schools(session, district, db):
    statements = []

    def note(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        compute_district_counts(session, district, local(MONDAY, 11, 0))
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert len(statements) == 3
    assert compute_district_counts(session, [], local(MONDAY, 11, 0)) == []


def test_the_district_page_lists_every_school_with_its_counts(app, client, db, district_world):
    client.post("/login", data={"username": "so", "password": PASSWORD})
    page = client.get("/district").get_data(as_text=True)
    assert "THCS Lê Lợi" in page and "Bangkok" in page and "Nghỉ" in page
    assert "Có phép" in page  # the excused column, in Vietnamese
    row = page.split("THCS Lê Lợi")[1].split("</tr>")[0]
    numbers = [cell.split("<")[0] for cell in row.split('<td class="num">')[1:]]
    assert numbers[:5] == ["13", "3", "2", "4", "2"]  # students, on time, late, absent, excused


@pytest.fixture
def district_world(app, db):
    app.config["CLOCK"] = lambda: local(MONDAY, 11, 0)
    with db.session() as s:
        build_district(s)
        make_user(s, "so", role="district_admin", password=PASSWORD)
