"""POST /api/v1/checkins and /unknowns, the heartbeat, and the integrations' reads: the agents' contract."""

import base64
import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from attendance.crypto import is_sealed, read_sealed_file
from attendance.db.models import Camera, CheckIn, School, Student, UnknownFace
from factories import make_camera, make_class, make_school, make_student

NOW = dt.datetime(2026, 9, 7, 0, 30, tzinfo=dt.timezone.utc)  # Monday 07:30 in Ho Chi Minh
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


@pytest.fixture
def gate(app, db):
    """A school with a class of two students and a camera; the app's clock stopped at NOW."""
    app.config["CLOCK"] = lambda: NOW
    with db.session() as s:
        school = make_school(s, "THCS1")
        klass = make_class(s, school, "6A1")
        make_student(s, klass, "HS001", "Nguyễn Văn An")
        make_student(s, klass, "HS002", "Trần Thị Bình")
        other = make_school(s, "THCS2")
        make_student(s, make_class(s, other, "7B"), "HS900", "Lê Văn Cường")
        camera, token = make_camera(s, school, "gate-1")
        camera_id = camera.id
    return {"token": token, "camera_id": camera_id, "headers": {"Authorization": f"Bearer {token}"}}


def event(n: int, code: str = "HS001", **extra):
    return {"event_id": f"gate-1-{n}", "seq": n, "student_code": code, "captured_at": "2026-09-07T06:55:00+07:00",
            "distance": 0.31, "margin": 0.08, "votes": 3, "model_id": "dlib_resnet_v1", **extra}


def post(client, gate, events, path="/api/v1/checkins"):
    return client.post(path, json={"events": events}, headers=gate["headers"])


def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_created_then_duplicate_with_the_same_ids(client, db, gate):
    first = post(client, gate, [event(1), event(2, "HS002")])
    assert first.status_code == 200
    results = first.get_json()["results"]
    assert [r["status"] for r in results] == ["created", "created"]
    assert all(isinstance(r["checkin_id"], int) for r in results)
    again = post(client, gate, [event(2, "HS002"), event(1), event(3)]).get_json()["results"]
    assert [(r["status"], r.get("checkin_id")) for r in again[:2]] == [
        ("duplicate", results[1]["checkin_id"]), ("duplicate", results[0]["checkin_id"])]
    assert again[2]["status"] == "created"
    assert count(db, CheckIn) == 3


def test_the_same_event_twice_in_one_batch(client, db, gate):
    results = post(client, gate, [event(1), event(1)]).get_json()["results"]
    assert [r["status"] for r in results] == ["created", "duplicate"]
    assert results[0]["checkin_id"] == results[1]["checkin_id"]
    assert count(db, CheckIn) == 1


def test_every_event_is_stored_and_judged_in_the_school_zone(client, db, gate):
    post(client, gate, [event(1, captured_at="2026-09-06T23:50:00Z"), event(2, captured_at="2026-09-07T07:40:00+07:00")])
    with db.session() as s:
        rows = s.scalars(select(CheckIn).order_by(CheckIn.seq)).all()
        assert [r.school_date for r in rows] == [dt.date(2026, 9, 7)] * 2
        assert rows[0].captured_at == dt.datetime(2026, 9, 6, 23, 50, tzinfo=dt.timezone.utc)
        assert rows[0].received_at == NOW and rows[0].votes == 3 and rows[0].model_id == "dlib_resnet_v1"
        assert s.get(Camera, gate["camera_id"]).last_seen_at == NOW


@pytest.mark.parametrize("bad, code", [
    ({"captured_at": "2026-09-07T06:55:00"}, "invalid_event"),  # naive
    ({"captured_at": "yesterday"}, "invalid_event"),
    ({"captured_at": "2026-09-09T06:55:00+07:00"}, "invalid_event"),  # two days ahead of the server
    ({"seq": "1"}, "invalid_event"),
    ({"seq": None}, "invalid_event"),
    ({"distance": "0.3"}, "invalid_event"),
    ({"votes": 2.5}, "invalid_event"),
    ({"liveness": [1, 2]}, "invalid_event"),
    ({"student_code": "NOPE"}, "unknown_student"),
    ({"student_code": "HS900"}, "unknown_student"),  # a student of another school
    ({"snapshot_jpeg_b64": "%%%"}, "bad_snapshot"),
    ({"snapshot_jpeg_b64": base64.b64encode(b"GIF89a...").decode()}, "bad_snapshot"),
])
def test_a_bad_event_is_a_per_event_error_not_a_batch_failure(client, db, gate, bad, code):
    response = post(client, gate, [event(1), event(2, **bad), event(3, "HS002")])
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["created", "error", "created"]
    assert results[1]["event_id"] == "gate-1-2"
    assert results[1]["error"]["code"] == code and results[1]["error"]["message"]
    assert count(db, CheckIn) == 2


