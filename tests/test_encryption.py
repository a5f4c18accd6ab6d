"""Encryption at rest: no face template, kept photo or snapshot is readable from the database or the instance
folder without the data key; the dashboard still shows them; rotation re-seals everything with a new key."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import LargeBinary, select, type_coerce

from attendance.crypto import (
    DataKeyError, Keyring, decode_keys, encode_key, install_keyring, is_sealed, key_file_path, load_keyring, new_key,
)
from attendance.db.models import CheckIn, EnrollmentPhoto, FaceTemplate, Student
from attendance.enrollment import store_photo_file
from attendance.recognition import bytes_to_vector
from conftest import TEST_DATA_KEY
from factories import fake_embedding, make_camera, make_class, make_school, make_student

JPEG_MAGIC = b"\xff\xd8\xff"


def raw_templates(session) -> list[bytes]:
    """The template column's stored bytes, not opened."""
    return list(session.scalars(select(type_coerce(FaceTemplate.vector, LargeBinary)).order_by(FaceTemplate.id)))


def database_bytes(url: str) -> bytes:
    """The SQLite database's files as they lie on disk (the file and its WAL)."""
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def test_a_sealed_blob_opens_only_with_its_key_and_purpose():
    keyring = Keyring([new_key()])
    blob = keyring.seal(b"vector bytes", "template")
    assert is_sealed(blob) and b"vector bytes" not in blob
    assert keyring.open(blob, "template") == b"vector bytes"
    with pytest.raises(DataKeyError, match="another use"):
        keyring.open(blob, "photo")
    with pytest.raises(DataKeyError, match=keyring.current_id.hex()):
        Keyring([new_key()]).open(blob, "template")
    assert keyring.open(b"\x00" * 512, "template") == b"\x00" * 512  # plaintext from before encryption


def test_templates_are_sealed_in_the_database_and_read_back(db, session, settings):
    student = make_student(session, make_class(session, make_school(session)), templates=[7])
    session.commit()
    vector = fake_embedding(7).astype("<f4").tobytes()
    (blob,) = raw_templates(session)
    assert is_sealed(blob) and vector not in blob
    if settings.resolved_database_url.startswith("sqlite"):
        assert vector not in database_bytes(settings.resolved_database_url)
        assert vector[:16] not in database_bytes(settings.resolved_database_url)
    session.expire_all()
    stored = session.scalar(select(FaceTemplate).where(FaceTemplate.student_id == student.id))
    assert np.array_equal(bytes_to_vector(stored.vector), fake_embedding(7))
    install_keyring(Keyring([new_key()]))  # a stolen database without the key
    session.expire_all()
    with pytest.raises(DataKeyError):
        session.scalar(select(FaceTemplate.vector))


def test_kept_photos_and_snapshots_are_sealed_on_disk_and_shown_decrypted(app, client, db, settings, instance):
    from factories import make_user

    with db.session() as s:
        school = make_school(s, "THCS1")
        student = make_student(s, make_class(s, school, "6A1"), "HS001", "Nguyễn Văn An")
        make_user(s, "admin", school=school, role="school_admin", password="correct horse battery")
        image = np.zeros((120, 100, 3), np.uint8)
        image[30:90, 20:80] = (200, 150, 120)
        relative = store_photo_file(settings, student, "ab" * 32, image)
        _, token = make_camera(s, school, "gate-1")
    photo = (instance / relative).read_bytes()
    assert is_sealed(photo) and JPEG_MAGIC not in photo[:64]
    jpeg = io.BytesIO()
    Image.new("RGB", (40, 40), (120, 80, 60)).save(jpeg, format="JPEG")
    event = {"event_id": "e1", "seq": 1, "student_code": "HS001", "captured_at": _recent(),
             "snapshot_jpeg_b64": base64.b64encode(jpeg.getvalue()).decode("ascii")}
    results = client.post("/api/v1/checkins", json={"events": [event]},
                          headers={"Authorization": f"Bearer {token}"}).get_json()["results"]
    assert results[0]["status"] == "created", results
    with db.session() as s:
        checkin = s.scalars(select(CheckIn)).one()
        snapshot = (instance / checkin.snapshot_path).read_bytes()
    assert is_sealed(snapshot) and jpeg.getvalue() not in snapshot and JPEG_MAGIC not in snapshot[:64]
    client.post("/login", data={"username": "admin", "password": "correct horse battery"})
    shown = client.get(f"/media/checkin/{checkin.id}.jpg")
    assert shown.status_code == 200 and shown.data == jpeg.getvalue()


