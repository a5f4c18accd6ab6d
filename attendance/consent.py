"""Guardians' consent to the uses of a child's face: the records, the one rule the cameras follow, withdrawal.

A consent record (``ConsentRecord``) is never overwritten: a new answer is a new row and the student's
latest row is the current one. It names who gave it (guardian's name and relation), the child's own
agreement from age 7 (the date of birth on the student decides; an unknown date of birth counts as 7 or
older, so the child is asked), the date on the form, the notice version shown, and three scopes:

- ``recognition``: the gate cameras match the student (the gallery, the check-in API and identify all
  ask ``where_recognition_consented``, the one rule);
- ``snapshots``: check-in snapshots are kept (``attendance.checkins`` drops them at ingestion otherwise);
- ``photos``: enrollment photos are kept (``attendance.enrollment`` keeps only the template otherwise).

Whenever a scope is no longer covered (a narrower answer, or a withdrawal) what it covered is deleted at
once (``enforce_scopes``): templates and photos without recognition, photo files without the photo scope,
snapshot files without the snapshot scope. Attendance history (check-ins, overrides) is never deleted here.
``Student.consent_given``/``consent_by``/``consent_at`` summarise the current record and are written only here.
``record_consent_for`` records one paper form (a class's consent sheet) for many students at once.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from attendance.db.models import (
    CheckIn, ConsentNotice, ConsentRecord, EnrollmentPhoto, FaceTemplate, School, Student, UnknownFace, utcnow,
)
from attendance.erasure import PHOTOS_DIR, remove_instance_file, remove_instance_folder
from attendance.errors import InvalidInput, NotFound
from attendance.directory import normalise_name
from attendance.notices import current_notice
from attendance.school_day import school_date_at
from attendance.users import record_audit

CHILD_AGREEMENT_AGE = 7  # from this age the child's own agreement is needed too


@dataclass(frozen=True)
class Scopes:
    """What a student's current consent covers; all False when there is none or it was withdrawn."""

    recognition: bool = False
    snapshots: bool = False
    photos: bool = False

    def as_dict(self) -> dict[str, bool]:
        return {"recognition": self.recognition, "snapshots": self.snapshots, "photos": self.photos}


NO_SCOPES = Scopes()


@dataclass(frozen=True)
class Removal:
    """What ``enforce_scopes`` deleted: template rows, photo rows, kept photo files, snapshot files."""

    templates: int = 0
    photos: int = 0
    photo_files: int = 0
    snapshot_files: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"templates": self.templates, "photos": self.photos, "photo_files": self.photo_files,
                "snapshot_files": self.snapshot_files}


@dataclass(frozen=True)
class ConsentAnswer:
    """What one guardian's consent form says, before it is recorded (``record_consent``'s form fields):
    the add-student page, the consent page and bulk enrollment each fill one in."""

    guardian_name: str
    given_on: dt.date
    recognition: bool
    snapshots: bool
    photos: bool
    guardian_relation: str = ""
    child_agreed: bool | None = None
    notice: ConsentNotice | None = None
    note: str = ""
    require_child_agreement: bool = True


def where_recognition_consented():
    """The one rule, as a SQL condition on ``Student``: the current consent covers recognition at the gate.

    The gallery export, the check-in API, identify and calibration all filter with it."""
    return Student.consent_given.is_(True)


def has_recognition_consent(student: Student) -> bool:
    """The one rule for a loaded student (same answer as ``where_recognition_consented``)."""
    return bool(student.consent_given)


def age_on(date_of_birth: dt.date, day: dt.date) -> int:
    """Whole years of age on ``day``."""
    return day.year - date_of_birth.year - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))


def needs_child_agreement(student: Student, on_day: dt.date) -> bool:
    """True when the child's own agreement is needed on ``on_day``: 7 or older, or date of birth unknown."""
    return student.date_of_birth is None or age_on(student.date_of_birth, on_day) >= CHILD_AGREEMENT_AGE


