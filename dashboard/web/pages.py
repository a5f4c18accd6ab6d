"""The Today page with its live feed of check-ins (Server-Sent Events), the district page, and face images.

Face images (check-in snapshots, unknown faces, enrollment photos) are served only to a logged-in user
who may see that student, by row id (never by a path from the URL), and are never cached. Each one served
is audited (``student.snapshot_view``, ``student.photo_view``, ``unknown_face.view``): who saw which child's face.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

from flask import (
    Blueprint, Response, abort, current_app, redirect, render_template, request, stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy import func, select

from attendance.crypto import read_sealed_file
from attendance.db.models import Camera, CheckIn, EnrollmentPhoto, School, Student, UnknownFace, utcnow
from attendance.liveness_review import count_flagged
from attendance.roll import (
    COUNTED_STATUSES, PRESENT_STATUSES, Arrival, compute_school_counts, list_arrivals, load_day_rules,
)
from attendance.users import record_audit
from dashboard.app import end_db_session, get_db_session, get_settings
from dashboard.auth import login_required, require_role
from dashboard.forms import parse_id
from dashboard.i18n import STATUS_LABELS, format_time
from dashboard.web.access import (
    all_schools, can_see_class, can_see_school, now_at, require_school, require_student, school_today,
    visible_classes,
)

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
    context = _today_counts_context(school)
    classes = visible_classes(school)
    db = get_db_session()
    class_ids = [c.id for c in classes]
    feed = [_feed_item(arrival, school)
            for arrival in list_arrivals(db, school, context["day"], class_ids, now_at(), limit=FEED_SIZE)]
    # the stream starts after the newest row received, whatever order the page shows
    last_id = db.scalar(select(func.max(CheckIn.id)).where(CheckIn.school_id == school.id)) or 0
    return render_template("today.html", feed=feed, feed_size=FEED_SIZE, last_id=last_id, **context)


@bp.route("/today/counts")
@login_required
def today_counts():
    """The counts part of the Today page, re-fetched by the page as check-ins arrive."""
    return render_template("_today_counts.html", **_today_counts_context(require_school()))


def _today_counts_context(school: School) -> dict:
    db = get_db_session()
    day = school_today(school)
    counts = compute_school_counts(db, school, day, now_at())
    rows = []
    totals = dict.fromkeys(COUNTED_STATUSES, 0)
    for school_class in visible_classes(school):
        class_counts = counts.get(school_class.id, {})
        size = sum(class_counts.get(status, 0) for status in (*COUNTED_STATUSES, "no_school"))
        present = sum(class_counts.get(status, 0) for status in PRESENT_STATUSES)
        rows.append({"class": school_class, "counts": class_counts, "size": size, "present": present})
        for status in COUNTED_STATUSES:
            totals[status] += class_counts.get(status, 0)
    rules = load_day_rules(db, school, day)
    return {"day": day, "rows": rows, "totals": totals, "total_students": sum(r["size"] for r in rows),
            "is_school_day": rules.is_school_day, "rules": rules,
            "flagged": count_flagged(db, school.id, day)}


def _feed_item(arrival: Arrival, school: School) -> dict:
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


@bp.route("/events")
@login_required
def events():
    """New check-ins of the user's classes as Server-Sent Events (``event: checkin``, JSON data).

    Polls the database every ``SSE_POLL_S`` for at most ``SSE_DURATION_S``, then ends; the browser
    reconnects with ``Last-Event-ID`` and carries on. At most ``SSE_MAX_STREAMS`` streams run at once (503
    beyond), so live pages never hold every server thread. The request's own session ends before the
    stream starts; each poll opens a short session of its own, so no transaction stays open in between.
    """
    school = require_school()
    school_id, class_ids = school.id, [c.id for c in visible_classes(school)]
    end_db_session(commit=True)
    after = request.headers.get("Last-Event-ID") or request.args.get("after", "0")
    after_id = parse_id(after) or 0
    slots = _stream_slots()
    if not slots.acquire(blocking=False):
        return Response("busy\n", status=503, headers={"Retry-After": "10"}, mimetype="text/plain")
    config = current_app.config
    duration_s, poll_s = float(config["SSE_DURATION_S"]), float(config["SSE_POLL_S"])
    database = current_app.extensions["attendance_db"]
    clock = current_app.config.get("CLOCK") or utcnow

    def generate():
        last_id = after_id
        deadline = time.monotonic() + duration_s
        yield "retry: 3000\n\n"
        while True:
            with database.session() as db:  # never the request's session: that one has ended
                current_school = db.get(School, school_id)
                day = school_today(current_school)
                arrivals = list_arrivals(db, current_school, day, class_ids, clock(), after_id=last_id,
                                         limit=FEED_SIZE)
                items = [_feed_item(arrival, current_school) for arrival in reversed(arrivals)]
            for item in items:
                last_id = max(last_id, item["id"])
                yield f"id: {item['id']}\nevent: checkin\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"
            if time.monotonic() >= deadline:
                return
            yield ": ping\n\n"
            time.sleep(poll_s)

    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            slots.release()

    response = Response(stream_with_context(generate()), mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"
    response.call_on_close(release)
    return response


def _stream_slots() -> threading.BoundedSemaphore:
    extensions = current_app.extensions
    if "sse_slots" not in extensions:
        extensions["sse_slots"] = threading.BoundedSemaphore(int(current_app.config["SSE_MAX_STREAMS"]))
    return extensions["sse_slots"]


@bp.route("/district")
@require_role("district_admin")
def district():
    db = get_db_session()
    now = now_at()
    offline_after = dt.timedelta(seconds=get_settings().camera_offline_after_s)
    rows = []
    for school in all_schools():
        day = school_today(school)
        counts = compute_school_counts(db, school, day, now)
        totals = dict.fromkeys(COUNTED_STATUSES, 0)
        for class_counts in counts.values():
            for status in COUNTED_STATUSES:
                totals[status] += class_counts.get(status, 0)
        cameras = list(db.scalars(select(Camera).where(Camera.school_id == school.id, Camera.revoked_at.is_(None))
                                  .order_by(Camera.name)))
        offline = [c for c in cameras if c.last_seen_at is None or now - c.last_seen_at > offline_after]
        rows.append({"school": school, "day": day, "totals": totals, "size": sum(totals.values()),
                     "cameras": cameras, "offline": offline,
                     "is_school_day": load_day_rules(db, school, day).is_school_day})
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
    instance = Path(current_app.instance_path).resolve()
    path = (instance / relative).resolve()
    if not path.is_relative_to(instance) or not path.is_file():
        abort(404)
    # read whole (snapshots and photos are tens of KB): no file handle outlives the request; sealed at rest
    purpose = "photo" if Path(relative).parts[:1] == ("photos",) else "snapshot"
    return Response(read_sealed_file(path, purpose), mimetype="image/jpeg", headers={"Cache-Control": "private, no-store"})
