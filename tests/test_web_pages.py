"""The dashboard's pages: what each role sees, the override flow, exports, the live feed, deletion, admin."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from attendance.db.models import (
    AuditEntry, Camera, CheckIn, EnrollmentPhoto, FaceTemplate, RollOverride, School, SchoolClass, Student,
    Holiday, UnknownFace, User,
)
from attendance.errors import PhotoRejected
from factories import make_camera, make_class, make_school, make_student, make_user

PASSWORD = "correct horse battery"
NOW = dt.datetime(2026, 3, 9, 2, 30, tzinfo=dt.timezone.utc)  # Monday 09:30 in Ho Chi Minh: the roll is decided
TODAY = NOW.date()
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32 + b"\xff\xd9"


def local(hour: int, minute: int) -> dt.datetime:
    """An aware UTC instant for HH:MM on TODAY in Ho Chi Minh (UTC+7)."""
    return dt.datetime(2026, 3, 9, hour, minute, tzinfo=dt.timezone(dt.timedelta(hours=7))).astimezone(dt.timezone.utc)


@pytest.fixture
def world(app, db):
    """School LL: class 6A1 (teacher "lan") with An (on time, snapshot), Bình (late), Cường (absent); class 6A2."""
    app.config["CLOCK"] = lambda: NOW
    instance = Path(app.instance_path)
    (instance / "snapshots").mkdir(parents=True, exist_ok=True)
    with db.session() as s:
        school = make_school(s, "LL", "THCS Lê Lợi")
        a1, a2 = make_class(s, school, "6A1", grade=6), make_class(s, school, "6A2", grade=6)
        cuong = make_student(s, a1, "HS003", "Lê Văn Cường")
        binh = make_student(s, a1, "HS002", "Trần Thị Bình")
        an = make_student(s, a1, "HS001", "Nguyễn Văn An", templates=2)
        dung = make_student(s, a2, "HS004", "Phạm Thị Dung")
        make_user(s, "admin", school=school, role="school_admin", password=PASSWORD)
        make_user(s, "lan", school=school, password=PASSWORD, classes=[a1], full_name="Nguyễn Thị Lan")
        make_user(s, "mai", school=school, password=PASSWORD, classes=[a2])
        camera, _ = make_camera(s, school, "cong-chinh")
        (instance / "snapshots" / "an.jpg").write_bytes(JPEG)
        checkins = [
            CheckIn(school_id=school.id, camera_id=camera.id, student_id=an.id, event_id="e1", captured_at=local(6, 41),
                    school_date=TODAY, snapshot_path="snapshots/an.jpg"),
            CheckIn(school_id=school.id, camera_id=camera.id, student_id=binh.id, event_id="e2",
                    captured_at=local(7, 12), school_date=TODAY),
            CheckIn(school_id=school.id, camera_id=camera.id, student_id=dung.id, event_id="e3",
                    captured_at=local(6, 50), school_date=TODAY),
        ]
        s.add_all(checkins)
        s.flush()
        ids = {"school": school.id, "a1": a1.id, "a2": a2.id, "an": an.id, "binh": binh.id, "cuong": cuong.id,
               "dung": dung.id, "camera": camera.id, "checkin_an": checkins[0].id}
    return ids


def login(client, username):
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def admin(client, world):
    return login(client, "admin")


@pytest.fixture
def teacher(client, world):
    return login(client, "lan")


# --- Today and the live feed -------------------------------------------------------------------------------


def test_today_shows_counts_per_class_and_the_latest_checkins(admin, world):
    page = admin.get("/today").get_data(as_text=True)
    assert "09/03/2026" in page
    assert "6A1" in page and "6A2" in page
    assert "Nguyễn Văn An" in page and "06:41" in page
    assert f"/media/checkin/{world['checkin_an']}.jpg" in page
    counts = admin.get("/today/counts").get_data(as_text=True)
    assert "2/3" in counts  # 6A1: An and Bình are in, of three
    assert "1/1" in counts


def test_new_checkins_of_the_users_classes_as_json(app, teacher, world, db):
    body = teacher.get("/today/checkins?after=0").get_json()
    names = [item["name"] for item in body["items"]]
    assert names == ["Nguyễn Văn An", "Trần Thị Bình"]  # oldest stored first, for the page to prepend
    assert "Phạm Thị Dung" not in names  # another teacher's class
    last = body["last_id"]
    assert teacher.get(f"/today/checkins?after={last}").get_json()["items"] == []
    with db.session() as s:
        s.add(CheckIn(school_id=world["school"], camera_id=world["camera"], student_id=world["cuong"], event_id="e9",
                      captured_at=local(9, 20), school_date=TODAY))
    items = teacher.get(f"/today/checkins?after={last}").get_json()["items"]
    assert [i["name"] for i in items] == ["Lê Văn Cường"]
    # 09:20 is after the absence cutoff (09:00): the roll says absent, and so does the feed
    assert items[0]["status"] == "absent"


def test_live_poll_answers_304_until_the_school_changes(app, teacher, world, db):
    first = teacher.get("/live")
    etag = first.get_json()["etag"]
    assert first.status_code == 200 and first.headers["ETag"] == etag
    assert teacher.get("/live", headers={"If-None-Match": etag}).status_code == 304
    with db.session() as s:  # a check-in stored by any process bumps the school's counter
        s.add(CheckIn(school_id=world["school"], camera_id=world["camera"], student_id=world["cuong"], event_id="e9",
                      captured_at=local(8, 20), school_date=TODAY))
    changed = teacher.get("/live", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["etag"] != etag
    etag = changed.get_json()["etag"]
    teacher.post(f"/classes/{world['a1']}/override", data={"student_id": world["binh"], "date": TODAY.isoformat(),
                                                          "action": "excused", "reason": "ốm"})
    assert teacher.get("/live", headers={"If-None-Match": etag}).status_code == 200  # an override too


def test_live_poll_changes_when_a_cutoff_passes_and_is_one_cheap_read(app, teacher, world, db):
    from sqlalchemy import event

    app.config["CLOCK"] = lambda: local(8, 59)
    etag = teacher.get("/live").get_json()["etag"]
    statements = []
    listener = lambda *a: statements.append(a[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert teacher.get("/live", headers={"If-None-Match": etag}).status_code == 304
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(statements) <= 3 and any("school_changes" in sql for sql in statements)  # user, school, counter
    app.config["CLOCK"] = lambda: local(9, 1)  # not yet in turns absent: the pages must refresh
    assert teacher.get("/live", headers={"If-None-Match": etag}).status_code == 200


def test_a_class_roll_polls_its_own_class_only(app, teacher, world, db):
    page = teacher.get(f"/classes/{world['a1']}").get_data(as_text=True)
    assert f'data-poll-url="/live?class={world["a1"]}"' in page
    etag = page.split('data-etag="', 1)[1].split('"', 1)[0].replace("&#34;", '"')
    url = f"/live?class={world['a1']}"
    assert teacher.get(url, headers={"If-None-Match": etag}).status_code == 304
    with db.session() as s:  # a check-in of another class: the school changes, this roll does not
        s.add(CheckIn(school_id=world["school"], camera_id=world["camera"], student_id=world["dung"], event_id="e8",
                      captured_at=local(8, 10), school_date=TODAY))
    assert teacher.get(url, headers={"If-None-Match": etag}).status_code == 304
    with db.session() as s:
        s.add(CheckIn(school_id=world["school"], camera_id=world["camera"], student_id=world["cuong"], event_id="e9",
                      captured_at=local(8, 20), school_date=TODAY))
    assert teacher.get(url, headers={"If-None-Match": etag}).status_code == 200
    assert teacher.get(f"/live?class={world['a2']}").status_code == 403  # not Lan's class: the ordinary answer
    assert teacher.get("/live?class=999").status_code == 404


def test_a_checkin_through_the_agent_api_bumps_the_counter(app, client, world, db):
    from attendance.db.changes import read_version

    with db.session() as s:
        _, token = make_camera(s, s.get(School, world["school"]), "cong-phu")
        before = read_version(s, world["school"])
    response = client.post("/api/v1/checkins", headers={"Authorization": f"Bearer {token}"}, json={"events": [
        {"event_id": "api-1", "seq": 0, "student_code": "HS003", "captured_at": local(8, 0).isoformat()}]})
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    assert response.get_json()["results"][0]["status"] == "created", response.get_data(as_text=True)
    with db.session() as s:
        assert read_version(s, world["school"]) == before + 1
        assert read_version(s, world["school"], world["a1"]) >= 1  # Cường's class too


def test_the_feed_shows_each_students_first_checkin_with_the_rolls_status(app, admin, world, db):
    with db.session() as s:
        s.add_all([CheckIn(school_id=world["school"], camera_id=world["camera"], student_id=world["an"],
                           event_id="e7", captured_at=local(7, 30), school_date=TODAY),
                   CheckIn(school_id=world["school"], camera_id=world["camera"], student_id=world["cuong"],
                           event_id="e8", captured_at=local(9, 20), school_date=TODAY)])
    page = admin.get("/today").get_data(as_text=True)
    feed = page[page.index('id="feed"'):]
    assert feed.count("Nguyễn Văn An") == 1 and "06:41" in feed and "07:30" not in feed  # one line, the first
    cuong = feed[feed.index("Lê Văn Cường"):]
    assert 'badge absent' in cuong[:400] and "09:20" in cuong[:400]  # after the cutoff: absent, as on the roll
    roll = admin.get(f"/classes/{world['a1']}").get_data(as_text=True)
    assert roll.count("badge absent") >= 1
    items = admin.get("/today/checkins?after=0").get_json()["items"]
    assert [i["name"] for i in items].count("Nguyễn Văn An") == 1 and "late" in [i["status"] for i in items]


def test_snapshots_are_served_only_to_who_may_see_them(app, client, world, db):
    login(client, "lan")
    response = client.get(f"/media/checkin/{world['checkin_an']}.jpg")
    assert response.status_code == 200 and response.data == JPEG
    assert response.mimetype == "image/jpeg" and "no-store" in response.headers["Cache-Control"]
    with db.session() as s:
        s.get(CheckIn, world["checkin_an"]).snapshot_path = "../attendance.db"
    assert client.get(f"/media/checkin/{world['checkin_an']}.jpg").status_code == 404
    other = login(app.test_client(), "mai")
    assert other.get(f"/media/checkin/{world['checkin_an']}.jpg").status_code == 403


# --- the class roll ------------------------------------------------------------------------------------------


def test_class_roll_in_vietnamese_order_with_status_time_and_camera(teacher, world):
    page = teacher.get(f"/classes/{world['a1']}?order=name").get_data(as_text=True)
    order = [page.index(name) for name in ("Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường")]
    assert order == sorted(order)  # An, Bình, Cường: by given name
    assert "Đúng giờ" in page and "Đi trễ" in page and "Vắng" in page
    assert "06:41" in page and "07:12" in page and "trễ 12 phút" in page and "cong-chinh" in page


def roll_names(page: str) -> list[str]:
    """The student codes of a roll page's rows, top to bottom."""
    import re

    return re.findall(r'<tr id="s\d+" data-student="([^"]+)"', page)


