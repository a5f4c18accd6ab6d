"""Dashboard users: argon2 hashes, password rules, roles, sessions that end, and the ``attendance users`` commands."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from sqlalchemy import select

from attendance.db.models import AuditEntry, School, User
from attendance.directory import get_or_create_school
from attendance.errors import Conflict, InvalidInput, NotFound
from attendance.users import (
    authenticate, create_user, hash_password, rotate_session_token, set_password,
    set_teacher_classes,
)
from factories import make_class, make_school, make_user

PASSWORD = "mật khẩu dài 123"


def test_create_user_stores_an_argon2_hash_never_the_password(session):
    school = make_school(session)
    user = create_user(session, "  Cô.Lan ", PASSWORD, "teacher", school.id, full_name="Nguyễn Thị Lan")
    assert user.username == "cô.lan"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert user.session_token and len(user.session_token) >= 32


def test_passwords_have_at_least_ten_characters(session):
    school = make_school(session)
    with pytest.raises(InvalidInput):
        create_user(session, "short", "123456789", "teacher", school.id)
    with pytest.raises(InvalidInput):
        hash_password("")


def test_roles_and_schools(session):
    school = make_school(session)
    with pytest.raises(InvalidInput):
        create_user(session, "boss", PASSWORD, "superuser", school.id)
    with pytest.raises(InvalidInput):
        create_user(session, "noschool", PASSWORD, "teacher", None)
    district = create_user(session, "district", PASSWORD, "district_admin", school.id)
    assert district.school_id is None
    with pytest.raises(Conflict):
        create_user(session, "DISTRICT", PASSWORD, "school_admin", school.id)
    with pytest.raises(InvalidInput):
        create_user(session, "has space", PASSWORD, "teacher", school.id)


def test_authenticate_checks_password_activity_and_upgrades_weak_hashes(session):
    school = make_school(session)
    user = make_user(session, "lan", school=school, password=PASSWORD)  # hashed at the factory's low cost
    weak_hash = user.password_hash
    assert authenticate(session, "lan", "wrong password") is None
    assert authenticate(session, "nobody", PASSWORD) is None
    assert authenticate(session, "LAN", PASSWORD) is user
    assert user.password_hash != weak_hash  # rehashed with the current parameters
    assert authenticate(session, "lan", PASSWORD) is user
    user.active = False
    assert authenticate(session, "lan", PASSWORD) is None


def test_password_change_and_logout_rotate_the_session_token(session):
    user = make_user(session, "lan", school=make_school(session), password=PASSWORD)
    first = user.session_token
    rotate_session_token(user)
    second = user.session_token
    assert second != first
    set_password(user, "another long password")
    assert user.session_token not in (first, second)
    assert authenticate(session, "lan", "another long password") is user


def test_teacher_classes_must_be_of_the_teachers_school(session):
    school, other = make_school(session), make_school(session)
    mine, theirs = make_class(session, school, "6A1"), make_class(session, other, "6A1")
    teacher = make_user(session, "lan", school=school)
    set_teacher_classes(session, teacher, [mine.id])
    assert [c.code for c in teacher.classes] == ["6A1"]
    with pytest.raises(InvalidInput):
        set_teacher_classes(session, teacher, [theirs.id])


def test_get_or_create_school_is_the_named_the_only_or_a_new_one(session):
    made = get_or_create_school(session, " LL ", name="THCS Lê Lợi", timezone="Asia/Ho_Chi_Minh")
    assert (made.code, made.name, made.timezone) == ("LL", "THCS Lê Lợi", "Asia/Ho_Chi_Minh")
    assert get_or_create_school(session, None, timezone="UTC") is made
    assert get_or_create_school(session, "LL") is made
    make_school(session, "OTHER")
    with pytest.raises(NotFound, match="LL, OTHER"):
        get_or_create_school(session, None)


def test_an_empty_database_gets_the_default_school(session):
    school = get_or_create_school(session, None, timezone="Asia/Bangkok")
    assert (school.code, school.timezone) == ("school", "Asia/Bangkok")


# --- the commands ------------------------------------------------------------------------------------------


@pytest.fixture
def web_cli(cli, monkeypatch):
    """``cli`` with this package's command plugin loaded even when the installed metadata predates it."""
    import attendance.cli.main as main_module

    real_entry_points = main_module.entry_points

    def entry_points(group: str):
        found = list(real_entry_points(group=group))
        if group == "attendance.commands" and not any(e.name == "dashboard-web" for e in found):
            found.append(EntryPoint("dashboard-web", "dashboard.cli_web:register", group))
        return found

    monkeypatch.setattr(main_module, "entry_points", entry_points)
    return cli


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "password.txt"
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    return str(path)


