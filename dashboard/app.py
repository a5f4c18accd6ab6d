"""The Flask application factory: settings in, one database session per request, blueprints registered."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, g

from attendance.db import Database
from attendance.settings import Settings, load_settings


def create_app(settings: Settings | None = None, *, test_config: Mapping[str, Any] | None = None,
               database: Database | None = None) -> Flask:
    """Build the dashboard for ``settings`` (read from the environment when None)."""
    settings = settings or load_settings(Settings)
    app = Flask(__name__, instance_path=str(Path(settings.instance_path).resolve()))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(
        SECRET_KEY=settings.secret_key or _load_or_create_secret(Path(app.instance_path)),
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=int(settings.max_request_mb * 1024 * 1024),
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["attendance_settings"] = settings
    app.extensions["attendance_db"] = database or Database.open(settings.resolved_database_url)

    @app.teardown_appcontext
    def close_db_session(exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is None:
            return
        if exc is None:
            session.commit()
        else:
            session.rollback()
        session.close()

    _register_blueprints(app)
    return app


def get_db_session():
    """The request's database session (opened on first use, committed or rolled back at teardown)."""
    from flask import current_app

    if "db_session" not in g:
        g.db_session = current_app.extensions["attendance_db"].sessions()
    return g.db_session


def get_settings() -> Settings:
    from flask import current_app

    return current_app.extensions["attendance_settings"]


def _register_blueprints(app: Flask) -> None:
    from dashboard.api import api_bp

    app.register_blueprint(api_bp, url_prefix="/api/v1")


def _load_or_create_secret(instance: Path) -> str:
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
