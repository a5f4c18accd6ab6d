"""Endpoints for gate agents (camera tokens): check-ins, unknown faces, the gallery, heartbeats."""

from __future__ import annotations

import base64
import json
from typing import Any

from flask import current_app, g, jsonify, make_response, request

from attendance.cameras import record_heartbeat
from attendance.checkins import record_checkins, record_unknowns
from attendance.contract import MAX_EVENTS_PER_BATCH
from attendance.contract.queries import GalleryQuery
from attendance.crypto import derive_key, key_id
from attendance.db.models import School
from attendance.gallery_export import export_gallery, gallery_version
from dashboard.api.blueprint import api_bp
from dashboard.api.auth import camera_required
from dashboard.api.errors import ApiError
from dashboard.api.query import read_query
from dashboard.clock import now_at
from dashboard.db import get_db_session

GALLERY_CACHE_KEY = "api_gallery_cache"


def json_body() -> Any:
    """The request's JSON (any content type); 400 ``malformed_json`` when it does not parse, is not UTF-8
    or nests deeper than the parser can follow (``[[[[...]]]]`` a thousand deep)."""
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError) as err:
        raise ApiError(400, "malformed_json", "the body is not valid JSON (or nests too deep)") from err
    if body is None:
        raise ApiError(400, "malformed_json", "the body is not valid JSON")
    return body


def _events() -> list[Any]:
    body = json_body()
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list):
        raise ApiError(422, "invalid_input", 'the body must be {"events": [...]}')
    if len(events) > MAX_EVENTS_PER_BATCH:
        raise ApiError(413, "too_many_events", f"send at most {MAX_EVENTS_PER_BATCH} events per request")
    return events


@api_bp.post("/checkins")
@camera_required
def post_checkins():
    return _record_batch(record_checkins)


@api_bp.post("/unknowns")
@camera_required
def post_unknowns():
    return _record_batch(record_unknowns)


def _record_batch(record):
    """Store the request's events with ``record`` (check-ins or unknown faces); one result per event."""
    events = _events()
    session = get_db_session()
    received_at = now_at()
    settings = current_app.extensions["attendance_settings"]
    options = {"liveness_action": settings.liveness_action} if record is record_checkins else {}
    results = record(session, g.api_camera, events, received_at, instance_path=current_app.instance_path,
                     max_age_days=settings.checkin_max_age_days, **options)
    g.api_camera.last_seen_at = received_at
    # Commit before answering: an agent forgets every event answered "created".
    session.commit()
    return jsonify({"results": results})


@api_bp.post("/heartbeat")
@camera_required
def post_heartbeat():
    body = json_body()
    session = get_db_session()
    at = now_at()
    record_heartbeat(session, g.api_camera, body, at)
    session.commit()
    return jsonify({"server_time": at.isoformat()})


@api_bp.get("/gallery/key")
@camera_required
def get_gallery_key():
    """The key this camera seals its gallery copy with: derived from the data key and the camera's token, kept
    in the agent's memory only, so the copy on a stolen gate PC's disk opens only while the camera is allowed
    to ask for it (revoke the camera, and it never opens again). Changes when the data key is rotated."""
    key = derive_key("agent-gallery-cache", g.api_camera.token_hash.encode("ascii"))
    response = jsonify({"key": base64.b64encode(key).decode("ascii"), "key_id": key_id(key).hex()})
    response.headers["Cache-Control"] = "no-store"
    return response


@api_bp.get("/gallery")
@camera_required
def get_gallery():
    model_id = read_query(GalleryQuery, "/api/v1/gallery?model=dlib_resnet_v1").model
    session = get_db_session()
    version = gallery_version(session, g.api_camera.school_id, model_id)  # one primary-key read
    if version in request.if_none_match:
        response = make_response("", 304)
    else:
        version, body = _gallery_body(session, session.get_one(School, g.api_camera.school_id), model_id, version)
        response = make_response(body)
        response.content_type = "application/json"
    response.set_etag(version)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _gallery_body(session, school: School, model_id: str, version: str) -> tuple[str, bytes]:
    """The gallery's version and JSON, from a per-process cache while the version holds (the JSON of
    3,000 students is a few MB and takes a while to build)."""
    cache: dict[tuple[int, str], tuple[str, bytes]] = current_app.extensions.setdefault(GALLERY_CACHE_KEY, {})
    cached = cache.get((school.id, model_id))
    if cached and cached[0] == version:
        return cached
    document = export_gallery(session, school, model_id)
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    cache[(school.id, model_id)] = (document["version"], body)
    return document["version"], body