def current_record(session: Session, student: Student) -> ConsentRecord | None:
    """The student's latest consent record (withdrawn or not), or None."""
    return session.scalar(select(ConsentRecord).where(ConsentRecord.student_id == student.id)
                          .order_by(ConsentRecord.id.desc()).limit(1))


def consent_history(session: Session, student: Student) -> list[ConsentRecord]:
    """Every consent record of the student, newest first."""
    return list(session.scalars(select(ConsentRecord).where(ConsentRecord.student_id == student.id)
                                .order_by(ConsentRecord.id.desc())))


def scopes_of(record: ConsentRecord | None) -> Scopes:
    """The scopes a record grants now (none when missing or withdrawn)."""
    if record is None or record.withdrawn_at is not None:
        return NO_SCOPES
    return Scopes(bool(record.recognition), bool(record.snapshots), bool(record.photos))


def current_scopes(session: Session, student_ids: Iterable[int]) -> dict[int, Scopes]:
    """``{student_id: Scopes}`` of the current records of many students in one query (missing: no scopes)."""
    ids = sorted(set(student_ids))
    if not ids:
        return {}
    latest = (select(func.max(ConsentRecord.id)).where(ConsentRecord.student_id.in_(ids))
              .group_by(ConsentRecord.student_id))
    rows = session.scalars(select(ConsentRecord).where(ConsentRecord.id.in_(latest)))
    found = {row.student_id: scopes_of(row) for row in rows}
    return {student_id: found.get(student_id, NO_SCOPES) for student_id in ids}


def record_consent(session: Session, student: Student, *, guardian_name: str, guardian_relation: str = "",
                   given_on: dt.date, recognition: bool, snapshots: bool, photos: bool,
                   child_agreed: bool | None = None, notice: ConsentNotice | None = None, note: str = "",
                   actor: str = "cli", user_id: int | None = None, instance_path: str | Path | None,
                   require_child_agreement: bool = True) -> ConsentRecord:
    """Add a new consent record for ``student`` (the current one from now on) and apply it; audited.

    Every scope must be given explicitly (a record with none is a refusal, kept too). ``given_on`` is the
    date on the form (not in the future); ``notice`` the version shown (default: the school's current one).
    From age 7 (or with no date of birth) a record granting any scope needs ``child_agreed=True`` unless
    ``require_child_agreement`` is False (bulk enrollment, where the school attests its paper forms).
    Scopes the new record no longer covers are enforced at once (see ``enforce_scopes``; files are removed
    under ``instance_path``, which is required so no caller forgets it: None only where no file can exist).
    Raises ``InvalidInput``. The caller commits. Safe to call for many students.
    """
    guardian = normalise_name(guardian_name)[:200]
    if not guardian:
        raise InvalidInput("the guardian's name is empty")
    if given_on > utcnow().date() + dt.timedelta(days=1):
        raise InvalidInput("the consent date is in the future")
    scopes = Scopes(bool(recognition), bool(snapshots), bool(photos))
    child_needed = needs_child_agreement(student, given_on)
    if not child_needed:
        child_agreed = None
    elif any(scopes.as_dict().values()) and require_child_agreement and child_agreed is not True:
        raise InvalidInput(f"the student is {CHILD_AGREEMENT_AGE} or older (or has no date of birth): "
                           "their own agreement is needed too")
    if notice is None:
        notice = current_notice(session, student.school_id)
    elif notice.school_id != student.school_id:
        raise InvalidInput("that notice belongs to another school")
    record = ConsentRecord(
        school_id=student.school_id, student_id=student.id, notice_id=notice.id, guardian_name=guardian,
        guardian_relation=normalise_name(guardian_relation)[:50], child_agreed=child_agreed, given_on=given_on,
        recognition=scopes.recognition, snapshots=scopes.snapshots, photos=scopes.photos, note=note.strip(),
        recorded_by=actor[:120], recorded_at=utcnow(), withdrawn_by="", withdrawal_note="")
    session.add(record)
    session.flush()
    _summarise(student, record)
    removal = enforce_scopes(session, instance_path, student, scopes)
    record_audit(session, actor, "consent.record", user_id=user_id, school_id=student.school_id,
                 target=f"student:{student.student_code}",
                 detail={"consent_id": record.id, "notice_version": notice.version, **scopes.as_dict(),
                         "child_agreed": child_agreed, "removed": removal.as_dict()})
    return record


