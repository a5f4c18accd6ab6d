"""Complete deletion of a student: rows (photos, templates, check-ins, overrides) and files on disk."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from attendance.db.models import CheckIn, Student, UnknownFace


def erase_student(session: Session, instance_path: str | Path, student: Student) -> int:
    """Delete ``student`` and everything that holds their face or their attendance; returns files removed.

    Kept enrollment photos, check-in snapshots and the snapshots of unknown faces that were assigned to the
    student are removed from the instance folder; the database cascades the rows (templates, photos,
    check-ins, overrides). Files are removed after the rows are flushed, so a failed flush leaves both.
    """
    instance = Path(instance_path).resolve()
    paths = [p.file_path for p in student.photos if p.file_path]
    paths += [path for path in session.scalars(select(CheckIn.snapshot_path).where(CheckIn.student_id == student.id))
              if path]
    assigned = list(session.scalars(select(UnknownFace).where(UnknownFace.resolved_student_id == student.id)))
    paths += [u.snapshot_path for u in assigned if u.snapshot_path]
    for unknown in assigned:
        session.delete(unknown)
    session.delete(student)
    session.flush()
    return sum(remove_instance_file(instance, path) for path in paths)


def remove_instance_file(instance: Path, relative: str) -> int:
    """Remove one file given relative to the instance folder (never outside it); 1 if removed, else 0."""
    path = (instance / relative).resolve()
    if not path.is_relative_to(instance) or not path.is_file():
        return 0
    path.unlink()
    return 1
