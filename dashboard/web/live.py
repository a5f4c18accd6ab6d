"""Live pages by short polling: "anything new?" answered from the school's change counter, with ETag/304.

A live page (Today, a class roll) asks ``GET /live`` every few seconds with the ETag of its last answer. The
answer is one primary-key read (``attendance.db.changes``): 304 Not Modified while nothing changed, else
200 with the new ETag, and the page then fetches what changed (``/today/checkins``, or the roll itself).
No request is held open, so each poll takes a server thread for about a millisecond and any number of
viewers share the threads; every server process reads the same counter, so a check-in stored through one
process reaches viewers of another. The ETag also changes with the school date and when the day passes a
cutoff (``not yet`` turns ``absent`` with no write at all).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request, session
from attendance.db.changes import LiveState, read_live_state, read_version
from attendance.db.models import School
from dashboard.db import get_db_session
from dashboard.auth import login_required
from dashboard.web.access import now_at, require_class, require_school

bp = Blueprint("live", __name__)

POLL_INTERVAL_S = 2.5  # how often a live page asks ``/live``; an update shows within about 3 s


def compute_etag(school: School | LiveState, version: int, now: dt.datetime, class_id: int | None = None) -> str:
    """The ETag of a school's (or one class's) live state: its change counter, the school date and the part
    of the day (before the on-time cutoff, before the absence cutoff, after), so a cutoff passing reaches
    pages too."""
    local = now.astimezone(ZoneInfo(school.timezone))
    phase = sum(local.time() > cutoff for cutoff in (school.on_time_cutoff, school.absence_cutoff))
    school_id = school.school_id if isinstance(school, LiveState) else school.id
    scope = f"{school_id}" if class_id is None else f"{school_id}c{class_id}"
    return f'"{scope}.{version}.{local.date().isoformat()}.{phase}"'


def current_etag(school: School, class_id: int | None = None) -> str:
    """The ETag a page rendered now carries, so its first poll is a 304 unless something changed since."""
    return compute_etag(school, read_version(get_db_session(), school.id, class_id), now_at(), class_id)


def live_context(school: School, class_id: int | None = None) -> dict:
    """Template values of a live page: its starting ETag, the poll interval and the class it watches."""
    return {"live_etag": current_etag(school, class_id), "poll_ms": int(POLL_INTERVAL_S * 1000),
            "live_class": class_id}


@bp.route("/live")
def poll():
    """``{"etag": ...}`` of the user's school (``?class=ID``: of that class), or 304 when ``If-None-Match``
    already carries it.

    Hundreds of pages ask this every few seconds, so it skips the usual user loading: one read checks the
    session's user and token and gets the counter (``read_live_state``). Anything unusual (no session, a
    district admin who has not picked a school, a class of another school) takes the ordinary path, which
    answers as every page does (a redirect to the login page, 403, 404).
    """
    user_id, _sep, token = str(session.get("_user_id", "")).partition(":")
    picked = session.get("school_id")
    wanted = request.args.get("class", "")
    class_id = int(wanted) if wanted.isdigit() else None
    state = None
    if user_id.isdigit() and token:
        state = read_live_state(get_db_session(), int(user_id), token, picked if isinstance(picked, int) else None,
                                class_id)
    if state is None:
        return _poll_as_a_page(class_id)
    return _answer(compute_etag(state, state.version, now_at(), class_id))


@login_required
def _poll_as_a_page(class_id: int | None):
    if class_id is not None:
        school_class = require_class(class_id)
        return _answer(current_etag(school_class.school, class_id))
    return _answer(current_etag(require_school()))


def _answer(etag: str) -> Response:
    if etag in request.headers.get("If-None-Match", ""):
        response = Response(status=304)
    else:
        response = jsonify(etag=etag)
    response.headers["ETag"] = etag
    return response
