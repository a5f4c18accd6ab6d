"""The Today page with its feed of check-ins (kept live by ``dashboard.web.live``), the district page, and face images.

Face images (check-in snapshots, unknown faces, enrollment photos) are served only to a logged-in user
who may see that student, by row id (never by a path from the URL), and are never cached. Each one served
is audited (``student.snapshot_view``, ``student.photo_view``, ``unknown_face.view``): who saw which child's face.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from attendance.crypto import read_sealed_file
from attendance.district import compute_district_counts
from attendance.db.models import Camera, CheckIn, EnrollmentPhoto, School, SchoolClass, Student, UnknownFace
from attendance.instance import find_instance_file
from attendance.liveness_review import count_flagged
from attendance.roll import (
    COUNTED_STATUSES, PRESENT_STATUSES, Arrival, compute_school_counts, list_arrivals, load_day_rules,
)
from attendance.users import record_audit
from dashboard.db import get_db_session, get_settings
from dashboard.auth import login_required, require_role
from dashboard.forms import parse_id
from dashboard.i18n import STATUS_LABELS, format_time
from dashboard.web.access import (
    all_schools, can_see_class, can_see_school, now_at, require_school, require_student, school_today,
    visible_classes,
)
from dashboard.web.live import live_context

bp = Blueprint("pages", __name__)

FEED_SIZE = 20


@bp.route("/")
@login_required
def home():
    if current_user.role == "teacher":
        school = require_school()
        classes = visible_classes(school)
        if len(classes) == 1:
            return redirect(url_for("roll.class_roll", class_id=classes[0].id))
    return redirect(url_for("pages.today"))


@bp.route("/today")
@login_required
def today():
    school = require_school()
    classes = visible_classes(school)
    context = _today_counts_context(school, classes)
    db = get_db_session()
    class_ids = [c.id for c in classes]
    feed = [feed_item(arrival, school)
            for arrival in list_arrivals(db, school, context["day"], class_ids, now_at(), limit=FEED_SIZE,
                                         rules=context["rules"])]
    # the stream starts after the newest row received, whatever order the page shows
    last_id = db.scalar(select(func.max(CheckIn.id)).where(CheckIn.school_id == school.id)) or 0
    return render_template("today.html", feed=feed, feed_size=FEED_SIZE, last_id=last_id,
                           **live_context(school), **context)


@bp.route("/today/checkins")
@login_required
def new_checkins():
    """``{"items": [...], "last_id": N}``: first check-ins of the user's classes stored after ``after``,
    oldest first (at most a feed's worth), which the Today page adds to its feed when ``/live`` changes."""
    school = require_school()
    after_id = parse_id(request.args.get("after")) or 0
    db = get_db_session()
    class_ids = [c.id for c in visible_classes(school)]
    arrivals = list_arrivals(db, school, school_today(school), class_ids, now_at(), after_id=after_id,
                             limit=FEED_SIZE)
    last_id = db.scalar(select(func.max(CheckIn.id)).where(CheckIn.school_id == school.id)) or 0
    return jsonify(items=[feed_item(arrival, school) for arrival in reversed(arrivals)],
                   last_id=max(last_id, after_id))


@bp.route("/today/counts")
@login_required
def today_counts():
    """The counts part of the Today page, re-fetched by the page as check-ins arrive."""
    return render_template("_today_counts.html", **_today_counts_context(require_school()))


def _today_counts_context(school: School, classes: list[SchoolClass] | None = None) -> dict:
    """The counts part of Today; ``classes``: the user's ``visible_classes``, when the caller holds them."""
    db = get_db_session()
    day = school_today(school)
    rules = load_day_rules(db, school, day)
    counts = compute_school_counts(db, school, day, now_at(), rules=rules)
    rows = []
    totals = dict.fromkeys(COUNTED_STATUSES, 0)
    for school_class in (visible_classes(school) if classes is None else classes):
        class_counts = counts.get(school_class.id, {})
        size = sum(class_counts.get(status, 0) for status in (*COUNTED_STATUSES, "no_school"))
        present = sum(class_counts.get(status, 0) for status in PRESENT_STATUSES)
        rows.append({"class": school_class, "counts": class_counts, "size": size, "present": present})
        for status in COUNTED_STATUSES:
            totals[status] += class_counts.get(status, 0)
    return {"day": day, "rows": rows, "totals": totals, "total_students": sum(r["size"] for r in rows),
            "is_school_day": rules.is_school_day, "rules": rules,
            "flagged": count_flagged(db, school.id, day)}


def feed_item(arrival: Arrival, school: School) -> dict:
    """One line of the live feed: a student's first check-in of the day with the roll's own status."""
    return {
        "id": arrival.checkin_id,
        "student_id": arrival.student_id,
        "name": arrival.full_name,
        "class_code": arrival.class_code,
        "time": format_time(arrival.first_seen_at, school.timezone),
        "status": arrival.status,
        "status_label": str(STATUS_LABELS[arrival.status]),
        "camera": arrival.camera_name,
        "snapshot_url": url_for("pages.checkin_snapshot", checkin_id=arrival.checkin_id) if arrival.has_snapshot else "",
        "student_url": url_for("records.student", student_id=arrival.student_id),
    }


@bp.route("/district")
@require_role("district_admin")
def district():
    """Every school's day at a glance: counts from one aggregate query (``attendance.district``), cameras from one."""
    db = get_db_session()
    now = now_at()
    offline_after = dt.timedelta(seconds=get_settings().camera_offline_after_s)
    schools = all_schools()
    cameras: dict[int, list[Camera]] = {}
    for camera in db.scalars(select(Camera).where(Camera.school_id.in_([s.id for s in schools]),
                                                  Camera.revoked_at.is_(None)).order_by(Camera.name)):
        cameras.setdefault(camera.school_id, []).append(camera)
    rows = []
    for school, day in zip(schools, compute_district_counts(db, schools, now)):
        school_cameras = cameras.get(school.id, [])
        offline = [c for c in school_cameras if c.last_seen_at is None or now - c.last_seen_at > offline_after]
        totals = {status: day.counts[status] for status in COUNTED_STATUSES}
        rows.append({"school": school, "day": day.school_date, "totals": totals, "size": sum(totals.values()),
                     "cameras": school_cameras, "offline": offline, "is_school_day": day.is_school_day})
    return render_template("district.html", rows=rows)


@bp.route("/media/checkin/<int:checkin_id>.jpg")
@login_required
def checkin_snapshot(checkin_id: int):
    checkin = get_db_session().get(CheckIn, checkin_id)
    if checkin is None or not checkin.snapshot_path:
        abort(404)
    student = require_student(checkin.student_id)
    response = _send_instance_file(checkin.snapshot_path)
    _audit_view("student.snapshot_view", student, {"checkin_id": checkin.id})
    return response


@bp.route("/media/unknown/<int:unknown_id>.jpg")
@require_role("school_admin", "district_admin")
def unknown_snapshot(unknown_id: int):
    unknown = get_db_session().get(UnknownFace, unknown_id)
    if unknown is None or not unknown.snapshot_path or not can_see_school(unknown.school_id):
        abort(404)
    response = _send_instance_file(unknown.snapshot_path)
    named_id = unknown.resolved_student_id or unknown.claimed_student_id
    named = get_db_session().get(Student, named_id) if named_id else None
    if named is not None:
        _audit_view("student.snapshot_view", named, {"unknown_face_id": unknown.id})
    else:
        record_audit(get_db_session(), f"user:{current_user.username}", "unknown_face.view", user_id=current_user.id,
                     school_id=unknown.school_id, target=f"unknown_face:{unknown.id}")
        get_db_session().commit()
    return response


@bp.route("/media/photo/<int:photo_id>.jpg")
@login_required
def enrollment_photo(photo_id: int):
    photo = get_db_session().get(EnrollmentPhoto, photo_id)
    if photo is None or not photo.file_path:
        abort(404)
    student = require_student(photo.student_id)
    if current_user.role == "teacher" and not (student.school_class and can_see_class(student.school_class)):
        abort(403)
    response = _send_instance_file(photo.file_path)
    _audit_view("student.photo_view", student, {"photo_id": photo.id})
    return response


def _audit_view(action: str, student: Student, detail: dict) -> None:
    """Record that the current user saw a face image of ``student`` (after it was found: a 404 is not a view)."""
    db = get_db_session()
    record_audit(db, f"user:{current_user.username}", action, user_id=current_user.id, school_id=student.school_id,
                 target=f"student:{student.student_code}", detail=detail)
    db.commit()


def _send_instance_file(relative: str):
    """A file under the instance folder; anything resolving outside it (``..``, a link) is a 404."""
    path = find_instance_file(current_app.instance_path, relative)
    if path is None:
        abort(404)
    # read whole (snapshots and photos are tens of KB): no file handle outlives the request; sealed at rest
    purpose = "photo" if Path(relative).parts[:1] == ("photos",) else "snapshot"
    return Response(read_sealed_file(path, purpose), mimetype="image/jpeg", headers={"Cache-Control": "private, no-store"})
