"""Every error the dashboard answers, from one handler and one status map: JSON under /api/, a page elsewhere.

``ERROR_STATUS`` gives the HTTP status of each error code, for pages and the API alike. The statuses:

- 400: the request cannot be read at all (a body that is not JSON, an expired CSRF token);
- 401/403: no usable token or login / not allowed; 404 not found; 409 clashes with a stored record;
- 413: too much in one request (the agent halves its batch, down to one event);
- 422: well-formed but refused (``invalid_input``, a rejected photo, an unreadable image): sending the
  same again fails again, so a person or the sender's code must change it. The camera agent treats a
  whole batch refused with 400 or 422 alike (client.py): kept in its outbox and retried with backoff,
  shown in its heartbeat, never dropped; only a per-event error in a 200 answer dead-letters an event;
- 500/503: the server's own fault (a bad setting, a face model not installed): retrying later may work.

API paths get the API's one error shape (``dashboard.api.errors.error_response``); pages get the error
page, or, for a refused form (POST), a flash message back on the page it came from with what was typed.
Handlers are registered once, on the app, so errors of every blueprint and of routing (an unknown path,
a wrong method) come here.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, IntegrityError
from werkzeug.exceptions import HTTPException, InternalServerError

from attendance.errors import AttendanceError
from dashboard.api.errors import ApiError, error_response, http_error_code
from dashboard.forms import remember_form, same_site_referrer
from dashboard.i18n import describe_error

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
ERROR_STATUS: dict[str, int] = {
    "malformed_json": 400,
    "csrf": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "too_many_events": 413,
    "invalid_input": 422,
    "photo_rejected": 422,
    "bad_image": 422,
    "bad_setting": 500,
    "model_error": 503,
}
DEFAULT_STATUS = 422  # an AttendanceError whose code the map does not name: the request was refused


def status_for(code: str) -> int:
    """The HTTP status of error ``code`` (``"invalid_input"`` -> 422); 422 for a code not in the map."""
    return ERROR_STATUS.get(code, DEFAULT_STATUS)


def register_error_handlers(app: Flask) -> None:
    """Answer every handled error of ``app`` through ``handle_error``."""
    for error_class in (AttendanceError, IntegrityError, DataError, HTTPException):
        app.register_error_handler(error_class, handle_error)


def handle_error(err: Exception) -> ResponseReturnValue:
    """The one answer to ``err``: JSON under /api/, the error page (or a flash for a refused form) elsewhere."""
    if isinstance(err, HTTPException) and (err.code is None or err.code < 400):
        return err  # a redirect raised as an exception goes through as it is
    code, status, api_message, page_message = _describe(err)
    if is_api_request():
        return error_response(status, code, api_message, _api_headers(err))
    if isinstance(err, CSRFError):
        return _answer_expired_form()
    if not isinstance(err, HTTPException) and request.method == "POST":
        return _send_form_back(page_message)
    return render_template("error.html", status=status, message=page_message), status


def _describe(err: Exception) -> tuple[str, int, str, str]:
    """(code, HTTP status, message for the API, translated message for a page) of ``err``."""
    if isinstance(err, AttendanceError):
        status = err.status if isinstance(err, ApiError) else status_for(err.code)
        return err.code, status, err.message, describe_error(err)
    if isinstance(err, IntegrityError):
        # Two requests raced to create the same record, or a check above missed a clash: a conflict.
        logger.warning("the database refused a clash in %s %s: %s", request.method, request.path,
                       type(err.orig).__name__)
        return ("conflict", ERROR_STATUS["conflict"], "the request clashes with a stored record",
                _("This clashes with a record that already exists."))
    if isinstance(err, DataError):
        # A value the checks above missed and the database refused (too long for its column, out of range):
        # the request's input, not the server, is at fault.
        logger.warning("the database refused a value of %s %s: %s", request.method, request.path,
                       type(err.orig).__name__)
        return ("invalid_input", ERROR_STATUS["invalid_input"], "a value is too long or out of range",
                _("A value is too long or out of range."))
    if isinstance(err, InternalServerError):
        # Flask has logged the original exception already; the answer carries none of its details
        return "internal_error", 500, "the server failed to process the request", ""
    if isinstance(err, CSRFError):
        return "csrf", ERROR_STATUS["csrf"], err.description or "", ""
    if isinstance(err, HTTPException):
        status = err.code or 500
        return http_error_code(err), status, err.description or err.name, _http_page_message(status)
    return "internal_error", 500, "the server failed to process the request", ""


def is_api_request() -> bool:
    """True for a request to the JSON API (``/api/...``)."""
    return request.path.startswith(API_PREFIX)


def _api_headers(err: Exception) -> dict[str, str]:
    if isinstance(err, ApiError):
        return err.headers
    valid_methods = getattr(err, "valid_methods", None)
    return {"Allow": ", ".join(valid_methods)} if valid_methods else {}


def _http_page_message(status: int) -> str:
    if status != 413:
        return ""
    limit_mb = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) / (1024 * 1024)
    return _("One upload may carry at most %(size)s MB. Send fewer or smaller files.", size=f"{limit_mb:g}")


def _send_form_back(message: str) -> ResponseReturnValue:
    """A refused form goes back to its page with the message and what was typed."""
    target = same_site_referrer() or request.path
    remember_form(target.split("?", 1)[0])
    flash(message, "error")
    return redirect(target)


def _answer_expired_form() -> ResponseReturnValue:
    referrer = same_site_referrer()
    if request.method == "POST" and referrer:
        # the session ended while the person typed: keep what they typed for the page they came from,
        # which asks them to log in first if need be
        remember_form(referrer.split("?", 1)[0])
        flash(_("Your session had ended. What you typed is kept: check it and send it again."), "error")
        return redirect(referrer)
    status = ERROR_STATUS["csrf"]
    return render_template("error.html", status=status, message=_("The form had expired. Please try again.")), status
