"""200+ malformed requests against the pages and the API: never a 5xx, the API's error shape on every 4xx,
and nothing lost (the school's records are all there after the run)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from attendance.cameras import create_api_token
from attendance.db.models import CheckIn, SchoolClass, Student, UnknownFace, User
from corpus import malformed_requests
from factories import make_camera, make_class, make_school, make_student, make_user

PASSWORD = "correct horse battery"
NOW = dt.datetime(2026, 9, 7, 0, 30, tzinfo=dt.timezone.utc)
CORPUS = list(malformed_requests())


@pytest.fixture
def world(app, db):
    app.config["CLOCK"] = lambda: NOW
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a failure is a 500 answer to count, not a raise
    with db.session() as s:
        school = make_school(s, "LL", "THCS Lê Lợi")
        klass = make_class(s, school, "6A1", grade=6)
        student = make_student(s, klass, "HS001", "Nguyễn Văn An")
        make_student(s, klass, "HS002", "Trần Thị Bình")
        make_user(s, "admin", school=school, role="school_admin", password=PASSWORD)
        teacher = make_user(s, "lan", school=school, role="teacher", password=PASSWORD, classes=[klass])
        camera, camera_token = make_camera(s, school, "gate-1")
        _, api_token = create_api_token(s, "sis", school)
        unknown = UnknownFace(school_id=school.id, camera_id=camera.id, event_id="u-1", captured_at=NOW,
                              received_at=NOW, school_date=NOW.date(), status="open")
        s.add(unknown)
        s.flush()
        ids = {"class_id": klass.id, "student_id": student.id, "user_id": teacher.id, "unknown_id": unknown.id}
    return {"ids": ids, "camera": {"Authorization": f"Bearer {camera_token}"},
            "integration": {"Authorization": f"Bearer {api_token}"}}


def fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids) if "{" in value and "}" in value and value.strip("{}") in ids else value
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 200


def test_no_malformed_request_gets_a_5xx_and_nothing_is_lost(app, db, world):
    admin = app.test_client()
    assert admin.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 302
    failures = []
    for label, method, path, kwargs in CORPUS:
        kwargs = dict(kwargs)
        api = kwargs.pop("api", None)
        client = app.test_client() if api or path == "/login" else admin
        if api:
            kwargs["headers"] = world[api]
        if "data" in kwargs and isinstance(kwargs["data"], dict):
            kwargs["data"] = fill(kwargs["data"], world["ids"])
        response = client.open(path.format(**world["ids"]), method=method, **kwargs)
        if response.status_code >= 500:
            failures.append((label, response.status_code))
        elif api and response.status_code >= 400:
            error = (response.get_json(silent=True) or {}).get("error", {})
            if set(error) != {"code", "message"}:
                failures.append((label, "error shape", response.get_data()[:100]))
    assert failures == [], f"{len(failures)} of {len(CORPUS)}: {failures[:40]}"
    with db.session() as s:
        assert set(s.scalars(select(Student.student_code))) >= {"HS001", "HS002"}
        assert s.scalar(select(func.count()).select_from(SchoolClass)) >= 1
        assert set(s.scalars(select(User.username))) >= {"admin", "lan"}
        assert s.scalar(select(func.count()).select_from(CheckIn)) == 0
