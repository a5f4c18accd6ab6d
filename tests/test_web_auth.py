"""Logging in and out of the dashboard, CSRF, the login throttle, and who may open what."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from attendance.db.models import AuditEntry, CheckIn, User
from factories import make_camera, make_class, make_school, make_student, make_user

PASSWORD = "correct horse battery"
NOW = dt.datetime(2026, 3, 9, 1, 0, tzinfo=dt.timezone.utc)  # Monday 08:00 in Ho Chi Minh


@pytest.fixture
def world(app, db):
    """Two schools; in the first, classes 6A1 (teacher "lan") and 6A2 (teacher "mai"), and an admin."""
    app.config["CLOCK"] = lambda: NOW
    with db.session() as s:
        school = make_school(s, "LL", "THCS Lê Lợi")
        a1, a2 = make_class(s, school, "6A1", grade=6), make_class(s, school, "6A2", grade=6)
        an = make_student(s, a1, "HS001", "Nguyễn Văn An")
        binh = make_student(s, a2, "HS002", "Trần Thị Bình")
        make_user(s, "admin", school=school, role="school_admin", password=PASSWORD)
        make_user(s, "lan", school=school, password=PASSWORD, classes=[a1])
        make_user(s, "mai", school=school, password=PASSWORD, classes=[a2])
        other = make_school(s, "NT", "THCS Nguyễn Trãi")
        far = make_class(s, other, "7B")
        make_user(s, "so", role="district_admin", password=PASSWORD)
        camera, _ = make_camera(s, school, "gate")
        checkin = CheckIn(school_id=school.id, camera_id=camera.id, student_id=binh.id, event_id="e1",
                          captured_at=NOW - dt.timedelta(hours=1, minutes=5), school_date=NOW.date(),
                          snapshot_path="snapshots/e1.jpg")
        s.add(checkin)
        s.flush()
        ids = {"a1": a1.id, "a2": a2.id, "far": far.id, "an": an.id, "binh": binh.id, "checkin": checkin.id}
    return ids


def login(client, username, password=PASSWORD, **extra):
    return client.post("/login", data={"username": username, "password": password, **extra})


def test_pages_need_a_login(client, world):
    for url in ("/", "/today", f"/classes/{world['a1']}", "/admin/classes", "/live",
                "/today/checkins"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_login_page_is_vietnamese_by_default(client):
    page = client.get("/login").get_data(as_text=True)
    assert "Đăng nhập" in page and 'lang="vi"' in page


def test_login_and_logout_are_audited(client, world, db):
    response = login(client, "admin")
    assert response.status_code == 302
    assert client.get("/today").status_code == 200
    assert login(client.application.test_client(), "admin", "wrong password!").status_code == 401
    client.post("/logout")
    with db.session() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-3:] == ["auth.login", "auth.login_failed", "auth.logout"]


def test_logout_invalidates_the_old_session_cookie(app, world):
    client = app.test_client()
    login(client, "lan")
    stolen = client.get_cookie("attendance_session").value
    assert client.get("/today").status_code == 200
    client.post("/logout")
    replay = app.test_client()
    replay.set_cookie("attendance_session", stolen)
    response = replay.get("/today")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_password_reset_ends_the_users_sessions(app, world, db):
    teacher = app.test_client()
    login(teacher, "lan")
    admin = app.test_client()
    login(admin, "admin")
    with db.session() as s:
        lan_id = s.scalar(select(User.id).where(User.username == "lan"))
    response = admin.post(f"/admin/users/{lan_id}", data={"action": "password", "password": "new password 42",
                                                           "password_confirm": "new password 42"})
    assert response.status_code == 302
    assert teacher.get("/today").status_code == 302
    assert login(app.test_client(), "lan", "new password 42").status_code == 302


def test_failed_logins_lock_the_username_for_a_while(app, client, world):
    for _ in range(5):
        assert login(client, "lan", "guess guess guess").status_code == 401
    response = login(client, "lan")
    assert response.status_code == 429
    throttle = app.extensions["login_throttle"]
    later = throttle.clock() + 16 * 60
    throttle.clock = lambda: later
    assert login(client, "lan").status_code == 302


def login_from(app, address, username, password=PASSWORD):
    return app.test_client().post("/login", data={"username": username, "password": password},
                                  environ_base={"REMOTE_ADDR": address})


def test_guessing_from_one_address_does_not_lock_the_teacher_out_elsewhere(app, world, db):
    for _ in range(5):
        assert login_from(app, "203.0.113.9", "lan", "guess guess guess").status_code == 401
    assert login_from(app, "203.0.113.9", "lan").status_code == 429  # the guesser is locked out
    assert login_from(app, "10.0.0.21", "lan").status_code == 302  # the teacher, at school, is not
    with db.session() as s:
        targets = list(s.scalars(select(AuditEntry.target).where(AuditEntry.action == "auth.login_failed")))
    assert targets == ["ip:203.0.113.9"] * 5


def test_one_password_tried_on_many_names_locks_the_address(app, world):
    from dashboard.auth import MAX_FAILURES_PER_ADDRESS

    for n in range(MAX_FAILURES_PER_ADDRESS):
        assert login_from(app, "203.0.113.9", f"user{n}", "Password123!").status_code == 401
    assert login_from(app, "203.0.113.9", "admin").status_code == 429  # every name, even with its password
    assert login_from(app, "10.0.0.21", "admin").status_code == 302
    throttle = app.extensions["login_throttle"]
    later = throttle.clock() + 16 * 60
    throttle.clock = lambda: later
    assert login_from(app, "203.0.113.9", "admin").status_code == 302


def test_a_success_clears_the_names_count_but_not_the_addresss():
    from dashboard.auth import MAX_FAILURES, MAX_FAILURES_PER_ADDRESS, LoginThrottle

    now = [1000.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(MAX_FAILURES - 1):
        throttle.record_failure("lan", "10.0.0.9")
    throttle.reset("lan", "10.0.0.9")
    throttle.record_failure("lan", "10.0.0.9")
    assert not throttle.is_locked("lan", "10.0.0.9")
    for n in range(MAX_FAILURES_PER_ADDRESS - MAX_FAILURES):
        throttle.record_failure(f"user{n}", "10.0.0.9")
        throttle.reset(f"user{n}", "10.0.0.9")
    assert throttle.is_locked("someone", "10.0.0.9") and not throttle.is_locked("someone", "10.0.0.10")


def test_the_throttle_is_thread_safe_and_bounded():
    import threading

    from dashboard.auth import MAX_FAILURES_PER_ADDRESS, LoginThrottle

    throttle = LoginThrottle()
    throttle.MAX_KEYS = 500

    def guess(worker: int) -> None:
        for n in range(200):
            throttle.record_failure(f"user{worker}-{n}", f"10.0.{worker}.{n}")
            throttle.is_locked(f"user{worker}-{n}", "203.0.113.9")
            throttle.record_failure("lan", "203.0.113.9")

    threads = [threading.Thread(target=guess, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert throttle.is_locked("anyone", "203.0.113.9")
    assert len(throttle._by_name) <= throttle.MAX_KEYS and len(throttle._by_address) <= throttle.MAX_KEYS
    assert len(throttle._by_address["203.0.113.9"]) == MAX_FAILURES_PER_ADDRESS  # only the recent ones are kept


def test_unknown_users_get_the_same_answer(client, world):
    response = login(client, "nobody")
    assert response.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in response.get_data(as_text=True)


def test_next_is_followed_only_on_this_site(client, world):
    assert login(client, "admin", next=f"/classes/{world['a2']}").headers["Location"].endswith(
        f"/classes/{world['a2']}")
    client.post("/logout")
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        location = login(client, "admin", next=evil).headers["Location"]
        assert "evil" not in location
        client.post("/logout")


def test_csrf_is_enforced_when_enabled(settings, db, world):
    from dashboard import create_app

    app = create_app(settings, test_config={"TESTING": True}, database=db)
    client = app.test_client()
    assert login(client, "admin").status_code == 400  # no token
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert login(client, "admin", csrf_token=token).status_code == 302
    response = client.post(f"/classes/{world['a1']}/override",
                           data={"student_id": world["an"], "action": "excused", "reason": "ốm"})
    assert response.status_code == 400
    # the JSON API uses bearer tokens instead and is exempt
    assert client.post("/api/v1/heartbeat", json={}).status_code == 401


def test_teacher_sees_only_their_own_classes(client, world):
    login(client, "lan")
    assert client.get(f"/classes/{world['a1']}").status_code == 200
    assert client.get(f"/classes/{world['a2']}").status_code == 403
    assert client.get(f"/classes/{world['a2']}/roll.csv").status_code == 403
    assert client.get(f"/classes/{world['a2']}/report").status_code == 403
    assert client.get(f"/classes/{world['far']}").status_code == 404
    assert client.get(f"/students/{world['binh']}").status_code == 403
    assert client.get(f"/media/checkin/{world['checkin']}.jpg").status_code == 403
    assert client.post(f"/classes/{world['a2']}/override", data={
        "student_id": world["binh"], "action": "excused", "reason": "x"}).status_code == 403
    today = client.get("/today").get_data(as_text=True)
    assert "6A1" in today and "6A2" not in today and "Trần Thị Bình" not in today
    for url in ("/admin/classes", "/admin/users", "/admin/cameras", "/unknown", "/district"):
        assert client.get(url).status_code == 403, url


def test_a_teacher_with_one_class_lands_on_its_roll(client, world):
    login(client, "lan")
    assert client.get("/").headers["Location"].endswith(f"/classes/{world['a1']}")


def test_school_admin_stays_in_their_school(client, world):
    login(client, "admin")
    assert client.get(f"/classes/{world['a2']}").status_code == 200
    assert client.get(f"/classes/{world['far']}").status_code == 404
    assert client.get("/district").status_code == 403


def test_district_admin_sees_every_school(client, world):
    login(client, "so")
    assert client.get("/").headers["Location"].endswith("/today")
    assert client.get("/today").headers["Location"].endswith("/district")  # no school picked yet
    page = client.get("/district").get_data(as_text=True)
    assert "THCS Lê Lợi" in page and "THCS Nguyễn Trãi" in page
    assert client.get(f"/classes/{world['far']}").status_code == 200
    assert "THCS Nguyễn Trãi" in client.get("/today").get_data(as_text=True)  # the school last opened


def test_language_switch_is_remembered_for_the_user(app, client, world):
    login(client, "admin")
    assert "Hôm nay" in client.get("/today").get_data(as_text=True)
    client.post("/language", data={"language": "en", "next": "/today"})
    assert "Today" in client.get("/today").get_data(as_text=True)
    client.post("/logout")
    login(client, "admin")
    assert 'lang="en"' in client.get("/today").get_data(as_text=True)


def test_security_headers(client, world):
    login(client, "admin")
    response = client.get("/today")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]
    set_cookie = login(client.application.test_client(), "admin").headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Secure" not in set_cookie


def test_session_cookie_is_secure_when_the_setting_says_so(settings, db, world):
    import dataclasses

    from dashboard import create_app

    secure = dataclasses.replace(settings, session_cookie_secure=True)
    app = create_app(secure, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False}, database=db)
    response = login(app.test_client(), "admin")
    assert "Secure" in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" in response.headers


def test_error_pages_are_html_and_translated(client, world):
    login(client, "lan")
    response = client.get("/classes/999999")
    assert response.status_code == 404 and "Không tìm thấy trang" in response.get_data(as_text=True)
    assert "Bạn không có quyền" in client.get(f"/classes/{world['a2']}").get_data(as_text=True)
