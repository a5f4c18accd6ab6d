"""The API's one error shape, ``{"error": {"code": "...", "message": "..."}}``, for every error under /api/v1.

Core exceptions map by type (InvalidInput 422, NotFound 404, Conflict 409, PermissionDenied 403), HTTP
errors by status (their ``code`` is the status name in snake case: ``not_found``, ``method_not_allowed``,
``request_entity_too_large``...). The blueprint's handlers cover errors raised in its views; routing
errors (an unknown path, a wrong method) never reach a blueprint, so ``register_api_error_handlers`` adds
app-level handlers for 404, 405 and 413 that answer JSON under the API prefix and leave other paths to the
app's own handler.
"""

from __future__ import annotations

import logging

from flask import current_app, jsonify, request
from flask.sansio.app import App
from werkzeug.exceptions import HTTPException

from attendance.errors import AttendanceError, Conflict, InvalidInput, NotFound, PermissionDenied

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
CORE_STATUS = ((InvalidInput, 422), (NotFound, 404), (Conflict, 409), (PermissionDenied, 403))
ROUTING_STATUSES = (404, 405, 413)


class ApiError(AttendanceError):
    """An error with its own HTTP status and code, raised by the API's views."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers or {}


class Unauthorized(ApiError):
    """No usable bearer token (missing, malformed, unknown or revoked): 401."""

    def __init__(self, message: str) -> None:
        super().__init__(401, "unauthorized", message, {"WWW-Authenticate": 'Bearer realm="attendance"'})


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def http_error_code(err: HTTPException) -> str:
    return (err.name or "error").lower().replace(" ", "_").replace("'", "")


def handle_core_error(err: AttendanceError):
    if isinstance(err, ApiError):
        return error_response(err.status, err.code, err.message, err.headers)
    status = next((s for cls, s in CORE_STATUS if isinstance(err, cls)), 422)
    return error_response(status, err.code, err.message)


def handle_http_error(err: HTTPException):
    status = err.code or 500
    if status < 400:
        return err
    valid_methods = getattr(err, "valid_methods", None)
    headers = {"Allow": ", ".join(valid_methods)} if valid_methods else {}
    return error_response(status, http_error_code(err), err.description or err.name, headers)


def handle_server_error(err: Exception):
    logger.exception("API request %s %s failed", request.method, request.path)
    return error_response(500, "internal_error", "the server failed to process the request")


def is_api_request() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def register_api_error_handlers(app: App) -> None:
    """App-level JSON answers for routing errors (404, 405, 413) under the API prefix.

    Other paths go to the app's own HTTPException handler (the web pages'), looked up when the error
    happens so the order of registration does not matter.
    """

    def handle_routing_error(err: HTTPException):
        if is_api_request():
            return handle_http_error(err)
        fallback = current_app.error_handler_spec.get(None, {}).get(None, {}).get(HTTPException)
        return fallback(err) if fallback else err

    for status in ROUTING_STATUSES:
        app.register_error_handler(status, handle_routing_error)
