"""Admin pages of a school: classes and their homeroom teachers, cameras (tokens shown once), school settings."""

from __future__ import annotations

import datetime as dt
import unicodedata
from zoneinfo import available_timezones

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from attendance.cameras import create_camera, revoke_camera
from attendance.card_print import class_card_faces, find_card_font, render_sheet_pdf
from attendance.db.models import AuditEntry, Camera, Holiday, SchoolClass, Student, User
from attendance.errors import Conflict, InvalidInput
from attendance.school_day import find_zone
from attendance.school_rules import check_holiday_change
from attendance.users import record_audit
from dashboard.db import get_db_session, get_settings
from dashboard.auth import admin_required
from dashboard.forms import parse_id, parse_ids
from dashboard.web.access import class_sort_key, now_at, require_class, require_school

bp = Blueprint("admin", __name__, url_prefix="/admin")

COMMON_TIMEZONES = ("Asia/Ho_Chi_Minh", "Asia/Bangkok", "Asia/Jakarta", "Asia/Singapore", "UTC")


def audit(action: str, target: str = "", detail: dict | None = None, school_id: int | None = None) -> None:
    """Record an admin change by the current user."""
    record_audit(get_db_session(), f"user:{current_user.username}", action, user_id=current_user.id,
                 school_id=school_id if school_id is not None else current_user.school_id, target=target,
                 detail=detail)


@bp.route("/")
@admin_required
def index():
    return redirect(url_for("admin.classes"))


@bp.route("/classes", methods=["GET", "POST"])
@admin_required
def classes():
    school = require_school()
    db = get_db_session()
    if request.method == "POST":
        code = _class_code(request.form.get("code", ""))
        school_year = request.form.get("school_year", "").strip()[:9]
        if db.scalar(select(SchoolClass.id).where(SchoolClass.school_id == school.id, SchoolClass.code == code,
                                                  SchoolClass.school_year == school_year)):
            raise Conflict(f"class {code} already exists")
        school_class = SchoolClass(school_id=school.id, code=code, grade=_grade(request.form.get("grade", "")),
                                   school_year=school_year)
        db.add(school_class)
        db.flush()
        audit("class.create", f"class:{code}", school_id=school.id)
        db.commit()
        flash(_("Class %(code)s added.", code=code), "success")
        return redirect(url_for("admin.edit_class", class_id=school_class.id))
    rows = sorted(db.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id)), key=class_sort_key)
    sizes = dict(db.execute(select(Student.class_id, func.count()).where(
        Student.school_id == school.id, Student.active.is_(True)).group_by(Student.class_id)).all())
    return render_template("admin/classes.html", classes=rows, sizes=sizes,
                           default_year=_default_school_year(now_at().date()))


@bp.route("/classes/<int:class_id>", methods=["GET", "POST"])
@admin_required
def edit_class(class_id: int):
    school_class = require_class(class_id)
    db = get_db_session()
    teachers = list(db.scalars(select(User).where(User.school_id == school_class.school_id, User.active.is_(True))
                               .order_by(User.full_name, User.username)))
    if request.method == "POST":
        code = _class_code(request.form.get("code", ""))
        school_year = request.form.get("school_year", "").strip()[:9]
        if db.scalar(select(SchoolClass.id).where(SchoolClass.school_id == school_class.school_id,
                                                  SchoolClass.code == code, SchoolClass.school_year == school_year,
                                                  SchoolClass.id != school_class.id)):
            raise Conflict(f"class {code} already exists")
        school_class.code = code
        school_class.grade = _grade(request.form.get("grade", ""))
        school_class.school_year = school_year
        chosen = set(parse_ids(request.form.getlist("teacher_ids")))
        school_class.teachers = [t for t in teachers if t.id in chosen]
        audit("class.update", f"class:{school_class.code}", school_id=school_class.school_id,
              detail={"teachers": sorted(t.username for t in school_class.teachers)})
        db.commit()
        flash(_("Class %(code)s saved.", code=school_class.code), "success")
        return redirect(url_for("admin.classes"))
    return render_template("admin/class_edit.html", school_class=school_class, teachers=teachers,
                           assigned={t.id for t in school_class.teachers})


@bp.route("/classes/<int:class_id>/cards.pdf")
@admin_required
def class_cards(class_id: int):
    """The class's QR cards as a PDF sheet to print (audited: a card is a way in)."""
    school_class = require_class(class_id)
    db = get_db_session()
    faces = class_card_faces(db, school_class)
    pdf = render_sheet_pdf(faces, find_card_font(get_settings().card_font_path), title=f"QR {school_class.code}")
    audit("cards.print", f"class:{school_class.code}", school_id=school_class.school_id, detail={"cards": len(faces)})
    db.commit()  # the school's card secret, made on the first print, and the audit entry
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="cards-{_ascii_name(school_class.code)}.pdf"'})


def _ascii_name(text: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in text) or "class"


def _class_code(text: str) -> str:
    code = unicodedata.normalize("NFC", text).strip().upper()
    if not code or len(code) > 32:
        raise InvalidInput("a class code must be 1 to 32 characters")
    return code


def _grade(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 2) or not 1 <= int(text) <= 12:
        raise InvalidInput("the grade is a number from 1 to 12")
    return int(text)


