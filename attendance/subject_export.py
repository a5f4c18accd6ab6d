"""Everything the school holds about one student, as one ZIP for a data subject's access request.

The archive holds ``manifest.json`` (what each file is, its size and SHA-256), ``student.json`` (the
record), ``consent.json`` (every consent record with the notice text shown), ``attendance.json``
(check-ins), ``overrides.json``, ``requests.json`` (their data-subject requests), ``audit.json`` (audit
entries about them, this export's own entry included), ``photos/`` (kept enrollment photos) and
``snapshots/`` (kept check-in snapshots and the snapshots of unknown faces named as them). Face templates
are listed (model, date) but their numbers are not exported: they mean nothing outside the model.
Every export is audited as ``student.export``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from attendance.consent import has_recognition_consent
from attendance.crypto import read_sealed_file
from attendance.db.models import (
    AuditEntry, CheckIn, ConsentNotice, ConsentRecord, DataRequest, EnrollmentPhoto, FaceTemplate, RollOverride,
    School, SchoolClass, Student, UnknownFace, utcnow,
)
from attendance.instance import find_instance_file
from attendance.users import record_audit

FORMAT = "attendance-subject-export/1"


def export_student(session: Session, instance_path: str | Path, student: Student, *, actor: str,
                   user_id: int | None = None) -> bytes:
    """The ZIP (bytes) of everything held about ``student``; writes the ``student.export`` audit entry first
    (so the archive lists it). Files missing on disk are listed in the manifest as ``missing``. The caller
    commits."""
    record_audit(session, actor, "student.export", user_id=user_id, school_id=student.school_id,
                 target=f"student:{student.student_code}", detail={"student_id": student.id})
    session.flush()
    instance = Path(instance_path).resolve()
    files: list[tuple[str, bytes, str]] = []
    missing: list[dict[str, str]] = []

    def add_json(name: str, what: str, value: Any) -> None:
        files.append((name, json.dumps(value, ensure_ascii=False, indent=2, default=_jsonable).encode("utf-8"), what))

    def add_image(name: str, what: str, relative: str | None, purpose: str = "snapshot") -> bool:
        path = find_instance_file(instance, relative)  # None: no file kept, or not a file of the instance
        if path is None:
            missing.append({"path": name, "what": what})
            return False
        files.append((name, read_sealed_file(path, purpose), what))  # decrypted: the export is for the person
        return True

    add_json("student.json", "the student's record", _student_record(session, student))
    add_json("consent.json", "every consent record, newest first, with the notice text shown",
             _consents(session, student))
    checkins = list(session.scalars(select(CheckIn).where(CheckIn.student_id == student.id).order_by(CheckIn.captured_at)))
    attendance = []
    for checkin in checkins:
        snapshot = f"snapshots/checkin-{checkin.id}.jpg" if checkin.snapshot_path else None
        if snapshot and not add_image(snapshot, f"snapshot of check-in {checkin.id}", checkin.snapshot_path):
            snapshot = None
        attendance.append({"id": checkin.id, "school_date": checkin.school_date, "captured_at": checkin.captured_at,
                           "received_at": checkin.received_at, "source": checkin.source, "distance": checkin.distance,
                           "review_status": checkin.review_status, "snapshot": snapshot})
    add_json("attendance.json", "check-ins (arrivals seen by the cameras or named by an admin)", attendance)
    overrides = session.scalars(select(RollOverride).where(RollOverride.student_id == student.id)
                                .order_by(RollOverride.school_date))
    add_json("overrides.json", "roll corrections by teachers (excused, present) with their reasons",
             [{"school_date": o.school_date, "status": o.status, "reason": o.reason, "created_at": o.created_at}
              for o in overrides])
    for photo in session.scalars(select(EnrollmentPhoto).where(EnrollmentPhoto.student_id == student.id,
                                                               EnrollmentPhoto.file_path.is_not(None))):
        add_image(f"photos/photo-{photo.id}.jpg", f"enrollment photo {photo.id}", photo.file_path, "photo")
    for unknown in session.scalars(select(UnknownFace).where(
            or_(UnknownFace.resolved_student_id == student.id, UnknownFace.claimed_student_id == student.id),
            UnknownFace.snapshot_path.is_not(None))):
        add_image(f"snapshots/unknown-{unknown.id}.jpg", f"snapshot of unknown face {unknown.id} named as the student",
                  unknown.snapshot_path)
    add_json("requests.json", "data-subject requests about the student", [
        {"id": r.id, "kind": r.kind, "requested_by": r.requested_by, "received_on": r.received_on, "due_on": r.due_on,
         "note": r.note, "answered_at": r.answered_at, "answer": r.answer}
        for r in session.scalars(select(DataRequest).where(DataRequest.student_id == student.id).order_by(DataRequest.id))])
    add_json("audit.json", "audit-log entries about the student (who did what, when)", _audit(session, student))
    manifest = {
        "format": FORMAT, "generated_at": utcnow(), "school": session.get_one(School, student.school_id).code,
        "student_code": student.student_code,
        "files": [{"path": name, "what": what, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                  for name, data, what in files],
        "missing": missing,
        "not_included": "face templates' numbers (listed in student.json): they mean nothing outside the model",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2, default=_jsonable))
        for name, data, _ in files:
            archive.writestr(name, data)
    return buffer.getvalue()


def _student_record(session: Session, student: Student) -> dict[str, Any]:
    school_class = session.get(SchoolClass, student.class_id) if student.class_id else None
    templates = session.execute(select(FaceTemplate.id, FaceTemplate.model_id, FaceTemplate.photo_id,
                                       FaceTemplate.created_at).where(FaceTemplate.student_id == student.id)
                                .order_by(FaceTemplate.id)).all()
    return {"student_code": student.student_code, "full_name": student.full_name,
            "date_of_birth": student.date_of_birth, "class": school_class.code if school_class else None,
            "active": student.active, "recognised_by_cameras": has_recognition_consent(student),
            "created_at": student.created_at,
            "face_templates": [{"id": t.id, "model_id": t.model_id, "photo_id": t.photo_id, "created_at": t.created_at}
                               for t in templates]}


def _consents(session: Session, student: Student) -> list[dict[str, Any]]:
    rows = session.execute(select(ConsentRecord, ConsentNotice).outerjoin(
        ConsentNotice, ConsentNotice.id == ConsentRecord.notice_id).where(ConsentRecord.student_id == student.id)
        .order_by(ConsentRecord.id.desc())).all()
    return [{"id": r.id, "guardian_name": r.guardian_name, "guardian_relation": r.guardian_relation,
             "child_agreed": r.child_agreed, "given_on": r.given_on,
             "scopes": {"recognition": r.recognition, "snapshots": r.snapshots, "photos": r.photos},
             "note": r.note, "recorded_by": r.recorded_by, "recorded_at": r.recorded_at,
             "withdrawn_at": r.withdrawn_at, "withdrawal_note": r.withdrawal_note,
             "notice": {"version": n.version, "text_vi": n.text_vi, "text_en": n.text_en} if n is not None else None}
            for r, n in rows]


def _audit(session: Session, student: Student) -> list[dict[str, Any]]:
    targets = [f"student:{student.student_code}"]
    if session.scalar(select(Student.id).where(Student.school_id == student.school_id,
                                               Student.student_code == str(student.id))) is None:
        targets.append(f"student:{student.id}")  # as erasure matches them: never another student's entries
    entries = session.scalars(select(AuditEntry).where(AuditEntry.school_id == student.school_id,
                                                       AuditEntry.target.in_(targets)).order_by(AuditEntry.id))
    return [{"at": e.created_at, "actor": e.actor, "action": e.action, "detail": e.detail} for e in entries]


def _jsonable(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