def test_class_roll_puts_not_yet_in_and_absent_first_with_every_count(app, teacher, world):
    page = teacher.get(f"/classes/{world['a1']}").get_data(as_text=True)
    assert roll_names(page) == ["HS003", "HS001", "HS002"]  # Cường (absent), then An, Bình by name
    assert 'data-order="status"' in page and 'aria-current="true" data-order="status"' in page
    counts = page[page.index('id="roll-counts"'):page.index("</div>\n", page.index('id="roll-counts"') + 400)]
    for label in ("Chưa đến", "Vắng", "Đúng giờ", "Đi trễ", "Có phép"):
        assert label in counts
    app.config["CLOCK"] = lambda: local(7, 5)  # before the absence cutoff: Cường is not yet in
    page = teacher.get(f"/classes/{world['a1']}").get_data(as_text=True)
    assert roll_names(page)[0] == "HS003" and "badge not_yet" in page
    page = teacher.get(f"/classes/{world['a1']}?order=name").get_data(as_text=True)
    assert roll_names(page) == ["HS001", "HS002", "HS003"]
    assert 'aria-current="true" data-order="name"' in page
    assert "order=name" in page[page.index('aria-label="Ngày trước"') - 300:]  # the day links keep the order


def test_a_saved_mark_opens_at_its_row_with_the_message_beside_it(teacher, world, db):
    response = teacher.post(f"/classes/{world['a1']}/override", data={
        "student_id": world["cuong"], "date": TODAY.isoformat(), "action": "excused", "quick": "sick",
        "reason": "sốt", "order": "status"})
    location = response.headers["Location"]
    assert location.endswith(f"#s{world['cuong']}") and f"saved={world['cuong']}" in location
    page = teacher.get(location.split("#")[0]).get_data(as_text=True)
    row_at = page.index(f'<tr id="s{world["cuong"]}"')
    flash_at = page.index('class="rowflash"')
    assert row_at < flash_at and page.index("</tr>", row_at) < flash_at < row_at + 9000
    assert "Đã ghi nhận Lê Văn Cường" in page[flash_at:flash_at + 400]
    assert 'class="flashes"' not in page  # not at the top, where a phone would not show it
    with db.session() as s:
        assert s.scalar(select(RollOverride.reason)) == "Ốm: sốt"  # quick reason, then the details


