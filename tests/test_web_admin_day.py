"""The school admin's day in the Flask client: consent for a class at once, diacritic-blind search and paging,
unknown faces grouped, the audit log, attendance trends, messages wholly in the page's language."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from attendance.consent import current_record
from attendance.db.models import AuditEntry, Student
from attendance.names import fold_for_search, matches_search
from factories import make_camera, make_class, make_school, make_student, make_user

PASSWORD = "correct horse battery"
NOW = dt.datetime(2026, 3, 9, 2, 30, tzinfo=dt.timezone.utc)  # Monday 09:30 in Ho Chi Minh


@pytest.fixture
def world(app, db):
    """School LL: 6A1 with Đức, Nguyễn Thị Bình and 58 more (no consent), 6A2 with Phạm Thị Dung; admin "admin"."""
    app.config["CLOCK"] = lambda: NOW
    with db.session() as s:
        school = make_school(s, "LL", "THCS Lê Lợi")
        a1, a2 = make_class(s, school, "6A1", grade=6), make_class(s, school, "6A2", grade=6)
        duc = make_student(s, a1, "HS001", "Trần Minh Đức", consent=False)
        binh = make_student(s, a1, "HS002", "Nguyễn Thị Bình", consent=False)
        for n in range(58):
            make_student(s, a1, f"HS1{n:02d}", f"Lê Văn Học {n:02d}", consent=False)
        dung = make_student(s, a2, "HS004", "Phạm Thị Dung")
        make_user(s, "admin", school=school, role="school_admin", password=PASSWORD, full_name="Võ Thị Hoa")
        make_user(s, "lan", school=school, password=PASSWORD, classes=[a1])
        camera, _ = make_camera(s, school, "cong-chinh")
        return {"school": school.id, "a1": a1.id, "a2": a2.id, "duc": duc.id, "binh": binh.id, "dung": dung.id,
                "camera": camera.id}


def login(client, username, language="vi"):
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    if language != "vi":
        client.post("/language", data={"language": language, "next": "/"})
    return client


@pytest.fixture
def admin(client, world):
    return login(client, "admin")


# --- search ---------------------------------------------------------------------------------------------------


def test_search_folding_ignores_case_tones_marks_and_d_stroke():
    assert fold_for_search("Nguyễn  Đức") == "nguyen duc"
    assert fold_for_search("ĐẶNG Thị Ánh") == "dang thi anh"
    assert matches_search("duc", "Trần Minh Đức")
    assert matches_search("nguyen binh", "Nguyễn Thị Bình")
    assert matches_search("Đức", "tran minh duc")
    assert not matches_search("dung", "Trần Minh Đức")
    assert matches_search("", "anything")


def test_student_search_ignores_diacritics(admin, world):
    page = admin.get("/admin/students?q=duc").get_data(as_text=True)
    assert "Trần Minh Đức" in page and "Nguyễn Thị Bình" not in page
    page = admin.get("/admin/students?q=nguyen").get_data(as_text=True)
    assert "Nguyễn Thị Bình" in page and "Trần Minh Đức" not in page
    page = admin.get("/admin/students?q=HS004").get_data(as_text=True)
    assert "Phạm Thị Dung" in page


def test_students_are_paged_and_page_links_keep_the_search(admin, world):
    first = admin.get(f"/admin/students?class_id={world['a1']}").get_data(as_text=True)
    assert first.count('name="student_ids"') == 50
    assert "1–50" in first and "60" in first
    assert f"class_id={world['a1']}&amp;page=2" in first
    second = admin.get(f"/admin/students?class_id={world['a1']}&page=2").get_data(as_text=True)
    assert second.count('name="student_ids"') == 10
    searched = admin.get("/admin/students?q=hoc&page=2").get_data(as_text=True)
    assert searched.count('name="student_ids"') == 8 and "q=hoc&amp;page=1" in searched
    assert admin.get("/admin/students?page=99").status_code == 200  # past the end: the last page


# --- consent for a class at once -------------------------------------------------------------------------------


def test_no_student_is_pre_ticked(admin, world):
    page = admin.get("/admin/students").get_data(as_text=True)
    assert 'name="student_ids"' in page and "checked" not in page.split('id="consent-form"')[0].split("<tbody>")[1]


def test_consent_for_many_students_in_one_action_is_audited(admin, world, db):
    response = admin.post("/admin/students/consent", data={
        "student_ids": [world["duc"], world["binh"]], "reference": "PĐ-6A1-01", "given_on": "02/03/2026",
        "q": "a"})
    assert response.status_code == 302 and "q=a" in response.headers["Location"]
    with db.session() as s:
        duc, binh = s.get(Student, world["duc"]), s.get(Student, world["binh"])
        assert duc.consent_given and binh.consent_given
        record = current_record(s, duc)  # a consent record of its own, naming the form
        assert record.given_on == dt.date(2026, 3, 2) and "PĐ-6A1-01" in record.note and record.recognition
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "student.consent")))
        assert sorted(e.target for e in entries) == ["student:HS001", "student:HS002"]
        assert all(e.detail["form_reference"] == "PĐ-6A1-01" and e.detail["given_on"] == "2026-03-02"
                   for e in entries)
        assert s.scalar(select(func.count()).select_from(Student).where(Student.consent_given.is_(True))) == 3
    assert "Đã ghi nhận đồng ý cho 2 học sinh (phiếu PĐ-6A1-01)" in admin.get("/admin/students").get_data(as_text=True)


def test_consent_needs_students_a_reference_and_a_past_date(admin, world, db):
    page = admin.post("/admin/students/consent", data={"reference": "X", "given_on": "02/03/2026"},
                      follow_redirects=True).get_data(as_text=True)
    assert "Hãy chọn các học sinh" in page
    for form in ({"reference": "", "given_on": "02/03/2026"}, {"reference": "X", "given_on": "01/04/2026"},
                 {"reference": "X", "given_on": ""}):
        response = admin.post("/admin/students/consent", data={"student_ids": [world["duc"]], **form},
                              headers={"Referer": "http://localhost/admin/students"}, follow_redirects=True)
        assert response.status_code == 200 and "flash error" in response.get_data(as_text=True)
    with db.session() as s:
        assert not s.get(Student, world["duc"]).consent_given


def test_consent_refuses_a_student_of_another_school(admin, world, db):
    with db.session() as s:
        other = make_student(s, school=make_school(s, "XX"), consent=False)
        other_id = other.id
    admin.post("/admin/students/consent", data={"student_ids": [world["duc"], other_id], "reference": "X",
                                                "given_on": "02/03/2026"})
    with db.session() as s:
        assert not s.get(Student, other_id).consent_given and not s.get(Student, world["duc"]).consent_given


# --- the audit log ----------------------------------------------------------------------------------------------


@pytest.fixture
def audit_entries(world, db):
    from attendance.users import record_audit

    with db.session() as s:
        at = NOW - dt.timedelta(days=10)
        for n, (actor, action, target) in enumerate([
                ("user:admin", "student.update", "student:HS001"), ("user:lan", "roll.override", "student:HS002"),
                ("camera:cong-chinh", "checkin.past_day", "student:HS001"), ("user:admin", "camera.revoke", "camera:x")]):
            entry = record_audit(s, actor, action, school_id=world["school"], target=target, detail={"n": n})
            entry.created_at = at + dt.timedelta(days=3 * n)
        record_audit(s, "user:other", "student.update", school_id=None, target="student:HS001")


def test_the_audit_log_filters_by_who_action_target_and_dates(admin, world, audit_entries):
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "Nhật ký thay đổi" in page and "user:other" not in page  # only this school's entries
    assert all(t in page for t in ("(HS001)", "(HS002)", "camera:x"))
    page = admin.get("/admin/audit?who=user:lan").get_data(as_text=True)
    assert "Sửa điểm danh thủ công" in page and "(HS001)" not in page
    page = admin.get("/admin/audit?action=student").get_data(as_text=True)  # the family: every student.*
    assert page.count("(HS001)") == 1 and "camera:x" not in page
    page = admin.get("/admin/audit?target=duc").get_data(as_text=True)  # a student's name without diacritics
    assert page.count("(HS001)") == 2 and "(HS002)" not in page
    page = admin.get("/admin/audit?from=02/03/2026&to=05/03/2026").get_data(as_text=True)  # 2 and 5 March
    assert "(HS002)" in page and "camera:x" not in page and page.count('<tr class="entry">') == 2
    page = admin.get("/admin/audit?target=zzz").get_data(as_text=True)
    assert "Không có mục nào phù hợp." in page


def test_the_audit_log_is_paged(admin, world, db):
    from attendance.users import record_audit

    with db.session() as s:
        for n in range(120):
            record_audit(s, "user:admin", "student.update", school_id=world["school"], target=f"student:X{n:03d}")
    first = admin.get("/admin/audit?who=user:admin").get_data(as_text=True)
    assert first.count("student:X") == 50 and "who=user:admin&amp;page=3" in first
    third = admin.get("/admin/audit?who=user:admin&page=3").get_data(as_text=True)
    assert third.count("student:X") == 20


def test_teachers_cannot_read_the_audit_log(client, world):
    login(client, "lan")
    assert client.get("/admin/audit").status_code in (403, 404)


# --- messages wholly in the page's language ---------------------------------------------------------------------

WEB_REACHABLE = ["dashboard/web/admin.py", "dashboard/web/admin_people.py", "dashboard/web/calibration.py",
                 "dashboard/web/records.py", "dashboard/web/roll_pages.py", "attendance/users.py",
                 "attendance/cameras.py", "attendance/imports.py", "attendance/overrides.py", "attendance/consent.py",
                 "attendance/review.py", "attendance/photos.py", "attendance/liveness_review.py",
                 "attendance/school_rules.py", "attendance/trends.py", "attendance/audit.py",
                 "attendance/students.py"]
CLI_ONLY = {"a naive datetime has no school date; give an aware one", "a heartbeat must be a JSON object",
            "heartbeat field X1 must be a number or a string", "school X1 has no camera named X1"}


def raised_messages(path):
    """The messages of every ``raise InvalidInput/Conflict/NotFound(...)`` in ``path``, f-string parts as X1."""
    import ast

    from conftest import REPO_ROOT

    messages = []
    for node in ast.walk(ast.parse((REPO_ROOT / path).read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name)
                and node.exc.func.id in ("InvalidInput", "Conflict", "NotFound") and node.exc.args):
            arg = node.exc.args[0]
            if isinstance(arg, ast.Constant):
                messages.append(arg.value)
            elif isinstance(arg, ast.JoinedStr):
                messages.append("".join(v.value if isinstance(v, ast.Constant) else "X1" for v in arg.values))
    return messages


def test_every_error_a_page_can_show_has_a_vietnamese_detail(app):
    from dashboard.error_text import translate_detail

    with app.test_request_context():
        # each f-string part is tried as a code, a number and a date
        missing = [(path, m) for path in WEB_REACHABLE for m in raised_messages(path) if m not in CLI_ONLY
                   and all(translate_detail(m.replace("X1", v)) is None for v in ("X1", "12", "2026-03-09"))]
    assert not missing


def test_a_refused_form_says_why_in_vietnamese_only(admin, world):
    response = admin.post("/admin/school", data={"name": "THCS Lê Lợi", "timezone": "Mars/Olympus",
                                                 "school_days": ["1"], "on_time_cutoff": "07:00",
                                                 "absence_cutoff": "09:00"},
                          headers={"Referer": "http://localhost/admin/school"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "múi giờ Mars/Olympus không tồn tại" in page and "unknown time zone" not in page


def test_an_unknown_detail_is_left_out_of_a_vietnamese_page_and_kept_in_english(app):
    from attendance.errors import InvalidInput
    from dashboard.i18n import describe_error

    with app.test_request_context():
        from flask import session

        session["language"] = "vi"
        assert "something odd" not in describe_error(InvalidInput("something odd"))
        assert "(hai mật khẩu không giống nhau)" in describe_error(InvalidInput("the two passwords differ"))
        session["language"] = "en"
        from flask_babel import refresh

        refresh()
        assert "(something odd)" in describe_error(InvalidInput("something odd"))


# --- unknown faces ------------------------------------------------------------------------------------------------


def add_unknown(s, world, n, minutes, *, nearest=None, distance=0.6, camera=None, snapshot=True, instance=None):
    from attendance.db.models import UnknownFace

    at = NOW - dt.timedelta(hours=2) + dt.timedelta(minutes=minutes)
    path = None
    if snapshot and instance is not None:
        (instance / "snapshots").mkdir(parents=True, exist_ok=True)
        (instance / "snapshots" / f"u{n}.jpg").write_bytes(b"\xff\xd8fake\xff\xd9")
        path = f"snapshots/u{n}.jpg"
    face = UnknownFace(school_id=world["school"], camera_id=camera or world["camera"], event_id=f"u{n}",
                       captured_at=at, school_date=NOW.date(), best_distance=distance, snapshot_path=path,
                       nearest_student_id=nearest)
    s.add(face)
    s.flush()
    return face.id


def test_sightings_of_one_face_are_grouped_by_camera_day_nearest_student_and_time(world, db):
    from attendance.db.models import UnknownFace
    from attendance.unknown_groups import group_sightings

    with db.session() as s:
        other_camera, _ = make_camera(s, s.get(__import__("attendance.db.models", fromlist=["School"]).School,
                                               world["school"]), "cong-sau")
        ids = [add_unknown(s, world, 1, 0, nearest=world["duc"], distance=0.62),
               add_unknown(s, world, 2, 4, nearest=world["duc"], distance=0.55),
               add_unknown(s, world, 3, 9, nearest=world["duc"], distance=0.70),  # 5 min after the last: same
               add_unknown(s, world, 4, 30, nearest=world["duc"]),  # 21 minutes later: another group
               add_unknown(s, world, 5, 5, nearest=world["binh"]),  # another nearest student
               add_unknown(s, world, 6, 5, nearest=world["duc"], camera=other_camera.id)]  # another camera
        groups = group_sightings(list(s.scalars(select(UnknownFace))))
        shapes = sorted(tuple(u.id for u in g.sightings) for g in groups)
        assert shapes == sorted([(ids[0], ids[1], ids[2]), (ids[3],), (ids[4],), (ids[5],)])
        first = next(g for g in groups if len(g.sightings) == 3)
        assert first.best.id == ids[1] and {u.id for u in first.others} == {ids[0], ids[2]}


def test_an_unknown_card_shows_camera_time_nearest_student_and_distance(app, admin, world, db):
    from pathlib import Path

    with db.session() as s:
        add_unknown(s, world, 1, 0, nearest=world["duc"], distance=0.62, instance=Path(app.instance_path))
        add_unknown(s, world, 2, 4, nearest=world["duc"], distance=0.55, instance=Path(app.instance_path))
    page = admin.get("/unknown").get_data(as_text=True)
    assert page.count('class="card unknowncard"') == 1 and "Thấy 2 lần" in page
    assert "cong-chinh" in page and "07:30–07:34" in page and "Trần Minh Đức (6A1)" in page and "0.55" in page
    # the picker: every active student, by class then in Vietnamese name order, searchable without diacritics
    choices = page.split('<datalist id="student-choices">')[1].split("</datalist>")[0]
    assert choices.index("Nguyễn Thị Bình") < choices.index("Trần Minh Đức") < choices.index("Phạm Thị Dung")
    assert 'label="tran minh duc"' in choices


def test_naming_a_group_names_every_sighting(monkeypatch, app, admin, world, db):
    from pathlib import Path

    import attendance.enrollment as enrollment
    from attendance.db.models import CheckIn, UnknownFace

    monkeypatch.setattr(enrollment, "enroll_uploaded_photo", lambda *a, **k: enrollment.EnrollResult(
        status="enrolled", student_code="HS002"))
    instance = Path(app.instance_path)
    with db.session() as s:
        first = add_unknown(s, world, 1, 0, nearest=world["binh"], distance=0.62, instance=instance)
        best = add_unknown(s, world, 2, 4, nearest=world["binh"], distance=0.55, instance=instance)
    response = admin.post(f"/unknown/{best}/assign", data={"student": "HS002 · Nguyễn Thị Bình · 6A1",
                                                           "group_ids": [first]})
    assert response.status_code == 302
    with db.session() as s:
        faces = {u.id: u for u in s.scalars(select(UnknownFace))}
        assert faces[best].status == faces[first].status == "assigned"
        assert faces[first].resolved_student_id == world["binh"] and faces[first].snapshot_path is None
        assert s.scalar(select(func.count()).select_from(CheckIn).where(CheckIn.student_id == world["binh"])) == 1
    assert not (instance / "snapshots" / "u1.jpg").exists()


def test_dismissing_a_group_dismisses_every_sighting(app, admin, world, db):
    from pathlib import Path

    from attendance.db.models import UnknownFace

    with db.session() as s:
        a = add_unknown(s, world, 1, 0, instance=Path(app.instance_path))
        b = add_unknown(s, world, 2, 3, instance=Path(app.instance_path))
    admin.post(f"/unknown/{b}/dismiss", data={"group_ids": [a]})
    with db.session() as s:
        assert {u.status for u in s.scalars(select(UnknownFace))} == {"dismissed"}


def test_unknown_faces_are_paged(app, admin, world, db):
    with db.session() as s:
        for n in range(30):  # an hour apart: 30 groups
            add_unknown(s, world, n, -60 * n)
    first = admin.get("/unknown").get_data(as_text=True)
    assert first.count('class="card unknowncard"') == 24 and "page=2" in first
    assert admin.get("/unknown?page=2").get_data(as_text=True).count('class="card unknowncard"') == 6


# --- attendance trends --------------------------------------------------------------------------------------------


@pytest.fixture
def march_checkins(world, db):
    """Mon 2 - Fri 6 March: Đức on time every day, Bình late on Monday and Tuesday, absent after; Dung on time."""
    from attendance.db.models import CheckIn

    zone = dt.timezone(dt.timedelta(hours=7))
    with db.session() as s:
        for day in range(2, 7):
            rows = [(world["duc"], 6, 40), (world["dung"], 6, 50)] + ([(world["binh"], 7, 15)] if day <= 3 else [])
            for student, hour, minute in rows:
                s.add(CheckIn(school_id=world["school"], camera_id=world["camera"], student_id=student,
                              event_id=f"e{student}-{day}", school_date=dt.date(2026, 3, day),
                              captured_at=dt.datetime(2026, 3, day, hour, minute, tzinfo=zone)))


def test_a_month_trend_per_class_comes_from_the_roll(world, db, march_checkins):
    from attendance.db.models import School
    from attendance.trends import compute_month_trend

    with db.session() as s:
        trend = compute_month_trend(s, s.get(School, world["school"]), 2026, 3, NOW, class_id=world["a1"])
        # 2-6 March and today (Monday 9th, decided at 09:30); the 58 others of 6A1 are absent every day
        assert [d.school_date.day for d in trend.days] == [2, 3, 4, 5, 6, 9]
        monday = trend.days[0]
        assert monday.counts["on_time"] == 1 and monday.counts["late"] == 1 and monday.counts["absent"] == 58
        assert trend.days[2].counts["late"] == 0 and trend.days[2].counts["absent"] == 59
        assert monday.rate("on_time") == pytest.approx(1 / 60)
        school = compute_month_trend(s, s.get(School, world["school"]), 2026, 3, NOW)
        assert school.by_class[world["a2"]]["on_time"] == 5 and school.days[0].decided == 61


def test_the_trend_page_draws_the_month_as_svg(admin, world, march_checkins):
    page = admin.get("/reports/trends?month=2026-03").get_data(as_text=True)
    assert "Xu hướng chuyên cần" in page and "Toàn trường" in page and "<svg" in page
    chart = page.split("</figure>")[0]
    assert chart.count('<rect class="absent"') == 6 and chart.count('<rect class="on_time"') == 5  # none today
    assert "Theo lớp" in page
    assert "<script" not in page.split("<main")[1]  # the chart is plain SVG
    page = admin.get(f"/reports/trends?month=2026-03&class_id={world['a2']}").get_data(as_text=True)
    assert "Lớp 6A2" in page and "100%" in page and "Theo lớp" not in page


def test_a_teacher_sees_the_trend_of_her_class_only(client, world, march_checkins):
    login(client, "lan")
    page = client.get("/reports/trends?month=2026-03").get_data(as_text=True)
    assert "Lớp 6A1" in page and "Toàn trường" not in page
    assert client.get(f"/reports/trends?class_id={world['a2']}").status_code in (403, 404)
