"""A student's page (photos, templates, month calendar, complete deletion) and the unknown faces to resolve."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from attendance.crypto import read_sealed_file
from attendance.db.models import FaceTemplate, School, Student, UnknownFace
from attendance.erasure import erase_student, remove_instance_file
from attendance.errors import InvalidInput
from attendance.instance import find_instance_file
from attendance.photos import list_photos
from attendance.roll import DECIDED_STATUSES, PRESENT_STATUSES, compute_student_month
from attendance.subject_requests import answer_open_requests
from attendance.users import record_audit
from dashboard.db import get_db_session, get_settings
from dashboard.error_text import detail_for_page
from dashboard.i18n import format_date
from dashboard.auth import admin_required, login_required
from dashboard.forms import parse_id, parse_ids
from dashboard.web.access import (
    can_see_school, now_at, parse_month, require_school, require_student, school_today, visible_classes,
)
from dashboard.web.roll_pages import month_days

logger = logging.getLogger(__name__)

bp = Blueprint("records", __name__)

UNKNOWN_PAGE_SIZE = 24  # groups of sightings a page
UNKNOWN_LOAD_LIMIT = 2000  # open sightings grouped at once (newest first)


@bp.route("/students/<int:student_id>")
@login_required
def student(student_id: int):
    student = require_student(student_id)
    school = student.school_class.school if student.school_class else get_db_session().get_one(School, student.school_id)
    db = get_db_session()
    today = school_today(school)
    year, month = parse_month(request.args.get("month"), today)
    statuses = compute_student_month(db, student, year, month, now_at())
    attended = sum(1 for s in statuses.values() if s in PRESENT_STATUSES)
    decided = sum(1 for s in statuses.values() if s in DECIDED_STATUSES)
    templates = db.execute(select(FaceTemplate.model_id, func.count()).where(FaceTemplate.student_id == student.id)
                           .group_by(FaceTemplate.model_id).order_by(FaceTemplate.model_id)).all()
    photos = [p for p in student.photos if p.kept and p.file_path]
    photo_list = list_photos(db, student) if current_user.role in ("school_admin", "district_admin") else []
    first_of_month = dt.date(year, month, 1)
    previous_month = (first_of_month - dt.timedelta(days=1)).strftime("%Y-%m")
    next_month = (first_of_month + dt.timedelta(days=32)).strftime("%Y-%m")
    return render_template(
        "student.html", student=student, photos=photos, templates=templates, weeks=month_days(year, month),
        statuses=statuses, year=year, month=month, attended=attended, decided=decided,
        rate=round(100.0 * attended / decided, 1) if decided else None, today=today,
        previous_month=previous_month, next_month=next_month, all_photos=len(student.photos), photo_list=photo_list,
    )


@bp.route("/students/<int:student_id>/delete", methods=["GET", "POST"])
@admin_required
def delete_student(student_id: int):
    """Delete a student completely: rows (templates, check-ins, overrides by cascade) and every file on disk."""
    student = require_student(student_id)
    if request.method != "POST":  # GET, and HEAD: never a state change (HEAD also skips CSRF)
        return render_template("student_delete.html", student=student)
    if request.form.get("confirm_code", "").strip() != student.student_code:
        flash(_("Type the student code to confirm the deletion."), "error")
        return redirect(url_for("records.delete_student", student_id=student.id))
    db = get_db_session()
    answer_open_requests(db, student, "deletion", "deleted completely", actor=f"user:{current_user.username}",
                         user_id=current_user.id)
    removed = delete_student_completely(db, student)
    record_audit(db, f"user:{current_user.username}", "student.delete", user_id=current_user.id,
                 school_id=student.school_id, target=f"student:{student.student_code}",
                 detail={"files_removed": removed})
    db.commit()
    flash(_("The student and all their photos, templates and check-ins were deleted."), "success")
    return redirect(url_for("admin_people.students"))


def delete_student_completely(db, student: Student) -> int:
    """Remove the student's rows and files (see ``attendance.erasure.erase_student``); returns files removed."""
    return erase_student(db, get_settings().instance_path, student)


