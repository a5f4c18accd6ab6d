"""The school's list of students the cameras cannot recognise yet, with why (``attendance.readiness``)."""

from __future__ import annotations

from flask import Blueprint, render_template

from attendance.readiness import REASONS, list_unrecognisable
from dashboard.db import get_db_session
from dashboard.auth import require_role
from dashboard.web.access import require_school, school_today
from dashboard.web.roll_pages import model_in_use_id

bp = Blueprint("readiness", __name__)


@bp.route("/school/not-recognised")
@require_role("school_admin", "district_admin")
def not_recognised():
    school = require_school()
    students = list_unrecognisable(get_db_session(), school.id, school_today(school), model_in_use_id())
    totals = {reason: sum(reason in s.reasons for s in students) for reason in REASONS}
    return render_template("not_recognised.html", students=students, totals=totals)
