"""Any image the decoder accepts gets a per-image error at worst: in the engine, ``identify``, bulk enrollment
and dashboard uploads. The corpus (tests/corpus.py, 200+ generated files) runs through each."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from attendance.db.models import EnrollmentPhoto, Student
from attendance.errors import ImageError
from attendance.faces.image import decode_image
from corpus import encode, malformed_images
from factories import make_class, make_school, make_student, make_user
from tests.conftest import SHARED_FACES, require_shared

PASSWORD = "correct horse battery"
THIN = {"50000x1.png": encode(Image.new("RGB", (50000, 1)), "PNG"),
        "1x50000.png": encode(Image.new("RGB", (1, 50000)), "PNG")}
CORPUS = list(malformed_images())


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from attendance.faces.factory import build_enrollment_engines
    from attendance.settings import Settings, load_settings

    settings = load_settings(Settings, environ={}, overrides={"instance_path": str(tmp_path_factory.mktemp("i"))})
    return build_enrollment_engines(settings)[0]


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 200 and len({name for name, _ in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("shape", [(1, 50000, 3), (50000, 1, 3), (1, 1, 3), (3, 40000, 3), (16, 30000, 3),
                                   (30000, 16, 3)])
def test_the_engine_finds_no_face_in_a_thin_image_instead_of_crashing(engine, shape):
    assert engine.find_faces(np.zeros(shape, np.uint8)) == []


def test_every_corpus_image_is_decoded_and_searched_or_refused_with_an_image_error(engine):
    outcomes = {"decoded": 0, "refused": 0}
    for name, data in CORPUS:
        try:
            image = decode_image(data, name=name)
            engine.find_faces(image, embed=True)
            outcomes["decoded"] += 1
        except ImageError as err:
            assert err.message.startswith(name) or "detector" in err.message
            outcomes["refused"] += 1
    assert outcomes["decoded"] > 50 and outcomes["refused"] > 50  # the corpus exercises both paths


def test_a_large_upload_is_shrunk_while_decoding():
    data = encode(Image.new("RGB", (7700, 3000), "white"), "JPEG")
    assert decode_image(data, max_side_px=2560).shape[1:] == (2560, 3)
    assert decode_image(data).shape == (3000, 7700, 3)


def test_identify_reports_every_image_of_a_run(cli, session, tmp_path):
    make_school(session, "THCS1")
    session.commit()
    paths = []
    for name, data in THIN.items():
        paths.append(tmp_path / name)
        paths[-1].write_bytes(data)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff broken")
    status, out, err = cli("identify", "--json", *map(str, paths), str(tmp_path / "broken.jpg"))
    results = json.loads(out)
    assert [Path(r["image"]).name for r in results] == ["50000x1.png", "1x50000.png", "broken.jpg"]
    assert results[0]["faces"] == [] and results[1]["faces"] == [] and "error" in results[2]
    assert status == 1


@pytest.mark.realfaces
def test_bulk_enrollment_goes_on_past_a_thin_image_and_keeps_no_orphan_photo(settings, tmp_path, db, monkeypatch):
    from attendance.cli.enroll_cmd import main as enroll_main

    monkeypatch.setenv("ATTENDANCE_INSTANCE_PATH", settings.instance_path)
    people = require_shared(SHARED_FACES / "people")
    folder = tmp_path / "roster" / "6A1" / "HS001 Barack Obama"
    folder.mkdir(parents=True)
    shutil.copy(next(iter(sorted((people / "barack_obama").iterdir()))), folder / "a_good.jpg")
    for name, data in THIN.items():
        (folder / f"b_{name}").write_bytes(data)
    second = tmp_path / "roster" / "6A1" / "HS002 Joe Biden"
    second.mkdir()
    shutil.copy(next(iter(sorted((people / "joe_biden").iterdir()))), second / "a.jpg")
    status = enroll_main([str(tmp_path / "roster"), "--db", settings.resolved_database_url, "--quiet"])
    assert status == 1  # the thin images were refused; the run went on
    with db.session() as s:
        codes = set(s.scalars(select(Student.student_code)))
        assert codes == {"HS001", "HS002"}
        kept = set(s.scalars(select(EnrollmentPhoto.file_path).where(EnrollmentPhoto.file_path.is_not(None))))
    on_disk = {p.relative_to(Path(settings.instance_path).resolve()).as_posix()
               for p in (Path(settings.instance_path).resolve() / "photos").rglob("*.jpg")}
    assert on_disk == kept


@pytest.fixture
def admin(app, client, db):
    with db.session() as s:
        school = make_school(s, "LL")
        student = make_student(s, make_class(s, school, "6A1"), "HS001", "Nguyễn Văn An")
        make_user(s, "admin", school=school, role="school_admin", password=PASSWORD)
        student_id = student.id
    assert client.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 302
    client.student_id = student_id
    return client


def upload_batches(max_files: int = 20, max_bytes: int = 400_000) -> list[list[tuple[str, bytes]]]:
    """The corpus in uploads of at most 20 files (the form's limit) and 400 KB (above 500 KB the test
    client spools the body to a temporary file it never closes)."""
    batches: list[list[tuple[str, bytes]]] = [[]]
    for name, data in CORPUS:
        if len(batches[-1]) == max_files or sum(len(d) for _, d in batches[-1]) + len(data) > max_bytes:
            batches.append([])
        batches[-1].append((name, data))
    return batches


def test_every_corpus_image_uploaded_gets_its_own_answer_and_no_500(admin, db):
    for start, batch in enumerate(upload_batches()):
        response = admin.post(f"/admin/students/{admin.student_id}/photos",
                              data={"photos": [(io.BytesIO(data), name) for name, data in batch]},
                              content_type="multipart/form-data")
        assert response.status_code == 302, (start, response.status_code)
        with admin.session_transaction() as flask_session:
            messages = [message for _, message in flask_session.pop("_flashes", [])]
        for name, _ in batch:
            assert any(message.startswith(f"{name}:") for message in messages), name
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(EnrollmentPhoto)) == 0  # no face in any of them


def test_an_upload_over_the_size_limit_gets_a_page_in_the_users_language(app, admin):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    # the body is built here: the test client would spool a large one to a temporary file it never closes
    body = (b"--B\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"big.jpg\"\r\n"
            b"Content-Type: image/jpeg\r\n\r\n" + bytes(2 * 1024 * 1024) + b"\r\n--B--\r\n")
    response = admin.post(f"/admin/students/{admin.student_id}/photos", data=body,
                          content_type="multipart/form-data; boundary=B")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "Tệp quá lớn" in page and "1 MB" in page
