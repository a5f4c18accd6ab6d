"""Admin pages about people: students (add, edit, deactivate, import, photos) and dashboard users."""

from __future__ import annotations

import base64
import unicodedata
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from attendance.db.models import ROLES, EnrollmentPhoto, SchoolClass, Student, User
from attendance.directory import normalise_name
from attendance.errors import ImageError, InvalidInput, LookalikeRejected, PhotoRejected
from attendance.imports import parse_date
from attendance.consent import record_consent_for
from attendance.names import matches_search, vietnamese_sort_key
from attendance.text import check_text
from attendance.notices import current_notice
from attendance.students import add_student, update_student
from attendance.users import create_user, rotate_session_token, set_password, set_teacher_classes
from dashboard.db import get_db_session, get_settings
from dashboard.error_text import detail_for_page
from dashboard.auth import admin_required
from dashboard.forms import parse_id, parse_ids
from dashboard.i18n import describe_error
from dashboard.web.access import class_sort_key, require_school, require_student, school_today
from dashboard.web.admin import audit
from dashboard.web.consent_pages import consent_from_form
from dashboard.web.paging import page_of

bp = Blueprint("admin_people", __name__, url_prefix="/admin")

MAX_PHOTOS_PER_UPLOAD = 20


def _school_classes(school_id: int) -> list[SchoolClass]:
    return sorted(get_db_session().scalars(select(SchoolClass).where(SchoolClass.school_id == school_id)),
                  key=class_sort_key)


def _class_of_form(school_id: int) -> SchoolClass | None:
    class_id = parse_id(request.form.get("class_id"))
    if class_id is None:
        return None
    school_class = get_db_session().get(SchoolClass, class_id)
    if school_class is None or school_class.school_id != school_id:
        raise InvalidInput("unknown class")
    return school_class


@bp.route("/students", methods=["GET", "POST"])
@admin_required
def students():
    school = require_school()
    db = get_db_session()
    if request.method == "POST":
        # The guardian's details come with the student when the form came back with them.
        consent = consent_from_form(db, school.id, request.form) if request.form.get("guardian_name", "").strip() \
            else None
        student = add_student(db, school, request.form.get("student_code", ""), request.form.get("full_name", ""),
                              school_class=_class_of_form(school.id),
                              date_of_birth=parse_date(request.form.get("date_of_birth", "")), consent=consent,
                              actor=f"user:{current_user.username}", user_id=current_user.id,
                              instance_path=get_settings().instance_path)
        db.commit()
        flash(_("%(name)s added. Now upload a few photos of their face.", name=student.full_name), "success")
        return redirect(url_for("records.student", student_id=student.id))
    class_id = request.args.get("class_id", "")
    query_text = unicodedata.normalize("NFC", request.args.get("q", "")).strip()[:100]
    query = select(Student).where(Student.school_id == school.id)
    if (class_number := parse_id(class_id)) is not None:
        query = query.where(Student.class_id == class_number)
    elif class_id == "none":
        query = query.where(Student.class_id.is_(None))
    classes = _school_classes(school.id)
    codes: dict[int | None, str] = {c.id: c.code for c in classes}
    # Diacritics are folded in Python ("duc" finds "Đức"): SQLite and PostgreSQL fold them differently, and
    # a school's few thousand names filter in milliseconds.
    rows = sorted((s for s in db.scalars(query)
                   if matches_search(query_text, s.full_name, s.student_code, codes.get(s.class_id, ""))),
                  key=lambda s: (not s.active, codes.get(s.class_id, "~"), vietnamese_sort_key(s.full_name)))
    page = page_of(rows)
    from attendance.db.models import FaceTemplate

    ids = [s.id for s in page.items]
    template_counts = dict(db.execute(select(FaceTemplate.student_id, func.count()).where(
        FaceTemplate.student_id.in_(ids)).group_by(FaceTemplate.student_id)).all()) if ids else {}
    notice = current_notice(db, school.id)
    db.commit()  # version 1 from the template, made on first view, is kept
    return render_template("admin/students.html", students=page.items, page=page, classes=classes,
                           class_id=class_id, q=query_text, template_counts=template_counts,
                           today=school_today(school), notice=notice)


