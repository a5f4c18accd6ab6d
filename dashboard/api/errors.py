"""The API's one error shape, ``{"error": {"code": "...", "message": "..."}}``, for every error under /api/v1.

The dashboard's one handler (``dashboard.errors``) answers every error under /api/ with ``error_response``,
its status from the one status map there (``ERROR_STATUS``). HTTP errors keep their status, their ``code``
being the status name in snake case (``not_found``, ``method_not_allowed``, ``request_entity_too_large``).
"""

from __future__ import annotations

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

from attendance.errors import AttendanceError


class ApiError(AttendanceError):
    """An error of the HTTP exchange itself (a body that is not JSON, too many events, no token), raised by
    the API's views with its status and code; the status is the one ``dashboard.errors.ERROR_STATUS`` gives
    the code (a test checks every ``ApiError`` raised)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers or {}


class Unauthorized(ApiError):
    """No usable bearer token (missing, malformed, unknown or revoked): 401."""

    def __init__(self, message: str) -> None:
        super().__init__(401, "unauthorized", message, {"WWW-Authenticate": 'Bearer realm="attendance"'})


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """The API's error answer: ``{"error": {"code": code, "message": message}}`` with ``status``, never cached."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def http_error_code(err: HTTPException) -> str:
    """The error code of an HTTP error: its status name in snake case (405 -> ``method_not_allowed``)."""
    return (err.name or "error").lower().replace(" ", "_").replace("'", "")