@bp.route("/unknown")
@admin_required
def unknown_faces():
    """Open unknown faces, repeated sightings grouped (``attendance.unknown_groups``), 24 groups a page."""
    from attendance.db.models import Camera
    from attendance.names import fold_for_search, vietnamese_sort_key
    from attendance.unknown_groups import group_sightings
    from dashboard.web.paging import page_of

    school = require_school()
    db = get_db_session()
    faces = list(db.scalars(select(UnknownFace).where(UnknownFace.school_id == school.id, UnknownFace.status == "open")
                            .order_by(UnknownFace.captured_at.desc()).limit(UNKNOWN_LOAD_LIMIT)))
    total = db.scalar(select(func.count()).select_from(UnknownFace)
                      .where(UnknownFace.school_id == school.id, UnknownFace.status == "open"))
    page = page_of(group_sightings(faces), size=UNKNOWN_PAGE_SIZE)
    classes = visible_classes(school)
    codes: dict[int | None, str] = {c.id: c.code for c in classes}
    students = sorted(db.scalars(select(Student).where(Student.school_id == school.id, Student.active.is_(True))),
                      key=lambda s: (codes.get(s.class_id, "~"), vietnamese_sort_key(s.full_name)))
    cameras = dict(db.execute(select(Camera.id, Camera.name).where(Camera.school_id == school.id)).all())
    students_by_id = {s.id: s for s in students}
    # a nearest or claimed student may be inactive now: fetched apart, shown on the card, not offered
    missing = {i for u in faces for i in (u.nearest_student_id, u.claimed_student_id) if i} - set(students_by_id)
    if missing:
        students_by_id.update({s.id: s for s in db.scalars(select(Student).where(Student.id.in_(missing)))})
    return render_template("unknown.html", groups=page.items, page=page, total=total, classes=classes,
                           students=students, students_by_id=students_by_id, cameras=cameras, class_codes=codes,
                           fold=fold_for_search)


def _student_of_form(school_id: int) -> Student | None:
    """The student chosen on an unknown face's card: ``student_id``, or the picker's text "CODE · Name · Class"."""
    from attendance.directory import find_student

    student_id = parse_id(request.form.get("student_id", ""))
    if student_id:
        return require_student(student_id)
    code = request.form.get("student", "").split("·", 1)[0].strip()
    if not code or len(code) > 32:
        return None
    student = find_student(get_db_session(), get_db_session().get_one(School, school_id), code)
    return require_student(student.id) if student is not None else None


def _group_members(unknown: UnknownFace) -> list[UnknownFace]:
    """The other open sightings named on the form (``group_ids``): same school, camera and school day."""
    ids = parse_ids(request.form.getlist("group_ids"))
    if not ids:
        return []
    rows = get_db_session().scalars(select(UnknownFace).where(UnknownFace.id.in_(ids), UnknownFace.id != unknown.id))
    return [u for u in rows if u.status == "open" and u.school_id == unknown.school_id and not u.flag
            and u.camera_id == unknown.camera_id and u.school_date == unknown.school_date]


def _close_sightings(members: list[UnknownFace], status: str, student_id: int | None) -> None:
    """Mark the group's other sightings handled with the first, deleting their snapshots."""
    instance = Path(get_settings().instance_path).resolve()
    for member in members:
        if member.snapshot_path:
            remove_instance_file(instance, member.snapshot_path)
        member.snapshot_path = None
        member.status = status
        member.resolved_student_id = student_id


def _require_unknown(unknown_id: int) -> UnknownFace:
    unknown = get_db_session().get(UnknownFace, unknown_id)
    if unknown is None or not can_see_school(unknown.school_id):
        abort(404)
    if unknown.status != "open":
        flash(_("This face was already handled."), "info")
        abort(redirect(url_for("records.unknown_faces")))
    return unknown