@bp.route("/students/consent", methods=["POST"])
@admin_required
def bulk_consent():
    """Record one paper consent form for the ticked students (audited per student, see ``attendance.consent``)."""
    school = require_school()
    db = get_db_session()
    ids = parse_ids(request.form.getlist("student_ids"))
    back: dict[str, Any] = {k: request.form.get(k, "") for k in ("class_id", "q", "page") if request.form.get(k)}
    if not ids:
        flash(_("Tick the students the consent form covers."), "error")
        return redirect(url_for("admin_people.students", **back))
    students = record_consent_for(db, school, ids, request.form.get("reference", ""),
                                  parse_date(request.form.get("given_on", "")), f"user:{current_user.username}",
                                  user_id=current_user.id, today=school_today(school),
                                  instance_path=get_settings().instance_path)
    db.commit()
    flash(_("Consent recorded for %(count)d student(s) (form %(reference)s).", count=len(students),
            reference=request.form.get("reference", "").strip()), "success")
    return redirect(url_for("admin_people.students", **back))


@bp.route("/students/<int:student_id>/edit", methods=["GET", "POST"])
@admin_required
def edit_student(student_id: int):
    student = require_student(student_id)
    db = get_db_session()
    if request.method == "POST":
        update_student(db, student, request.form.get("student_code", ""), request.form.get("full_name", ""),
                       school_class=_class_of_form(student.school_id),
                       date_of_birth=parse_date(request.form.get("date_of_birth", "")),
                       active=request.form.get("active") == "on", actor=f"user:{current_user.username}",
                       user_id=current_user.id)
        db.commit()
        flash(_("Saved."), "success")
        return redirect(url_for("records.student", student_id=student.id))
    return render_template("admin/student_edit.html", student=student, classes=_school_classes(student.school_id))


@bp.route("/students/<int:student_id>/active", methods=["POST"])
@admin_required
def toggle_active(student_id: int):
    student = require_student(student_id)
    student.active = not student.active
    audit("student.activate" if student.active else "student.deactivate", f"student:{student.student_code}",
          school_id=student.school_id)
    get_db_session().commit()
    flash(_("%(name)s is active again.", name=student.full_name) if student.active
          else _("%(name)s is deactivated: no longer on the roll or recognised.", name=student.full_name), "success")
    if request.form.get("back") == "list":
        return redirect(url_for("admin_people.students"))
    return redirect(url_for("records.student", student_id=student.id))


@bp.route("/students/<int:student_id>/photos", methods=["POST"])
@admin_required
def upload_photos(student_id: int):
    """Enroll uploaded photos one by one; each refused photo is reported with its reason, the rest are kept.

    A face very close to another student's is refused and shown beside that student's photo; the admin may
    upload it again with ``confirm_lookalike`` (twins, siblings), which is audited.
    """
    from attendance.enrollment import enroll_uploaded_photo

    student = require_student(student_id)
    files = [f for f in request.files.getlist("photos") if f and f.filename][:MAX_PHOTOS_PER_UPLOAD]
    if not files:
        raise InvalidInput("choose one or more photos")
    confirmed = request.form.get("confirm_lookalike") == "on"
    db = get_db_session()
    accepted = 0
    not_kept = 0
    lookalikes = []
    for upload in files:
        data = upload.read()
        try:
            result = enroll_uploaded_photo(db, get_settings(), student, data, upload.filename or "",
                                           allow_lookalike=confirmed)
        except LookalikeRejected as err:
            lookalikes.append(_lookalike_item(upload.filename or "", err))
            continue
        except (PhotoRejected, ImageError) as err:
            flash(f"{upload.filename}: {describe_error(err)}", "error")
            continue
        if result.status == "already_enrolled":
            flash(_("%(file)s: this photo was already enrolled.", file=upload.filename), "info")
            continue
        accepted += 1
        not_kept += not result.photo_kept
        if result.lookalike is not None:
            audit("student.photo_lookalike_confirmed", f"student:{student.student_code}", school_id=student.school_id,
                  detail={"photo_id": result.photo_id, "other_student": result.lookalike.student_code,
                          "distance": round(result.lookalike.distance, 4)})
        for warning in result.warnings:
            detail = detail_for_page(warning) or _("The photo was added with a warning.")
            flash(f"{upload.filename}: {detail}", "warning")
    if accepted:
        audit("student.photos", f"student:{student.student_code}", school_id=student.school_id,
              detail={"enrolled": accepted})
        flash(_("%(count)d photo(s) enrolled.", count=accepted), "success")
    if not_kept and get_settings().keep_enrollment_photos:
        flash(_("The photo files were not kept: the consent on record does not cover keeping enrollment photos. "
                "The face templates are stored."), "info")
    db.commit()
    if lookalikes:
        return render_template("admin/photo_lookalike.html", student=student, lookalikes=lookalikes)
    return redirect(url_for("records.student", student_id=student.id) + "#photos")


