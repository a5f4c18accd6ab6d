"""Who may call what: camera tokens write, integration tokens read, revoked tokens are refused at once."""

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from attendance.cameras import (
    authenticate_api_token, authenticate_camera, create_api_token, revoke_api_token, revoke_camera,
)
from attendance.db.models import ApiToken, Camera
from attendance.errors import PermissionDenied
from factories import make_camera, make_class, make_school, make_student

NOW = dt.datetime(2026, 9, 7, 0, 30, tzinfo=dt.timezone.utc)  # Monday 07:30 in Ho Chi Minh


@pytest.fixture
def tokens(app, db):
    app.config["CLOCK"] = lambda: NOW
    with db.session() as s:
        school = make_school(s, "THCS1")
        make_student(s, make_class(s, school, "6A1"), "HS001", "Nguyễn Văn An")
        other = make_school(s, "THCS2")
        make_class(s, other, "7B")
        camera, camera_token = make_camera(s, school, "gate-1")
        _, api_token = create_api_token(s, "sis", school)
        _, district_token = create_api_token(s, "district", None)
        camera_id = camera.id
    return {"camera": camera_token, "api": api_token, "district": district_token, "camera_id": camera_id}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


CHECKIN = {"events": [{"event_id": "e1", "seq": 1, "student_code": "HS001",
                       "captured_at": "2026-09-07T06:50:00+07:00"}]}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "},
                                     bearer("cam_not-a-real-token"), bearer("api_not-a-real-token"),
                                     bearer("something-else")])
def test_no_valid_token_is_401(client, tokens, headers):
    response = client.post("/api/v1/checkins", json=CHECKIN, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_camera_token_cannot_read_the_roll_or_the_checkins(client, tokens):
    for path in ("/api/v1/roll?class=6A1", "/api/v1/checkins?since=2026-09-07T00:00:00Z"):
        response = client.get(path, headers=bearer(tokens["camera"]))
        assert response.status_code == 403, path
        assert response.get_json()["error"]["code"] == "forbidden"


def test_an_integration_token_cannot_act_as_a_camera(client, tokens):
    assert client.post("/api/v1/checkins", json=CHECKIN, headers=bearer(tokens["api"])).status_code == 403
    assert client.get("/api/v1/gallery?model=dlib_resnet_v1", headers=bearer(tokens["api"])).status_code == 403
    assert client.post("/api/v1/heartbeat", json={}, headers=bearer(tokens["api"])).status_code == 403


def test_a_revoked_camera_is_refused_at_once(client, db, tokens):
    assert client.post("/api/v1/heartbeat", json={}, headers=bearer(tokens["camera"])).status_code == 200
    with db.session() as s:
        revoke_camera(s, s.get(Camera, tokens["camera_id"]), NOW)
    response = client.post("/api/v1/checkins", json=CHECKIN, headers=bearer(tokens["camera"]))
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == "token revoked"


def test_a_revoked_integration_token_is_refused_at_once(client, db, tokens):
    assert client.get("/api/v1/roll?class=6A1", headers=bearer(tokens["api"])).status_code == 200
    with db.session() as s:
        revoke_api_token(s, s.scalar(select(ApiToken).where(ApiToken.name == "sis")), NOW)
    assert client.get("/api/v1/roll?class=6A1", headers=bearer(tokens["api"])).status_code == 401


def test_only_hashes_are_stored(session, tokens):
    camera = session.get(Camera, tokens["camera_id"])
    assert tokens["camera"].startswith("cam_") and len(tokens["camera"]) > 40
    assert camera.token_hash == hashlib.sha256(tokens["camera"].encode()).hexdigest()
    stored = session.scalars(select(ApiToken.token_hash)).all()
    assert tokens["api"] not in stored and hashlib.sha256(tokens["api"].encode()).hexdigest() in stored
    assert authenticate_camera(session, tokens["camera"]).id == camera.id
    assert authenticate_api_token(session, tokens["api"]).name == "sis"
    with pytest.raises(PermissionDenied):
        authenticate_camera(session, tokens["api"])
    with pytest.raises(PermissionDenied):
        authenticate_camera(session, "cam_" + "x" * 500)


def test_a_school_token_reads_only_its_school(client, tokens):
    response = client.get("/api/v1/roll?class=7B&school=THCS2", headers=bearer(tokens["api"]))
    assert response.status_code == 403
    assert client.get("/api/v1/roll?class=7B", headers=bearer(tokens["api"])).status_code == 404


def test_a_district_token_names_the_school(client, tokens):
    response = client.get("/api/v1/roll?class=7B", headers=bearer(tokens["district"]))
    assert response.status_code == 422
    assert client.get("/api/v1/roll?class=7B&school=THCS2", headers=bearer(tokens["district"])).status_code == 200
    assert client.get("/api/v1/roll?class=7B&school=NOPE", headers=bearer(tokens["district"])).status_code == 404


def test_integration_reads_the_roll_and_the_checkins(client, tokens):
    client.post("/api/v1/checkins", json=CHECKIN, headers=bearer(tokens["camera"]))
    roll = client.get("/api/v1/roll?class=6A1&date=2026-09-07", headers=bearer(tokens["api"])).get_json()
    assert roll["school_code"] == "THCS1" and roll["date"] == "2026-09-07"
    assert roll["students"] == [{"student_code": "HS001", "full_name": "Nguyễn Văn An", "class_code": "6A1",
                                 "status": "on_time",
                                 "first_seen_at": "2026-09-06T23:50:00+00:00", "minutes_late": None,
                                 "camera": "gate-1", "source": "camera", "received_on": None}]
    today = client.get("/api/v1/roll?class=6A1", headers=bearer(tokens["api"])).get_json()
    assert today["date"] == "2026-09-07"
    bad = client.get("/api/v1/roll?class=6A1&date=07/09/2026", headers=bearer(tokens["api"]))
    assert bad.status_code == 422
    listing = client.get("/api/v1/checkins?since=2026-09-07T00:00:00Z", headers=bearer(tokens["api"])).get_json()
    assert [c["student_code"] for c in listing["checkins"]] == ["HS001"] and listing["next_after_id"] is None
    assert listing["checkins"][0]["class_code"] == "6A1"
    later = client.get("/api/v1/checkins?since=2026-09-07T01:00:00Z", headers=bearer(tokens["api"])).get_json()
    assert later["checkins"] == []
    naive = client.get("/api/v1/checkins?since=2026-09-07T00:00:00", headers=bearer(tokens["api"]))
    assert naive.status_code == 422
    paged = client.get("/api/v1/checkins?since=2026-09-07T00:00:00Z&limit=1", headers=bearer(tokens["api"]))
    assert paged.get_json()["next_after_id"] == listing["checkins"][0]["id"]
