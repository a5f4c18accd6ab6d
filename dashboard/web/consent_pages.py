"""Admin pages about consent: a student's consent history, recording a new answer, withdrawing it, and the
school's privacy notice (the current version shown, a new version published). Rules live in
``attendance.consent`` and ``attendance.notices``; every form box starts unticked (consent is explicit)."""

from __future__ import annotations

import dataclasses

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from attendance.consent import (
    ConsentAnswer, consent_history, current_record, find_notice, needs_child_agreement, record_consent, scopes_of,
    withdraw_consent,
)
from attendance.errors import InvalidInput
from attendance.imports import parse_date
from attendance.notices import current_notice, list_notices, publish_notice
from attendance.subject_requests import answer_open_requests
from dashboard.db import get_db_session, get_settings
from dashboard.auth import admin_required
from dashboard.forms import parse_id
from dashboard.web.access import require_school, require_student, school_today

bp = Blueprint("consent", __name__, url_prefix="/admin")


def _actor() -> str:
    return f"user:{current_user.username}"


def consent_from_form(db, school_id: int, form) -> ConsentAnswer:
    """The consent answer the form describes (the add-student form and the consent page share its fields)."""
    notice_id = parse_id(form.get("notice_id"))
    notice = find_notice(db, school_id, notice_id) if notice_id else None
    given_on = parse_date(form.get("given_on", ""))
    if given_on is None:
        raise InvalidInput("give the date on the consent form")
    return ConsentAnswer(guardian_name=form.get("guardian_name", ""),
                         guardian_relation=form.get("guardian_relation", ""), given_on=given_on,
                         recognition=form.get("scope_recognition") == "on",
                         snapshots=form.get("scope_snapshots") == "on", photos=form.get("scope_photos") == "on",
                         child_agreed=True if form.get("child_agreed") == "on" else None, notice=notice,
                         note=form.get("note", "")[:2000])


def record_consent_from_form(db, student, form) -> None:
    """Record the consent the form describes for ``student``."""
    answer = consent_from_form(db, student.school_id, form)
    record_consent(db, student, **{f.name: getattr(answer, f.name) for f in dataclasses.fields(answer)},
                   actor=_actor(), user_id=current_user.id, instance_path=get_settings().instance_path)


@bp.route("/students/<int:student_id>/consent", methods=["GET", "POST"])
@admin_required
def student_consent(student_id: int):
    student = require_student(student_id)
    db = get_db_session()
    if request.method == "POST":
        record_consent_from_form(db, student, request.form)
        db.commit()
        flash(_("Consent recorded for %(name)s.", name=student.full_name), "success")
        return redirect(url_for("consent.student_consent", student_id=student.id))
    record = current_record(db, student)
    shown = current_notice(db, student.school_id)
    db.commit()  # version 1 from the template, made on first view, is kept
    return render_template("admin/consent.html", student=student, history=consent_history(db, student),
                           current=record, scopes=scopes_of(record), notice=shown,
                           child_needed=needs_child_agreement(student, school_today(require_school())))


@bp.route("/students/<int:student_id>/consent/withdraw", methods=["POST"])
@admin_required
def withdraw(student_id: int):
    student = require_student(student_id)
    db = get_db_session()
    removal = withdraw_consent(db, get_settings().instance_path, student, actor=_actor(), user_id=current_user.id,
                               note=request.form.get("note", "")[:2000])
    answer_open_requests(db, student, "withdrawal", "consent withdrawn; templates and photos deleted",
                         actor=_actor(), user_id=current_user.id)
    db.commit()
    flash(_("Consent withdrawn: %(templates)d face template(s) and %(photos)d photo(s) deleted; the cameras stop "
            "recognising %(name)s at their next gallery sync. Attendance history is kept.",
            templates=removal.templates, photos=removal.photos, name=student.full_name), "success")
    return redirect(url_for("consent.student_consent", student_id=student.id))


@bp.route("/notice", methods=["GET", "POST"])
@admin_required
def notice():
    school = require_school()
    db = get_db_session()
    if request.method == "POST":
        published = publish_notice(db, school.id, request.form.get("text_vi", ""), request.form.get("text_en", ""),
                                   actor=_actor(), user_id=current_user.id)
        db.commit()
        flash(_("Version %(version)d of the notice is published; new consent records name it.",
                version=published.version), "success")
        return redirect(url_for("consent.notice"))
    current = current_notice(db, school.id)
    db.commit()  # version 1 from the template, made on first view, is kept
    return render_template("admin/notice.html", notice=current, versions=list_notices(db, school.id))
