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


def test_integration_tokens_are_listed_and_revoked_on_the_command_line(cli, db, world):
    from attendance.cameras import authenticate_api_token

    _, token, _ = cli("api-tokens", "add", "sis", "--school", "LL")
    status, out, _ = cli("api-tokens", "list")
    assert status == 0 and "sis\tLL\tactive" in out and token.strip() not in out
    token_id = out.split("\t", 1)[0]
    assert cli("api-tokens", "revoke", token_id)[0] == 0
    assert "revoked" in cli("api-tokens", "list")[1]
    assert cli("api-tokens", "revoke", "999")[0] != 0
    with db.session() as s, pytest.raises(Exception):
        authenticate_api_token(s, token.strip())


def test_webhooks_are_listed_and_removed_on_the_command_line(cli, db, world):
    from attendance.db.models import Webhook

    _, secret, _ = cli("webhooks", "add", "https://sis.example.edu.vn/hook")
    status, out, _ = cli("webhooks", "list")
    assert status == 0 and "https://sis.example.edu.vn/hook" in out and secret.strip() not in out
    assert cli("webhooks", "remove", out.split("\t", 1)[0])[0] == 0
    assert cli("webhooks", "list")[1] == ""
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Webhook)) == 0
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "webhook.remove")) == "webhook.remove"


def test_an_admin_lists_revokes_and_removes_integrations(app, client, db, world):
    from attendance.cameras import create_api_token
    from attendance.db.models import ApiToken, School, Webhook
    from attendance.webhooks import create_webhook

    with db.session() as s:
        school = s.scalar(select(School))
        row, token = create_api_token(s, "parents-app", school)
        hook, _ = create_webhook(s, school, "https://hooks.example.vn/a")
        other = make_school(s, "XX")
        foreign, _ = create_api_token(s, "other-school", other)
        ids = (row.id, hook.id, foreign.id)
    client.post("/login", data={"username": "admin", "password": PASSWORD})
    page = client.get("/admin/integrations").get_data(as_text=True)
    assert "parents-app" in page and "https://hooks.example.vn/a" in page and token not in page
    assert "other-school" not in page
    assert client.post(f"/admin/integrations/tokens/{ids[0]}/revoke").status_code == 302
    assert client.post(f"/admin/integrations/webhooks/{ids[1]}/remove").status_code == 302
    assert client.post(f"/admin/integrations/tokens/{ids[2]}/revoke").status_code in (302, 404)
    with db.session() as s:
        assert s.get(ApiToken, ids[0]).revoked_at is not None and s.get(Webhook, ids[1]) is None
        assert s.get(ApiToken, ids[2]).revoked_at is None  # another school's token is out of reach
