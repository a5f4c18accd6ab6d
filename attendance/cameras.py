"""Camera and integration credentials: bearer tokens made once, stored as hashes, checked in constant time.

A camera token (``cam_...``) lets one gate agent post check-ins, unknown faces and heartbeats and read its
school's gallery. An integration token (``api_...``) only reads (the roll, check-ins). Tokens are 32 random
bytes (``secrets.token_urlsafe``); only their SHA-256 is stored, so a stolen database holds no usable
token, and a token is shown exactly once, when it is made. Revoking takes effect on the next request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from attendance.contract import Heartbeat
from attendance.db.models import ApiToken, Camera, School
from attendance.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from attendance.text import check_text
from attendance.users import record_audit

CAMERA_TOKEN_PREFIX = "cam_"
API_TOKEN_PREFIX = "api_"
MAX_TOKEN_CHARS = 200


def hash_token(token: str) -> str:
    """The SHA-256 hex digest stored in place of ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def create_camera(session, school: School, name: str, location: str = "", *,
                  actor: str = "cli") -> tuple[Camera, str]:
    """Register a camera of ``school`` (audited as ``actor``, e.g. "user:an"); returns it and its bearer
    token: show the token once, never log or store it."""
    name = check_text(name.strip(), "a camera name", 100, min_chars=1)
    location = check_text(location.strip(), "the camera's location", 200)
    if session.scalar(select(Camera.id).where(Camera.school_id == school.id, Camera.name == name)) is not None:
        raise Conflict(f"school {school.code} already has a camera named {name!r}")
    token = _new_token(CAMERA_TOKEN_PREFIX)
    camera = Camera(school_id=school.id, name=name, location=location, token_hash=hash_token(token))
    session.add(camera)
    try:
        session.flush()
    except IntegrityError as err:  # a concurrent add of the same name; the caller's unit of work rolls back
        raise Conflict(f"school {school.code} already has a camera named {name!r}") from err
    record_audit(session, actor, "camera.create", school_id=school.id, target=f"camera:{name}")
    return camera, token


def find_camera(session, school: School, name: str) -> Camera:
    """The camera of ``school`` called ``name``, or NotFound."""
    camera = session.scalar(select(Camera).where(Camera.school_id == school.id, Camera.name == name))
    if camera is None:
        raise NotFound(f"school {school.code} has no camera named {name!r}")
    return camera


def revoke_camera(session, camera: Camera, at: dt.datetime, actor: str = "cli") -> Camera:
    """Revoke ``camera``'s token from ``at`` (aware UTC); its next request is refused. Idempotent."""
    if camera.revoked_at is None:
        camera.revoked_at = at
        record_audit(session, actor, "camera.revoke", school_id=camera.school_id, target=f"camera:{camera.name}")
        session.flush()
    return camera


def _lookup(session, model: type[Camera] | type[ApiToken], token: str, prefix: str) -> Any:
    if not isinstance(token, str) or not token.startswith(prefix) or len(token) > MAX_TOKEN_CHARS:
        raise PermissionDenied("invalid token")
    digest = hash_token(token)
    row = session.scalar(select(model).where(model.token_hash == digest))
    # The lookup is by hash (so timing says nothing about the token); compare again in constant time anyway.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise PermissionDenied("invalid token")
    if row.revoked_at is not None:
        raise PermissionDenied("token revoked")
    return row


def authenticate_camera(session, token: str) -> Camera:
    """The camera whose bearer token is ``token``; PermissionDenied when unknown or revoked."""
    return _lookup(session, Camera, token, CAMERA_TOKEN_PREFIX)


def record_heartbeat(session, camera: Camera, payload: dict[str, Any], at: dt.datetime) -> dict[str, Any]:
    """Store the agent's health report and mark the camera seen at ``at`` (aware UTC). Only the keys of the
    contract's ``Heartbeat`` are kept (anything else is dropped, so a row stays small)."""
    if not isinstance(payload, dict):
        raise InvalidInput("a heartbeat must be a JSON object")
    try:
        kept: dict[str, Any] = Heartbeat.model_validate(payload).model_dump(exclude_none=True)
    except ValidationError as err:
        key = ".".join(str(part) for part in err.errors()[0]["loc"][:1])
        raise InvalidInput(f"heartbeat field {key} must be a number or a string") from None
    kept["received_at"] = at.astimezone(dt.timezone.utc).isoformat()
    camera.last_seen_at = at
    camera.last_heartbeat = kept
    session.flush()
    return kept


def create_api_token(session, name: str, school: School | None = None, *,
                     actor: str = "cli") -> tuple[ApiToken, str]:
    """An integration token (read-only) for ``school`` (None: every school); returns it and the token."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("a token name must be 1 to 100 characters")
    token = _new_token(API_TOKEN_PREFIX)
    row = ApiToken(school_id=school.id if school is not None else None, name=name, token_hash=hash_token(token))
    session.add(row)
    record_audit(session, actor, "api_token.create", school_id=row.school_id, target=f"token:{name}")
    session.flush()
    return row, token


def revoke_api_token(session, row: ApiToken, at: dt.datetime, actor: str = "cli") -> ApiToken:
    """Revoke an integration token from ``at`` (audited as ``actor``); it stops working at once. Idempotent."""
    if row.revoked_at is None:
        row.revoked_at = at
        record_audit(session, actor, "api_token.revoke", school_id=row.school_id, target=f"token:{row.name}")
        session.flush()
    return row


def list_api_tokens(session, school: School | None = None) -> list[ApiToken]:
    """Integration tokens, oldest first: ``school``'s own (None: every token, district ones included)."""
    query = select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)
    if school is not None:
        query = query.where(ApiToken.school_id == school.id)
    return list(session.scalars(query))


def find_api_token(session, token_id: int, school: School | None = None) -> ApiToken:
    """The integration token with id ``token_id`` (of ``school``, when given); NotFound otherwise."""
    row = session.get(ApiToken, token_id)
    if row is None or (school is not None and row.school_id != school.id):
        raise NotFound(f"no integration token with id {token_id}")
    return row


def authenticate_api_token(session, token: str) -> ApiToken:
    """The integration token row for ``token``; PermissionDenied when unknown or revoked."""
    return _lookup(session, ApiToken, token, API_TOKEN_PREFIX)
