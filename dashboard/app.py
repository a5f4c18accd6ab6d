"""The Flask application factory: settings in, one database session per request, blueprints registered.

Web pages (``dashboard.web``) log users in with Flask-Login and check CSRF on every form; the JSON API
under /api/v1 (``dashboard.api``) uses bearer tokens instead and is exempt from CSRF. Core exceptions
become one translated flash message (or an error page) here, in one handler.

A request that ends in an error saves nothing: any exception a view raises, whichever handler turns it
into a page, a flash or a JSON error, first rolls back the request's session (``discard_request_changes``),
and teardown commits only a request that did not fail. Work a view committed itself before failing (an
audit entry of a refused login) stays.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, flash, g, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import DataError, IntegrityError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from attendance.crypto import install_keyring, load_keyring
from attendance.db import Database
from attendance.errors import AttendanceError, InvalidInput
from attendance.logsafe import install_safe_log_records
from attendance.settings import Settings, load_settings

logger = logging.getLogger(__name__)

ERROR_STATUS = {"not_found": 404, "forbidden": 403, "conflict": 409, "invalid_input": 400,
                "photo_rejected": 422, "bad_image": 422}

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def create_app(settings: Settings | None = None, *, test_config: Mapping[str, Any] | None = None,
               database: Database | None = None) -> Flask:
    """Build the dashboard for ``settings`` (read from the environment when None)."""
    settings = settings or load_settings(Settings)
    install_safe_log_records()
    app = DashboardFlask(__name__, instance_path=str(Path(settings.instance_path).resolve()))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(
        SECRET_KEY=settings.secret_key or _load_or_create_secret(Path(app.instance_path)),
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="attendance_session",
        REMEMBER_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        MAX_CONTENT_LENGTH=int(settings.max_request_mb * 1024 * 1024),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session; a morning-long tab keeps working
    )
    if test_config:
        app.config.update(test_config)
    if settings.trusted_proxies:
        # The client's own address and scheme, as the school's reverse proxy saw them.
        app.wsgi_app = ProxyFix(app.wsgi_app,  # type: ignore[method-assign]  # Flask's documented way to wrap it
                                x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies,
                                x_host=settings.trusted_proxies)
    app.extensions["attendance_settings"] = settings
    # Templates, photos and snapshots are sealed with the data key (generated into the instance folder, with
    # a warning, on the first start without one: attendance/crypto.py).
    install_keyring(load_keyring(settings))
    app.extensions["attendance_db"] = database or Database.open(settings.resolved_database_url)

    @app.teardown_appcontext
    def close_db_session(exc: BaseException | None) -> None:
        # Flask passes exc=None when an error handler handled the exception: the flag says it failed
        end_db_session(commit=exc is None and not g.pop("request_failed", False))

    from dashboard.auth import init_auth
    from dashboard.i18n import init_i18n

    from dashboard.forms import DatabaseIntConverter

    app.url_map.converters["int"] = DatabaseIntConverter  # before any route is added
    csrf = CSRFProtect(app)
    init_i18n(app, settings.default_language)
    init_auth(app)
    _register_blueprints(app, csrf)
    _register_error_handlers(app)
    app.before_request(_refuse_unstorable_text)
    app.after_request(_add_security_headers)
    if not app.testing:
        _start_background_workers(app)
    return app


def get_db_session():
    """The request's database session (opened on first use, committed or rolled back at teardown)."""
    from flask import current_app

    if "db_session" not in g:
        g.db_session = current_app.extensions["attendance_db"].sessions()
        clock = current_app.config.get("CLOCK")
        if clock is not None:  # changes of class or rules are dated by the app's clock (attendance.db.history)
            g.db_session.info["clock"] = clock
    return g.db_session


def end_db_session(*, commit: bool) -> None:
    """Commit (or roll back) and close the request's session now, if one is open; a later use opens another.

    A long streamed response ends it before streaming, so no transaction stays open for the stream's life.
    """
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


def discard_request_changes() -> None:
    """Roll back what this request changed and not committed, and keep teardown from committing later.

    Called for every exception a view raises (see ``DashboardFlask``), before any error handler runs: a
    refused form must not save the fields it read before the bad one.
    """
    g.request_failed = True
    session = g.get("db_session")
    if session is not None:
        session.rollback()  # the session stays usable: the error page may still read the user and school


class DashboardFlask(Flask):
    """Flask, with one change: a request whose view raised saves nothing it had not committed itself."""

    def handle_user_exception(self, e: Exception) -> HTTPException | ResponseReturnValue:
        discard_request_changes()
        return super().handle_user_exception(e)