def test_malformed_events_and_ids(client, gate):
    results = post(client, gate, ["not an object", {"event_id": "x" * 65, "seq": 1}, {"seq": 1}]).get_json()["results"]
    assert [(r["event_id"], r["status"], r["error"]["code"]) for r in results] == [
        (None, "error", "invalid_event"), ("x" * 65, "error", "invalid_event"), (None, "error", "invalid_event")]


def test_snapshot_is_saved_under_the_instance_folder(app, client, db, gate):
    results = post(client, gate, [event(1, snapshot_jpeg_b64=base64.b64encode(JPEG).decode())]).get_json()["results"]
    with db.session() as s:
        row = s.get(CheckIn, results[0]["checkin_id"])
        path = row.snapshot_path
    parts = Path(path).parts
    assert parts[:3] == ("snapshots", str(row.school_id), "2026-09-07") and path.endswith(".jpg")
    stored = (Path(app.instance_path) / path).read_bytes()
    assert is_sealed(stored) and read_sealed_file(Path(app.instance_path) / path, "snapshot") == JPEG  # sealed at rest


def test_batch_limits_and_body_shape(client, gate):
    too_many = post(client, gate, [event(i) for i in range(501)])
    assert too_many.status_code == 413
    assert too_many.get_json()["error"]["code"] == "too_many_events"
    assert client.post("/api/v1/checkins", json={"evts": []}, headers=gate["headers"]).status_code == 422
    assert client.post("/api/v1/checkins", json=[event(1)], headers=gate["headers"]).status_code == 422
    malformed = client.post("/api/v1/checkins", data=b"{not json", headers=gate["headers"],
                            content_type="application/json")
    assert malformed.status_code == 400 and malformed.get_json()["error"]["code"] == "malformed_json"
    assert post(client, gate, []).get_json() == {"results": []}


def test_five_hundred_events_in_one_batch(client, db, gate):
    response = post(client, gate, [event(i, "HS001" if i % 2 else "HS002") for i in range(500)])
    assert response.status_code == 200
    assert {r["status"] for r in response.get_json()["results"]} == {"created"}
    assert count(db, CheckIn) == 500


def test_concurrent_retries_of_one_batch_store_each_event_once(app, db, gate):
    batch = [event(i) for i in range(20)]
    answers, errors = [], []

    def send():
        try:
            response = app.test_client().post("/api/v1/checkins", json={"events": batch}, headers=gate["headers"])
            answers.append(response.get_json()["results"])
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(answers) == 4
    assert count(db, CheckIn) == 20
    for i in range(20):
        ids = {a[i]["checkin_id"] for a in answers}
        statuses = [a[i]["status"] for a in answers]
        assert len(ids) == 1 and statuses.count("created") == 1 and statuses.count("duplicate") == 3


def test_unknowns_are_stored_once_with_their_snapshot(app, client, db, gate):
    unknown = {"event_id": "u-1", "seq": 7, "captured_at": "2026-09-07T06:58:00+07:00", "best_distance": 0.52,
               "snapshot_jpeg_b64": base64.b64encode(JPEG).decode(), "liveness": {"motion": 0.4}}
    first = post(client, gate, [unknown, {"event_id": "u-2", "seq": 8, "captured_at": "06:58"}], "/api/v1/unknowns")
    assert first.status_code == 200
    results = first.get_json()["results"]
    assert results[0]["status"] == "created" and results[1]["error"]["code"] == "invalid_event"
    again = post(client, gate, [unknown], "/api/v1/unknowns").get_json()["results"]
    assert again == [{"event_id": "u-1", "status": "duplicate", "unknown_id": results[0]["unknown_id"]}]
    with db.session() as s:
        row = s.scalar(select(UnknownFace))
        assert (row.status, row.best_distance, row.school_date) == ("open", 0.52, dt.date(2026, 9, 7))
        assert read_sealed_file(Path(app.instance_path) / row.snapshot_path, "snapshot") == JPEG


def test_heartbeat_marks_the_camera_seen(client, db, gate):
    response = client.post("/api/v1/heartbeat", headers=gate["headers"], json={
        "fps": 14.8, "queue_depth": 3, "oldest_unsent_age_s": 12.5, "last_error": "", "version": "0.1.0",
        "backend": "dlib", "something_new": {"nested": True}})
    assert response.status_code == 200
    assert response.get_json() == {"server_time": NOW.isoformat()}
    with db.session() as s:
        camera = s.get(Camera, gate["camera_id"])
        assert camera.last_seen_at == NOW
        assert camera.last_heartbeat["fps"] == 14.8 and camera.last_heartbeat["queue_depth"] == 3
        assert "something_new" not in camera.last_heartbeat
    bad = client.post("/api/v1/heartbeat", headers=gate["headers"], json={"fps": [1]})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_input"