def _lookalike_item(filename: str, err: LookalikeRejected) -> dict:
    """What the comparison page shows: the new face (inline, never stored) and the other student's photo."""
    db = get_db_session()
    other = db.get(Student, err.other_student_id) if err.other_student_id else None
    photo = db.get(EnrollmentPhoto, err.other_photo_id) if err.other_photo_id else None
    return {
        "filename": filename, "other_code": err.other_student_code,
        "other_name": other.full_name if other else err.other_student_code,
        "distance": f"{err.distance:.2f}", "limit": f"{get_settings().duplicate_warn_distance:.2f}",
        "face_url": "data:image/jpeg;base64," + base64.b64encode(err.face_jpeg).decode("ascii") if err.face_jpeg else "",
        "other_photo_url": url_for("pages.enrollment_photo", photo_id=photo.id) if photo and photo.kept and photo.file_path else "",
    }


@bp.route("/students/<int:student_id>/photos/<int:photo_id>/delete", methods=["POST"])
@admin_required
def remove_student_photo(student_id: int, photo_id: int):
    """Delete one enrolled photo with its face templates and its file (audited by ``attendance.photos``)."""
    from attendance.photos import remove_photo

    student = require_student(student_id)
    db = get_db_session()
    removed = remove_photo(db, get_settings().instance_path, student, photo_id,
                           actor=f"user:{current_user.username}", user_id=current_user.id)
    db.commit()
    flash(_("Photo deleted with %(count)d face template(s).", count=removed), "success")
    return redirect(url_for("records.student", student_id=student.id) + "#photos")


# --- users -------------------------------------------------------------------------------------------------


def _manageable_roles() -> tuple[str, ...]:
    return ROLES if current_user.role == "district_admin" else ("school_admin", "teacher")


def _require_user(user_id: int) -> User:
    user = get_db_session().get(User, user_id)
    if user is None:
        abort(404)
    if current_user.role != "district_admin" and (user.school_id != current_user.school_id
                                                  or user.role == "district_admin"):
        abort(404)
    return user


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users():
    school = require_school()
    db = get_db_session()
    if request.method == "POST":
        role = request.form.get("role", "teacher")
        if role not in _manageable_roles():
            abort(403)
        password = request.form.get("password", "")
        if password != request.form.get("password_confirm", ""):
            raise InvalidInput("the two passwords differ")
        user = create_user(db, request.form.get("username", ""), password, role,
                           None if role == "district_admin" else school.id,
                           full_name=request.form.get("full_name", ""), language=get_settings().default_language)
        if role == "teacher":
            set_teacher_classes(db, user, parse_ids(request.form.getlist("class_ids")))
        audit("user.create", f"user:{user.username}", school_id=user.school_id,
              detail={"role": role, "classes": [c.code for c in user.classes]})
        db.commit()
        flash(_("User %(name)s created.", name=user.username), "success")
        return redirect(url_for("admin_people.users"))
    query = select(User).order_by(User.role, User.username)
    if current_user.role == "district_admin":
        query = query.where(or_(User.school_id == school.id, User.school_id.is_(None)))
    else:
        query = query.where(User.school_id == school.id)
    return render_template("admin/users.html", users=list(db.scalars(query)), roles=_manageable_roles(),
                           classes=_school_classes(school.id))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def edit_user(user_id: int):
    user = _require_user(user_id)
    db = get_db_session()
    if request.method == "POST":
        action = request.form.get("action", "save")
        if action == "password":
            password = request.form.get("password", "")
            if password != request.form.get("password_confirm", ""):
                raise InvalidInput("the two passwords differ")
            set_password(user, password)  # also ends the user's open sessions
            audit("user.password_reset", f"user:{user.username}", school_id=user.school_id)
            db.commit()
            flash(_("Password of %(name)s changed; their open sessions were ended.", name=user.username), "success")
            return redirect(url_for("admin_people.edit_user", user_id=user.id))
        user.full_name = check_text(normalise_name(request.form.get("full_name", "")), "the full name", 200)
        active = request.form.get("active") == "on"
        if user.id == current_user.id and not active:
            raise InvalidInput("you cannot deactivate yourself")
        if user.active and not active:
            rotate_session_token(user)
        user.active = active
        if user.role == "teacher":
            set_teacher_classes(db, user, parse_ids(request.form.getlist("class_ids")))
        audit("user.update", f"user:{user.username}", school_id=user.school_id,
              detail={"active": active, "classes": [c.code for c in user.classes]})
        db.commit()
        flash(_("Saved."), "success")
        return redirect(url_for("admin_people.users"))
    classes = _school_classes(user.school_id) if user.school_id else []
    return render_template("admin/user_edit.html", user=user, classes=classes,
                           assigned={c.id for c in user.classes})
