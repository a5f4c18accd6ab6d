"""Templates for a newly installed model, computed from the kept enrollment photos (no re-enrollment)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from attendance.db.models import EnrollmentPhoto, FaceTemplate, Student
from attendance.enrollment import choose_main_face
from attendance.errors import ImageError, PhotoRejected
from attendance.faces.engine import FaceEngine
from attendance.crypto import read_sealed_file
from attendance.faces.image import decode_image
from attendance.recognition import vector_to_bytes


@dataclass
class RebuildReport:
    """What ``rebuild_templates`` did for one model."""

    model_id: str
    templates_added: int = 0
    photos_failed: list[str] = field(default_factory=list)  # "CODE: file: why"
    students_without_kept_photos: list[str] = field(default_factory=list)  # "CODE Full Name"


def rebuild_templates(session: Session, engine: FaceEngine, instance_path: str | Path, *,
                      school_id: int | None = None, progress: Callable[[int, int], None] | None = None,
                      ) -> RebuildReport:
    """Add a template of ``engine``'s model for every kept enrollment photo that has none yet.

    Safe to repeat (photos that have a template are skipped) and to stop half-way (each photo is flushed on
    its own). Students with templates of other models but no kept photo are listed: only a new enrollment
    photo gives them a template of this model.
    """
    report = RebuildReport(engine.model_id)
    has_template = exists().where(FaceTemplate.photo_id == EnrollmentPhoto.id, FaceTemplate.model_id == engine.model_id)
    query = (select(EnrollmentPhoto, Student).join(Student, Student.id == EnrollmentPhoto.student_id)
             .where(EnrollmentPhoto.kept.is_(True), ~has_template).order_by(Student.id, EnrollmentPhoto.id))
    if school_id is not None:
        query = query.where(Student.school_id == school_id)
    rows = session.execute(query).all()
    for done, (photo, student) in enumerate(rows, start=1):
        problem = add_template_from_photo(session, engine, Path(instance_path), photo, student)
        if problem:
            report.photos_failed.append(f"{student.student_code}: {photo.original_name or photo.file_path}: {problem}")
        else:
            report.templates_added += 1
        if progress:
            progress(done, len(rows))
    report.students_without_kept_photos = list_students_without_template(session, engine.model_id, school_id)
    return report


def add_template_from_photo(session: Session, engine: FaceEngine, instance: Path, photo: EnrollmentPhoto,
                            student: Student) -> str:
    """Embed the main face of one kept photo; returns "" on success or why it failed."""
    try:
        path = instance / (photo.file_path or "")
        image = decode_image(read_sealed_file(path, "photo"), name=str(path))
    except OSError as err:
        return f"cannot read the kept photo: {err.strerror}"
    except ImageError as err:
        return err.message
    faces = engine.find_faces(image, embed=True)
    if not faces:
        return "no face found by this model's detector"
    try:
        face = choose_main_face(faces, image.shape)
    except PhotoRejected as refusal:
        return refusal.message
    session.add(FaceTemplate(student_id=student.id, photo_id=photo.id, model_id=engine.model_id,
                             vector=vector_to_bytes(face.require_embedding()),
                             quality=face.require_quality().sharpness))
    session.flush()
    return ""


def list_students_without_template(session: Session, model_id: str, school_id: int | None) -> list[str]:
    """"CODE Full Name" of active students that have some template but none of ``model_id``."""
    any_template = exists().where(FaceTemplate.student_id == Student.id)
    this_model = exists().where(FaceTemplate.student_id == Student.id, FaceTemplate.model_id == model_id)
    query = select(Student.student_code, Student.full_name).where(Student.active.is_(True), any_template, ~this_model)
    if school_id is not None:
        query = query.where(Student.school_id == school_id)
    return [f"{code} {name}" for code, name in session.execute(query.order_by(Student.student_code))]
