"""A class's roll for one day (the homeroom teacher's main page) with overrides and exports, and month reports."""

from __future__ import annotations

import calendar
import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from attendance.db.models import ClassMembership
from attendance.errors import AttendanceError, InvalidInput, ModelError
from attendance.models_manager import model_in_use
from attendance.readiness import list_unrecognisable
from attendance.liveness_review import review_checkin
from attendance.roll import (
    clear_override, compute_class_roll, compute_month_report, load_day_rules, members_on, set_override,
)
from dashboard.db import discard_request_changes, get_db_session, get_settings
from dashboard.auth import login_required
from dashboard.forms import parse_id
from dashboard.i18n import QUICK_REASONS, STATUS_LABELS, describe_error, format_date, format_time
from dashboard.web.access import (
    now_at, parse_day, parse_month, require_class, require_school, require_student, school_today, visible_classes,
)
from dashboard.web.exports import csv_response, xlsx_response
from dashboard.web.live import live_context

bp = Blueprint("roll", __name__)


ROLL_ORDERS = ("status", "name")
FIRST_STATUSES = {"not_yet": 0, "absent": 1}  # who the teacher looks for first; everyone else after, by name


def order_roll(entries: list, order: str) -> list:
    """The roll in ``order``: "status" puts not-yet-in then absent students first (each group in roster
    order), "name" keeps the roster (Vietnamese given-name) order."""
    if order == "name":
        return list(entries)
    return sorted(entries, key=lambda e: FIRST_STATUSES.get(e.status, len(FIRST_STATUSES)))


@bp.route("/classes/<int:class_id>")
@login_required
def class_roll(class_id: int):
    school_class = require_class(class_id)
    school = school_class.school
    today = school_today(school)
    day = parse_day(request.args.get("date"), today)
    order = request.args.get("order", "status")
    order = order if order in ROLL_ORDERS else "status"
    saved = parse_id(request.args.get("saved"))
    db = get_db_session()
    rules = load_day_rules(db, school, day)
    entries = compute_class_roll(db, school_class, day, now_at(), rules=rules)
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.status] = counts.get(entry.status, 0) + 1
    return render_template(
        "class_roll.html", school_class=school_class, day=day, today=today, entries=order_roll(entries, order),
        counts=counts, order=order,
        saved_id=saved if saved in {e.student_id for e in entries} else None,
        rules=rules, is_school_day=rules.is_school_day, previous_day=day - dt.timedelta(days=1),
        next_day=day + dt.timedelta(days=1), can_edit=rules.is_school_day and day <= today,
        # who the cameras cannot recognise is about now: shown on today's roll only
        unrecognisable=(list_unrecognisable(db, school.id, today, model_in_use_id(), class_ids=[school_class.id])
                        if day == today else []),
        **(live_context(school, school_class.id) if day == today and rules.is_school_day else {}),
    )


def model_in_use_id() -> str | None:
    """The recognition model in use here, or None when none is installed (no template check then)."""
    try:
        return model_in_use(get_settings()).model_id
    except ModelError:
        return None


def compose_reason(quick: str, text: str) -> str:
    """A mark's reason from a quick choice and free text: "Sick", "Sick: fever", or the text alone."""
    text = (text or "").strip()
    label = str(QUICK_REASONS[quick]) if quick in QUICK_REASONS and quick != "other" else ""
    if label and text:
        return f"{label}: {text}"
    return label or text


@bp.route("/classes/<int:class_id>/override", methods=["POST"])
@login_required
def override(class_id: int):
    """Mark a student excused or present (with a reason), or clear the mark; audited by ``attendance.roll``.

    Back on the roll, the page opens at the student's row with the confirmation (or the refusal) beside it.
    """
    school_class = require_class(class_id)
    student = require_student(parse_id(request.form.get("student_id")) or 0)
    day = parse_day(request.form.get("date"), school_today(school_class.school))
    order = request.form.get("order", "status")
    back = url_for("roll.class_roll", class_id=class_id, date=day.isoformat(), order=order,
                   saved=student.id) + f"#s{student.id}"
    db = get_db_session()
    try:
        if student.id not in set(db.scalars(members_on([school_class.id], day)
                                            .with_only_columns(ClassMembership.student_id))):
            raise InvalidInput("the student is not on this class's roll that day")
        if day > school_today(school_class.school):
            raise InvalidInput("a day in the future cannot be marked")
        action = request.form.get("action", "")
        if action == "clear":
            clear_override(db, student, day, current_user.id)
            flash(_("Mark removed for %(name)s.", name=student.full_name), "success")
        else:
            reason = compose_reason(request.form.get("quick", ""), request.form.get("reason", ""))
            set_override(db, student, day, action, reason, current_user.id)
            flash(_("%(name)s marked %(status)s.", name=student.full_name,
                    status=str(STATUS_LABELS.get(action, action)).lower()), "success")
    except AttendanceError as err:
        discard_request_changes()
        flash(describe_error(err), "error")
        return redirect(back)
    db.commit()
    return redirect(back)


