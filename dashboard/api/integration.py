"""Read endpoints for integrations (``api_`` tokens): a class's roll and the stream of check-ins."""

from __future__ import annotations

from flask import g, jsonify
from sqlalchemy import select

from attendance.checkins import list_checkins
from attendance.contract import roll_entry_json
from attendance.contract.queries import CheckinsQuery, RollQuery
from attendance.db.models import School, SchoolClass
from attendance.roll import compute_class_roll, school_local_date
from dashboard.api.blueprint import api_bp
from dashboard.api.auth import integration_required
from dashboard.api.errors import ApiError
from dashboard.api.query import read_query
from dashboard.clock import now_at
from dashboard.db import get_db_session


def _token_school(session, code: str | None) -> School:
    """The school the request is about: the token's own, or ``?school=CODE`` for a district token."""
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


@api_bp.get("/roll")
@integration_required
def get_roll():
    query = read_query(RollQuery, "/api/v1/roll?class=6A1&date=2026-09-07")
    session = get_db_session()
    school = _token_school(session, query.school)
    school_class = session.scalar(select(SchoolClass).where(
        SchoolClass.school_id == school.id, SchoolClass.code == query.class_code,
    ).order_by(SchoolClass.school_year.desc()).limit(1))
    if school_class is None:
        raise ApiError(404, "not_found", f"school {school.code} has no class {query.class_code!r}")
    at = now_at()
    school_date = query.date or school_local_date(school, at)
    entries = compute_class_roll(session, school_class, school_date, at)
    return jsonify({
        "school_code": school.code, "class_code": school_class.code, "date": school_date.isoformat(),
        "students": [roll_entry_json(e) for e in entries],
    })


@api_bp.get("/checkins")
@integration_required
def get_checkins():
    query = read_query(CheckinsQuery, "/api/v1/checkins?since=2026-09-07T00:00:00+07:00")
    session = get_db_session()
    school_id = _token_school(session, query.school).id if query.school else g.api_token.school_id
    rows = list_checkins(session, query.since, school_id=school_id, after_id=query.after_id, limit=query.limit)
    return jsonify({"checkins": rows, "next_after_id": rows[-1]["id"] if len(rows) == query.limit else None})
