"""Naming an unknown face: an admin's identification becomes that student's check-in of that morning.

The check-in keeps the unknown face's camera, capture time and school date, has ``source="review"`` and
an event id of its own (``review-<unknown id>``, so naming the same face twice stores one check-in), and
is audited as ``checkin.review``. The roll judges it like any other: the first check-in of the day counts.
The snapshot is copied for the check-in only when the student's current consent covers keeping snapshots.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path

from sqlalchemy import select

from attendance.consent import current_scopes
from attendance.db.models import CheckIn, Student, UnknownFace
from attendance.errors import InvalidInput
from attendance.instance import find_instance_file
from attendance.users import record_audit


def _copy_snapshot(instance_path: str | Path | None, unknown: UnknownFace) -> str | None:
    if instance_path is None or not unknown.snapshot_path:
        return None
    source = find_instance_file(instance_path, unknown.snapshot_path)
    if source is None:
        return None
    instance = Path(instance_path).resolve()
    relative = (Path("snapshots") / str(unknown.school_id) / unknown.school_date.isoformat()
                / f"{uuid.uuid4().hex}.jpg")
    (instance / relative).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, instance / relative)
    return relative.as_posix()


def record_review_checkin(session, unknown: UnknownFace, student: Student, *, actor: str, user_id: int | None,
                          received_at: dt.datetime, instance_path: str | Path | None = None) -> CheckIn:
    """Store the check-in of ``student`` that ``unknown`` was (at its capture time) and audit it; the
    existing one when this face was named before. InvalidInput for a student of another school or inactive.
    The caller commits."""
    if student.school_id != unknown.school_id or not student.active:
        raise InvalidInput("choose an active student of this school")
    event_id = f"review-{unknown.id}"
    existing = session.scalar(select(CheckIn).where(CheckIn.camera_id == unknown.camera_id,
                                                    CheckIn.event_id == event_id))
    if existing is not None:
        return existing
    checkin = CheckIn(
        school_id=unknown.school_id, camera_id=unknown.camera_id, student_id=student.id, event_id=event_id,
        seq=0, captured_at=unknown.captured_at, school_date=unknown.school_date, distance=unknown.best_distance,
        model_id="", received_at=received_at, source="review",
        snapshot_path=(_copy_snapshot(instance_path, unknown)
                       if current_scopes(session, [student.id])[student.id].snapshots else None),
    )
    session.add(checkin)
    session.flush()
    record_audit(session, actor, "checkin.review", user_id=user_id, school_id=unknown.school_id,
                 target=f"student:{student.student_code}",
                 detail={"unknown_face_id": unknown.id, "checkin_id": checkin.id,
                         "school_date": unknown.school_date.isoformat(),
                         "captured_at": unknown.captured_at.isoformat()})
    session.flush()
    return checkin