@bp.route("/classes/<int:class_id>/review", methods=["POST"])
@login_required
def review(class_id: int):
    """Confirm or reject a check-in flagged as a suspected photo or screen; audited by ``attendance.liveness_review``."""
    school_class = require_class(class_id)
    checkin_id = parse_id(request.form.get("checkin_id")) or 0
    db = get_db_session()
    checkin = review_checkin(db, checkin_id, request.form.get("decision", ""), current_user.id,
                             school_id=school_class.school_id)
    student = require_student(checkin.student_id)
    if student.class_id != school_class.id:
        db.rollback()
        raise InvalidInput("the check-in is not of a student of this class")
    db.commit()
    if checkin.review_status == "confirmed":
        flash(_("Check-in of %(name)s confirmed.", name=student.full_name), "success")
    else:
        flash(_("Check-in of %(name)s rejected: it no longer counts.", name=student.full_name), "success")
    return redirect(url_for("roll.class_roll", class_id=class_id, date=checkin.school_date.isoformat())
                    + f"#s{student.id}")


@bp.route("/classes/<int:class_id>/roll.<any(csv, xlsx):fmt>")
@login_required
def export_roll(class_id: int, fmt: str):
    school_class = require_class(class_id)
    school = school_class.school
    day = parse_day(request.args.get("date"), school_today(school))
    entries = compute_class_roll(get_db_session(), school_class, day, now_at())
    header = [_("No."), _("Student code"), _("Full name"), _("Class"), _("Date"), _("Status"), _("Time"),
              _("Minutes late"), _("Camera"), _("Reason")]
    rows = [[i, e.student_code, e.full_name, e.class_code, format_date(day), str(STATUS_LABELS[e.status]),
             format_time(e.first_seen_at, school.timezone), e.minutes_late or "", _camera_note(e),
             e.override_reason or ""] for i, e in enumerate(entries, start=1)]
    prefix = _("roll")
    filename = f"{prefix}-{school_class.code}-{day.isoformat()}.{fmt}"
    if fmt == "csv":
        return csv_response(filename, header, rows)
    heading = _("Roll of class %(code)s, %(date)s", code=school_class.code, date=format_date(day))
    return xlsx_response(filename, school_class.code, header, rows, heading=f"{school.name}: {heading}")


def _camera_note(entry) -> str:
    """The camera column of an export, as on the page: who named the face, or when a late batch arrived."""
    if entry.source == "review":
        return _("Named on the unknown-faces page")
    if entry.received_on:
        return _("arrived from camera %(camera)s on %(date)s", camera=entry.camera_name,
                 date=format_date(entry.received_on))
    return entry.camera_name or ""


@bp.route("/reports")
@login_required
def reports():
    school = require_school()
    classes = visible_classes(school)
    class_id = parse_id(request.args.get("class_id"))
    if class_id:
        return redirect(url_for("roll.month_report", class_id=class_id, month=request.args.get("month", "")))
    year, month = parse_month(request.args.get("month"), school_today(school))
    return render_template("reports.html", classes=classes, month_value=f"{year:04d}-{month:02d}")


@bp.route("/classes/<int:class_id>/report")
@login_required
def month_report(class_id: int):
    school_class = require_class(class_id)
    year, month = parse_month(request.args.get("month"), school_today(school_class.school))
    rows = compute_month_report(get_db_session(), school_class, year, month, now_at())
    first = dt.date(year, month, 1)
    days = [first + dt.timedelta(days=i) for i in range(calendar.monthrange(year, month)[1])]
    closed = {day for day in days if all(row.days.get(day) in (None, "no_school") for row in rows)}
    return render_template("month_report.html", school_class=school_class, rows=rows, year=year, month=month,
                           days=days, closed=closed, today=school_today(school_class.school),
                           month_value=f"{year:04d}-{month:02d}", classes=visible_classes(school_class.school),
                           month_name=_month_label(year, month),
                           previous_month=(first - dt.timedelta(days=1)).strftime("%Y-%m"),
                           next_month=(first + dt.timedelta(days=32)).strftime("%Y-%m"))


@bp.route("/classes/<int:class_id>/report.<any(csv, xlsx):fmt>")
@login_required
def export_report(class_id: int, fmt: str):
    school_class = require_class(class_id)
    year, month = parse_month(request.args.get("month"), school_today(school_class.school))
    report = compute_month_report(get_db_session(), school_class, year, month, now_at())
    header = [_("No."), _("Student code"), _("Full name"), _("Class"), _("On time"), _("Late"), _("Absent"),
              _("Excused"), _("Present (marked)"), _("School days"), _("Attendance rate (%)")]
    rows = [[i, r.student_code, r.full_name, r.class_code, r.on_time, r.late, r.absent, r.excused,
             r.present_manual, r.school_days, attendance_rate(r)] for i, r in enumerate(report, start=1)]
    prefix = _("report")
    filename = f"{prefix}-{school_class.code}-{year:04d}-{month:02d}.{fmt}"
    if fmt == "csv":
        return csv_response(filename, header, rows)
    heading = _("Attendance of class %(code)s, %(month)s", code=school_class.code, month=_month_label(year, month))
    return xlsx_response(filename, f"{school_class.code} {month:02d}-{year}", header, rows,
                         heading=f"{school_class.school.name}: {heading}")


def attendance_rate(row) -> float | str:
    """Percent of decided school days the student was at school (on time, late or marked present)."""
    if not row.school_days:
        return ""
    return round(100.0 * (row.on_time + row.late + row.present_manual) / row.school_days, 1)


def _month_label(year: int, month: int) -> str:
    return f"{month:02d}/{year:04d}"


def month_days(year: int, month: int) -> list[list[dt.date | None]]:
    """The weeks of a month (Monday first) for a calendar; days of other months are None."""
    return [[day if day.month == month else None for day in week]
            for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)]