def snapshot_files(app) -> list[Path]:
    root = Path(app.instance_path) / "snapshots"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_student_without_consent_is_refused_and_no_face_is_kept(app, client, db, gate):
    """An agent on a stale gallery still matches a child whose guardian withdrew consent: refuse, keep nothing."""
    with db.session() as s:
        camera = s.get(Camera, gate["camera_id"])
        make_student(s, school=s.get(School, camera.school_id), code="HS003", consent=False)
    snap = base64.b64encode(JPEG).decode()
    results = post(client, gate, [event(1, snapshot_jpeg_b64=snap), event(2, "HS003", snapshot_jpeg_b64=snap),
                                  event(3, "HS003")]).get_json()["results"]
    assert [r["status"] for r in results] == ["created", "error", "error"]
    assert {r["error"]["code"] for r in results[1:]} == {"no_consent"}
    assert "checkin_id" not in results[1]
    assert count(db, CheckIn) == 1
    assert len(snapshot_files(app)) == 1  # only HS001's


def aged(days: float) -> str:
    return (NOW - dt.timedelta(days=days)).isoformat()


def set_camera_created(db, gate, at: dt.datetime) -> None:
    with db.session() as s:
        s.get(Camera, gate["camera_id"]).created_at = at


def test_events_older_than_the_age_limit_are_refused(app, client, db, gate):
    set_camera_created(db, gate, NOW - dt.timedelta(days=90))
    snap = base64.b64encode(JPEG).decode()
    batch = [event(1, captured_at=aged(6.9)), event(2, captured_at=aged(7.1), snapshot_jpeg_b64=snap),
             event(3, captured_at=aged(400))]
    results = post(client, gate, batch).get_json()["results"]
    assert [r["status"] for r in results] == ["created", "error", "error"]
    assert {r["error"]["code"] for r in results[1:]} == {"too_old"}
    unknowns = post(client, gate, [{"event_id": "u-1", "seq": 1, "captured_at": aged(8), "snapshot_jpeg_b64": snap}],
                    "/api/v1/unknowns").get_json()["results"]
    assert unknowns[0]["error"]["code"] == "too_old"
    assert count(db, CheckIn) == 1 and count(db, UnknownFace) == 0 and snapshot_files(app) == []


def test_events_from_before_the_camera_was_registered_are_refused(client, db, gate):
    set_camera_created(db, gate, NOW - dt.timedelta(days=3))
    batch = [event(1, captured_at=aged(3.5)), event(2, captured_at=aged(4.5))]
    results = post(client, gate, batch).get_json()["results"]
    # a day of clock skew is allowed before the registration; more is a replay of someone else's outbox
    assert [r["status"] for r in results] == ["created", "error"]
    assert results[1]["error"]["code"] == "too_old"


def test_the_age_limit_is_a_parameter_and_zero_lifts_it(session):
    from attendance.checkin_fields import oldest_accepted_at
    from attendance.checkins import record_checkins

    school = make_school(session, "THCS9")
    make_student(session, make_class(session, school, "6A1"), "HS001")
    camera, _ = make_camera(session, school, "gate-9")
    camera.created_at = NOW - dt.timedelta(days=365)
    assert oldest_accepted_at(camera, NOW, 7) == NOW - dt.timedelta(days=7)
    assert oldest_accepted_at(camera, NOW, 0) == camera.created_at - dt.timedelta(days=1)
    # a camera registered "after" now (the server's clock went back) counts as registered now
    camera.created_at = NOW + dt.timedelta(days=30)
    assert oldest_accepted_at(camera, NOW, 0) == NOW - dt.timedelta(days=1)
    camera.created_at = NOW - dt.timedelta(days=365)
    old = {"event_id": "e1", "seq": 1, "student_code": "HS001", "captured_at": aged(20)}
    assert record_checkins(session, camera, [old], NOW, max_age_days=14)[0]["error"]["code"] == "too_old"
    assert record_checkins(session, camera, [old], NOW, max_age_days=30)[0]["status"] == "created"


def test_an_unknown_keeps_the_nearest_student_of_its_school_only(client, db, gate):
    base = {"seq": 1, "captured_at": "2026-09-07T06:58:00+07:00", "best_distance": 0.61}
    results = post(client, gate, [{**base, "event_id": "n-1", "nearest_student_code": "HS002"},
                                  {**base, "event_id": "n-2", "nearest_student_code": "HS900"},  # another school's
                                  {**base, "event_id": "n-3"}], "/api/v1/unknowns").get_json()["results"]
    assert [r["status"] for r in results] == ["created"] * 3
    with db.session() as s:
        rows = {u.event_id: u for u in s.scalars(select(UnknownFace))}
        binh = s.scalar(select(Student.id).where(Student.student_code == "HS002"))
        assert rows["n-1"].nearest_student_id == binh
        assert rows["n-2"].nearest_student_id is None and rows["n-3"].nearest_student_id is None
