"""Erasing a student leaves nothing behind: rows, files, webhook bodies, audit details, orphan photos."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from attendance.checkins import record_checkins
from attendance.db.models import AuditEntry, CheckIn, EnrollmentPhoto, Student, WebhookDelivery
from attendance.erasure import erase_student, remove_instance_folder
from attendance.roll import set_override
from attendance.users import record_audit
from attendance.webhooks import create_webhook, enqueue_absences
from factories import make_camera, make_class, make_school, make_student

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY = dt.date(2026, 9, 7)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16 + b"\xff\xd9"


def local(hh, mm=0, day=MONDAY):
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=HCM).astimezone(dt.timezone.utc)


@pytest.fixture
def world(session):
    """Two schools; An (HS001) and Bình (HS002) at THCS1, and another HS001 at THCS2, each with a webhook."""
    school, other = make_school(session, "THCS1"), make_school(session, "THCS2")
    klass = make_class(session, school, "6A1")
    an, binh = make_student(session, klass, "HS001"), make_student(session, klass, "HS002")
    namesake = make_student(session, make_class(session, other, "7B"), "HS001")
    cameras = [make_camera(session, s, "gate-1")[0] for s in (school, other)]
    for s in (school, other):
        create_webhook(session, s, "https://example.org/hook")
    return school, other, an, binh, namesake, cameras


def check_in(session, camera, code, at, n):
    [result] = record_checkins(session, camera, [{"event_id": f"e{n}", "seq": n, "student_code": code,
                                                  "captured_at": at.isoformat()}], at)
    assert result["status"] == "created"


def test_webhook_bodies_naming_the_student_are_deleted(session, instance, world):
    school, _, an, _, _, cameras = world
    check_in(session, cameras[0], "HS001", local(6, 50), 1)
    check_in(session, cameras[0], "HS002", local(6, 51), 2)
    check_in(session, cameras[1], "HS001", local(6, 52), 3)
    enqueue_absences(session, school, MONDAY + dt.timedelta(days=1), local(10, day=MONDAY + dt.timedelta(days=1)))
    session.scalars(select(WebhookDelivery)).first().delivered_at = local(6, 55)  # sent ones go too
    assert sum(d.payload["student_code"] == "HS001" for d in session.scalars(select(WebhookDelivery))) == 3
    erase_student(session, instance, an)
    left = [(d.payload["school_code"], d.payload["student_code"], d.event_type)
            for d in session.scalars(select(WebhookDelivery))]
    assert sorted(left) == [("THCS1", "HS002", "absence"), ("THCS1", "HS002", "checkin"), ("THCS2", "HS001", "checkin")]


def test_audit_details_about_the_student_are_redacted_not_the_entries(session, instance, world):
    school, other, an, binh, namesake, _ = world
    set_override(session, an, MONDAY, "excused", "ốm, sốt cao", None)
    set_override(session, binh, MONDAY, "excused", "đi khám răng", None)
    set_override(session, namesake, MONDAY, "excused", "về quê", None)
    record_audit(session, "user:an", "student.photos", school_id=school.id, target=f"student:{an.id}",
                 detail={"added": 2})
    session.flush()
    entries = session.scalar(select(func.count()).select_from(AuditEntry))
    an_targets = {f"student:{an.student_code}", f"student:{an.id}"}
    erase_student(session, instance, an)
    session.expire_all()
    rows = session.scalars(select(AuditEntry).where(AuditEntry.action != "webhook.create")).all()
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries
    about_an = [r for r in rows if r.school_id == school.id and r.target in an_targets]
    assert [(r.action, r.detail) for r in about_an] == [("roll.override", None), ("student.photos", None)]
    assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.detail.is_(None),
                                                                             AuditEntry.target.in_(an_targets),
                                                                             AuditEntry.school_id == school.id)) == 2
    others = {(r.school_id, r.target): r.detail for r in rows if r not in about_an}
    assert others[(school.id, "student:HS002")]["reason"] == "đi khám răng"
    assert others[(other.id, "student:HS001")]["reason"] == "về quê"


def test_an_id_that_is_another_students_code_is_not_redacted(session, instance, world):
    school, _, an, _, _, _ = world
    lookalike = make_student(session, school=school, code=str(an.id))
    record_audit(session, "user:an", "student.update", school_id=school.id, target=f"student:{lookalike.student_code}",
                 detail={"class": "6A1"})
    session.flush()
    erase_student(session, instance, an)
    session.expire_all()
    assert session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "student.update")) == {"class": "6A1"}


def test_the_whole_photo_folder_goes_with_orphans(session, instance, world):
    school, _, an, binh, _, _ = world
    folder = instance / "photos" / str(school.id) / str(an.id)
    (folder / "sub").mkdir(parents=True)
    kept = folder / "kept.jpg"
    kept.write_bytes(JPEG)
    (folder / "orphan-from-a-failed-commit.jpg").write_bytes(JPEG)
    (folder / "sub" / "another.jpg").write_bytes(JPEG)
    session.add(EnrollmentPhoto(student_id=an.id, sha256="0" * 64, kept=True,
                                file_path=kept.relative_to(instance).as_posix()))
    binh_photo = instance / "photos" / str(school.id) / str(binh.id) / "b.jpg"
    binh_photo.parent.mkdir(parents=True)
    binh_photo.write_bytes(JPEG)
    session.flush()
    session.refresh(an)
    assert erase_student(session, instance, an) == 3
    assert not folder.exists() and binh_photo.is_file()
    assert session.get(Student, binh.id) is not None and session.scalar(select(func.count()).select_from(CheckIn)) == 0


def test_folders_are_removed_only_inside_the_instance(instance, tmp_path):
    outside = tmp_path / "outside"
    (outside / "inner").mkdir(parents=True)
    (outside / "inner" / "keep.jpg").write_bytes(JPEG)
    photos = instance / "photos" / "1"
    photos.mkdir(parents=True)
    (photos / "7").symlink_to(outside, target_is_directory=True)  # the student's folder is a link out
    assert remove_instance_folder(instance, "photos/1/7") == 0
    (photos / "8").mkdir()
    (photos / "8" / "escape").symlink_to(outside, target_is_directory=True)  # a link inside: removed, not followed
    (photos / "8" / "a.jpg").write_bytes(JPEG)
    assert remove_instance_folder(instance, "photos/1/8") == 1 and not (photos / "8").exists()
    assert remove_instance_folder(instance, "../outside") == 0
    assert remove_instance_folder(instance, outside) == 0
    assert remove_instance_folder(instance, ".") == 0 and instance.is_dir()
    assert (outside / "inner" / "keep.jpg").is_file()
    assert remove_instance_folder(instance, "photos/1/404") == 0
