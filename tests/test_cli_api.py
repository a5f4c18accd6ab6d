"""``attendance cameras|roll|webhooks|api-tokens``: tokens printed once, school selection, the roll."""

import datetime as dt
import json
from importlib.metadata import EntryPoint

import pytest
from sqlalchemy import select

from attendance.cameras import authenticate_api_token, authenticate_camera
from attendance.checkins import record_checkins
from attendance.db.models import Camera, Student, Webhook
from attendance.roll import school_local_date
from factories import make_camera, make_class, make_school, make_student


@pytest.fixture(autouse=True)
def api_plugin(monkeypatch):
    """Make sure the plugin is found even when the installed metadata predates its entry point."""
    import attendance.cli.main as cli_main

    installed = cli_main.entry_points(group="attendance.commands")
    if any(e.name == "dashboard-api" for e in installed):
        return
    plugin = EntryPoint("dashboard-api", "dashboard.cli_api:register", "attendance.commands")
    monkeypatch.setattr(cli_main, "entry_points", lambda group: [*installed, plugin])


def seed(db, *codes):
    with db.session() as s:
        for code in codes or ("THCS1",):
            make_school(s, code)


def test_cameras_add_prints_the_token_once_and_it_works(cli, db):
    seed(db)
    status, out, err = cli("cameras", "add", "gate-1", "--location", "Cổng chính")
    assert status == 0 and "gate-1" in err
    token = out.strip()
    assert token.startswith("cam_") and "\n" not in token
    with db.session() as s:
        assert authenticate_camera(s, token).name == "gate-1"
    status, out, _ = cli("cameras", "list")
    assert status == 0 and "gate-1\tactive\tlast seen never\tCổng chính" in out
    assert token not in out
    status, _, err = cli("cameras", "add", "gate-1")
    assert status == 2 and "already has a camera" in err
    assert cli("cameras", "revoke", "gate-1")[0] == 0
    assert "gate-1\trevoked" in cli("cameras", "list")[1]
    with db.session() as s:
        assert s.scalar(select(Camera.revoked_at)) is not None
    status, _, err = cli("cameras", "revoke", "gate-9")
    assert status == 2 and "no camera named" in err


def test_school_selection(cli, db):
    status, _, err = cli("cameras", "add", "gate-1")
    assert status == 2 and "no school" in err
    seed(db, "THCS1", "THCS2")
    status, _, err = cli("cameras", "add", "gate-1")
    assert status == 2 and "THCS1" in err and "THCS2" in err
    assert cli("cameras", "add", "gate-1", "--school", "THCS2")[0] == 0
    status, _, err = cli("cameras", "list", "--school", "NOPE")
    assert status == 2 and "NOPE" in err


def test_roll_prints_text_and_json(cli, db):
    with db.session() as s:
        school = make_school(s, "THCS1")
        klass = make_class(s, school, "6A1")
        make_student(s, klass, "HS002", "Trần Thị An")
        make_student(s, klass, "HS001", "Nguyễn Văn Bình")
        make_student(s, make_class(s, school, "6A2"), "HS003", "Lê Văn Cường")
        camera, _ = make_camera(s, school, "gate-1")
        at = dt.datetime(2026, 9, 6, 23, 55, tzinfo=dt.timezone.utc)  # 06:55 Monday in Ho Chi Minh
        record_checkins(s, camera, [{"event_id": "e1", "seq": 1, "student_code": "HS001",
                                     "captured_at": at.isoformat()}], at)
        assert school_local_date(school, at) == dt.date(2026, 9, 7)
        # added on 8 September: on no roll of the 7th
        s.info["clock"] = lambda: dt.datetime(2026, 9, 8, 3, 0, tzinfo=dt.timezone.utc)
        s.add(Student(school_id=school.id, class_id=klass.id, student_code="HS009", full_name="Mới Vào"))
    status, out, _ = cli("roll", "--date", "2026-09-07", "--class", "6A1", "--json")
    assert status == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows == [
        {"student_code": "HS002", "full_name": "Trần Thị An", "class_code": "6A1", "status": "absent",
         "first_seen_at": None, "minutes_late": None, "camera": None, "source": None, "received_on": None},
        {"student_code": "HS001", "full_name": "Nguyễn Văn Bình", "class_code": "6A1", "status": "on_time",
         "first_seen_at": "2026-09-06T23:55:00+00:00", "minutes_late": None, "camera": "gate-1", "source": "camera",
         "received_on": None},
    ]
    status, out, _ = cli("roll", "--date", "2026-09-07")
    assert status == 0 and "# 6A1 2026-09-07" in out and "# 6A2 2026-09-07" in out
    assert "HS001\tNguyễn Văn Bình\t06:55\ton_time" in out
    assert cli("roll", "--date", "7/9/2026")[0] == 2
    assert cli("roll", "--class", "9Z")[0] == 2


def test_webhooks_and_api_tokens(cli, db):
    seed(db)
    status, out, _ = cli("webhooks", "add", "https://sis.example.edu.vn/hooks/attendance")
    assert status == 0 and out.strip().startswith("whsec_")
    with db.session() as s:
        assert s.scalar(select(Webhook.secret)) == out.strip()
    assert cli("webhooks", "add", "not a url")[0] == 2
    status, out, _ = cli("api-tokens", "add", "sis")
    assert status == 0
    with db.session() as s:
        assert authenticate_api_token(s, out.strip()).school_id is not None
    status, out, _ = cli("api-tokens", "add", "district", "--district")
    with db.session() as s:
        assert authenticate_api_token(s, out.strip()).school_id is None
