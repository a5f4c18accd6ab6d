"""Suspected presentation attacks on the server: flag or refuse, the roll's badge, the teacher's review, webhooks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from attendance.checkins import record_checkins
from attendance.db.models import AuditEntry, CheckIn, UnknownFace, WebhookDelivery
from attendance.errors import InvalidInput, NotFound
from attendance.liveness_review import count_flagged, review_checkin
from attendance.roll import compute_class_roll
from attendance.webhooks import create_webhook
from factories import make_camera, make_class, make_school, make_student, make_user

NOW = dt.datetime(2026, 9, 7, 2, 30, tzinfo=dt.timezone.utc)  # Monday 09:30 in Ho Chi Minh: the roll is decided
TODAY = NOW.date()
CAPTURED = dt.datetime(2026, 9, 7, 6, 41, tzinfo=dt.timezone(dt.timedelta(hours=7)))
PASSWORD = "correct horse battery"
JPEG_B64 = "/9j/4AAQ" + "A" * 40 + "//Z="
ATTACK = {"verdict": "suspected_attack", "spoof_score_mean": 0.012, "spoof_frames": 2, "frames": 9}
LIVE = {"verdict": "live", "spoof_score_mean": 0.97, "spoof_frames": 2, "frames": 9}


def event(n: int, code: str, liveness: dict) -> dict:
    return {"event_id": f"e{n}", "seq": n, "student_code": code, "captured_at": CAPTURED.isoformat(),
            "liveness": liveness}


@pytest.fixture
def gate(session):
    school = make_school(session, "THCS1")
    klass = make_class(session, school, "6A1")
    an = make_student(session, klass, "HS001", "Nguyễn Văn An")
    binh = make_student(session, klass, "HS002", "Trần Thị Bình")
    camera, _ = make_camera(session, school, "gate-1")
    hook, _ = create_webhook(session, school, "https://example.invalid/hook")
    return school, klass, an, binh, camera


def test_flag_stores_a_pending_checkin_that_counts_and_is_shown(session, gate):
    school, klass, an, binh, camera = gate
    results = record_checkins(session, camera, [event(1, "HS001", ATTACK), event(2, "HS002", LIVE)], NOW)
    assert [r["status"] for r in results] == ["created", "created"]
    rows = {c.student_id: c for c in session.scalars(select(CheckIn))}
    assert rows[an.id].review_status == "pending" and rows[binh.id].review_status is None
    roll = {e.student_code: e for e in compute_class_roll(session, klass, TODAY, NOW)}
    assert roll["HS001"].status == "on_time" and roll["HS001"].review_status == "pending"
    assert roll["HS002"].review_status is None
    assert count_flagged(session, school.id, TODAY) == {"pending": 1, "confirmed": 0, "rejected": 0}
    payloads = {d.payload["student_code"]: d.payload for d in session.scalars(select(WebhookDelivery))}
    assert payloads["HS001"]["liveness_review"] == "pending"
    assert payloads["HS002"]["liveness_review"] is None


def test_refuse_stores_a_flagged_unknown_and_no_checkin(session, gate):
    _, klass, an, _, camera = gate
    events = [event(1, "HS002", LIVE), event(2, "HS001", ATTACK)]
    results = record_checkins(session, camera, events, NOW, liveness_action="refuse")
    assert results[0]["status"] == "created" and "checkin_id" in results[0]
    assert results[1]["status"] == "created" and "unknown_id" in results[1]
    assert session.scalar(select(CheckIn).where(CheckIn.student_id == an.id)) is None
    unknown = session.scalar(select(UnknownFace))
    assert (unknown.flag, unknown.claimed_student_id, unknown.status) == ("suspected_attack", an.id, "open")
    again = record_checkins(session, camera, events, NOW, liveness_action="refuse")
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert again[1]["unknown_id"] == results[1]["unknown_id"]
    roll = {e.student_code: e for e in compute_class_roll(session, klass, TODAY, NOW)}
    assert roll["HS001"].status == "absent"


def test_refuse_still_checks_the_student_code(session, gate):
    *_, camera = gate
    [result] = record_checkins(session, camera, [event(1, "NOBODY", ATTACK)], NOW, liveness_action="refuse")
    assert result["error"]["code"] == "unknown_student"
    assert session.scalar(select(UnknownFace)) is None


def test_review_confirm_and_reject_are_audited_and_reject_takes_it_off_the_roll(session, gate):
    school, klass, an, _, camera = gate
    [result] = record_checkins(session, camera, [event(1, "HS001", ATTACK)], NOW)
    teacher = make_user(session, "lan", school=school, classes=[klass])
    review_checkin(session, result["checkin_id"], "reject", teacher.id, school_id=school.id)
    roll = {e.student_code: e for e in compute_class_roll(session, klass, TODAY, NOW)}
    assert roll["HS001"].status == "absent" and roll["HS001"].checkin_id is None
    review_checkin(session, result["checkin_id"], "confirm", teacher.id)
    roll = {e.student_code: e for e in compute_class_roll(session, klass, TODAY, NOW)}
    assert roll["HS001"].status == "on_time" and roll["HS001"].review_status == "confirmed"
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "checkin.liveness_review")
                              .order_by(AuditEntry.id)).all()
    assert [(e.detail["decision"], e.detail["previous"]) for e in entries] == [
        ("rejected", "pending"), ("confirmed", "rejected")]
    assert entries[0].actor == "user:lan" and entries[0].target == "student:HS001"


def test_review_refuses_bad_input(session, gate):
    school, *_, camera = gate
    [flagged, plain] = record_checkins(session, camera, [event(1, "HS001", ATTACK), event(2, "HS002", LIVE)], NOW)
    with pytest.raises(InvalidInput, match="confirm or reject"):
        review_checkin(session, flagged["checkin_id"], "maybe", None)
    with pytest.raises(InvalidInput, match="not flagged"):
        review_checkin(session, plain["checkin_id"], "reject", None)
    with pytest.raises(NotFound):
        review_checkin(session, flagged["checkin_id"], "reject", None, school_id=school.id + 1)


# --- through the dashboard --------------------------------------------------------------------------------


@pytest.fixture
def flagged_world(app, db):
    app.config["CLOCK"] = lambda: NOW
    snapshots = Path(app.instance_path) / "snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    (snapshots / "an.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 32 + b"\xff\xd9")
    with db.session() as s:
        school = make_school(s, "LL")
        klass, other = make_class(s, school, "6A1"), make_class(s, school, "6A2")
        an = make_student(s, klass, "HS001", "Nguyễn Văn An")
        make_user(s, "lan", school=school, password=PASSWORD, classes=[klass])
        make_user(s, "mai", school=school, password=PASSWORD, classes=[other])
        camera, _ = make_camera(s, school, "gate-1")
        [result] = record_checkins(s, camera, [event(1, "HS001", ATTACK)], NOW)
        s.get(CheckIn, result["checkin_id"]).snapshot_path = "snapshots/an.jpg"
        s.commit()
        return {"class": klass.id, "other": other.id, "checkin": result["checkin_id"], "an": an.id}


def login(client, username: str):
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return client


def test_teacher_sees_the_badge_and_snapshot_and_confirms_or_rejects(client, flagged_world, db):
    login(client, "lan")
    url = f"/classes/{flagged_world['class']}"
    page = client.get(url).get_data(as_text=True)
    assert 'class="badge review"' in page and "Cần kiểm tra: ảnh?" in page
    assert f"/media/checkin/{flagged_world['checkin']}.jpg" in page  # the snapshot beside the badge
    today = client.get("/today/counts").get_data(as_text=True)
    assert "stat review" in today
    response = client.post(f"{url}/review", data={"checkin_id": flagged_world["checkin"], "decision": "reject"})
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert 'class="badge review"' not in page and "badge absent" in page
    client.post(f"{url}/review", data={"checkin_id": flagged_world["checkin"], "decision": "confirm"})
    page = client.get(url).get_data(as_text=True)
    assert "Giáo viên đã kiểm tra" in page and "badge on_time" in page
    with db.session() as s:
        decisions = [e.detail["decision"] for e in s.scalars(
            select(AuditEntry).where(AuditEntry.action == "checkin.liveness_review").order_by(AuditEntry.id))]
    assert decisions == ["rejected", "confirmed"]


def test_a_teacher_of_another_class_cannot_review(client, flagged_world, db):
    login(client, "mai")
    response = client.post(f"/classes/{flagged_world['class']}/review",
                           data={"checkin_id": flagged_world["checkin"], "decision": "reject"})
    assert response.status_code in (403, 404)
    response = client.post(f"/classes/{flagged_world['other']}/review",
                           data={"checkin_id": flagged_world["checkin"], "decision": "reject"}, follow_redirects=True)
    assert response.status_code == 403  # the check-in's student is not hers either
    with db.session() as s:
        assert s.get(CheckIn, flagged_world["checkin"]).review_status == "pending"


def test_erasing_a_student_removes_the_refused_photos_that_named_them(session, gate, instance):
    from attendance.erasure import erase_student

    _, _, an, binh, camera = gate
    flagged = dict(event(1, "HS001", ATTACK), snapshot_jpeg_b64=JPEG_B64)
    other = dict(event(2, "HS002", ATTACK), snapshot_jpeg_b64=JPEG_B64)
    record_checkins(session, camera, [flagged, other], NOW, instance_path=instance, liveness_action="refuse")
    paths = {u.claimed_student_id: u.snapshot_path for u in session.scalars(select(UnknownFace))}
    assert all((instance / p).is_file() for p in paths.values())
    erase_student(session, instance, an)
    assert [u.claimed_student_id for u in session.scalars(select(UnknownFace))] == [binh.id]
    assert not (instance / paths[an.id]).exists() and (instance / paths[binh.id]).is_file()


def test_admin_sees_a_refused_photo_flagged_and_cannot_enroll_it(app, client, db):
    app.config["CLOCK"] = lambda: NOW
    with db.session() as s:
        school = make_school(s, "LL")
        an = make_student(s, make_class(s, school, "6A1"), "HS001", "Nguyễn Văn An")
        make_user(s, "admin", school=school, role="school_admin", password=PASSWORD)
        camera, _ = make_camera(s, school, "gate-1")
        [result] = record_checkins(s, camera, [event(1, "HS001", ATTACK)], NOW, liveness_action="refuse")
        s.commit()
        an_id = an.id
    login(client, "admin")
    page = client.get("/unknown").get_data(as_text=True)
    assert "Đã từ chối vì nghi là ảnh của Nguyễn Văn An." in page
    assert f"/unknown/{result['unknown_id']}/assign" not in page
    response = client.post(f"/unknown/{result['unknown_id']}/assign", data={"student_id": an_id},
                           follow_redirects=True)
    assert "không thể được đăng ký" in response.get_data(as_text=True)  # the detail in the page's language
    with db.session() as s:
        assert s.get(UnknownFace, result["unknown_id"]).status == "open"
