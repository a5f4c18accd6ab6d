"""The Flask application factory: settings in, one database session per request, blueprints registered.

Web pages (``dashboard.web``) log users in with Flask-Login and check CSRF on every form; the JSON API
under /api/v1 (``dashboard.api``) uses bearer tokens instead and is exempt from CSRF. The request's
database session is ``dashboard.db``'s; every error is answered by ``dashboard.errors``, in one handler.

A request that ends in an error saves nothing: any exception a view raises, whichever way it is answered
(a page, a flash or a JSON error), first rolls back the request's session (``discard_request_changes``),
and teardown commits only a request that did not fail. Work a view committed itself before failing (an
audit entry of a refused login) stays.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, current_app, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from attendance.crypto import install_keyring, load_keyring
from attendance.db import Database
from attendance.errors import InvalidInput
from attendance.logsafe import install_safe_log_records
from attendance.settings import Settings, load_settings
from attendance.users import prepare_login_checks
from dashboard import db
from dashboard.api import api_bp
from dashboard.auth import init_auth
from dashboard.db import discard_request_changes
from dashboard.errors import register_error_handlers
from dashboard.forms import DatabaseIntConverter, request_text_problem
from dashboard.i18n import init_i18n
from dashboard.web import register_web

logger = logging.getLogger(__name__)

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
        SECRET_KEY=settings.secret_key or load_or_create_secret(Path(app.instance_path)),
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
    # Templates, photos and snapshots are sealed with the data key (generated into the instance folder, with
    # a warning, on the first start without one: attendance/crypto.py).
    install_keyring(load_keyring(settings))
    db.init_app(app, settings, database or Database.open(settings.resolved_database_url))
    app.url_map.converters["int"] = DatabaseIntConverter  # before any route is added
    csrf = CSRFProtect(app)
    init_i18n(app, settings.default_language)
    init_auth(app)
    _register_blueprints(app, csrf)
    register_error_handlers(app)
    app.before_request(_refuse_unstorable_text)
    app.after_request(_add_security_headers)
    if not app.testing:
        _start_background_workers(app)
    return app


class DashboardFlask(Flask):
    """Flask, with one change: a request whose view raised saves nothing it had not committed itself."""

    def handle_user_exception(self, e: Exception) -> HTTPException | ResponseReturnValue:
        discard_request_changes()
        return super().handle_user_exception(e)


def _register_blueprints(app: Flask, csrf: CSRFProtect) -> None:
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    register_web(app)


def _refuse_unstorable_text() -> None:
    """A NUL or a lone surrogate in any query or form field is refused before a view reads it: the
    database would fail the whole statement (PostgreSQL) or cannot encode it (both)."""
    problem = request_text_problem()
    if problem:
        raise InvalidInput(problem)


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
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _start_background_workers(app: Flask) -> None:
    # the login's dummy hash, made off the request path (attendance.users hashes nothing at import)
    threading.Thread(target=prepare_login_checks, name="login-dummy-hash", daemon=True).start()
    try:
        from dashboard.webhook_worker import start_webhook_worker
    except ImportError as err:
        logger.warning("webhook worker not started: %s", err)
        return
    start_webhook_worker(app)


def load_or_create_secret(instance: Path) -> str:
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
