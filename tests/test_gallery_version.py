"""The stored gallery version: each kind of change to what the export sends ends the agents' 304s, and nothing else
does; an unchanged poll is one indexed read."""

import pytest
from sqlalchemy import event, select

from attendance.consent import withdraw_consent
from attendance.crypto import Keyring, installed_keyring, new_key
from attendance.db.gallery_versions import read_gallery_version
from attendance.db.models import EnrollmentPhoto, FaceTemplate, School, SchoolClass, SchoolOperatingPoint, Student
from attendance.erasure import erase_student
from attendance.key_rotation import rotate_keys
from attendance.operating_points import reset_school_point
from factories import fake_embedding, make_camera, make_class, make_school, make_student

URL = "/api/v1/gallery?model=dlib_resnet_v1"


@pytest.fixture
def world(db):
    with db.session() as s:
        school = make_school(s, "THCS1")
        klass = make_class(s, school, "6A1")
        for index in range(1, 6):
            make_student(s, klass, f"HS00{index}", f"Học Sinh {index}", templates=[10 * index])
        make_student(s, klass, "HS009", "Chưa Chụp")
        other = make_school(s, "THCS2")
        make_student(s, make_class(s, other, "7B"), "HS900", "Hồ Văn Hải", templates=[91])
        _, token = make_camera(s, school, "gate-1")
    return {"Authorization": f"Bearer {token}"}


def fetch(client, headers, etag=None):
    return client.get(URL, headers={**headers, **({"If-None-Match": etag} if etag else {})})


def student(s, code):
    return s.scalar(select(Student).where(Student.student_code == code))


def school(s, code="THCS1"):
    return s.scalar(select(School).where(School.code == code))


def set_point(s, threshold):
    row = s.scalar(select(SchoolOperatingPoint).where(SchoolOperatingPoint.school_id == school(s).id))
    if row is None:
        row = SchoolOperatingPoint(school_id=school(s).id, model_id="dlib_resnet_v1", target_fpir=0.001,
                                   set_by="test")
        s.add(row)
    row.threshold, row.margin = threshold, 0.05


def add_photo_with_template(s):
    photo = EnrollmentPhoto(student_id=student(s, "HS005").id, sha256="ab" * 32)
    s.add(photo)
    s.flush()
    s.add(FaceTemplate(student_id=photo.student_id, photo_id=photo.id, model_id="dlib_resnet_v1",
                       vector=fake_embedding(55).tobytes()))


CHANGES = {
    "template added": lambda s, **_: s.add(FaceTemplate(student_id=student(s, "HS009").id,
                                                        model_id="dlib_resnet_v1", vector=fake_embedding(9).tobytes())),
    "template removed": lambda s, **_: s.delete(s.scalars(select(FaceTemplate).where(
        FaceTemplate.student_id == student(s, "HS001").id)).first()),
    "photo deleted with its templates": lambda s, **_: s.delete(s.scalar(select(EnrollmentPhoto))),
    "student added": lambda s, **_: make_student(s, s.scalar(select(SchoolClass).where(SchoolClass.code == "6A1")),
                                                 "HS010", "Mới Vào", templates=[100]),
    "student renamed": lambda s, **_: setattr(student(s, "HS002"), "full_name", "Tên Mới"),
    "student code changed": lambda s, **_: setattr(student(s, "HS002"), "student_code", "HS002B"),
    "student deactivated": lambda s, **_: setattr(student(s, "HS003"), "active", False),
    "student moved class": lambda s, **_: setattr(student(s, "HS004"), "class_id", make_class(s, school(s), "6A2").id),
    "consent withdrawn": lambda s, instance, **_: withdraw_consent(s, instance, student(s, "HS005")),
    "student erased": lambda s, instance, **_: erase_student(s, instance, student(s, "HS001")),
    "class renamed": lambda s, **_: setattr(s.scalar(select(SchoolClass).where(SchoolClass.code == "6A1")),
                                            "code", "6A9"),
    "class deleted": lambda s, **_: s.delete(s.scalar(select(SchoolClass).where(SchoolClass.code == "6A1"))),
    "operating point set": lambda s, **_: set_point(s, 0.5),
}


