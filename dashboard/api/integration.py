"""Read endpoints for integrations (``api_`` tokens): a class's roll and the stream of check-ins."""

from __future__ import annotations

import datetime as dt

from flask import g, jsonify, request
from sqlalchemy import select

from attendance.checkin_fields import EventError, parse_aware_datetime
from attendance.checkins import list_checkins
from attendance.db.models import School, SchoolClass
from attendance.roll import compute_class_roll, school_local_date
from dashboard.api.blueprint import api_bp
from dashboard.api.auth import integration_required
from dashboard.api.errors import ApiError
from dashboard.clock import now_at
from dashboard.db import get_db_session

MAX_CHECKINS_PAGE = 1000
FIRST_YEAR, LAST_YEAR = 1900, 2999  # as the pages: the roll of 0001-01-01 or 9999-12-31 cannot be computed


def _token_school(session) -> School:
    """The school the request is about: the token's own, or ``?school=CODE`` for a district token."""
    code = request.args.get("school", "").strip()
    token_school_id = g.api_token.school_id
    if code:
        school = session.scalar(select(School).where(School.code == code))
        if school is None:
            raise ApiError(404, "not_found", f"no school with code {code!r}")
        if token_school_id is not None and school.id != token_school_id:
            raise ApiError(403, "forbidden", "this token cannot read that school")
        return school
    if token_school_id is not None:
        return session.get(School, token_school_id)
    schools = session.scalars(select(School).order_by(School.code).limit(2)).all()
    if len(schools) != 1:
        raise ApiError(422, "invalid_input", "give ?school=CODE (this token reads several schools)")
    return schools[0]


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise ApiError(422, "invalid_input", f"{name} must be an integer") from err
    if not low <= value <= high:
        raise ApiError(422, "invalid_input", f"{name} must be from {low} to {high}")
    return value


@api_bp.get("/roll")
@integration_required
def get_roll():
    session = get_db_session()
    school = _token_school(session)
    class_code = request.args.get("class", "").strip()
    if not class_code:
        raise ApiError(422, "invalid_input", "give the class: /api/v1/roll?class=6A1&date=2026-09-07")
    school_class = session.scalar(select(SchoolClass).where(
        SchoolClass.school_id == school.id, SchoolClass.code == class_code,
    ).order_by(SchoolClass.school_year.desc()).limit(1))
    if school_class is None:
        raise ApiError(404, "not_found", f"school {school.code} has no class {class_code!r}")
    at = now_at()
    raw_date = request.args.get("date", "").strip()
    try:
        school_date = dt.date.fromisoformat(raw_date) if raw_date else school_local_date(school, at)
    except ValueError as err:
        raise ApiError(422, "invalid_input", "date must be YYYY-MM-DD") from err
    if not FIRST_YEAR <= school_date.year <= LAST_YEAR:
        raise ApiError(422, "invalid_input", f"date must be in the years {FIRST_YEAR} to {LAST_YEAR}")
    entries = compute_class_roll(session, school_class, school_date, at)
    return jsonify({
        "school_code": school.code, "class_code": school_class.code, "date": school_date.isoformat(),
        "students": [{
            "student_code": e.student_code, "full_name": e.full_name, "status": e.status,
            "first_seen_at": e.first_seen_at.isoformat() if e.first_seen_at else None,
            "minutes_late": e.minutes_late, "camera": e.camera_name, "source": e.source,
            "received_on": e.received_on.isoformat() if e.received_on else None,
        } for e in entries],
    })


@api_bp.get("/checkins")
@integration_required
def get_checkins():
    try:
        since = parse_aware_datetime(request.args.get("since"), "since")
    except EventError as err:
        raise ApiError(422, "invalid_input", err.message) from err
    after_id = _int_arg("after_id", 0, 0, 2**63 - 1)
    limit = _int_arg("limit", 500, 1, MAX_CHECKINS_PAGE)
    session = get_db_session()
    school_id = g.api_token.school_id
    if request.args.get("school"):
        school_id = _token_school(session).id
    rows = list_checkins(session, since, school_id=school_id, after_id=after_id, limit=limit)
    return jsonify({"checkins": rows, "next_after_id": rows[-1]["id"] if len(rows) == limit else None})
