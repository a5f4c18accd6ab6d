"""Security gaps closed: HEAD changes nothing, the login throttle is atomic, tokens and webhooks can be listed
and removed, passwords and usernames, and log lines that cannot be forged."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from attendance.db.models import AuditEntry, Student
from factories import make_class, make_school, make_student, make_user

PASSWORD = "correct horse battery"


@pytest.fixture
def world(db):
    with db.session() as s:
        school = make_school(s, "LL")
        student = make_student(s, make_class(s, school, "6A1"), "HS001", "Nguyễn Văn An")
        admin = make_user(s, "admin", school=school, role="school_admin", password=PASSWORD)
        return {"student_id": student.id, "admin_id": admin.id, "admin_token": admin.session_token}


@pytest.fixture
def csrf_app(settings, db):
    """The dashboard with CSRF protection on, as in production."""
    from dashboard import create_app

    return create_app(settings, test_config={"TESTING": True}, database=db)


def logged_in(app, world):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = f"{world['admin_id']}:{world['admin_token']}"
        session["_fresh"] = True
    return client


@pytest.mark.parametrize("path, form", [
    ("/students/{student_id}/delete", {"confirm_code": "HS001"}),
    ("/admin/students/import", {"action": "confirm", "table": '[["student_code","full_name","class"],'
                                                              '["HS002","Trần Thị Bình","6A1"]]'}),
    ("/login", {"username": "admin", "password": PASSWORD}),
])
def test_a_head_request_with_a_form_body_changes_nothing(csrf_app, db, world, path, form):
    client = logged_in(csrf_app, world) if path != "/login" else csrf_app.test_client()
    with db.session() as s:
        audits_before = s.scalar(select(func.count()).select_from(AuditEntry))
    response = client.open(path.format(**world), method="HEAD", data=form)
    assert response.status_code in (200, 302, 405)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Student)) == 1
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == audits_before


def test_forty_concurrent_wrong_passwords_let_exactly_five_through(app, world, monkeypatch):
    import time

    import dashboard.auth as auth

    real = auth.authenticate

    def slow(*args, **kwargs):  # the password hash takes a while: the window the race needs
        time.sleep(0.05)
        return real(*args, **kwargs)

    monkeypatch.setattr(auth, "authenticate", slow)
    barrier = threading.Barrier(40)
    statuses: list[int] = []

    def guess(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post("/login", data={"username": "admin", "password": f"guess {n}"}).status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(statuses) == 40
    assert statuses.count(401) == 5 and statuses.count(429) == 35