def test_a_quick_reason_alone_is_enough_and_other_needs_details(teacher, world, db):
    url = f"/classes/{world['a1']}/override"
    teacher.post(url, data={"student_id": world["cuong"], "date": TODAY.isoformat(), "action": "excused",
                            "quick": "school_activity", "reason": ""})
    with db.session() as s:
        assert s.scalar(select(RollOverride.reason)) == "Hoạt động của trường"
    response = teacher.post(url, data={"student_id": world["binh"], "date": TODAY.isoformat(), "action": "excused",
                                       "quick": "other", "reason": " "})
    page = teacher.get(response.headers["Location"].split("#")[0]).get_data(as_text=True)
    flash_at = page.index('class="rowflash"')
    assert "flash error" in page[flash_at:flash_at + 300]
    assert page.index(f'<tr id="s{world["binh"]}"') < flash_at
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RollOverride)) == 1


def test_class_roll_of_another_day_and_a_weekend(teacher, world):
    page = teacher.get(f"/classes/{world['a1']}?date=2026-03-06").get_data(as_text=True)
    assert "06/03/2026" in page and "06:41" not in page
    page = teacher.get(f"/classes/{world['a1']}?date=07/03/2026").get_data(as_text=True)
    assert "không phải ngày học" in page and "Ghi nhận…" not in page


def test_override_flow_is_audited_and_shown(teacher, world, db):
    url = f"/classes/{world['a1']}/override"
    response = teacher.post(url, data={"student_id": world["cuong"], "date": TODAY.isoformat(), "action": "excused",
                                       "reason": "Ốm, phụ huynh xin phép"})
    assert response.status_code == 302
    page = teacher.get(response.headers["Location"]).get_data(as_text=True)
    assert "Có phép" in page and "Ốm, phụ huynh xin phép" in page and "Đã ghi nhận Lê Văn Cường" in page
    with db.session() as s:
        override = s.scalar(select(RollOverride))
        assert (override.status, override.student_id) == ("excused", world["cuong"])
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "roll.override"))
        assert entry.actor == "user:lan" and entry.detail["reason"] == "Ốm, phụ huynh xin phép"
    teacher.post(url, data={"student_id": world["cuong"], "date": TODAY.isoformat(), "action": "clear"})
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RollOverride)) == 0
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "roll.override_clear")) is not None


def test_override_needs_a_reason_and_a_student_of_the_class(teacher, world, db):
    url = f"/classes/{world['a1']}/override"
    response = teacher.post(url, data={"student_id": world["cuong"], "date": TODAY.isoformat(),
                                       "action": "excused", "reason": "  "},
                            headers={"Referer": f"http://localhost/classes/{world['a1']}"})
    assert response.status_code == 302
    page = teacher.get(response.headers["Location"]).get_data(as_text=True)
    assert "Dữ liệu nhập không hợp lệ" in page
    assert teacher.post(url, data={"student_id": world["dung"], "action": "present", "reason": "x"}).status_code == 403
    future = (TODAY + dt.timedelta(days=1)).isoformat()
    teacher.post(url, data={"student_id": world["cuong"], "date": future, "action": "present", "reason": "x"})
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RollOverride)) == 0