def withdraw_consent(session: Session, instance_path: str | Path | None, student: Student, *, actor: str = "cli",
                     user_id: int | None = None, note: str = "") -> Removal:
    """Withdraw the student's current consent: recognition stops at the cameras' next gallery sync, and
    their templates, enrollment photos and snapshot files are deleted (check-ins and overrides stay).

    Audited as ``consent.withdraw``. Raises ``NotFound`` when there is no consent to withdraw. The caller commits.
    """
    record = current_record(session, student)
    if record is None or record.withdrawn_at is not None:
        raise NotFound(f"student {student.student_code} has no consent to withdraw")
    record.withdrawn_at = utcnow()
    record.withdrawn_by = actor[:120]
    record.withdrawal_note = note.strip()
    _summarise(student, record)
    removal = enforce_scopes(session, instance_path, student, NO_SCOPES)
    record_audit(session, actor, "consent.withdraw", user_id=user_id, school_id=student.school_id,
                 target=f"student:{student.student_code}",
                 detail={"consent_id": record.id, "removed": removal.as_dict()})
    return removal


def _summarise(student: Student, record: ConsentRecord) -> None:
    """Write the student's consent summary columns from their current record."""
    scopes = scopes_of(record)
    student.consent_given = scopes.recognition
    student.consent_by = record.guardian_name if scopes.recognition else ""
    student.consent_at = record.recorded_at if scopes.recognition else None


def enforce_scopes(session: Session, instance_path: str | Path | None, student: Student, scopes: Scopes) -> Removal:
    """Delete what ``scopes`` does not cover: without recognition every template and enrollment photo (rows
    and files); without the photo scope the kept photo files (templates stay); without the snapshot scope
    the check-in snapshots and those of unknown faces named as the student (rows stay). Files are removed
    only inside ``instance_path`` (None: rows only). The caller commits."""
    templates = photos = 0
    photo_paths: list[str] = []
    snapshot_paths: list[str] = []
    remove_photo_folder = False
    if not scopes.recognition:
        templates = len(session.scalars(select(FaceTemplate.id).where(FaceTemplate.student_id == student.id)).all())
        for photo in session.scalars(select(EnrollmentPhoto).where(EnrollmentPhoto.student_id == student.id)):
            photo_paths += [photo.file_path] if photo.file_path else []
            session.delete(photo)  # its templates go by cascade
            photos += 1
        for template in session.scalars(select(FaceTemplate).where(FaceTemplate.student_id == student.id)):
            session.delete(template)
        remove_photo_folder = True
    elif not scopes.photos:
        for photo in session.scalars(select(EnrollmentPhoto).where(EnrollmentPhoto.student_id == student.id,
                                                                   EnrollmentPhoto.file_path.is_not(None))):
            photo_paths += [photo.file_path] if photo.file_path else []
            photo.file_path, photo.kept = None, False
        remove_photo_folder = True
    if not scopes.snapshots:
        snapshot_paths += [p for p in session.scalars(select(CheckIn.snapshot_path).where(
            CheckIn.student_id == student.id, CheckIn.snapshot_path.is_not(None))) if p]
        session.execute(update(CheckIn).where(CheckIn.student_id == student.id).values(snapshot_path=None)
                        .execution_options(synchronize_session="fetch"))
        named = or_(UnknownFace.resolved_student_id == student.id, UnknownFace.claimed_student_id == student.id)
        snapshot_paths += [p for p in session.scalars(select(UnknownFace.snapshot_path).where(
            named, UnknownFace.snapshot_path.is_not(None))) if p]
        session.execute(update(UnknownFace).where(named).values(snapshot_path=None)
                        .execution_options(synchronize_session="fetch"))
    session.flush()
    session.expire(student, ["photos", "templates"])
    photo_files = snapshot_files = 0
    if instance_path is not None:
        instance = Path(instance_path).resolve()
        photo_files = sum(remove_instance_file(instance, path) for path in photo_paths)
        if remove_photo_folder:  # orphans of a failed upload too
            photo_files += remove_instance_folder(instance, Path(PHOTOS_DIR) / str(student.school_id) / str(student.id))
        snapshot_files = sum(remove_instance_file(instance, path) for path in snapshot_paths)
    return Removal(templates, photos, photo_files, snapshot_files)


