"""Deleting faces and names for good: a student's complete erasure, and snapshots past their retention.

Files are only ever removed inside the instance folder (``remove_instance_file``, ``remove_instance_folder``
resolve every path and refuse one that leads out of it, through ``..`` or a link). Rows are changed and
flushed before files are removed, so a failed flush leaves both; a failed commit after it leaves rows that
point at missing files, which the next purge clears.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from pathlib import Path

from sqlalchemy import delete, null, or_, select, update
from sqlalchemy.orm import Session

from attendance.db.models import AuditEntry, CheckIn, EnrollmentPhoto, Student, UnknownFace, Webhook, WebhookDelivery
from attendance.instance import find_instance_file

logger = logging.getLogger(__name__)

SNAPSHOTS_DIR = "snapshots"
PHOTOS_DIR = "photos"
# Unknown faces still waiting for a decision (or dismissed) are deleted with their snapshot; assigned ones
# keep their row, which records whose face it was.
EXPIRING_UNKNOWN_STATUSES = ("open", "dismissed")
_ID_CHUNK = 500
# A file younger than this may belong to a transaction still open (a batch of check-ins writes its snapshots
# after its INSERT and before its COMMIT): the orphan purge leaves it for the next round.
ORPHAN_MIN_AGE = dt.timedelta(hours=1)


def erase_student(session: Session, instance_path: str | Path, student: Student) -> int:
    """Delete ``student`` and everything that holds their face or their attendance; returns files removed.

    Kept enrollment photos (the whole ``photos/<school>/<student>/`` folder, with any orphan left by a
    failed upload), check-in snapshots and the snapshots of unknown faces that were assigned to the student
    (or refused as a suspected photo of them) are removed from the instance folder; the database cascades the
    rows (templates, photos, check-ins, overrides). Webhook deliveries about the student are deleted and the
    ``detail`` of audit entries about them is cleared: the entries keep who did what and when.
    """
    instance = Path(instance_path).resolve()
    paths = [p.file_path for p in student.photos if p.file_path]
    paths += [path for path in session.scalars(select(CheckIn.snapshot_path).where(CheckIn.student_id == student.id))
              if path]
    # unknown faces assigned to the student, and refused suspected attacks that named them (their photo)
    assigned = list(session.scalars(select(UnknownFace).where(or_(
        UnknownFace.resolved_student_id == student.id, UnknownFace.claimed_student_id == student.id))))
    paths += [u.snapshot_path for u in assigned if u.snapshot_path]
    for unknown in assigned:
        session.delete(unknown)
    # a stranger's face that was merely nearest to the student stays, without the link to them
    session.execute(update(UnknownFace).where(UnknownFace.nearest_student_id == student.id)
                    .values(nearest_student_id=None))
    _delete_webhook_deliveries(session, student)
    _redact_audit_details(session, student)
    school_id, student_id = student.school_id, student.id
    session.delete(student)
    session.flush()
    removed = sum(remove_instance_file(instance, path) for path in paths)
    return removed + remove_instance_folder(instance, Path(PHOTOS_DIR) / str(school_id) / str(student_id))


def _delete_webhook_deliveries(session: Session, student: Student) -> None:
    """Delete the queued and sent webhook bodies of the student's school that name the student."""
    school_hooks = select(Webhook.id).where(Webhook.school_id == student.school_id)
    names_student = or_(
        WebhookDelivery.payload["student_code"].as_string() == student.student_code,
        WebhookDelivery.event_key.like(f"checkin:{student.id}:%"),
        WebhookDelivery.event_key.like(f"absence:{student.id}:%"),
    )
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id.in_(school_hooks), names_student)
                    .execution_options(synchronize_session="fetch"))


def _redact_audit_details(session: Session, student: Student) -> None:
    """Clear ``detail`` (reasons, statuses, results) of the school's audit entries targeting the student.

    Entries name a student as ``student:<code>``; ``student:<id>`` is matched too unless another student of
    the school has that id as their code (their entries must stay intact).
    """
    targets = [f"student:{student.student_code}"]
    if session.scalar(select(Student.id).where(Student.school_id == student.school_id,
                                               Student.student_code == str(student.id))) is None:
        targets.append(f"student:{student.id}")
    session.execute(update(AuditEntry).where(AuditEntry.school_id == student.school_id,
                                             AuditEntry.target.in_(targets))
                    .values(detail=null()).execution_options(synchronize_session="fetch"))