def test_roll_csv_has_a_bom_and_the_days_roll(teacher, world):
    response = teacher.get(f"/classes/{world['a1']}/roll.csv?date={TODAY.isoformat()}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("STT,Mã học sinh,Họ và tên")
    assert lines[1].startswith("1,HS001,Nguyễn Văn An,6A1,09/03/2026,Đúng giờ,06:41")
    assert lines[2].startswith("2,HS002,Trần Thị Bình,6A1,09/03/2026,Đi trễ,07:12,12")


def test_roll_xlsx_reads_back(teacher, world):
    teacher.post(f"/classes/{world['a1']}/override", data={
        "student_id": world["cuong"], "date": TODAY.isoformat(), "action": "excused", "reason": "=1+1 ốm"})
    response = teacher.get(f"/classes/{world['a1']}/roll.xlsx?date={TODAY.isoformat()}")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert "THCS Lê Lợi" in rows[0][0]
    assert rows[1][:3] == ["STT", "Mã học sinh", "Họ và tên"]
    assert rows[2][:7] == [1, "HS001", "Nguyễn Văn An", "6A1", "09/03/2026", "Đúng giờ", "06:41"]
    assert rows[4][2] == "Lê Văn Cường" and rows[4][5] == "Có phép" and rows[4][9] == "'=1+1 ốm"  # no formula


def test_a_school_name_that_looks_like_a_formula_exports_as_text(teacher, world, db):
    with db.session() as s:
        s.get(School, world["school"]).name = '=HYPERLINK("http://evil.example","Xem")'
    for url in (f"/classes/{world['a1']}/roll.xlsx", f"/classes/{world['a1']}/report.xlsx?month=2026-03"):
        sheet = load_workbook(io.BytesIO(teacher.get(url).data)).active
        heading = sheet.cell(row=1, column=1)
        assert heading.data_type == "s" and heading.value.startswith("'=HYPERLINK"), url


def test_english_exports(teacher, world):
    teacher.post("/language", data={"language": "en"})
    lines = teacher.get(f"/classes/{world['a1']}/roll.csv").data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("No.,Student code,Full name") and ",On time," in lines[1]


# --- reports and the student page ------------------------------------------------------------------------------


def test_month_report_and_its_exports(teacher, world):
    page = teacher.get(f"/classes/{world['a1']}/report?month=2026-03").get_data(as_text=True)
    assert "03/2026" in page and "Nguyễn Văn An" in page
    csv_lines = teacher.get(f"/classes/{world['a1']}/report.csv?month=2026-03").data
    assert csv_lines.startswith(b"\xef\xbb\xbf")
    lines = csv_lines.decode("utf-8-sig").splitlines()
    assert lines[1].split(",")[:5] == ["1", "HS001", "Nguyễn Văn An", "6A1", "1"]
    sheet = load_workbook(io.BytesIO(teacher.get(f"/classes/{world['a1']}/report.xlsx?month=2026-03").data)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = rows[1]
    an = dict(zip(header, rows[2]))
    binh = dict(zip(header, rows[3]))
    cuong = dict(zip(header, rows[4]))
    # 2-6 March had no check-ins at all: five absences each before Monday 9 March
    assert (an["Đúng giờ"], an["Vắng"], binh["Đi trễ"], cuong["Vắng"], an["Ngày học"]) == (1, 5, 1, 6, 6)
    assert an["Tỉ lệ chuyên cần (%)"] == 16.7 and cuong["Tỉ lệ chuyên cần (%)"] == 0


def test_reports_page_lists_the_users_classes(teacher, world):
    page = teacher.get("/reports").get_data(as_text=True)
    assert "6A1" in page and "6A2" not in page
    response = teacher.get(f"/reports?class_id={world['a1']}&month=2026-03")
    assert response.headers["Location"].endswith(f"/classes/{world['a1']}/report?month=2026-03")


def test_student_page_has_a_calendar_rate_photos_and_templates(app, teacher, world, db):
    photo_path = Path(app.instance_path) / "photos" / "an1.jpg"
    photo_path.parent.mkdir(parents=True)
    photo_path.write_bytes(JPEG)
    with db.session() as s:
        s.add(EnrollmentPhoto(student_id=world["an"], sha256="a" * 64, kept=True, file_path="photos/an1.jpg"))
    page = teacher.get(f"/students/{world['an']}").get_data(as_text=True)
    assert "Nguyễn Văn An" in page and "dlib_resnet_v1" in page
    assert "16.7%" in page and "(1/6 ngày học)" in page and 'class="on_time today"' in page
    photo_id = int(page.split("/media/photo/")[1].split(".jpg")[0])
    assert teacher.get(f"/media/photo/{photo_id}.jpg").data == JPEG
    assert "Xóa…" not in page  # teachers do not delete
    assert teacher.get(f"/students/{world['dung']}").status_code == 403


# --- deleting a student ----------------------------------------------------------------------------------------


def test_delete_student_removes_rows_and_files(app, admin, world, db):
    instance = Path(app.instance_path)
    (instance / "photos").mkdir()
    (instance / "photos" / "an1.jpg").write_bytes(JPEG)
    (instance / "snapshots" / "u1.jpg").write_bytes(JPEG)
    with db.session() as s:
        s.add(EnrollmentPhoto(student_id=world["an"], sha256="b" * 64, kept=True, file_path="photos/an1.jpg"))
        s.add(RollOverride(student_id=world["an"], school_date=TODAY - dt.timedelta(days=3), status="excused",
                           reason="ốm"))
        s.add(UnknownFace(school_id=world["school"], camera_id=world["camera"], event_id="u1", captured_at=NOW,
                          school_date=TODAY, snapshot_path="snapshots/u1.jpg", status="assigned",
                          resolved_student_id=world["an"]))
    assert "HS001" in admin.get(f"/students/{world['an']}/delete").get_data(as_text=True)
    response = admin.post(f"/students/{world['an']}/delete", data={"confirm_code": "wrong"})
    assert response.headers["Location"].endswith(f"/students/{world['an']}/delete")
    response = admin.post(f"/students/{world['an']}/delete", data={"confirm_code": "HS001"})
    assert response.status_code == 302
    with db.session() as s:
        assert s.get(Student, world["an"]) is None
        for model in (EnrollmentPhoto, FaceTemplate, RollOverride, UnknownFace):
            assert s.scalar(select(func.count()).select_from(model)) == 0, model
        assert s.scalar(select(func.count()).select_from(CheckIn).where(CheckIn.student_id == world["an"])) == 0
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "student.delete")).target == "student:HS001"
    assert not (instance / "photos" / "an1.jpg").exists()
    assert not (instance / "snapshots" / "an.jpg").exists()
    assert not (instance / "snapshots" / "u1.jpg").exists()


def test_teachers_cannot_delete(teacher, world):
    assert teacher.post(f"/students/{world['an']}/delete", data={"confirm_code": "HS001"}).status_code == 403


# --- unknown faces -------------------------------------------------------------------------------------------


@pytest.fixture
def unknown(app, world, db):
    (Path(app.instance_path) / "snapshots" / "u7.jpg").write_bytes(JPEG)
    with db.session() as s:
        face = UnknownFace(school_id=world["school"], camera_id=world["camera"], event_id="u7", captured_at=NOW,
                           school_date=TODAY, snapshot_path="snapshots/u7.jpg")
        s.add(face)
        s.flush()
        return face.id


def test_unknown_faces_are_listed_and_dismissed(app, admin, world, unknown, db):
    page = admin.get("/unknown").get_data(as_text=True)
    assert f"/media/unknown/{unknown}.jpg" in page and "Nguyễn Văn An" in page
    assert admin.get(f"/media/unknown/{unknown}.jpg").data == JPEG
    admin.post(f"/unknown/{unknown}/dismiss")
    assert not (Path(app.instance_path) / "snapshots" / "u7.jpg").exists()
    with db.session() as s:
        face = s.get(UnknownFace, unknown)
        assert face.status == "dismissed" and face.snapshot_path is None
    assert f"/media/unknown/{unknown}.jpg" not in admin.get("/unknown").get_data(as_text=True)


