"""Snapshot retention: check-in and unknown-face snapshots expire, files only ever go inside the instance folder."""

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from attendance.db.models import CheckIn, UnknownFace
from attendance.erasure import purge_expired_snapshots
from dashboard.webhook_worker import WebhookWorker
from factories import make_camera, make_class, make_school, make_student

NOW = dt.datetime(2026, 10, 20, 3, 0, tzinfo=dt.timezone.utc)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16 + b"\xff\xd9"


@pytest.fixture
def gate(session):
    school = make_school(session, "THCS1")
    student = make_student(session, make_class(session, school, "6A1"), "HS001")
    camera, _ = make_camera(session, school, "gate-1")
    return school, student, camera


def write_snapshot(instance: Path, school_id: int, captured_at: dt.datetime, name: str) -> str:
    relative = f"snapshots/{school_id}/{captured_at.date().isoformat()}/{name}.jpg"
    (instance / relative).parent.mkdir(parents=True, exist_ok=True)
    (instance / relative).write_bytes(JPEG)
    return relative


def add_checkin(session, instance, gate, n: int, age_days: float, *, snapshot: bool = True) -> CheckIn:
    school, student, camera = gate
    at = NOW - dt.timedelta(days=age_days)
    row = CheckIn(school_id=school.id, camera_id=camera.id, student_id=student.id, event_id=f"c{n}", seq=n,
                  captured_at=at, school_date=at.date(), received_at=at,
                  snapshot_path=write_snapshot(instance, school.id, at, f"c{n}") if snapshot else None)
    session.add(row)
    session.flush()
    return row


def add_unknown(session, instance, gate, n: int, age_days: float, status: str = "open") -> UnknownFace:
    school, student, camera = gate
    at = NOW - dt.timedelta(days=age_days)
    row = UnknownFace(school_id=school.id, camera_id=camera.id, event_id=f"u{n}", captured_at=at,
                      school_date=at.date(), received_at=at, status=status,
                      snapshot_path=None if status == "dismissed" else write_snapshot(instance, school.id, at, f"u{n}"),
                      resolved_student_id=student.id if status == "assigned" else None)
    session.add(row)
    session.flush()
    return row


def purge(session, instance, snapshot_days=30, unknown_days=7, now_at=NOW) -> int:
    return purge_expired_snapshots(session, instance, now_at, snapshot_retention_days=snapshot_days,
                                   unknown_retention_days=unknown_days)


def test_checkin_snapshots_expire_but_the_checkins_stay(session, instance, gate):
    old, recent = add_checkin(session, instance, gate, 1, 31), add_checkin(session, instance, gate, 2, 29)
    old_path, recent_path = old.snapshot_path, recent.snapshot_path
    assert purge(session, instance) == 1
    session.expire_all()
    assert session.get(CheckIn, old.id).snapshot_path is None and not (instance / old_path).exists()
    assert session.get(CheckIn, recent.id).snapshot_path == recent_path and (instance / recent_path).is_file()
    assert purge(session, instance) == 0


def test_unknown_faces_expire_with_their_rows_unless_assigned(session, instance, gate):
    open_old = add_unknown(session, instance, gate, 1, 8)
    dismissed_old = add_unknown(session, instance, gate, 2, 8, status="dismissed")
    assigned_old = add_unknown(session, instance, gate, 3, 8, status="assigned")
    open_recent = add_unknown(session, instance, gate, 4, 6)
    paths = {row.id: row.snapshot_path for row in (open_old, assigned_old, open_recent)}
    ids = (open_old.id, dismissed_old.id, assigned_old.id, open_recent.id)
    assert purge(session, instance) == 2
    session.expire_all()
    assert {row.id: (row.status, row.snapshot_path) for row in session.scalars(select(UnknownFace))} == {
        assigned_old.id: ("assigned", None), open_recent.id: ("open", paths[open_recent.id])}
    assert session.get(UnknownFace, ids[0]) is None and session.get(UnknownFace, ids[1]) is None
    assert not (instance / paths[open_old.id]).exists() and not (instance / paths[assigned_old.id]).exists()
    assert (instance / paths[open_recent.id]).is_file()


def test_zero_days_keeps_snapshots(session, instance, gate):
    checkin, unknown = add_checkin(session, instance, gate, 1, 400), add_unknown(session, instance, gate, 2, 400)
    assert purge(session, instance, snapshot_days=0, unknown_days=0) == 0
    session.expire_all()
    assert session.get(CheckIn, checkin.id).snapshot_path and session.get(UnknownFace, unknown.id).snapshot_path


def test_orphan_snapshots_of_expired_days_are_removed(session, instance, gate):
    school_id = gate[0].id
    orphan = write_snapshot(instance, school_id, NOW - dt.timedelta(days=40), "orphan")
    kept = write_snapshot(instance, school_id, NOW - dt.timedelta(days=29), "recent-orphan")
    (instance / "snapshots" / str(school_id) / "notes").mkdir()
    assert purge(session, instance) == 1
    assert not (instance / orphan).exists() and not (instance / orphan).parent.exists()
    assert (instance / kept).is_file() and (instance / "snapshots" / str(school_id) / "notes").is_dir()


def test_nothing_outside_the_instance_folder_is_removed(session, instance, gate, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.jpg").write_bytes(JPEG)
    (outside / "2026-01-01").mkdir()
    (outside / "2026-01-01" / "keep.jpg").write_bytes(JPEG)
    checkin = add_checkin(session, instance, gate, 1, 31, snapshot=False)
    checkin.snapshot_path = "../outside/keep.jpg"
    snapshots = instance / "snapshots" / "99"
    snapshots.mkdir(parents=True)
    (snapshots / "2026-01-02").symlink_to(outside / "2026-01-01", target_is_directory=True)
    (instance / "snapshots" / "98").symlink_to(outside, target_is_directory=True)
    purge(session, instance)
    assert (outside / "keep.jpg").is_file() and (outside / "2026-01-01" / "keep.jpg").is_file()
    assert session.get(CheckIn, checkin.id).snapshot_path is None


def test_the_worker_purges_about_once_an_hour(app, db):
    instance = Path(app.instance_path)
    with db.session() as s:
        school = make_school(s, "THCS1")
        gate = (school, make_student(s, make_class(s, school, "6A1"), "HS001"), make_camera(s, school, "gate-1")[0])
        first = add_checkin(s, instance, gate, 1, 31).snapshot_path
    worker = WebhookWorker(app)
    worker.tick(NOW)
    assert not (instance / first).exists()
    with db.session() as s:
        second = add_checkin(s, instance, gate, 2, 31).snapshot_path
    assert worker.purge_if_due(NOW + dt.timedelta(minutes=59)) is None
    assert (instance / second).is_file()
    worker.tick(NOW + dt.timedelta(hours=1))
    assert not (instance / second).exists()
