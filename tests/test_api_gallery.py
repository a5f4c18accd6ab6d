"""GET /api/v1/gallery: the camera's school's templates, with an ETag that changes with any change."""

import numpy as np
import pytest
from sqlalchemy import select

from attendance.db.models import FaceTemplate, School, Student
from factories import fake_embedding, make_camera, make_class, make_school, make_student


@pytest.fixture
def gallery(db):
    with db.session() as s:
        school = make_school(s, "THCS1")
        klass = make_class(s, school, "6A1")
        make_student(s, klass, "HS001", "Nguyễn Văn An", templates=[11, 12])
        make_student(s, klass, "HS002", "Trần Thị Bình", templates=[21])
        make_student(s, klass, "HS003", "Lê Văn Cường")  # not enrolled yet
        make_student(s, klass, "HS004", "Phạm Thị Dung", templates=[41], active=False)
        make_student(s, klass, "HS005", "Võ Văn Em", templates=[51], consent=False)
        make_student(s, klass, "HS006", "Đỗ Thị Giang", templates=[61], model_id="arcface_r100")
        other = make_school(s, "THCS2")
        make_student(s, make_class(s, other, "7B"), "HS900", "Hồ Văn Hải", templates=[91])
        _, token = make_camera(s, school, "gate-1")
        klass_id = klass.id
    return {"headers": {"Authorization": f"Bearer {token}"}, "class_id": klass_id}


URL = "/api/v1/gallery?model=dlib_resnet_v1"


def fetch(client, gallery, etag=None):
    headers = dict(gallery["headers"])
    if etag:
        headers["If-None-Match"] = etag
    return client.get(URL, headers=headers)


def test_the_gallery_has_the_enrolled_active_consented_students_of_the_school(client, gallery):
    response = fetch(client, gallery)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["model_id"], body["metric"], body["dim"]) == ("dlib_resnet_v1", "euclidean", 128)
    assert [(s["student_code"], s["full_name"], s["class_code"], len(s["templates"])) for s in body["students"]] == [
        ("HS001", "Nguyễn Văn An", "6A1", 2), ("HS002", "Trần Thị Bình", "6A1", 1)]
    np.testing.assert_allclose(body["students"][0]["templates"][0], fake_embedding(11), atol=1e-6)
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert "no-cache" in response.headers["Cache-Control"]


def test_if_none_match_gives_304_until_something_changes(client, db, gallery):
    etag = fetch(client, gallery).headers["ETag"]
    unchanged = fetch(client, gallery, etag)
    assert unchanged.status_code == 304 and unchanged.data == b"" and unchanged.headers["ETag"] == etag
    seen = {etag}

    def change(mutate):
        with db.session() as s:
            mutate(s)
        response = fetch(client, gallery, etag=", ".join(seen))
        assert response.status_code == 200, mutate
        new = response.headers["ETag"]
        assert new not in seen and response.get_json()["version"] == new.strip('"')
        seen.add(new)

    def student(s, code):
        return s.scalar(select(Student).where(Student.student_code == code))

    change(lambda s: s.add(FaceTemplate(student_id=student(s, "HS003").id, model_id="dlib_resnet_v1",
                                        vector=fake_embedding(31).tobytes())))
    change(lambda s: setattr(student(s, "HS002"), "full_name", "Trần Thị Bính"))
    change(lambda s: setattr(student(s, "HS002"), "active", False))
    change(lambda s: setattr(student(s, "HS001"), "class_id",
                             make_class(s, s.get(School, student(s, "HS001").school_id), "6A2").id))
    change(lambda s: s.delete(s.scalars(select(FaceTemplate).where(
        FaceTemplate.student_id == student(s, "HS001").id)).first()))
    # another school's or another model's changes leave this gallery's version alone
    with db.session() as s:
        s.add(FaceTemplate(student_id=student(s, "HS900").id, model_id="dlib_resnet_v1",
                           vector=fake_embedding(92).tobytes()))
        s.add(FaceTemplate(student_id=student(s, "HS001").id, model_id="arcface_r100",
                           vector=fake_embedding(13).tobytes()))
    assert fetch(client, gallery, etag=", ".join(seen)).status_code == 304


def test_another_model_and_an_empty_gallery(client, gallery):
    body = client.get("/api/v1/gallery?model=arcface_r100", headers=gallery["headers"]).get_json()
    assert body["metric"] == "cosine" and [s["student_code"] for s in body["students"]] == ["HS006"]
    empty = client.get("/api/v1/gallery?model=unknown_model", headers=gallery["headers"]).get_json()
    assert empty["students"] == [] and empty["dim"] is None


def test_the_model_is_required(client, gallery):
    assert client.get("/api/v1/gallery", headers=gallery["headers"]).status_code == 422
    assert client.get("/api/v1/gallery?model=" + "x" * 65, headers=gallery["headers"]).status_code == 422


def test_the_gallery_carries_the_schools_time_zone_and_a_new_version_when_it_changes(client, db, gallery):
    first = fetch(client, gallery)
    assert first.get_json()["timezone"] == "Asia/Ho_Chi_Minh"
    with db.session() as s:
        school = s.scalar(select(School).join(Student).where(Student.student_code == "HS001"))
        school.timezone = "Asia/Bangkok"
    changed = fetch(client, gallery, etag=first.headers["ETag"])
    assert changed.status_code == 200 and changed.get_json()["timezone"] == "Asia/Bangkok"
