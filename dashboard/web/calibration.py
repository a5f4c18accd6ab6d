"""The calibration page of a school: how close its students' faces come, the recommended point, and applying it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from attendance import models_manager
from attendance.calibration import DEFAULT_TARGET_FPIR, MIN_STUDENTS
from attendance.calibration_chart import render_svg
from attendance.db.models import EnrollmentPhoto, FaceTemplate, Student
from attendance.errors import AttendanceError, InvalidInput
from attendance.operating_points import (
    apply_calibration, calibrate_school, calibration_document, find_school_point, reset_school_point,
)
from dashboard.db import get_db_session, get_settings
from dashboard.auth import admin_required
from dashboard.web.access import require_school

bp = Blueprint("calibration", __name__, url_prefix="/admin/calibration")


def _school_models(school_id: int) -> list[str]:
    """Models with templates in the school, the model in use first."""
    found = set(get_db_session().scalars(
        select(FaceTemplate.model_id).join(Student, Student.id == FaceTemplate.student_id)
        .where(Student.school_id == school_id).distinct()))
    try:
        in_use = models_manager.model_in_use(get_settings()).model_id
    except AttendanceError:  # no model installed on the dashboard's machine: the templates still tell
        in_use = ""
    return sorted(found, key=lambda m: (m != in_use, m))


def _target_fpir(text: str) -> float:
    try:
        value = float(text) if text.strip() else DEFAULT_TARGET_FPIR
    except ValueError as err:
        raise InvalidInput(f"the target FPIR {text!r} is not a number") from err
    if not 0.0 < value < 1.0:
        raise InvalidInput("the target FPIR must be between 0 and 1")
    return value


def _chosen_model(models: list[str]) -> str | None:
    wanted = request.values.get("model", "")
    if wanted and wanted not in models:
        raise InvalidInput(f"the school has no templates of model {wanted!r}")
    return wanted or (models[0] if models else None)


@bp.route("/")
@admin_required
def show():
    school = require_school()
    db = get_db_session()
    models = _school_models(school.id)
    model_id = _chosen_model(models)
    target = _target_fpir(request.args.get("target_fpir", ""))
    if model_id is None:
        return render_template("admin/calibration.html", models=models, model_id=None, target=target,
                               min_students=MIN_STUDENTS)
    calibration, students = calibrate_school(db, get_settings(), school, model_id, target)
    document = calibration_document(school, calibration, students)
    photo_ids = {p[k] for p in document["closest_pairs"] for k in ("photo_a", "photo_b") if p[k] is not None}
    kept = set(db.scalars(select(EnrollmentPhoto.id).where(
        EnrollmentPhoto.id.in_(photo_ids), EnrollmentPhoto.kept.is_(True), EnrollmentPhoto.file_path.is_not(None))
    )) if photo_ids else set()
    ids_by_code = {s.student_code: s.id for s in students.values()}
    chart = render_svg(calibration, {
        "genuine": _("same student"), "impostor": _("nearest other student"), "current": _("current"),
        "recommended": _("recommended"), "distance": _("distance between faces"),
    })
    return render_template("admin/calibration.html", models=models, model_id=model_id, target=target,
                           doc=document, chart=Markup(chart), kept=kept, ids_by_code=ids_by_code,
                           stored=find_school_point(db, school.id, model_id), min_students=MIN_STUDENTS)


@bp.route("/apply", methods=["POST"])
@admin_required
def apply():
    """Recompute on the enrolled students as they are now and store the recommendation (audited)."""
    school = require_school()
    db = get_db_session()
    model_id = _chosen_model(_school_models(school.id))
    if model_id is None:
        raise InvalidInput("the school has no templates yet")
    target = _target_fpir(request.form.get("target_fpir", ""))
    calibration, _students = calibrate_school(db, get_settings(), school, model_id, target)
    row = apply_calibration(db, school, calibration, actor=f"user:{current_user.username}", user_id=current_user.id)
    db.commit()
    flash(_("Threshold %(threshold).3f and margin %(margin).3f applied for %(model)s: the cameras pick them up "
            "with their next gallery update.", threshold=row.threshold, margin=row.margin, model=model_id), "success")
    return redirect(url_for("calibration.show", model=model_id, target_fpir=target))


@bp.route("/reset", methods=["POST"])
@admin_required
def reset():
    """Remove the school's stored point for the model (audited): the model's default applies again."""
    school = require_school()
    db = get_db_session()
    model_id = _chosen_model(_school_models(school.id))
    if model_id is not None and reset_school_point(db, school, model_id, actor=f"user:{current_user.username}",
                                                   user_id=current_user.id):
        db.commit()
        flash(_("The school's point for %(model)s was removed: the model's default applies again.", model=model_id),
              "success")
    return redirect(url_for("calibration.show", model=model_id))
