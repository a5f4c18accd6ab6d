"""Data subjects' requests: a student's page to export everything held about them (one ZIP), correct their
record and delete them, with the requests logged and their two-working-day deadlines; and the school's list
of open and answered requests. Every export is audited by ``attendance.subject_export``."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from attendance.consent import current_record, scopes_of
from attendance.db.models import DATA_REQUEST_KINDS
from attendance.errors import InvalidInput
from attendance.imports import parse_date
from attendance.subject_export import export_student
from attendance.subject_requests import answer_request, list_requests, log_request
from dashboard.db import get_db_session, get_settings
from dashboard.auth import admin_required
from dashboard.web.access import require_school, require_student, school_today

bp = Blueprint("subject", __name__, url_prefix="/admin")


def _actor() -> str:
    return f"user:{current_user.username}"


@bp.route("/students/<int:student_id>/requests", methods=["GET", "POST"])
@admin_required
def student_requests(student_id: int):
    student = require_student(student_id)
    db = get_db_session()
    school = require_school()
    if request.method == "POST":
        received_on = parse_date(request.form.get("received_on", "")) or school_today(school)
        logged = log_request(db, student, request.form.get("kind", ""), received_on,
                             requested_by=request.form.get("requested_by", ""), note=request.form.get("note", ""),
                             actor=_actor(), user_id=current_user.id)
        db.commit()
        flash(_("Request logged; answer it by %(date)s.", date=logged.due_on.strftime("%d/%m/%Y")), "success")
        return redirect(url_for("subject.student_requests", student_id=student.id))
    return render_template("admin/subject.html", student=student, requests=list_requests(db, student.school_id,
                           student_id=student.id), kinds=DATA_REQUEST_KINDS, today=school_today(school),
                           scopes=scopes_of(current_record(db, student)))


@bp.route("/students/<int:student_id>/export.zip")
@admin_required
def export(student_id: int):
    student = require_student(student_id)
    db = get_db_session()
    data = export_student(db, get_settings().instance_path, student, actor=_actor(), user_id=current_user.id)
    db.commit()
    filename = f"student-{student.student_code}.zip"
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"})


@bp.route("/requests")
@admin_required
def requests_list():
    school = require_school()
    rows = list_requests(get_db_session(), school.id)
    return render_template("admin/requests.html", requests=rows, today=school_today(school))


@bp.route("/requests/<int:request_id>/answer", methods=["POST"])
@admin_required
def answer(request_id: int):
    school = require_school()
    answer_text = request.form.get("answer", "").strip()
    if not answer_text:
        raise InvalidInput("say what was done")
    db = get_db_session()
    answered = answer_request(db, school.id, request_id, answer_text, actor=_actor(), user_id=current_user.id)
    db.commit()
    flash(_("Request marked answered."), "success")
    if request.form.get("back") == "student" and answered.student_id:
        return redirect(url_for("subject.student_requests", student_id=answered.student_id))
    return redirect(url_for("subject.requests_list"))
