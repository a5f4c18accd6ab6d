"""Consent that stands up: records kept as history, each scope honoured where it applies, withdrawal end to end."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from sqlalchemy import func, select

from attendance.consent import (
    consent_history, current_record, current_scopes, needs_child_agreement, record_consent, withdraw_consent,
)
from attendance.db.models import AuditEntry, CheckIn, ConsentRecord, EnrollmentPhoto, FaceTemplate, Student
from attendance.enrollment import enroll_photo
from attendance.errors import InvalidInput, NotFound
from attendance.notices import current_notice, publish_notice
from attendance.settings import Settings, load_settings
from factories import make_camera, make_class, make_school, make_student
from test_migrations import empty_url  # noqa: F401 (fixture)
from test_enrollment_lookalikes import SeedEngine, photo_of

NOW = dt.datetime(2026, 9, 7, 0, 30, tzinfo=dt.timezone.utc)  # Monday 07:30 in Ho Chi Minh
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"
FORM_DAY = dt.date(2026, 8, 20)


def consent(session, student, *, recognition=True, snapshots=True, photos=True, child_agreed=True, **extra):
    return record_consent(session, student, guardian_name="Nguyễn Thị Mai", guardian_relation="mẹ",
                          given_on=FORM_DAY, recognition=recognition, snapshots=snapshots, photos=photos,
                          child_agreed=child_agreed, actor="user:admin", **{"instance_path": None, **extra})


@pytest.fixture
def school_class(session):
    return make_class(session, make_school(session, "THCS1"), "6A1")


def test_a_new_answer_is_a_new_record_and_the_history_stays(session, school_class):
    student = make_student(session, school_class, "HS001", consent=False)
    first = consent(session, student)
    second = consent(session, student, snapshots=False)
    assert [r.id for r in consent_history(session, student)] == [second.id, first.id]
    assert current_record(session, student).id == second.id
    assert current_scopes(session, [student.id])[student.id].as_dict() == {
        "recognition": True, "snapshots": False, "photos": True}
    assert student.consent_given and student.consent_by == "Nguyễn Thị Mai"
    assert first.notice.version == 1 and "Trường THCS1" in first.notice.text_vi
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target == "student:HS001")).all()
    assert actions == ["consent.record", "consent.record"]


def test_the_child_agrees_from_age_7_and_an_unknown_birth_date_counts_as_7(session, school_class):
    young = make_student(session, school_class, "HS010", consent=False)
    young.date_of_birth = dt.date(2020, 3, 1)  # 6 on the form's day
    older = make_student(session, school_class, "HS011", consent=False)
    older.date_of_birth = dt.date(2019, 8, 20)  # 7 that very day
    unknown = make_student(session, school_class, "HS012", consent=False)
    assert not needs_child_agreement(young, FORM_DAY)
    assert needs_child_agreement(older, FORM_DAY) and needs_child_agreement(unknown, FORM_DAY)
    assert consent(session, young, child_agreed=None).child_agreed is None
    for student in (older, unknown):
        with pytest.raises(InvalidInput, match="own agreement"):
            consent(session, student, child_agreed=None)
        with pytest.raises(InvalidInput, match="own agreement"):
            consent(session, student, child_agreed=False)
    refusal = consent(session, older, recognition=False, snapshots=False, photos=False, child_agreed=False)
    assert refusal.child_agreed is False and not older.consent_given


def test_records_name_the_notice_version_shown(session, school_class):
    student = make_student(session, school_class, "HS001", consent=False)
    first = current_notice(session, school_class.school_id)
    second = publish_notice(session, school_class.school_id, "Thông báo mới", "New notice", actor="user:admin")
    assert (first.version, second.version) == (1, 2)
    assert consent(session, student).notice_id == second.id
    assert consent(session, student, notice=first).notice_id == first.id
    with pytest.raises(InvalidInput, match="same"):
        publish_notice(session, school_class.school_id, "Thông báo mới", "New notice", actor="user:admin")
    with pytest.raises(InvalidInput):
        publish_notice(session, school_class.school_id, "", "New notice", actor="user:admin")


def post_checkin(client, headers, n, code, snapshot=True):
    event = {"event_id": f"e{n}", "seq": n, "student_code": code, "captured_at": "2026-09-07T06:55:00+07:00"}
    if snapshot:
        event["snapshot_jpeg_b64"] = base64.b64encode(JPEG).decode()
    response = client.post("/api/v1/checkins", json={"events": [event]}, headers=headers)
    assert response.status_code == 200
    return response.get_json()["results"][0]


@pytest.fixture
def gate(app, db):
    app.config["CLOCK"] = lambda: NOW
    with db.session() as s:
        klass = make_class(s, make_school(s, "THCS1"), "6A1")
        make_student(s, klass, "HS001", templates=2)
        make_student(s, klass, "HS002", templates=2, snapshots=False)
        make_student(s, klass, "HS003", templates=2, consent=False)
        _, token = make_camera(s, klass.school, "gate-1")
    return {"Authorization": f"Bearer {token}"}


def test_snapshot_scope_decides_whether_the_snapshot_is_kept(client, db, gate, instance):
    kept = post_checkin(client, gate, 1, "HS001")
    dropped = post_checkin(client, gate, 2, "HS002")
    refused = post_checkin(client, gate, 3, "HS003")
    assert kept["status"] == "created" and "snapshot" not in kept
    assert dropped["status"] == "created" and dropped["snapshot"] == "not_kept_no_consent"
    assert refused["error"]["code"] == "no_consent"
    with db.session() as s:
        paths = dict(s.execute(select(CheckIn.event_id, CheckIn.snapshot_path)).all())
    assert paths["e1"] and (instance / paths["e1"]).is_file() and paths["e2"] is None
    assert len(list((instance / "snapshots").rglob("*.jpg"))) == 1


def test_photo_scope_decides_whether_the_enrollment_photo_is_kept(session, school_class, settings, tmp_path):
    keeping = load_settings(Settings, environ={}, overrides={
        "instance_path": settings.instance_path, "database_url": settings.database_url,
        "keep_enrollment_photos": True})
    with_photos = make_student(session, school_class, "HS001")
    without = make_student(session, school_class, "HS002", photos=False)
    no_record = make_student(session, school_class, "HS003", consent=False)
    results = {s.student_code: enroll_photo(session, SeedEngine(), keeping, s, photo_of(40 + s.id))
               for s in (with_photos, without, no_record)}
    assert {code: r.photo_kept for code, r in results.items()} == {"HS001": True, "HS002": False, "HS003": False}
    kept = dict(session.execute(select(EnrollmentPhoto.student_id, EnrollmentPhoto.file_path)).all())
    assert kept[with_photos.id] and kept[without.id] is None and kept[no_record.id] is None
    assert session.scalar(select(func.count()).select_from(FaceTemplate)) == 3  # templates are stored for all
    # a narrower answer later removes the file already kept, and keeps the template
    consent(session, with_photos, photos=False, instance_path=settings.instance_path)
    session.expire_all()
    photo = session.scalar(select(EnrollmentPhoto).where(EnrollmentPhoto.student_id == with_photos.id))
    assert photo.file_path is None and not photo.kept and len(photo.templates) == 1
    assert not list((tmp_path / "instance" / "photos").rglob("*.jpg"))


def test_withdrawal_end_to_end(client, app, db, gate, instance):
    """The gallery no longer lists the student; templates, photos and snapshots are gone; attendance stays."""
    assert post_checkin(client, gate, 1, "HS001")["status"] == "created"
    with db.session() as s:
        student = s.scalar(select(Student).where(Student.student_code == "HS001"))
        folder = instance / "photos" / str(student.school_id) / str(student.id)
        folder.mkdir(parents=True)
        (folder / "a.jpg").write_bytes(JPEG)
        s.add(EnrollmentPhoto(student_id=student.id, sha256="a" * 64, kept=True,
                              file_path=(folder / "a.jpg").relative_to(instance).as_posix()))
    gallery = client.get("/api/v1/gallery?model=dlib_resnet_v1", headers=gate).get_json()
    assert [s["student_code"] for s in gallery["students"]] == ["HS001", "HS002"]
    with db.session() as s:
        student = s.scalar(select(Student).where(Student.student_code == "HS001"))
        removal = withdraw_consent(s, instance, student, actor="user:admin", note="phụ huynh gọi điện")
        assert removal.as_dict() == {"templates": 2, "photos": 1, "photo_files": 1, "snapshot_files": 1}
        with pytest.raises(NotFound):
            withdraw_consent(s, instance, student)
    after = client.get("/api/v1/gallery?model=dlib_resnet_v1", headers=gate)
    assert after.headers["ETag"] != f'"{gallery["version"]}"'
    assert [s["student_code"] for s in after.get_json()["students"]] == ["HS002"]
    assert post_checkin(client, gate, 2, "HS001")["error"]["code"] == "no_consent"  # a stale agent is refused
    with db.session() as s:
        student = s.scalar(select(Student).where(Student.student_code == "HS001"))
        assert s.scalar(select(func.count()).select_from(FaceTemplate).where(FaceTemplate.student_id == student.id)) == 0
        assert s.scalar(select(func.count()).select_from(EnrollmentPhoto)) == 0
        checkin = s.scalar(select(CheckIn).where(CheckIn.student_id == student.id))
        assert checkin is not None and checkin.snapshot_path is None  # attendance kept, its face not
        record = s.scalar(select(ConsentRecord).where(ConsentRecord.student_id == student.id))
        assert record.withdrawn_at is not None and record.withdrawal_note == "phụ huynh gọi điện"
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "consent.withdraw"))
        assert entry.target == "student:HS001" and entry.detail["removed"]["templates"] == 2
    assert not folder.exists() and not list((instance / "snapshots").rglob("*.jpg"))


def test_withdraw_consent_command(cli, db, instance):
    with db.session() as s:
        klass = make_class(s, make_school(s, "THCS1"), "6A1")
        make_student(s, klass, "HS001", templates=3)
    status, out, _ = cli("students", "consent", "HS001")
    assert status == 0 and "recognised by the cameras" in out and "recognition,snapshots,photos" in out
    status, out, _ = cli("students", "withdraw-consent", "HS001", "--note", "by phone")
    assert status == 0 and "3 template(s)" in out
    status, _, err = cli("students", "withdraw-consent", "HS001")
    assert status == 2 and "no consent to withdraw" in err
    status, out, _ = cli("students", "consent", "HS001")
    assert "NOT recognised" in out and "withdrawn" in out
    with db.session() as s:
        assert s.scalar(select(Student.consent_given)) is False
        assert s.scalar(select(AuditEntry.actor).where(AuditEntry.action == "consent.withdraw")) == "cli"


def test_only_attendance_consent_writes_the_consent_summary():
    """``Student.consent_given`` mirrors the current record: no other module of the product may set it."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    writers = [path.relative_to(root).as_posix() for folder in ("attendance", "dashboard", "camera_agent")
               for path in (root / folder).rglob("*.py")
               if re.search(r"\.consent_(given|by|at)\s*=[^=]", path.read_text(encoding="utf-8"))]
    assert writers == ["attendance/consent.py"]


