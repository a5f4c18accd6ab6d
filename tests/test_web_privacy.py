"""The privacy pages: a student's consent, the notice versions, data-subject requests, the export ZIP, and the
audit entries that viewing a child's face writes."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path

from sqlalchemy import func, select

from attendance.db.models import (
    AuditEntry, CheckIn, ConsentNotice, ConsentRecord, DataRequest, EnrollmentPhoto, FaceTemplate, RollOverride, Student,
)
from attendance.subject_requests import add_working_days
from test_web_pages import JPEG, PASSWORD, TODAY, admin, login, teacher, world  # noqa: F401 (fixtures)


def test_the_consent_form_ticks_nothing_and_records_a_new_answer(admin, world, db):
    page = admin.get(f"/admin/students/{world['cuong']}/consent").get_data(as_text=True)
    assert 'name="scope_recognition"' in page and 'name="scope_snapshots"' in page and 'name="scope_photos"' in page
    assert not re.search(r"<input[^>]*checkbox[^>]*checked", page)  # no pre-ticked box
    notice_id = re.search(r'name="notice_id" value="(\d+)"', page).group(1)
    refused = admin.post(f"/admin/students/{world['cuong']}/consent", data={
        "notice_id": notice_id, "guardian_name": "Lê Thị Hoa", "guardian_relation": "mẹ", "given_on": "02/03/2026",
        "scope_recognition": "on"})  # no date of birth: the child must agree too
    assert refused.status_code in (302, 400)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ConsentRecord).where(
            ConsentRecord.student_id == world["cuong"], ConsentRecord.guardian_name == "Lê Thị Hoa")) == 0
    admin.post(f"/admin/students/{world['cuong']}/consent", data={
        "notice_id": notice_id, "guardian_name": "Lê Thị Hoa", "guardian_relation": "mẹ", "given_on": "02/03/2026",
        "scope_recognition": "on", "scope_photos": "on", "child_agreed": "on"})
    with db.session() as s:
        record = s.scalar(select(ConsentRecord).where(ConsentRecord.student_id == world["cuong"])
                          .order_by(ConsentRecord.id.desc()))
        assert (record.guardian_name, record.recognition, record.snapshots, record.photos, record.child_agreed) == (
            "Lê Thị Hoa", True, False, True, True)
        assert record.notice_id == int(notice_id) and record.given_on == dt.date(2026, 3, 2)
    page = admin.get(f"/admin/students/{world['cuong']}/consent").get_data(as_text=True)
    assert "Lê Thị Hoa" in page and "Phụ huynh" in page  # the history keeps the older record too


def test_withdrawing_from_the_page_deletes_templates_and_keeps_attendance(admin, world, db):
    admin.post(f"/admin/students/{world['an']}/consent/withdraw", data={"note": "thư của phụ huynh"})
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(FaceTemplate).where(FaceTemplate.student_id == world["an"])) == 0
        assert s.get(Student, world["an"]).consent_given is False
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "consent.withdraw")) == "consent.withdraw"
        assert s.scalar(select(func.count()).select_from(CheckIn).where(CheckIn.student_id == world["an"])) == 1
    page = admin.get(f"/admin/students/{world['an']}/consent").get_data(as_text=True)
    assert "thư của phụ huynh" in page


def test_an_admin_publishes_a_new_notice_version(admin, world, db):
    page = admin.get("/admin/notice").get_data(as_text=True)
    assert "THCS Lê Lợi" in page  # the template names the school
    admin.post("/admin/notice", data={"text_vi": "Thông báo v2", "text_en": "Notice v2"})
    with db.session() as s:
        versions = s.scalars(select(ConsentNotice.version).order_by(ConsentNotice.version)).all()
        assert versions == [1, 2]
        assert s.scalar(select(AuditEntry.target).where(AuditEntry.action == "consent.notice_publish")) == "notice:2"


def test_the_export_zip_holds_everything_and_is_audited(app, admin, world, db):
    instance = Path(app.instance_path)
    folder = instance / "photos" / str(world["school"]) / str(world["an"])
    folder.mkdir(parents=True)
    (folder / "p.jpg").write_bytes(JPEG + b"photo")
    with db.session() as s:
        s.add(EnrollmentPhoto(student_id=world["an"], sha256="b" * 64, kept=True,
                              file_path=(folder / "p.jpg").relative_to(instance).as_posix()))
        s.add(RollOverride(student_id=world["an"], school_date=TODAY, status="present", reason="đến muộn có phép"))
    response = admin.get(f"/admin/students/{world['an']}/export.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    manifest = json.loads(archive.read("manifest.json"))
    names = set(archive.namelist()) - {"manifest.json"}
    assert {f["path"] for f in manifest["files"]} == names  # the manifest lists every file
    assert {"student.json", "consent.json", "attendance.json", "overrides.json", "audit.json", "requests.json"} <= names
    photos = [n for n in names if n.startswith("photos/")]
    assert len(photos) == 1 and archive.read(photos[0]) == JPEG + b"photo"
    snapshot = json.loads(archive.read("attendance.json"))[0]["snapshot"]
    assert archive.read(snapshot) == JPEG
    assert json.loads(archive.read("overrides.json"))[0]["reason"] == "đến muộn có phép"
    assert json.loads(archive.read("student.json"))["student_code"] == "HS001"
    assert json.loads(archive.read("consent.json"))[0]["scopes"] == {"recognition": True, "snapshots": True, "photos": True}
    assert "student.export" in [e["action"] for e in json.loads(archive.read("audit.json"))]
    with db.session() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "student.export"))
        assert entry.actor == "user:admin" and entry.target == "student:HS001"


def test_requests_are_logged_with_a_two_working_day_deadline_and_answered(admin, world, db):
    friday = TODAY - dt.timedelta(days=3)  # TODAY is a Monday
    admin.post(f"/admin/students/{world['binh']}/requests", data={
        "kind": "access", "requested_by": "Trần Văn Ba", "received_on": friday.strftime("%d/%m/%Y")})
    with db.session() as s:
        request = s.scalar(select(DataRequest))
        assert (request.received_on, request.due_on, request.answered_at) == (friday, friday + dt.timedelta(days=4), None)
    listing = admin.get("/admin/requests").get_data(as_text=True)
    assert "HS002" in listing and "Trần Văn Ba" in listing and "10/03/2026" in listing
    admin.post(f"/admin/requests/{request.id}/answer", data={"answer": "đã gửi bản sao"})
    with db.session() as s:
        request = s.get(DataRequest, request.id)
        assert request.answered_at is not None and request.answer == "đã gửi bản sao"
        assert [a for a in s.scalars(select(AuditEntry.action)) if a.startswith("request.")] == [
            "request.log", "request.answer"]


def test_working_days_skip_weekends_and_holidays():
    friday = dt.date(2026, 4, 24)
    assert add_working_days(friday, 2) == dt.date(2026, 4, 28)
    assert add_working_days(friday, 2, {dt.date(2026, 4, 27)}) == dt.date(2026, 4, 29)


def test_viewing_a_snapshot_or_photo_is_audited(app, admin, world, db):
    assert admin.get(f"/media/checkin/{world['checkin_an']}.jpg").data == JPEG
    instance = Path(app.instance_path)
    (instance / "photos").mkdir(exist_ok=True)
    (instance / "photos" / "x.jpg").write_bytes(JPEG)
    with db.session() as s:
        photo = EnrollmentPhoto(student_id=world["an"], sha256="c" * 64, kept=True, file_path="photos/x.jpg")
        s.add(photo)
        s.flush()
        photo_id = photo.id
    assert admin.get(f"/media/photo/{photo_id}.jpg").status_code == 200
    assert admin.get("/media/photo/99999.jpg").status_code == 404
    with db.session() as s:
        views = s.execute(select(AuditEntry.action, AuditEntry.target, AuditEntry.detail)
                          .where(AuditEntry.action.like("%_view"))).all()
    assert [(a, t) for a, t, _ in views] == [("student.snapshot_view", "student:HS001"),
                                            ("student.photo_view", "student:HS001")]


def test_teachers_do_not_reach_the_privacy_pages(teacher, world):
    for url in (f"/admin/students/{world['an']}/consent", f"/admin/students/{world['an']}/export.zip",
                f"/admin/students/{world['an']}/requests", "/admin/requests", "/admin/notice"):
        assert teacher.get(url).status_code in (302, 403), url


def test_deleting_from_the_request_page_answers_the_deletion_request(admin, world, db):
    admin.post(f"/admin/students/{world['binh']}/requests", data={"kind": "deletion", "received_on": "09/03/2026"})
    admin.post(f"/students/{world['binh']}/delete", data={"confirm_code": "HS002"})
    with db.session() as s:
        assert s.get(Student, world["binh"]) is None
        request = s.scalar(select(DataRequest))
        assert (request.student_id, request.student_code, request.answer) == (None, "HS002", "deleted completely")
        assert request.answered_at is not None
    assert "HS002" in admin.get("/admin/requests").get_data(as_text=True)


def test_an_upload_says_when_the_photo_file_was_not_kept(monkeypatch, admin, world):
    import attendance.enrollment as enrollment

    def fake_enroll(session, settings, student, data, filename, source="upload", **options):
        return enrollment.EnrollResult(status="enrolled", student_code=student.student_code, photo_kept=False)

    monkeypatch.setattr(enrollment, "enroll_uploaded_photo", fake_enroll)
    response = admin.post(f"/admin/students/{world['cuong']}/photos", data={"photos": [(io.BytesIO(JPEG), "a.jpg")]},
                          content_type="multipart/form-data")
    page = admin.get(response.headers["Location"].split("#")[0]).get_data(as_text=True)
    assert "Không lưu tệp ảnh" in page
