"""The JSON API for camera agents and integrations, under /api/v1 (documented in ``openapi.py``).

Agents authenticate with camera tokens and write (check-ins, unknown faces, heartbeats) or read their
school's gallery; integrations authenticate with read-only ``api_`` tokens. Every error is
``{"error": {"code", "message"}}`` (see ``errors.py``).
"""

from flask import Blueprint
from werkzeug.exceptions import HTTPException, InternalServerError

from attendance.errors import AttendanceError

api_bp = Blueprint("api", __name__)

from dashboard.api import agent, integration, openapi  # noqa: E402,F401  (the views register on api_bp)
from dashboard.api.errors import (  # noqa: E402
    handle_core_error, handle_http_error, handle_server_error, register_api_error_handlers,
)

api_bp.register_error_handler(AttendanceError, handle_core_error)
api_bp.register_error_handler(HTTPException, handle_http_error)
api_bp.register_error_handler(InternalServerError, handle_server_error)
api_bp.record_once(lambda state: register_api_error_handlers(state.app))

__all__ = ["api_bp", "register_api_error_handlers"]