def test_upgrading_gives_consented_students_a_migrated_record(empty_url):
    """0006: a student with consent on record gets one record (all scopes, no notice, a note); others none."""
    from sqlalchemy import text

    from attendance.db.migrate import upgrade_database
    from attendance.db.session import create_db_engine

    engine = create_db_engine(empty_url)
    upgrade_database(engine, "0004")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO schools (id, code, name, timezone, school_days, checkin_opens, on_time_cutoff, absence_cutoff,"
            " created_at) VALUES (1, 'S', 'S', 'Asia/Ho_Chi_Minh', '1,2,3,4,5', '05:30:00', '07:00:00', '09:00:00',"
            " '2026-08-01 00:00:00')"))
        for sid, consented in ((1, True), (2, False)):
            connection.execute(text(
                "INSERT INTO students (id, school_id, student_code, full_name, active, consent_given, consent_by,"
                " consent_at, created_at) VALUES (:id, 1, :code, 'X', :yes, :consented, :by, :at, '2026-08-01 00:00:00')"),
                {"id": sid, "code": f"HS{sid}", "yes": True, "consented": consented, "by": "Bà Tư" if consented else "",
                 "at": "2026-08-15 03:00:00" if consented else None})
    upgrade_database(engine)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT student_id, guardian_name, given_on, recognition, snapshots, photos, notice_id, note"
            " FROM consent_records")).all()
    engine.dispose()
    assert len(rows) == 1
    student_id, guardian, given_on, recognition, snapshots, photos, notice_id, note = rows[0]
    assert (student_id, guardian, str(given_on)[:10], notice_id) == (1, "Bà Tư", "2026-08-15", None)
    assert recognition and snapshots and photos and note.startswith("migrated")


def test_enrollment_is_refused_after_a_refusal_or_withdrawal(session, school_class, settings, instance):
    from attendance.errors import PhotoRejected

    student = make_student(session, school_class, "HS001")
    withdraw_consent(session, instance, student)
    with pytest.raises(PhotoRejected) as refused:
        enroll_photo(session, SeedEngine(), settings, student, photo_of(70))
    assert refused.value.reason == "consent_refused"
    consent(session, student)  # a new consent: enrollment works again
    assert enroll_photo(session, SeedEngine(), settings, student, photo_of(70)).status == "enrolled"
    newcomer = make_student(session, school_class, "HS002", consent=False)  # no record yet: allowed
    assert enroll_photo(session, SeedEngine(), settings, newcomer, photo_of(71)).status == "enrolled"