def test_assigning_an_unknown_face_enrolls_it(monkeypatch, admin, world, unknown, db):
    import attendance.enrollment as enrollment

    calls = []

    def fake_enroll(session, settings, student, data, filename, source="upload", **options):
        calls.append((student.id, data, source))
        return enrollment.EnrollResult(status="enrolled", student_code=student.student_code, warnings=[])

    monkeypatch.setattr(enrollment, "enroll_uploaded_photo", fake_enroll)
    response = admin.post(f"/unknown/{unknown}/assign", data={"student_id": world["cuong"]})
    assert response.status_code == 302
    assert calls == [(world["cuong"], JPEG, "unknown_face")]
    with db.session() as s:
        face = s.get(UnknownFace, unknown)
        assert (face.status, face.resolved_student_id) == ("assigned", world["cuong"])


def test_a_refused_unknown_face_says_why(monkeypatch, admin, world, unknown, db):
    import attendance.enrollment as enrollment

    def refuse(*args, **kwargs):
        raise PhotoRejected("too_blurry", "sharpness 12 < 40")

    monkeypatch.setattr(enrollment, "enroll_uploaded_photo", refuse)
    response = admin.post(f"/unknown/{unknown}/assign", data={"student_id": world["cuong"]})
    assert "Ảnh bị mờ" in admin.get(response.headers["Location"]).get_data(as_text=True)
    with db.session() as s:  # the photo is refused, the identification stands: Cường came
        assert s.get(UnknownFace, unknown).status == "assigned"
        assert s.scalar(select(CheckIn.source).where(CheckIn.student_id == world["cuong"])) == "review"
        assert not s.scalars(select(FaceTemplate).where(FaceTemplate.student_id == world["cuong"])).all()


def test_an_assigned_unknown_face_checks_the_student_in_that_morning(monkeypatch, app, admin, world, db):
    import attendance.enrollment as enrollment

    monkeypatch.setattr(enrollment, "enroll_uploaded_photo", lambda session, settings, student, *a, **k:
                        enrollment.EnrollResult(status="enrolled", student_code=student.student_code))
    (Path(app.instance_path) / "snapshots" / "u8.jpg").write_bytes(JPEG)
    with db.session() as s:  # Cường, unrecognised at the gate at 06:58
        face = UnknownFace(school_id=world["school"], camera_id=world["camera"], event_id="u8",
                           captured_at=local(6, 58), school_date=TODAY, snapshot_path="snapshots/u8.jpg")
        s.add(face)
        s.flush()
        face_id = face.id
    roll = admin.get(f"/classes/{world['a1']}").get_data(as_text=True)
    assert roll[roll.index("Lê Văn Cường"):].split("</tr>")[0].count("badge absent") == 1
    response = admin.post(f"/unknown/{face_id}/assign", data={"student_id": world["cuong"]})
    assert "Đã điểm danh Lê Văn Cường ngày 09/03/2026" in admin.get(response.headers["Location"]).get_data(as_text=True)
    roll = admin.get(f"/classes/{world['a1']}").get_data(as_text=True)
    line = roll[roll.index("Lê Văn Cường"):].split("</tr>")[0]
    assert "badge on_time" in line and "06:58" in line and "khuôn mặt lạ" in line
    with db.session() as s:
        checkin = s.scalar(select(CheckIn).where(CheckIn.student_id == world["cuong"]))
        assert (checkin.source, checkin.captured_at, checkin.school_date) == ("review", local(6, 58), TODAY)
        assert checkin.snapshot_path and checkin.snapshot_path != "snapshots/u8.jpg"
        audit = s.scalar(select(AuditEntry).where(AuditEntry.action == "checkin.review"))
        assert (audit.actor, audit.target, audit.detail["unknown_face_id"]) == ("user:admin", "student:HS003", face_id)


def test_teachers_do_not_see_unknown_faces(teacher, unknown):
    assert teacher.get("/unknown").status_code == 403
    assert teacher.get(f"/media/unknown/{unknown}.jpg").status_code == 403


# --- the district page ---------------------------------------------------------------------------------------


def test_district_page_shows_counts_and_offline_cameras(app, client, world, db):
    with db.session() as s:
        make_user(s, "so", role="district_admin", password=PASSWORD)
        other = make_school(s, "NT", "THCS Nguyễn Trãi")
        make_student(s, make_class(s, other, "7B"), "NT1", "Võ Văn Em")
        camera = s.get(Camera, world["camera"])
        camera.last_seen_at = NOW - dt.timedelta(seconds=30)
        make_camera(s, other, "cong-sau")
    login(client, "so")
    page = client.get("/district").get_data(as_text=True)
    assert "THCS Lê Lợi" in page and "THCS Nguyễn Trãi" in page
    assert "cong-sau" in page and "cả 1 đang hoạt động" in page
    assert client.get(f"/today?school={world['school']}").status_code == 200


# --- admin -------------------------------------------------------------------------------------------------


def test_admin_adds_a_class_and_assigns_a_teacher(admin, world, db):
    response = admin.post("/admin/classes", data={"code": "7a3", "grade": "7", "school_year": "2025-2026"})
    with db.session() as s:
        new = s.scalar(select(SchoolClass).where(SchoolClass.code == "7A3"))
        mai = s.scalar(select(User).where(User.username == "mai"))
    assert response.headers["Location"].endswith(f"/admin/classes/{new.id}")
    admin.post(f"/admin/classes/{new.id}", data={"code": "7A3", "grade": "7", "school_year": "2025-2026",
                                                 "teacher_ids": [str(mai.id)]})
    with db.session() as s:
        assert [t.username for t in s.get(SchoolClass, new.id).teachers] == ["mai"]
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "class.update")).actor == "user:admin"
    assert "7A3" in admin.get("/admin/classes").get_data(as_text=True)
    response = admin.post("/admin/classes", data={"code": "7A3", "school_year": "2025-2026"},
                          headers={"Referer": "http://localhost/admin/classes"})
    assert "trùng" in admin.get(response.headers["Location"]).get_data(as_text=True)