def _default_school_year(today: dt.date) -> str:
    start = today.year if today.month >= 8 else today.year - 1
    return f"{start}-{start + 1}"


@bp.route("/cameras", methods=["GET", "POST"])
@admin_required
def cameras():
    school = require_school()
    db = get_db_session()
    new_token = None
    new_camera = None
    if request.method == "POST":
        new_camera, new_token = create_camera(db, school, request.form.get("name", ""),
                                              request.form.get("location", ""))
        for entry in db.new:  # the core audits as "cli"; this camera was made by the user at the keyboard
            if isinstance(entry, AuditEntry) and entry.action == "camera.create" and entry.user_id is None:
                entry.actor, entry.user_id = f"user:{current_user.username}", current_user.id
        db.commit()
    rows = list(db.scalars(select(Camera).where(Camera.school_id == school.id).order_by(Camera.name)))
    offline_after = dt.timedelta(seconds=get_settings().camera_offline_after_s)
    now = now_at()
    online = {c.id: c.last_seen_at is not None and now - c.last_seen_at <= offline_after for c in rows}
    # The token is in this one response only (no-store): it is never shown again or written anywhere.
    return render_template("admin/cameras.html", cameras=rows, online=online, new_token=new_token,
                           new_camera=new_camera)


@bp.route("/cameras/<int:camera_id>/revoke", methods=["POST"])
@admin_required
def revoke(camera_id: int):
    school = require_school()
    db = get_db_session()
    camera = db.get(Camera, camera_id)
    if camera is None or camera.school_id != school.id:
        abort(404)
    revoke_camera(db, camera, now_at(), actor=f"user:{current_user.username}")
    db.commit()
    flash(_("Camera %(name)s revoked: it can no longer send check-ins.", name=camera.name), "success")
    return redirect(url_for("admin.cameras"))


@bp.route("/school", methods=["GET", "POST"])
@admin_required
def school_settings():
    school = require_school()
    db = get_db_session()
    if request.method == "POST":
        form = request.form
        name = unicodedata.normalize("NFC", form.get("name", "")).strip()
        if not name or len(name) > 200:
            raise InvalidInput("the school name must be 1 to 200 characters")
        timezone = form.get("timezone", "").strip()
        find_zone(timezone)
        days = sorted({int(d) for d in form.getlist("school_days") if d in ("1", "2", "3", "4", "5", "6", "7")})
        if not days:
            raise InvalidInput("choose at least one school day")
        on_time, absent = _time(form.get("on_time_cutoff", "")), _time(form.get("absence_cutoff", ""))
        if not on_time <= absent:
            raise InvalidInput("the on-time cutoff must not be after the absence cutoff")
        school.name, school.timezone = name, timezone
        school.school_days = ",".join(str(d) for d in days)
        school.on_time_cutoff, school.absence_cutoff = on_time, absent
        audit("school.update", f"school:{school.code}", school_id=school.id, detail={
            "timezone": timezone, "school_days": school.school_days,
            "on_time_cutoff": on_time.strftime("%H:%M"), "absence_cutoff": absent.strftime("%H:%M")})
        db.commit()
        flash(_("School settings saved."), "success")
        return redirect(url_for("admin.school_settings"))
    holidays = list(db.scalars(select(Holiday).where(Holiday.school_id == school.id).order_by(Holiday.day)))
    zones = sorted(set(COMMON_TIMEZONES) | {school.timezone})
    return render_template("admin/school.html", holidays=holidays, zones=zones,
                           all_zones=sorted(available_timezones()),
                           days={int(d) for d in school.school_days.split(",") if d.strip().isdigit()})


@bp.route("/school/holidays", methods=["POST"])
@admin_required
def holidays():
    from dashboard.web.access import parse_day

    school = require_school()
    db = get_db_session()
    if request.form.get("action") == "delete":
        holiday = db.get(Holiday, parse_id(request.form.get("holiday_id")) or 0)
        if holiday is None or holiday.school_id != school.id:
            abort(404)
        check_holiday_change(school, holiday.day, now_at())
        audit("holiday.delete", f"holiday:{holiday.day.isoformat()}", school_id=school.id)
        db.delete(holiday)
        db.commit()
        return redirect(url_for("admin.school_settings"))
    first = parse_day(request.form.get("first", ""), dt.date.min)
    last = parse_day(request.form.get("last", ""), first)
    if first == dt.date.min or last < first or (last - first).days > 120:
        raise InvalidInput("give a first day and a last day (at most 120 days apart)")
    check_holiday_change(school, first, now_at())
    name = unicodedata.normalize("NFC", request.form.get("name", "")).strip()[:200]
    existing = set(db.scalars(select(Holiday.day).where(Holiday.school_id == school.id)))
    day = first
    while day <= last:
        if day not in existing:
            db.add(Holiday(school_id=school.id, day=day, name=name))
        day += dt.timedelta(days=1)
    audit("holiday.add", f"holiday:{first.isoformat()}..{last.isoformat()}", school_id=school.id,
          detail={"name": name})
    db.commit()
    flash(_("Holiday saved."), "success")
    return redirect(url_for("admin.school_settings"))


def _time(text: str) -> dt.time:
    try:
        return dt.datetime.strptime(text.strip(), "%H:%M").time()
    except ValueError as err:
        raise InvalidInput(f"time {text!r} is not HH:MM") from err
