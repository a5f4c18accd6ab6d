"""Leave requests of a class: excuse a student ahead of time for a range of days, list them, cancel one.

The rule lives in the core (``attendance.leave``, read by ``attendance.roll``); this page only collects the
dates and reason and shows what is stored. Creating and cancelling are audited by the core.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from attendance.db.models import LeaveRequest, Student, User
from attendance.errors import InvalidInput
from attendance.leave import cancel_leave, create_leave, list_leaves
from attendance.roll import roster
from dashboard.db import get_db_session
from dashboard.auth import login_required
from dashboard.forms import parse_id
from dashboard.i18n import format_date
from dashboard.web.access import require_class, require_student, school_today
from dashboard.web.roll_pages import compose_reason

bp = Blueprint("leave", __name__)

SHOWN_PAST_DAYS = 31  # the page lists leave requests ending from a month ago on


def _parse_date(text: str | None, field: str) -> dt.date:
    text = (text or "").strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise InvalidInput(f"{field}: a date is dd/mm/yyyy")


@bp.route("/classes/<int:class_id>/leave")
@login_required
def class_leaves(class_id: int):
    school_class = require_class(class_id)
    today = school_today(school_class.school)
    db = get_db_session()
    first = today - dt.timedelta(days=SHOWN_PAST_DAYS)
    last = today + dt.timedelta(days=366)
    students = [student for student, _spans in roster(db, school_class, today)]
    class_students = {student.id: student for student, _spans in roster(db, school_class, first, last)}
    leaves = list_leaves(db, list(class_students), first, last, include_cancelled=True)
    users: dict[int | None, User] = {u.id: u for u in db.scalars(select(User).where(
        User.id.in_({leave.created_by_id for leave in leaves} | {leave.cancelled_by_id for leave in leaves})))}
    rows = [{"leave": leave, "student": class_students[leave.student_id],
             "created_by": _user_label(users.get(leave.created_by_id), leave.created_by),
             "cancelled_by": _user_label(users.get(leave.cancelled_by_id), ""),
             "state": "cancelled" if leave.cancelled_at else ("past" if leave.last_date < today else "active")}
            for leave in sorted(leaves, key=lambda x: (x.cancelled_at is not None, x.last_date < today,
                                                      x.first_date, x.id))]
    return render_template("leave.html", school_class=school_class, students=students, rows=rows, today=today,
                           selected=request.args.get("student", ""))


def _user_label(user: User | None, fallback: str) -> str:
    if user is None:
        return fallback
    return user.full_name or user.username


@bp.route("/classes/<int:class_id>/leave", methods=["POST"])
@login_required
def add_leave(class_id: int):
    school_class = require_class(class_id)
    student = require_student(parse_id(request.form.get("student_id")) or 0)
    today = school_today(school_class.school)
    db = get_db_session()
    first = _parse_date(request.form.get("first_date"), "first_date")
    last = _parse_date(request.form.get("last_date") or request.form.get("first_date"), "last_date")
    if student.id not in {s.id for s, _spans in roster(db, school_class, min(first, today), max(last, today))}:
        raise InvalidInput("the student is not on this class's roll")
    reason = compose_reason(request.form.get("quick", ""), request.form.get("reason", ""))
    create_leave(db, student, first, last, reason, current_user.id)
    db.commit()
    flash(_("%(name)s is excused from %(first)s to %(last)s.", name=student.full_name, first=format_date(first),
            last=format_date(last)), "success")
    return redirect(url_for("leave.class_leaves", class_id=class_id))


@bp.route("/classes/<int:class_id>/leave/<int:leave_id>/cancel", methods=["POST"])
@login_required
def cancel(class_id: int, leave_id: int):
    school_class = require_class(class_id)
    db = get_db_session()
    leave = db.get(LeaveRequest, leave_id)
    if leave is None or leave.school_id != school_class.school_id:
        abort(404)
    if leave.student_id not in {s.id for s, _spans in roster(db, school_class, leave.first_date, leave.last_date)}:
        abort(404)
    cancel_leave(db, leave_id, current_user.id, school_id=school_class.school_id)
    student = db.get_one(Student, leave.student_id)
    db.commit()
    flash(_("Leave of %(name)s cancelled.", name=student.full_name), "success")
    return redirect(url_for("leave.class_leaves", class_id=class_id))