def test_create_admin_makes_the_school_and_prints_no_password(web_cli, password_file, db):
    status, out, err = web_cli("users", "create-admin", "--username", "hieutruong", "--password-file",
                               password_file, "--school", "LL", "--school-name", "THCS Lê Lợi")
    assert status == 0, err
    assert "hieutruong" in out and PASSWORD not in out + err
    with db.session() as s:
        user = s.scalar(select(User).where(User.username == "hieutruong"))
        school = s.scalar(select(School).where(School.code == "LL"))
        assert user.role == "school_admin" and user.school_id == school.id and school.name == "THCS Lê Lợi"
        assert authenticate(s, "hieutruong", PASSWORD) is not None
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "user.create")).actor == "cli"


def test_create_admin_uses_the_only_school_and_district_needs_none(web_cli, password_file, db):
    with db.session() as s:
        make_school(s, "ONLY")
    assert web_cli("users", "create-admin", "--password-file", password_file)[0] == 0
    status, _, err = web_cli("users", "create-admin", "--username", "so", "--district", "--password-file",
                             password_file)
    assert status == 0, err
    with db.session() as s:
        admin = s.scalar(select(User).where(User.username == "admin"))
        district = s.scalar(select(User).where(User.username == "so"))
        assert admin.school_id is not None and district.role == "district_admin" and district.school_id is None


def test_create_admin_in_an_empty_database_asks_for_the_school(web_cli, password_file, db):
    """A first admin names the real school: no placeholder school is made for them."""
    status, out, err = web_cli("users", "create-admin", "--password-file", password_file)
    assert status != 0 and "--school CODE --school-name NAME" in err and out == ""
    with db.session() as s:
        assert s.scalar(select(School)) is None and s.scalar(select(User)) is None


def test_create_admin_refuses_a_short_password_and_a_missing_terminal(web_cli, tmp_path, monkeypatch):
    short = tmp_path / "short.txt"
    short.write_text("12345", encoding="utf-8")
    status, _, err = web_cli("users", "create-admin", "--password-file", str(short), "--school", "X")
    assert status != 0 and "10 characters" in err
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    status, _, err = web_cli("users", "create-admin", "--school", "X")
    assert status != 0 and "--password-file" in err


def test_create_admin_prompts_twice_and_refuses_different_answers(web_cli, monkeypatch, db):
    answers = iter([PASSWORD, PASSWORD, PASSWORD, "something else!"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    status, _, err = web_cli("users", "create-admin", "--school", "P", "--school-name", "Trường P")
    assert status == 0, err
    status, _, err = web_cli("users", "create-admin", "--username", "second", "--school", "P")
    assert status != 0 and "differ" in err


def test_add_teacher_with_classes(web_cli, password_file, db):
    with db.session() as s:
        school = make_school(s, "LL")
        make_class(s, school, "6A1")
        make_class(s, school, "6A2")
    status, out, err = web_cli("users", "add-teacher", "co.lan", "--class", "6a1", "--class", "6A2",
                               "--password-file", password_file)
    assert status == 0, err
    assert "6A1" in out
    with db.session() as s:
        teacher = s.scalar(select(User).where(User.username == "co.lan"))
        assert teacher.role == "teacher" and sorted(c.code for c in teacher.classes) == ["6A1", "6A2"]
    status, _, err = web_cli("users", "add-teacher", "co.mai", "--class", "9Z9", "--password-file", password_file)
    assert status != 0 and "9Z9" in err


IMPORT_COUNTING_HASHES = """
import argon2
calls = []
original = argon2.PasswordHasher.hash
argon2.PasswordHasher.hash = lambda self, *args, **kwargs: calls.append(1) or original(self, *args, **kwargs)
import attendance.users as users
print(len(calls))
"""


def test_importing_users_hashes_nothing():
    """The dummy hash that evens out a login's timing costs ~0.3 s and 64 MiB: made on first need, not at import."""
    import subprocess
    import sys

    from conftest import REPO_ROOT

    result = subprocess.run([sys.executable, "-c", IMPORT_COUNTING_HASHES], capture_output=True, text=True,
                            cwd=REPO_ROOT, env={"PYTHONPATH": str(REPO_ROOT), "PATH": ""}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_an_unknown_username_is_checked_against_one_dummy_hash_made_once(session, monkeypatch):
    from argon2 import PasswordHasher

    import attendance.users as users

    users._dummy_hash.cache_clear()
    made = []
    real_hash = PasswordHasher.hash
    monkeypatch.setattr(PasswordHasher, "hash", lambda self, password: made.append(1) or real_hash(self, password))
    assert users.authenticate(session, "nobody", "some password") is None
    assert users.authenticate(session, "nobody-else", "another password") is None
    assert len(made) == 1