def _recent() -> str:
    import datetime as dt

    return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).replace(microsecond=0).isoformat()


def test_rotation_with_the_key_file_reseals_everything_and_drops_the_old_key(cli, db, settings, instance, monkeypatch):
    monkeypatch.delenv("ATTENDANCE_DATA_KEY")
    old = Keyring(decode_keys(TEST_DATA_KEY))
    key_path = key_file_path(settings.__class__(instance_path=str(instance)))
    key_path.write_text(TEST_DATA_KEY + "\n")
    with db.session() as s:
        student = make_student(s, make_class(s, make_school(s)), "HS001", templates=[1, 2])
        relative = store_photo_file(settings, student, "cd" * 32, np.full((50, 50, 3), 90, np.uint8))
        s.add(EnrollmentPhoto(student_id=student.id, sha256="cd" * 32, kept=True, file_path=relative))
    status, out, err = cli("keys", "rotate")
    assert status == 0, err
    assert "re-encrypted 2 templates and 1 files" in out
    new = Keyring(decode_keys(key_path.read_text()))
    assert len(new.keys) == 1 and new.current_id != old.current_id
    assert oct(os.stat(key_path).st_mode & 0o777) == "0o600"
    install_keyring(new)
    with db.session() as s:
        blobs = raw_templates(s)
        assert all(new.is_current(b) for b in blobs)
        assert [bytes_to_vector(v).tolist() for v in s.scalars(select(FaceTemplate.vector).order_by(FaceTemplate.id))] \
            == [fake_embedding(1).tolist(), fake_embedding(2).tolist()]
    photo = (instance / relative).read_bytes()
    assert new.is_current(photo) and new.open(photo, "photo").startswith(JPEG_MAGIC)
    with pytest.raises(DataKeyError):
        old.open(photo, "photo")


def test_rotation_with_the_environment_uses_the_first_key_and_reads_with_the_others(cli, db, monkeypatch):
    with db.session() as s:
        make_student(s, make_class(s, make_school(s)), "HS001", templates=[3])
    fresh = new_key()
    monkeypatch.setenv("ATTENDANCE_DATA_KEY", f"{encode_key(fresh)},{TEST_DATA_KEY}")
    status, out, _ = cli("keys", "rotate")
    assert status == 0 and "re-encrypted 1 templates" in out and "remove the old keys" in out
    assert cli("keys", "rotate")[1].startswith(f"key {Keyring([fresh]).current_id.hex()}: re-encrypted 0 templates")
    with db.session() as s:
        (blob,) = raw_templates(s)
    assert Keyring([fresh]).is_current(blob)


def test_a_missing_key_is_generated_once_into_the_instance_folder(tmp_path, caplog):
    from attendance.settings import Settings

    settings = Settings(instance_path=str(tmp_path))
    first = load_keyring(settings)
    assert "generated a new data key" in caplog.text and encode_key(first.keys[0]) not in caplog.text
    assert load_keyring(settings).current_id == first.current_id
    with pytest.raises(DataKeyError):
        load_keyring(Settings(instance_path=str(tmp_path / "other")), create=False)


def test_student_records_survive_a_reload_with_the_key(db, session):
    make_student(session, make_class(session, make_school(session)), "HS009", templates=2)
    session.commit()
    assert len(session.scalars(select(Student)).one().templates) == 2