@pytest.mark.parametrize("kind", sorted(CHANGES))
def test_each_kind_of_change_ends_the_304(client, db, world, instance, kind):
    if kind == "photo deleted with its templates":
        with db.session() as s:
            add_photo_with_template(s)
    etag = fetch(client, world).headers["ETag"]

    assert fetch(client, world, etag).status_code == 304
    with db.session() as s:
        CHANGES[kind](s, instance=instance)
    response = fetch(client, world, etag)
    assert response.status_code == 200, kind
    assert response.headers["ETag"] != etag and response.get_json()["version"] == response.headers["ETag"].strip('"')
    assert fetch(client, world, response.headers["ETag"]).status_code == 304


def test_a_changed_or_reset_operating_point_ends_the_304(client, db, world):
    with db.session() as s:
        set_point(s, 0.5)
    seen = [fetch(client, world).headers["ETag"]]
    for change in (lambda s: set_point(s, 0.55), lambda s: reset_school_point(s, school(s), "dlib_resnet_v1",
                                                                                actor="test")):
        with db.session() as s:
            change(s)
        response = fetch(client, world, seen[-1])
        assert response.status_code == 200 and response.headers["ETag"] not in seen
        seen.append(response.headers["ETag"])


def test_key_rotation_ends_the_304(client, db, world, instance):
    etag = fetch(client, world).headers["ETag"]
    rotate_keys(db.sessions, instance, Keyring([new_key(), *installed_keyring().keys]))
    assert fetch(client, world, etag).status_code == 200


def test_changes_elsewhere_or_outside_the_export_keep_the_304(client, db, world):
    etag = fetch(client, world).headers["ETag"]
    with db.session() as s:
        s.add(FaceTemplate(student_id=student(s, "HS900").id, model_id="dlib_resnet_v1",
                           vector=fake_embedding(92).tobytes()))  # another school
        s.add(FaceTemplate(student_id=student(s, "HS001").id, model_id="arcface_r100",
                           vector=fake_embedding(13).tobytes()))  # another model
        student(s, "HS900").full_name = "Tên Khác"  # another school's student
        make_class(s, school(s), "9Z")  # a new, empty class
        student(s, "HS001").date_of_birth = None  # not sent
    assert fetch(client, world, etag).status_code == 304


def test_a_rolled_back_change_keeps_the_version(db, world):
    with db.session() as s:
        before = read_gallery_version(s, school(s).id, "dlib_resnet_v1")
    s = db.sessions()
    student(s, "HS002").full_name = "Không Lưu"
    s.flush()
    s.rollback()
    s.close()
    with db.session() as s:
        assert read_gallery_version(s, school(s).id, "dlib_resnet_v1") == before


def test_an_unchanged_poll_reads_one_indexed_row_set(client, db, world):
    etag = fetch(client, world).headers["ETag"]
    statements = []

    def note(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        assert fetch(client, world, etag).status_code == 304
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    gallery_reads = [s for s in statements if "gallery_versions" in s]
    assert len(gallery_reads) == 1
    # nothing reads the templates or students: the camera's token check and the version, nothing else
    assert not any("face_templates" in s or "FROM students" in s for s in statements), statements


def test_the_versions_are_written_once_at_commit_not_at_each_flush(db, world):
    """A transaction that flushes many times (an import) writes each gallery's token once, at commit: the rows
    are locked only while it commits, so two transactions never wait on each other's version rows crosswise."""
    writes = []

    def note(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith(("INSERT INTO GALLERY_VERSIONS", "UPDATE GALLERY_VERSIONS")):
            writes.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        with db.session() as s:
            before = read_gallery_version(s, school(s).id, "dlib_resnet_v1")
            klass = s.scalar(select(SchoolClass).where(SchoolClass.code == "6A1"))
            for index in range(3):
                make_student(s, klass, f"HS10{index}", f"Mới {index}", templates=[200 + index])
                s.flush()
            assert writes == []  # flushed three times, nothing written yet
            s.commit()
            assert len(writes) == 2  # the students' token and the model's, once each
            assert read_gallery_version(s, school(s).id, "dlib_resnet_v1") != before
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
