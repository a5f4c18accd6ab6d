"""Bearer-token authentication of the API: camera tokens (``cam_``) write, integration tokens (``api_``) read.

A missing, unknown or revoked token is 401 (checked against the database on every request, so a revoke
takes effect at once); a valid token of the wrong kind is 403: a camera cannot read the roll, an
integration cannot post check-ins.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request

from attendance.cameras import API_TOKEN_PREFIX, CAMERA_TOKEN_PREFIX, authenticate_api_token, authenticate_camera
from attendance.errors import PermissionDenied
from dashboard.api.errors import ApiError, Unauthorized
from dashboard.db import get_db_session


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send Authorization: Bearer <token>")
    return token.strip()


def _authenticate(kind: str) -> None:
    token = _bearer_token()
    session = get_db_session()
    try:
        if token.startswith(CAMERA_TOKEN_PREFIX):
            g.api_camera = authenticate_camera(session, token)
            actual = "camera"
        elif token.startswith(API_TOKEN_PREFIX):
            g.api_token = authenticate_api_token(session, token)
            actual = "integration"
        else:
            raise Unauthorized("unknown kind of token")
    except PermissionDenied as err:
        raise Unauthorized(err.message) from err
    if actual != kind:
        raise ApiError(403, "forbidden", f"a {actual} token cannot use this endpoint (it needs a {kind} token)")


def camera_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only a camera token may call ``view``; ``g.api_camera`` is the camera."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        _authenticate("camera")
        return view(*args, **kwargs)

    return wrapped


def integration_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only an integration token may call ``view``; ``g.api_token`` is its ApiToken row."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        _authenticate("integration")
        return view(*args, **kwargs)

    return wrapped