def find_notice(session: Session, school_id: int, notice_id: int) -> ConsentNotice:
    """The school's notice version with this id; ``NotFound`` otherwise."""
    notice = session.get(ConsentNotice, notice_id)
    if notice is None or notice.school_id != school_id:
        raise NotFound("no such notice version")
    return notice


MAX_REFERENCE_CHARS = 100


def check_consent_form(reference: str, given_on: dt.date | None, today: dt.date) -> tuple[str, dt.date]:
    """The form's reference (NFC and trimmed) and date; raises ``InvalidInput`` when either is missing or wrong."""
    reference = unicodedata.normalize("NFC", reference).strip()
    if not reference or len(reference) > MAX_REFERENCE_CHARS:
        raise InvalidInput(f"the consent form reference must be 1 to {MAX_REFERENCE_CHARS} characters")
    if given_on is None:
        raise InvalidInput("give the date on the consent form")
    if given_on > today:
        raise InvalidInput("the consent form date is in the future")
    return reference, given_on


def record_consent_for(session: Session, school: School, student_ids: Iterable[int], reference: str,
                       given_on: dt.date | None, actor: str, *, user_id: int | None = None,
                       today: dt.date | None = None, instance_path: str | Path | None = None) -> list[Student]:
    """Record one paper form's consent to recognition for each of ``student_ids`` (students of ``school``).

    ``reference`` is the form's number or name ("PĐ-6A1-2026"), ``given_on`` the date written on it (a local
    date, not in the future). Each student gets a new consent record (``record_consent``) granting recognition
    and keeping whatever the current record says of snapshots and photos (a class sheet answers recognition
    only, so no file is deleted and none is newly kept); the school attests the child's agreement on the paper
    form, as bulk enrollment does. The record's note and its audit entry name the form. Returns the students,
    in id order; raises ``InvalidInput`` for an empty selection or a student of another school.
    """
    ids = sorted({int(i) for i in student_ids})
    if not ids:
        raise InvalidInput("choose at least one student")
    today = today or school_date_at(utcnow(), school.timezone)
    reference, given_on = check_consent_form(reference, given_on, today)
    students = list(session.scalars(select(Student).where(Student.id.in_(ids)).order_by(Student.id)))
    if len(students) != len(ids) or any(s.school_id != school.id for s in students):
        raise InvalidInput("a chosen student is not of this school")
    scopes = current_scopes(session, ids)
    for student in students:
        kept = scopes[student.id]
        record_consent(session, student, guardian_name=student.consent_by or f"form {reference}",
                       given_on=given_on, recognition=True, snapshots=kept.snapshots, photos=kept.photos,
                       note=f"class consent form {reference}", actor=actor, user_id=user_id,
                       instance_path=instance_path, require_child_agreement=False)
        record_audit(session, actor, "student.consent", user_id=user_id, school_id=school.id,
                     target=f"student:{student.student_code}",
                     detail={"form_reference": reference, "given_on": given_on.isoformat()})
    return students
