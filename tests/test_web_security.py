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
    from attendance.errors import PermissionDenied

    _, token, _ = cli("api-tokens", "add", "sis", "--school", "LL")
    status, out, _ = cli("api-tokens", "list")
    assert status == 0 and "sis\tLL\tactive" in out and token.strip() not in out
    token_id = out.split("\t", 1)[0]
    assert cli("api-tokens", "revoke", token_id)[0] == 0
    assert "revoked" in cli("api-tokens", "list")[1]
    assert cli("api-tokens", "revoke", "999")[0] != 0
    with db.session() as s, pytest.raises(PermissionDenied):
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


@pytest.mark.parametrize("password, reason", [
    ("1234567890", "common"), ("Matkhau123", "common"), ("qwertyuiop", "common"), ("aaaaaaaaaaaa", "repeats"),
    ("abcabcabcabc", "repeats"), ("ab12ab12ab12", "repeats"), ("3456789012", "run"), ("zyxwvutsrqpon", "run"),
    ("lan-secret-99", "username"), ("short", "at least"),
])
def test_weak_passwords_are_refused_with_the_reason(password, reason):
    from attendance.errors import InvalidInput
    from attendance.passwords import check_password_strength

    with pytest.raises(InvalidInput, match=reason):
        check_password_strength(password, "lan")


@pytest.mark.parametrize("password", ["correct horse battery", "mèo con đi học sớm", "Tr4ng-xanh-2026!"])
def test_good_passphrases_pass(password):
    from attendance.passwords import check_password_strength

    check_password_strength(password, "lan")


def test_usernames_are_nfkc_normalised(db):
    from attendance.users import authenticate, create_user, normalise_username

    assert normalise_username("ａｄｍｉｎ１") == "admin1"
    with db.session() as s:
        create_user(s, "ａｄｍｉｎ１", "correct horse battery", "district_admin", None)
    with db.session() as s:
        assert authenticate(s, "admin1", "correct horse battery") is not None
        assert authenticate(s, "ＡＤＭＩＮ１", "correct horse battery") is not None


def test_a_user_changes_their_own_password(app, client, db, world):
    from attendance.db.models import User

    client.post("/login", data={"username": "admin", "password": PASSWORD})
    other = app.test_client()
    other.post("/login", data={"username": "admin", "password": PASSWORD})
    assert client.get("/account/password").status_code == 200
    wrong = client.post("/account/password", data={"current_password": "nope nope nope", "password": "new pass phrase 7",
                                                   "password_confirm": "new pass phrase 7"})
    assert wrong.status_code == 302 and "flash error" in client.get(wrong.headers["Location"]).get_data(as_text=True)
    weak = client.post("/account/password", data={"current_password": PASSWORD, "password": "1234567890",
                                                  "password_confirm": "1234567890"})
    assert weak.status_code == 302
    done = client.post("/account/password", data={"current_password": PASSWORD, "password": "new pass phrase 7",
                                                  "password_confirm": "new pass phrase 7"})
    assert done.status_code == 302
    assert client.get("/today").status_code == 200  # this browser stays logged in
    assert other.get("/today").status_code == 302  # the other session ended
    with db.session() as s:
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "user.password_change"))
        assert s.scalar(select(User).where(User.username == "admin")) is not None
    fresh = app.test_client()
    assert fresh.post("/login", data={"username": "admin", "password": "new pass phrase 7"}).status_code == 302


def test_a_newline_in_a_username_cannot_forge_a_log_line(client, world, caplog):
    import logging

    forged = "nobody\nINFO dashboard.auth: login ok for admin" + "x" * 5000
    with caplog.at_level(logging.INFO):
        client.post("/login", data={"username": forged, "password": "wrong password 1"})
    messages = [record.getMessage() for record in caplog.records]
    assert messages and all("\n" not in m and len(m) < 1000 for m in messages)
    assert any("nobody\\ninfo" in m for m in messages)  # (usernames are lower-cased)