@bp.route("/unknown/<int:unknown_id>/assign", methods=["POST"])
@admin_required
def assign_unknown(unknown_id: int):
    """Name an unknown face: it becomes the student's check-in of that morning (audited, ``source=review``),
    and its snapshot is enrolled as a photo of the student (same quality checks as an upload). A photo the
    checks refuse is reported; the check-in stands."""
    from attendance.enrollment import enroll_uploaded_photo
    from attendance.errors import PhotoRejected
    from attendance.review import record_review_checkin

    from dashboard.i18n import describe_error

    unknown = _require_unknown(unknown_id)
    if unknown.flag:  # a suspected photo of a photo must not become a student's template
        raise InvalidInput("a face refused as a suspected photo cannot be enrolled; dismiss it instead")
    student = _student_of_form(unknown.school_id)
    if student is None or student.school_id != unknown.school_id or not student.active:
        flash(_("Choose a student of this school."), "error")
        return redirect(url_for("records.unknown_faces"))
    instance = Path(get_settings().instance_path).resolve()
    path = find_instance_file(instance, unknown.snapshot_path)
    if path is None:
        flash(_("The snapshot of this face is missing."), "error")
        return redirect(url_for("records.unknown_faces"))
    db = get_db_session()
    actor = f"user:{current_user.username}"
    checkin = record_review_checkin(db, unknown, student, actor=actor, user_id=current_user.id,
                                    received_at=now_at(), instance_path=instance)
    result = None
    try:
        with db.begin_nested():  # a refused photo undoes only its own rows, never the check-in
            result = enroll_uploaded_photo(db, get_settings(), student, read_sealed_file(path, "snapshot"), path.name,
                                           source="unknown_face")
    except PhotoRejected as err:
        flash(_("The photo was not added to the gallery: %(reason)s", reason=describe_error(err)), "warning")
    unknown.status = "assigned"
    unknown.resolved_student_id = student.id
    members = _group_members(unknown)
    _close_sightings(members, "assigned", student.id)
    record_audit(db, actor, "unknown_face.assign", user_id=current_user.id,
                 school_id=unknown.school_id, target=f"student:{student.student_code}",
                 detail={"unknown_face_id": unknown.id, "checkin_id": checkin.id,
                         "result": result.status if result else "photo_refused",
                         "same_face_ids": [m.id for m in members]})
    db.commit()
    flash(_("%(name)s is checked in for %(date)s.", name=student.full_name, date=format_date(unknown.school_date)),
          "success")
    if result is not None:
        flash(_("The face was added to %(name)s's photos.", name=student.full_name), "success")
        for warning in result.warnings:
            flash(detail_for_page(warning) or _("The photo was added with a warning."), "warning")
    return redirect(url_for("records.unknown_faces"))


@bp.route("/unknown/<int:unknown_id>/dismiss", methods=["POST"])
@admin_required
def dismiss_unknown(unknown_id: int):
    """Dismiss an unknown face: the snapshot file is deleted, the row kept as ``dismissed`` for the record."""
    unknown = _require_unknown(unknown_id)
    db = get_db_session()
    if unknown.snapshot_path:
        remove_instance_file(Path(get_settings().instance_path).resolve(), unknown.snapshot_path)
    unknown.snapshot_path = None
    unknown.status = "dismissed"
    members = _group_members(unknown)
    _close_sightings(members, "dismissed", None)
    record_audit(db, f"user:{current_user.username}", "unknown_face.dismiss", user_id=current_user.id,
                 school_id=unknown.school_id, target=f"unknown_face:{unknown.id}",
                 detail={"same_face_ids": [m.id for m in members]} if members else None)
    db.commit()
    flash(_("The face was dismissed and its snapshot deleted."), "success")
    return redirect(url_for("records.unknown_faces"))
