"""Enrollment does not poison the gallery: a face close to another student's is refused unless confirmed,
and each student's photos can be listed and removed one by one (a fake engine: no model needed)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from attendance.db.models import AuditEntry, EnrollmentPhoto, FaceTemplate
from attendance.enrollment import DuplicateChecker, enroll_photo
from attendance.errors import LookalikeRejected, NotFound
from attendance.faces.types import Face, FaceQuality
from attendance.photos import list_photos, remove_photo
from factories import fake_embedding, make_class, make_school, make_student

MODEL_ID = "dlib_resnet_v1"


class SeedEngine:
    """A face engine whose one face per image is the 'person' painted in the image's red channel."""

    model_id = MODEL_ID

    def find_faces(self, image_rgb: np.ndarray, embed: bool = True) -> list[Face]:
        quality = FaceQuality(face_px=200, sharpness=150.0, yaw_deg=0.0, roll_deg=0.0, pitch_ratio=0.7)
        return [Face(box=(50, 50, 250, 250), score=1.0, landmarks=np.zeros((5, 2), np.float32), quality=quality,
                     embedding=fake_embedding(int(image_rgb[0, 0, 0])))]


def photo_of(person: int, shade: int = 0) -> bytes:
    """A PNG of ``person`` (its red value); ``shade`` makes a different file of the same person."""
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300), (person, shade, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def klass(session):
    return make_class(session, make_school(session, "THCS1"), "6A1")


def enroll(session, settings, student, data, **kwargs):
    checker = DuplicateChecker(session, student.school_id, MODEL_ID, settings.duplicate_warn_distance)
    return enroll_photo(session, SeedEngine(), settings, student, data, source="upload", duplicates=checker,
                        original_name="p.png", **kwargs)


def test_the_same_photo_for_a_second_student_is_refused_with_both_faces(session, settings, klass):
    an, binh = make_student(session, klass, "HS001"), make_student(session, klass, "HS002")
    first = enroll(session, settings, an, photo_of(7))
    with pytest.raises(LookalikeRejected) as caught:
        enroll(session, settings, binh, photo_of(7))
    err = caught.value
    assert (err.reason, err.other_student_code, err.other_student_id, err.other_photo_id) == (
        "looks_like_other", "HS001", an.id, first.photo_id)
    assert err.distance == pytest.approx(0.0, abs=1e-6) and err.face_jpeg.startswith(b"\xff\xd8")
    assert session.scalar(select(func.count()).select_from(FaceTemplate).where(FaceTemplate.student_id == binh.id)) == 0
    assert session.scalar(select(func.count()).select_from(EnrollmentPhoto)
                          .where(EnrollmentPhoto.student_id == binh.id)) == 0
    # another person is enrolled as usual; twins are enrolled when an admin confirms, with a warning
    assert enroll(session, settings, binh, photo_of(9)).status == "enrolled"
    twin = enroll(session, settings, binh, photo_of(7, shade=1), allow_lookalike=True)
    assert twin.status == "enrolled" and twin.lookalike.student_code == "HS001"
    assert "HS001" in twin.warnings[0]


def test_photos_are_listed_and_one_is_removed_with_its_templates_and_file(session, settings, klass):
    an = make_student(session, klass, "HS001")
    kept = enroll(session, settings, an, photo_of(7))
    other = enroll(session, settings, an, photo_of(7, shade=2))
    photos = list_photos(session, an)
    assert [(p.photo_id, p.kept, p.templates) for p in photos] == [
        (kept.photo_id, True, {MODEL_ID: 1}), (other.photo_id, True, {MODEL_ID: 1})]
    path = Path(settings.instance_path) / session.get(EnrollmentPhoto, kept.photo_id).file_path
    assert path.is_file()
    assert remove_photo(session, settings.instance_path, an, kept.photo_id, actor="user:admin") == 1
    assert not path.exists()
    assert [p.photo_id for p in list_photos(session, an)] == [other.photo_id]
    assert session.scalar(select(func.count()).select_from(FaceTemplate).where(FaceTemplate.student_id == an.id)) == 1
    audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "student.photo_remove"))
    assert (audit.actor, audit.target, audit.detail["templates_removed"]) == ("user:admin", "student:HS001", 1)
    binh = make_student(session, klass, "HS002")
    with pytest.raises(NotFound):
        remove_photo(session, settings.instance_path, binh, other.photo_id)  # not Bình's photo
    with pytest.raises(NotFound):
        remove_photo(session, settings.instance_path, an, kept.photo_id)  # gone already


def test_cli_lists_and_removes_a_photo(cli, db, settings):
    with db.session() as s:
        an = make_student(s, make_class(s, make_school(s, "THCS1"), "6A1"), "HS001")
        photo_id = enroll(s, settings, an, photo_of(7)).photo_id
    status, out, _ = cli("students", "photos", "HS001")
    assert status == 0 and f"{photo_id}\t" in out and f"{MODEL_ID} x1" in out
    status, out, _ = cli("students", "remove-photo", "HS001", str(photo_id))
    assert status == 0 and "1 template(s)" in out
    status, _, err = cli("students", "remove-photo", "HS001", str(photo_id))
    assert status == 2 and "no photo" in err
    assert cli("students", "photos", "NOPE")[0] == 2