def test_camera_token_is_shown_once_and_revocation_works(admin, world, db):
    page = admin.post("/admin/cameras", data={"name": "cong-phu", "location": "Cổng phụ"}).get_data(as_text=True)
    token = page.split('id="camera-token">')[1].split("<")[0]
    assert token.startswith("cam_")
    later = admin.get("/admin/cameras").get_data(as_text=True)
    assert "cong-phu" in later and token not in later
    with db.session() as s:
        camera = s.scalar(select(Camera).where(Camera.name == "cong-phu"))
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "camera.create",
                                                  AuditEntry.target == "camera:cong-phu"))
        assert entry.actor == "user:admin"
    beat = {"fps": 4.5, "queue_depth": 0}
    assert admin.post("/api/v1/heartbeat", json=beat, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    admin.post(f"/admin/cameras/{camera.id}/revoke")
    assert admin.post("/api/v1/heartbeat", json=beat,
                      headers={"Authorization": f"Bearer {token}"}).status_code in (401, 403)
    page = admin.get("/admin/cameras").get_data(as_text=True)
    assert "đã thu hồi" in page and "4.5" in page


def test_admin_creates_a_teacher_with_classes(app, admin, world, db):
    response = admin.post("/admin/users", data={
        "username": "co.hoa", "full_name": "Lê Thị Hoa", "role": "teacher", "class_ids": [str(world["a2"])],
        "password": "mật khẩu mới 2026", "password_confirm": "mật khẩu mới 2026"})
    assert response.status_code == 302
    hoa = app.test_client()
    assert hoa.post("/login", data={"username": "co.hoa", "password": "mật khẩu mới 2026"}).status_code == 302
    assert hoa.get(f"/classes/{world['a2']}").status_code == 200
    assert admin.post("/admin/users", data={"username": "x", "role": "district_admin", "password": "a" * 12,
                                            "password_confirm": "a" * 12}).status_code == 403


def test_admin_changes_school_settings_and_holidays(admin, world, db):
    response = admin.post("/admin/school", data={
        "name": "THCS Lê Lợi Q3", "timezone": "Asia/Ho_Chi_Minh", "school_days": ["1", "2", "3", "4", "5", "6"],
        "on_time_cutoff": "07:15", "absence_cutoff": "08:30"})
    assert response.status_code == 302
    admin.post("/admin/school/holidays", data={"first": "2026-04-30", "last": "2026-05-01", "name": "Lễ 30/4"})
    page = admin.get("/admin/school").get_data(as_text=True)
    assert "THCS Lê Lợi Q3" in page and "07:15" in page and "30/04/2026" in page and "01/05/2026" in page
    bad = admin.post("/admin/school", data={"name": "X", "timezone": "Mars/Base", "school_days": ["1"],
                                            "on_time_cutoff": "07:15", "absence_cutoff": "08:30"},
                     headers={"Referer": "http://localhost/admin/school"})
    assert "Mars/Base" in admin.get(bad.headers["Location"]).get_data(as_text=True)
    backwards = admin.post("/admin/school", data={"name": "X", "timezone": "Asia/Ho_Chi_Minh", "school_days": ["1"],
                                                  "on_time_cutoff": "09:00", "absence_cutoff": "08:30"})
    assert backwards.status_code == 302
    with db.session() as s:
        school = s.get(School, world["school"])
        assert (school.name, school.on_time_cutoff) == ("THCS Lê Lợi Q3", dt.time(7, 15))


def test_admin_adds_edits_and_deactivates_students(admin, world, db):
    response = admin.post("/admin/students", data={
        "student_code": "HS010", "full_name": "  Đỗ   Minh Khang ", "class_id": str(world["a1"]),
        "date_of_birth": "2014-05-02", "guardian_name": "Đỗ Văn Hùng", "guardian_relation": "bố",
        "given_on": "01/09/2026", "scope_recognition": "on", "child_agreed": "on"})
    with db.session() as s:
        khang = s.scalar(select(Student).where(Student.student_code == "HS010"))
        assert khang.full_name == "Đỗ Minh Khang" and khang.consent_given and khang.consent_by == "Đỗ Văn Hùng"
    assert response.headers["Location"].endswith(f"/students/{khang.id}")
    admin.post(f"/admin/students/{khang.id}/edit", data={
        "student_code": "HS010", "full_name": "Đỗ Minh Khang", "class_id": str(world["a2"]), "active": "on"})
    admin.post(f"/admin/students/{khang.id}/active")
    with db.session() as s:
        khang = s.get(Student, khang.id)
        assert khang.class_id == world["a2"] and not khang.active
    listing = admin.get(f"/admin/students?class_id={world['a2']}").get_data(as_text=True)
    assert "Đỗ Minh Khang" in listing and f"/students/{world['an']}\"" not in listing


def test_admin_imports_a_roster_and_sees_row_errors(admin, world, db):
    data = ("student_code,full_name,class,date_of_birth\n"
            "HS100,Nguyễn Thị Mai,6A1,02/09/2014\n"
            "HS101,,6A1,\n"
            "HS102,Lý Văn Tài,8C1,2013-01-31\n").encode("utf-8-sig")
    preview = admin.post("/admin/students/import", data={"roster": (io.BytesIO(data), "ds.csv")},
                         content_type="multipart/form-data").get_data(as_text=True)
    assert "8C1" in preview and "thiếu full_name" in preview and "HS101" in preview
    with db.session() as s:  # a preview stores nothing
        assert s.scalar(select(Student).where(Student.student_code == "HS100")) is None
    table = html.unescape(re.search(r'name="table" value="([^"]*)"', preview).group(1))
    page = admin.post("/admin/students/import", data={"action": "confirm", "table": table, "filename": "ds.csv"}
                      ).get_data(as_text=True)
    assert "8C1" in page and "thiếu full_name" in page and "missing" not in page and "HS101" in page
    with db.session() as s:
        mai = s.scalar(select(Student).where(Student.student_code == "HS100"))
        assert mai.date_of_birth == dt.date(2014, 9, 2)
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "student.import")).detail["created"] == 2


