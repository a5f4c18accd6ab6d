"""Forms and pages that gave a 500: each now answers a 4xx, or the form back with a message and what was typed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from attendance.db.models import Student
from factories import make_class, make_school, make_student, make_user

PASSWORD = "correct horse battery"
NOW = dt.datetime(2026, 9, 7, 0, 30, tzinfo=dt.timezone.utc)


@pytest.fixture
def world(app, db):
    app.config["CLOCK"] = lambda: NOW
    with db.session() as s:
        school = make_school(s, "LL", "THCS Lê Lợi")
        klass = make_class(s, school, "6A1", grade=6)
        student = make_student(s, klass, "HS001", "Nguyễn Văn An")
        make_user(s, "admin", school=school, role="school_admin", password=PASSWORD)
        return {"class_id": klass.id, "student_id": student.id}


@pytest.fixture
def admin(client, world):
    assert client.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 302
    return client


def follow(client, response) -> str:
    assert response.status_code == 302, response.status_code
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_refused_student_form_comes_back_with_the_message_and_what_was_typed(admin, db):
    response = admin.post("/admin/students", data={"student_code": "HS777", "full_name": "Nguyễn " * 60,
                                                   "guardian_name": "Bà ngoại Lan"})
    page = follow(admin, response)
    assert "200" in page  # the message names the limit
    assert 'value="HS777"' in page and 'value="Bà ngoại Lan"' in page
    with db.session() as s:
        assert s.scalar(select(Student).where(Student.student_code == "HS777")) is None
    assert 'value="HS777"' not in admin.get("/admin/students").get_data(as_text=True)  # shown once


def test_a_password_is_never_kept_for_the_form(admin):
    response = admin.post("/admin/users", data={"username": "hoa", "password": "secret pass 1234",
                                                "password_confirm": "different 12345", "role": "teacher"})
    page = follow(admin, response)
    assert 'value="hoa"' in page and "secret pass 1234" not in page


@pytest.mark.parametrize("field, value", [("full_name", "a\x00b"), ("student_code", "\x00"),
                                          ("full_name", "x" * 300)])
def test_nul_bytes_and_overlong_text_in_a_student_form(admin, world, field, value):
    form = {"student_code": "HS001", "full_name": "Nguyễn Văn An", "active": "on", field: value}
    response = admin.post(f"/admin/students/{world['student_id']}/edit", data=form)
    assert response.status_code == 302 and 'class="flash error"' in follow(admin, response)


@pytest.mark.parametrize("path, form", [
    ("/admin/classes", {"code": "7A1", "grade": "²", "school_year": "2026-2027"}),
    ("/admin/cameras", {"name": "gate-2", "location": "Cổng " * 60}),
    ("/admin/users", {"username": "hoa", "full_name": "Hoa " * 60, "password": "a long pass phrase 42",
                      "password_confirm": "a long pass phrase 42", "role": "teacher"}),
])
def test_superscript_digits_and_overlong_fields_are_refused_with_a_message(admin, path, form):
    response = admin.post(path, data=form)
    assert response.status_code == 302
    assert 'class="flash error"' in follow(admin, response)


@pytest.mark.parametrize("path", ["/classes/2147483648", "/students/99999999999999999999", "/admin/users/9223372036854775808",
                                  "/admin/classes/2147483648", "/media/checkin/99999999999.jpg"])
def test_ids_beyond_the_integer_range_are_not_found(admin, path):
    assert admin.get(path).status_code == 404


@pytest.mark.parametrize("query", ["date=0001-01-01", "date=9999-12-31", "date=31/12/9999"])
def test_the_roll_of_year_1_or_9999_shows_today(admin, world, query):
    response = admin.get(f"/classes/{world['class_id']}?{query}")
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/classes/{class_id}/report?month=0001-01", "/classes/{class_id}/report?month=9999-12",
                                  "/students/{student_id}?month=0001-01", "/students/{student_id}?month=12/9999",
                                  "/classes/{class_id}/report.xlsx?month=9999-12"])
def test_reports_of_year_1_or_9999_show_this_month(admin, world, path):
    assert admin.get(path.format(**world)).status_code == 200


def test_crlf_in_next_is_not_followed(client, world):
    response = client.post("/login", data={"username": "admin", "password": PASSWORD,
                                           "next": "/today\r\nSet-Cookie: evil=1"})
    assert response.status_code == 302
    assert "evil" not in response.headers["Location"] and "Set-Cookie" not in str(response.headers.get("Location"))


def test_a_nul_in_the_login_name_gets_the_login_form_back(client, world):
    response = client.post("/login", data={"username": "ad\x00min", "password": PASSWORD})
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deeply_nested_json_is_malformed_json(client, app, db, depth):
    from factories import make_camera

    with db.session() as s:
        _, token = make_camera(s, make_school(s, "X1"), "gate")
    response = client.post("/api/v1/checkins", data="[" * depth + "]" * depth, content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "malformed_json"


def csrf_token(client, path: str) -> str:
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_a_reason_typed_while_the_session_ended_is_given_back_after_logging_in(settings, db, world):
    """CSRF on, as in production: the teacher's session ends (here: logged out elsewhere) while typing."""
    from dashboard import create_app
    from attendance.db.models import User

    app = create_app(settings, test_config={"TESTING": True}, database=db)
    app.config["CLOCK"] = lambda: NOW
    with db.session() as s:
        make_user(s, "lan", school=s.get(Student, world["student_id"]).school_class.school, role="teacher",
                  password=PASSWORD, classes=[s.get(Student, world["student_id"]).school_class])
    client = app.test_client()
    client.post("/login", data={"username": "lan", "password": PASSWORD, "csrf_token": csrf_token(client, "/login")})
    roll = f"/classes/{world['class_id']}?date=2026-09-07"
    token = csrf_token(client, roll)
    with db.session() as s:  # the session ends on the server: logged out on another device
        s.scalar(select(User).where(User.username == "lan")).session_token = "ended"
    reason = "Ốm, có giấy của mẹ"
    response = client.post(f"/classes/{world['class_id']}/override", headers={"Referer": f"http://localhost{roll}"},
                           data={"csrf_token": token, "student_id": world["student_id"], "date": "2026-09-07",
                                 "action": "excused", "reason": reason})
    assert response.status_code == 302
    login_page = client.get(response.headers["Location"], follow_redirects=True)
    assert "login" in login_page.request.path
    back = client.post(login_page.request.full_path, data={
        "username": "lan", "password": PASSWORD, "csrf_token": csrf_token(client, "/login"),
        "next": roll})
    page = client.get(back.headers["Location"]).get_data(as_text=True)
    assert f'value="{reason}"' in page and "<details class=\"mark\" open>" in page