def purge_expired_snapshots(session: Session, instance_path: str | Path, now_at: dt.datetime, *,
                            snapshot_retention_days: int, unknown_retention_days: int) -> int:
    """Delete face snapshots past their retention at ``now_at`` (aware UTC); returns files removed.

    Check-ins captured more than ``snapshot_retention_days`` (typically 30) ago lose their snapshot (the
    row stays for the roll). Unknown faces captured more than ``unknown_retention_days`` (typically 7) ago
    lose theirs, and open or dismissed ones their row too. 0 days keeps that kind forever. When both are
    set, snapshot folders of days older than both retentions are emptied too, which catches files no row
    names (written before a failed commit). The caller commits.
    """
    instance = Path(instance_path).resolve()
    paths: list[str] = []
    if snapshot_retention_days > 0:
        expired_before = now_at - dt.timedelta(days=snapshot_retention_days)
        rows = session.execute(select(CheckIn.id, CheckIn.snapshot_path).where(
            CheckIn.snapshot_path.is_not(None), CheckIn.captured_at < expired_before)).all()
        for chunk in _chunks([row_id for row_id, _ in rows]):
            session.execute(update(CheckIn).where(CheckIn.id.in_(chunk)).values(snapshot_path=None)
                            .execution_options(synchronize_session="fetch"))
        paths += [path for _, path in rows if path]
    if unknown_retention_days > 0:
        expired_before = now_at - dt.timedelta(days=unknown_retention_days)
        unknown_rows = session.execute(select(UnknownFace.id, UnknownFace.snapshot_path, UnknownFace.status).where(
            UnknownFace.captured_at < expired_before,
            or_(UnknownFace.snapshot_path.is_not(None), UnknownFace.status.in_(EXPIRING_UNKNOWN_STATUSES)))).all()
        doomed = [row_id for row_id, _, status in unknown_rows if status in EXPIRING_UNKNOWN_STATUSES]
        kept = [row_id for row_id, _, status in unknown_rows if status not in EXPIRING_UNKNOWN_STATUSES]
        for chunk in _chunks(doomed):
            session.execute(delete(UnknownFace).where(UnknownFace.id.in_(chunk))
                            .execution_options(synchronize_session="fetch"))
        for chunk in _chunks(kept):
            session.execute(update(UnknownFace).where(UnknownFace.id.in_(chunk)).values(snapshot_path=None)
                            .execution_options(synchronize_session="fetch"))
        paths += [path for _, path, _ in unknown_rows if path]
    session.flush()
    removed = sum(remove_instance_file(instance, path) for path in paths)
    if snapshot_retention_days > 0 and unknown_retention_days > 0:
        # A folder is named by the school-local date, up to a day off the UTC capture time: keep a day more.
        days = max(snapshot_retention_days, unknown_retention_days) + 1
        removed += _empty_snapshot_folders_before(instance, (now_at - dt.timedelta(days=days)).date())
    return removed


def purge_orphan_files(session: Session, instance_path: str | Path, now_at: dt.datetime, *,
                       min_age: dt.timedelta = ORPHAN_MIN_AGE) -> int:
    """Remove files under ``snapshots/`` and ``photos/`` that no row names; returns files removed.

    Such files are left by a transaction that wrote them and then failed to commit (a lost connection, a
    crash between the write and the commit). Only files last modified more than ``min_age`` before
    ``now_at`` are removed, and never through a link.
    """
    instance = Path(instance_path).resolve()
    named: set[str | None] = set()
    for column in (CheckIn.snapshot_path, UnknownFace.snapshot_path, EnrollmentPhoto.file_path):
        named.update(session.scalars(select(column).where(column.is_not(None))))
    cutoff_s = (now_at - min_age).timestamp()
    removed = 0
    for top in (SNAPSHOTS_DIR, PHOTOS_DIR):
        root = instance / top
        if root.is_symlink() or not root.is_dir():
            continue
        for folder, _, names in os.walk(root):  # os.walk does not follow links into other folders
            for name in names:
                path = Path(folder) / name
                relative = path.relative_to(instance).as_posix()
                if relative in named or path.is_symlink():
                    continue
                try:
                    if path.stat().st_mtime >= cutoff_s:
                        continue
                except FileNotFoundError:
                    continue
                removed += remove_instance_file(instance, relative)
    return removed


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i:i + _ID_CHUNK] for i in range(0, len(ids), _ID_CHUNK)]


def _empty_snapshot_folders_before(instance: Path, before: dt.date) -> int:
    """Remove the ``snapshots/<school>/<yyyy-mm-dd>/`` folders of days before ``before``; files removed."""
    root = instance / SNAPSHOTS_DIR
    if root.is_symlink() or not root.is_dir():
        return 0
    removed = 0
    for school_dir in sorted(root.iterdir()):
        if school_dir.is_symlink() or not school_dir.is_dir():
            continue
        for day_dir in sorted(school_dir.iterdir()):
            try:
                day = dt.date.fromisoformat(day_dir.name)
            except ValueError:
                continue
            if day < before:
                removed += remove_instance_folder(instance, day_dir.relative_to(instance))
    return removed


def remove_instance_file(instance: Path, relative: str) -> int:
    """Remove one file given relative to the instance folder (never outside it); 1 if removed, else 0."""
    path = find_instance_file(instance, relative)
    if path is None:
        return 0
    try:
        path.unlink()
    except FileNotFoundError:  # another dashboard process removed it first
        return 0
    return 1


def remove_instance_folder(instance: Path, relative: str | Path) -> int:
    """Remove a folder given relative to the (resolved) instance folder, with all it holds; files removed.

    Nothing happens unless the folder lies strictly inside the instance folder with no link on the way (a
    link inside it is removed, never followed). 0 when it does not exist.
    """
    folder = instance / relative
    if folder.is_symlink() or not folder.is_dir():
        return 0
    resolved = folder.resolve()
    if resolved != folder or resolved == instance or not resolved.is_relative_to(instance):
        logger.warning("not removing %s: it leads outside the instance folder", relative)
        return 0
    files = sum(len(names) for _, _, names in os.walk(resolved))
    try:
        shutil.rmtree(resolved)
    except FileNotFoundError:  # another dashboard process got there first
        return 0
    return files
