"""A student's enrolled photos: listing them, and removing one completely (its templates and its file).

Removing a photo removes every face template made from it (all models) and the kept file, and writes an
audit entry; the gallery version changes with the templates, so agents drop the face at their next sync.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from attendance.db.models import EnrollmentPhoto, FaceTemplate, Student
from attendance.erasure import remove_instance_file
from attendance.errors import NotFound
from attendance.users import record_audit


@dataclass(frozen=True)
class PhotoInfo:
    """One enrolled photo: its id, where it came from, whether the file is kept, its templates per model."""

    photo_id: int
    source: str
    original_name: str
    kept: bool
    created_at: dt.datetime
    templates: dict[str, int]


def list_photos(session, student: Student) -> list[PhotoInfo]:
    """The student's enrolled photos, oldest first, with their template counts per model."""
    photos = session.scalars(select(EnrollmentPhoto).where(EnrollmentPhoto.student_id == student.id)
                             .order_by(EnrollmentPhoto.created_at, EnrollmentPhoto.id)).all()
    counts: dict[int, dict[str, int]] = {}
    for photo_id, model_id, count in session.execute(
            select(FaceTemplate.photo_id, FaceTemplate.model_id, func.count())
            .where(FaceTemplate.student_id == student.id).group_by(FaceTemplate.photo_id, FaceTemplate.model_id)):
        counts.setdefault(photo_id, {})[model_id] = count
    return [PhotoInfo(p.id, p.source, p.original_name, bool(p.kept and p.file_path), p.created_at,
                      counts.get(p.id, {})) for p in photos]


def remove_photo(session, instance_path: str | Path | None, student: Student, photo_id: int, *,
                 actor: str = "cli", user_id: int | None = None) -> int:
    """Delete one of ``student``'s photos with its templates and file; the number of templates removed.
    NotFound when the student has no such photo. The caller commits."""
    photo = session.get(EnrollmentPhoto, photo_id)
    if photo is None or photo.student_id != student.id:
        raise NotFound(f"student {student.student_code} has no photo {photo_id}")
    templates = session.scalars(select(FaceTemplate).where(FaceTemplate.photo_id == photo.id)).all()
    for template in templates:
        session.delete(template)
    file_path = photo.file_path
    record_audit(session, actor, "student.photo_remove", user_id=user_id, school_id=student.school_id,
                 target=f"student:{student.student_code}",
                 detail={"photo_id": photo.id, "templates_removed": len(templates), "file_removed": bool(file_path)})
    session.delete(photo)
    session.flush()
    if file_path and instance_path is not None:
        remove_instance_file(Path(instance_path).resolve(), file_path)
    return len(templates)