def test_admin_uploads_photos_with_quality_feedback(monkeypatch, admin, world):
    import attendance.enrollment as enrollment

    def fake_enroll(session, settings, student, data, filename, source="upload", **options):
        if filename == "blurry.jpg":
            raise PhotoRejected("too_blurry", "sharpness 10")
        return enrollment.EnrollResult(status="enrolled", student_code=student.student_code,
                                       warnings=["looks very like student HS002 (distance 0.38): enrolled as "
                                                 "confirmed (twins or siblings)"])

    monkeypatch.setattr(enrollment, "enroll_uploaded_photo", fake_enroll)
    response = admin.post(f"/admin/students/{world['cuong']}/photos", data={
        "photos": [(io.BytesIO(JPEG), "good.jpg"), (io.BytesIO(JPEG), "blurry.jpg")]},
        content_type="multipart/form-data")
    page = admin.get(response.headers["Location"].split("#")[0]).get_data(as_text=True)
    assert "blurry.jpg: Ảnh bị mờ" in page and "Đã thêm 1 ảnh" in page
    assert "rất giống học sinh HS002 (khoảng cách 0.38)" in page and "looks" not in page


# --- a refused form saves nothing ----------------------------------------------------------------------------


def class_row(db, class_id: int) -> tuple:
    with db.session() as s:
        school_class = s.get(SchoolClass, class_id)
        return school_class.code, school_class.grade, school_class.school_year


def test_a_refused_class_form_saves_none_of_its_fields(admin, world, db):
    before = class_row(db, world["a1"])
    response = admin.post(f"/admin/classes/{world['a1']}", data={"code": "HACKED", "grade": "abc",
                                                                 "school_year": "2030-2031"},
                          headers={"Referer": f"http://localhost/admin/classes/{world['a1']}"})
    assert response.status_code == 302
    assert "khối là một số từ 1 đến 12" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert class_row(db, world["a1"]) == before
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "class.update")) == 0


def test_a_refused_student_form_saves_none_of_its_fields(admin, world, db):
    response = admin.post(f"/admin/students/{world['an']}/edit", data={
        "student_code": "HS999", "full_name": "Tên Khác", "class_id": str(world["a2"]), "active": "on",
        "date_of_birth": "31/02/2014"})
    assert response.status_code == 302
    with db.session() as s:
        an = s.get(Student, world["an"])
        assert (an.student_code, an.full_name, an.class_id) == ("HS001", "Nguyễn Văn An", world["a1"])
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "student.update")) == 0
    admin.post(f"/admin/students/{world['an']}/edit", data={
        "student_code": "HS999", "full_name": "Nguyễn Văn An", "class_id": str(world["a1"]), "active": "on"})
    with db.session() as s:
        assert s.get(Student, world["an"]).student_code == "HS999"  # a valid new code is saved


def test_a_refused_user_form_saves_none_of_its_fields(admin, world, db):
    with db.session() as s:
        me = s.scalar(select(User).where(User.username == "admin"))
        my_id, my_name = me.id, me.full_name
    response = admin.post(f"/admin/users/{my_id}", data={"full_name": "Tên Mới", "action": "save"})  # not active
    assert response.status_code == 302
    with db.session() as s:
        me = s.get(User, my_id)
        assert (me.full_name, me.active) == (my_name, True)


@pytest.mark.parametrize("failure", ["core", "http", "csrf", "api"])
def test_no_error_handler_commits_the_changes_of_a_failed_request(app, world, db, failure):
    """Whichever handler turns the error into a page, a flash or a JSON error, the half-made change is gone."""
    from flask import abort
    from flask_wtf.csrf import CSRFError

    from attendance.errors import InvalidInput
    from dashboard.db import get_db_session

    def change_then_fail():
        get_db_session().get(SchoolClass, world["a1"]).code = "HACKED"
        get_db_session().flush()  # sent to the database, not yet committed
        if failure == "http":
            abort(409)
        if failure == "csrf":
            raise CSRFError("the token is missing")
        raise InvalidInput("refused")

    path = "/api/v1/test-failure" if failure == "api" else "/test-failure"
    app.add_url_rule(path, "change_then_fail", change_then_fail, methods=["POST"])
    client = login(app.test_client(), "admin")
    assert client.post(path).status_code == {"core": 302, "http": 409, "csrf": 400, "api": 422}[failure]
    assert class_row(db, world["a1"])[0] == "6A1"


def test_teacher_pages_render_for_each_role(app, world):
    for username, allowed in (("admin", True), ("lan", False)):
        client = login(app.test_client(), username)
        for url in ("/admin/classes", "/admin/students", "/admin/cameras", "/admin/users", "/admin/school",
                    "/admin/students/import", f"/admin/students/{world['an']}/edit", "/unknown"):
            assert client.get(url).status_code == (200 if allowed else 403), (username, url)
        for url in ("/today", f"/classes/{world['a1']}", "/reports", f"/students/{world['an']}"):
            assert client.get(url).status_code == 200, (username, url)


# --- the roll's history on the pages, reports and API ------------------------------------------------------


def test_a_student_added_today_is_on_no_past_roll_report_or_api(app, admin, world, db):
    from attendance.cameras import create_api_token

    response = admin.post("/admin/students", data={"student_code": "HS010", "full_name": "Đặng Văn Mới",
                                                   "class_id": str(world["a1"])})
    assert response.status_code == 302
    admin.get(response.headers["Location"])  # shows (and so clears) the flash with the name
    friday = TODAY - dt.timedelta(days=3)
    assert "Đặng Văn Mới" not in admin.get(f"/classes/{world['a1']}?date={friday.isoformat()}").get_data(as_text=True)
    assert "Đặng Văn Mới" in admin.get(f"/classes/{world['a1']}").get_data(as_text=True)
    with db.session() as s:
        mới = s.scalar(select(Student).where(Student.student_code == "HS010"))
        token = create_api_token(s, "sis", s.get(School, world["school"]))[1]
    report = admin.get(f"/classes/{world['a1']}/report.csv?month=2026-03").get_data(as_text=True)
    row = next(line for line in report.splitlines() if "HS010" in line).split(",")
    # on time, late, absent, excused, present, school days: today only (09:30, decided), not the 6 days before
    assert row[4:10] == ["0", "0", "1", "0", "0", "1"]
    calendar = admin.get(f"/students/{mới.id}?month=2026-03").get_data(as_text=True)
    assert calendar.count('class="absent') == 1 and 'class="absent today"' in calendar  # today's only
    api = app.test_client().get(f"/api/v1/roll?class=6A1&date={friday.isoformat()}",
                                headers={"Authorization": f"Bearer {token}"}).get_json()
    assert "HS010" not in {s["student_code"] for s in api["students"]} and len(api["students"]) == 3