def get_settings() -> Settings:
    from flask import current_app

    return current_app.extensions["attendance_settings"]


def _register_blueprints(app: Flask, csrf: CSRFProtect) -> None:
    from dashboard.api import api_bp
    from dashboard.web import register_web

    csrf.exempt(api_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    register_web(app)


def _refuse_unstorable_text() -> None:
    """A NUL or a lone surrogate in any query or form field is refused before a view reads it: the
    database would fail the whole statement (PostgreSQL) or cannot encode it (both)."""
    from dashboard.forms import request_text_problem

    problem = request_text_problem()
    if problem:
        raise InvalidInput(problem)


def _is_api_request() -> bool:
    return request.path.startswith("/api/")


def _register_error_handlers(app: Flask) -> None:
    from dashboard.i18n import describe_error

    @app.errorhandler(AttendanceError)
    def handle_core_error(err: AttendanceError):
        status = ERROR_STATUS.get(err.code, 400)
        if _is_api_request():
            from dashboard.api.errors import handle_core_error

            return handle_core_error(err)
        return _answer_refused(describe_error(err), status)

    def _answer_refused(message: str, status: int):
        """A refused form goes back to its page with the message and what was typed; a page gets the error page."""
        if request.method == "POST":
            from dashboard.forms import remember_form

            target = _same_site_referrer() or request.path
            remember_form(target.split("?", 1)[0])
            flash(message, "error")
            return redirect(target)
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(IntegrityError)
    def handle_integrity_error(err: IntegrityError):
        # Two requests raced to create the same record, or a check above missed a clash: a conflict.
        from flask_babel import gettext as _

        logger.warning("the database refused a clash in %s %s: %s", request.method, request.path,
                       type(err.orig).__name__)
        if _is_api_request():
            from dashboard.api.errors import error_response

            return error_response(409, "conflict", "the request clashes with a stored record")
        return _answer_refused(_("This clashes with a record that already exists."), 409)

    @app.errorhandler(DataError)
    def handle_data_error(err: DataError):
        # A value the checks above missed and the database refused (too long for its column, out of range):
        # the request's input, not the server, is at fault.
        from flask_babel import gettext as _

        logger.warning("the database refused a value of %s %s: %s", request.method, request.path,
                       type(err.orig).__name__)
        if _is_api_request():
            from dashboard.api.errors import error_response

            return error_response(422, "invalid_input", "a value is too long or out of range")
        return _answer_refused(_("A value is too long or out of range."), 400)

    @app.errorhandler(CSRFError)
    def handle_csrf_error(err: CSRFError):
        from flask_babel import gettext as _

        if _is_api_request():
            from dashboard.api.errors import error_response

            return error_response(400, "csrf", err.description)
        message = _("The form had expired. Please try again.")
        referrer = _same_site_referrer()
        if request.method == "POST" and referrer:
            # the session ended while the person typed: keep what they typed for the page they came from,
            # which asks them to log in first if need be
            from dashboard.forms import remember_form

            remember_form(referrer.split("?", 1)[0])
            flash(_("Your session had ended. What you typed is kept: check it and send it again."), "error")
            return redirect(referrer)
        return render_template("error.html", status=400, message=message), 400

    @app.errorhandler(HTTPException)
    def handle_http_error(err: HTTPException):
        if err.code is None or err.code < 400:
            return err
        if _is_api_request():
            from dashboard.api.errors import handle_http_error

            return handle_http_error(err)
        message = ""
        if err.code == 413:
            from flask import current_app
            from flask_babel import gettext as _

            limit_mb = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) / (1024 * 1024)
            message = _("One upload may carry at most %(size)s MB. Send fewer or smaller files.",
                        size=f"{limit_mb:g}")
        return render_template("error.html", status=err.code, message=message), err.code


def _same_site_referrer() -> str:
    from urllib.parse import urlsplit

    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if not referrer or parts.netloc != request.host:
        return ""
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _add_security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "public, max-age=3600")
    else:
        # pages show children's names and faces: never kept by a shared browser or a proxy
        headers.setdefault("Cache-Control", "private, no-store")
    from flask import current_app

    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _start_background_workers(app: Flask) -> None:
    try:
        from dashboard.webhook_worker import start_webhook_worker
    except ImportError as err:
        logger.warning("webhook worker not started: %s", err)
        return
    start_webhook_worker(app)


def _load_or_create_secret(instance: Path) -> str:
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
