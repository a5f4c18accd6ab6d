"""The audit log page of a school: who changed which roll, student, camera or user, filtered and paged."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l

from sqlalchemy import select

from attendance.audit import AuditFilter, count_audit, list_audit, list_audit_choices
from attendance.db.models import Student
from dashboard.db import get_db_session
from dashboard.auth import admin_required
from dashboard.web.access import require_school
from dashboard.web.paging import PAGE_SIZE, Page, page_from_count

bp = Blueprint("admin_audit", __name__, url_prefix="/admin")

ACTION_LABELS = {
    "roll.override": _l("Roll changed by hand"),
    "roll.override_clear": _l("Roll change undone"),
    "checkin.past_day": _l("Check-in of a past day received"),
    "checkin.review": _l("Suspected photo reviewed"),
    "student.create": _l("Student added"),
    "student.update": _l("Student edited"),
    "student.activate": _l("Student activated"),
    "student.deactivate": _l("Student deactivated"),
    "student.delete": _l("Student deleted"),
    "student.import": _l("Roster imported"),
    "student.consent": _l("Guardian consent recorded"),
    "student.photos": _l("Photos uploaded"),
    "student.photo_remove": _l("Photo deleted"),
    "student.photo_lookalike_confirmed": _l("Look-alike photo confirmed"),
    "unknown_face.assign": _l("Unknown face named"),
    "unknown_face.dismiss": _l("Unknown face dismissed"),
    "camera.create": _l("Camera added"),
    "camera.revoke": _l("Camera revoked"),
    "class.create": _l("Class added"),
    "class.update": _l("Class edited"),
    "user.create": _l("User created"),
    "user.update": _l("User edited"),
    "user.password_reset": _l("Password changed"),
    "school.update": _l("School settings changed"),
    "holiday.add": _l("Holiday added"),
    "holiday.delete": _l("Holiday removed"),
    "api_token.create": _l("API token created"),
    "auth.login": _l("Logged in"),
    "auth.logout": _l("Logged out"),
    "auth.login_failed": _l("Failed login"),
    "calibration.apply": _l("Calibration applied"),
    "calibration.reset": _l("Calibration reset"),
    "checkin.liveness_review": _l("Suspected photo reviewed"),
    "webhook.create": _l("Webhook added"),
}
ACTION_FAMILIES = {"auth": _l("Logins"), "roll": _l("Rolls"), "student": _l("Students"), "camera": _l("Cameras"), "user": _l("Users"),
                   "class": _l("Classes"), "unknown_face": _l("Unknown faces"), "checkin": _l("Check-ins")}


def describe_action(action: str) -> str:
    """A translated label of an audit action code; the code itself when it has none."""
    label = ACTION_LABELS.get(action)
    return str(label) if label else action


@bp.route("/audit")
@admin_required
def audit_log():
    from dashboard.web.access import parse_day

    school = require_school()
    db = get_db_session()
    args = request.args
    first_day = parse_day(args.get("from"), None) if args.get("from") else None
    last_day = parse_day(args.get("to"), None) if args.get("to") else None
    wanted = AuditFilter(actor=args.get("who", "")[:120], action=args.get("action", "")[:64],
                         target=args.get("target", "")[:100], first_day=first_day, last_day=last_day)
    total = count_audit(db, school.id, school.timezone, wanted)
    number, offset, pages = page_from_count(total)
    entries = list_audit(db, school.id, school.timezone, wanted, offset=offset, limit=PAGE_SIZE)
    actors, actions = list_audit_choices(db, school.id)
    families = [f for f in ACTION_FAMILIES if any(a.startswith(f + ".") for a in actions)]
    codes = {e.target.split(":", 1)[1] for e in entries if e.target.startswith("student:")}
    names = dict(db.execute(select(Student.student_code, Student.full_name).where(
        Student.school_id == school.id, Student.student_code.in_(codes))).all()) if codes else {}
    return render_template("admin/audit.html", entries=entries, page=Page(entries, number, pages, total, PAGE_SIZE),
                           actors=actors, actions=actions, families=families, family_labels=ACTION_FAMILIES,
                           wanted=wanted, describe_action=describe_action, student_names=names)