def test_a_settings_change_never_rewrites_past_days(admin, world, db):
    friday = TODAY - dt.timedelta(days=3)
    with db.session() as s:  # Bình came at 07:12 on Friday too: late by the rules of then
        s.add(CheckIn(school_id=world["school"], camera_id=world["camera"], student_id=world["binh"], event_id="f1",
                      captured_at=local(7, 12) - dt.timedelta(days=3), school_date=friday))
    admin.post("/admin/school", data={"name": "THCS Lê Lợi", "timezone": "Asia/Ho_Chi_Minh",
                                      "school_days": ["1", "2", "3", "4", "5"], "on_time_cutoff": "07:15",
                                      "absence_cutoff": "09:00"})
    past = admin.get(f"/classes/{world['a1']}?date={friday.isoformat()}").get_data(as_text=True)
    assert "trễ 12 phút" in past
    assert "07:00" in past  # the cutoff of that day
    today = admin.get(f"/classes/{world['a1']}").get_data(as_text=True)
    assert "trễ 12 phút" not in today and "07:15" in today
    response = admin.post("/admin/school/holidays", data={"first": friday.isoformat(), "last": friday.isoformat(),
                                                          "name": "quên"}, headers={"Referer": "http://localhost/admin/school"})
    assert response.status_code in (302, 303, 400, 422)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Holiday)) == 0


def test_the_roll_shows_a_checkin_that_arrived_on_a_later_day(admin, world, db):
    friday = TODAY - dt.timedelta(days=3)
    with db.session() as s:
        s.add(CheckIn(school_id=world["school"], camera_id=world["camera"], student_id=world["cuong"], event_id="f2",
                      captured_at=local(6, 50) - dt.timedelta(days=3), school_date=friday, received_at=NOW))
    page = admin.get(f"/classes/{world['a1']}?date={friday.isoformat()}").get_data(as_text=True)
    assert "gửi từ camera cong-chinh ngày 09/03/2026" in page
    export = admin.get(f"/classes/{world['a1']}/roll.csv?date={friday.isoformat()}").get_data(as_text=True)
    assert "gửi từ camera cong-chinh ngày 09/03/2026" in export


# --- enrollment does not poison the gallery ------------------------------------------------------------------


def test_a_lookalike_upload_is_refused_side_by_side_then_confirmed_and_audited(monkeypatch, app, admin, world, db):
    import attendance.enrollment as enrollment
    from attendance.errors import LookalikeRejected

    (Path(app.instance_path) / "photos").mkdir(parents=True, exist_ok=True)
    (Path(app.instance_path) / "photos" / "an.jpg").write_bytes(JPEG)
    with db.session() as s:
        photo = EnrollmentPhoto(student_id=world["an"], sha256="a" * 64, kept=True, file_path="photos/an.jpg")
        s.add(photo)
        s.flush()
        an_photo = photo.id
    calls = []

    def fake_enroll(session, settings, student, data, filename, source="upload", allow_lookalike=False):
        calls.append(allow_lookalike)
        if not allow_lookalike:
            raise LookalikeRejected("HS001", world["an"], 0.12, an_photo, face_jpeg=JPEG)
        return enrollment.EnrollResult(status="enrolled", student_code=student.student_code, photo_id=99,
                                       lookalike=enrollment.Lookalike("HS001", world["an"], 0.12, an_photo),
                                       warnings=["looks very like student HS001 (distance 0.12)"])

    monkeypatch.setattr(enrollment, "enroll_uploaded_photo", fake_enroll)
    page = admin.post(f"/admin/students/{world['cuong']}/photos", data={"photos": [(io.BytesIO(JPEG), "same.jpg")]},
                      content_type="multipart/form-data")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "giống một học sinh khác" in html and "Nguyễn Văn An" in html and "0.12" in html and "0.40" in html
    assert "data:image/jpeg;base64," in html and f"/media/photo/{an_photo}.jpg" in html  # both faces
    assert 'name="confirm_lookalike"' in html
    with db.session() as s:
        assert not s.scalar(select(AuditEntry).where(AuditEntry.action == "student.photo_lookalike_confirmed"))
    confirmed = admin.post(f"/admin/students/{world['cuong']}/photos", data={
        "photos": [(io.BytesIO(JPEG), "same.jpg")], "confirm_lookalike": "on"}, content_type="multipart/form-data")
    assert confirmed.status_code == 302 and calls == [False, True]
    with db.session() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "student.photo_lookalike_confirmed"))
        assert (entry.target, entry.detail["other_student"]) == ("student:HS003", "HS001")


def test_an_admin_lists_and_deletes_one_photo_with_its_templates(app, admin, world, db):
    (Path(app.instance_path) / "photos").mkdir(parents=True, exist_ok=True)
    (Path(app.instance_path) / "photos" / "an2.jpg").write_bytes(JPEG)
    with db.session() as s:
        photo = EnrollmentPhoto(student_id=world["an"], sha256="b" * 64, kept=True, file_path="photos/an2.jpg",
                                original_name="an2.jpg")
        s.add(photo)
        s.flush()
        s.add(FaceTemplate(student_id=world["an"], photo_id=photo.id, model_id="dlib_resnet_v1", vector=b"\0" * 512))
        photo_id = photo.id
    page = admin.get(f"/students/{world['an']}").get_data(as_text=True)
    assert f'id="photo-{photo_id}"' in page and f"/admin/students/{world['an']}/photos/{photo_id}/delete" in page
    response = admin.post(f"/admin/students/{world['an']}/photos/{photo_id}/delete")
    assert response.status_code == 302
    assert not (Path(app.instance_path) / "photos" / "an2.jpg").exists()
    with db.session() as s:
        assert s.get(EnrollmentPhoto, photo_id) is None
        assert s.scalar(select(func.count()).select_from(FaceTemplate).where(FaceTemplate.student_id == world["an"])) == 2
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "student.photo_remove")).actor == "user:admin"
    assert admin.post(f"/admin/students/{world['an']}/photos/{photo_id}/delete").status_code in (302, 404)  # a message, no 500
