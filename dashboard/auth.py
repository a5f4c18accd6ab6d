"""Logging in and out of the dashboard: Flask-Login, a per-username failure throttle, and role checks.

The session cookie carries ``"<user id>:<session token>"``; logout (and a password change) gives the user
a new token, so a copy of the old cookie no longer logs anyone in: the session ends on the server too.
"""

from __future__ import annotations

import functools
import hmac
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_login import login_required as _login_required

from attendance.db.models import User
from attendance.users import authenticate, normalise_username, record_audit, rotate_session_token
from dashboard.i18n import LANGUAGES

logger = logging.getLogger(__name__)

auth_bp = Blueprint("auth", __name__)
login_required = _login_required

MAX_FAILURES = 5
LOCKOUT_S = 15 * 60


class WebUser:
    """The logged-in ``User`` as Flask-Login wants it; every other attribute is the ORM row's."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user: User) -> None:
        self.row = user

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)

    def get_id(self) -> str:
        return f"{self.row.id}:{self.row.session_token}"

    @property
    def is_admin(self) -> bool:
        return self.row.role in ("school_admin", "district_admin")

    @property
    def is_district(self) -> bool:
        return self.row.role == "district_admin"


class LoginThrottle:
    """Counts failed logins per username; after ``MAX_FAILURES`` in ``LOCKOUT_S`` the name is locked for a while.

    In memory, per process: enough for one school's dashboard behind waitress, forgotten on restart.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def is_locked(self, username: str) -> bool:
        with self._lock:
            recent = self._recent(username)
            return len(recent) >= MAX_FAILURES

    def record_failure(self, username: str) -> None:
        with self._lock:
            recent = self._recent(username)
            recent.append(self.clock())
            self._failures[username] = recent[-MAX_FAILURES:]
            if len(self._failures) > 10_000:  # bounded: forget the oldest names
                for name in list(self._failures)[:1000]:
                    del self._failures[name]

    def reset(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username, None)

    def _recent(self, username: str) -> list[float]:
        now = self.clock()
        return [t for t in self._failures.get(username, []) if now - t < LOCKOUT_S]


def init_auth(app: Flask) -> LoginManager:
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = None  # the login page says enough
    manager.session_protection = "basic"
    manager.user_loader(load_user)
    app.extensions["login_throttle"] = LoginThrottle()
    app.register_blueprint(auth_bp)
    return manager


def load_user(user_id: str) -> WebUser | None:
    from dashboard.app import get_db_session

    raw_id, _sep, token = user_id.partition(":")
    if not raw_id.isdigit() or not token:
        return None
    user = get_db_session().get(User, int(raw_id))
    if user is None or not user.active or not user.session_token:
        return None
    if not hmac.compare_digest(user.session_token.encode(), token.encode()):
        return None
    return WebUser(user)


def require_role(*roles: str) -> Callable:
    """Decorate a view: logged in, and one of ``roles`` (else 403)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


admin_required = require_role("school_admin", "district_admin")


def actor() -> str:
    """How the audit log names the current user."""
    return f"user:{current_user.username}" if current_user.is_authenticated else "anonymous"


@auth_bp.route("/login", methods=["GET", "POST"])
def login():
    from dashboard.app import get_db_session

    if current_user.is_authenticated:
        return redirect(url_for("pages.today"))
    next_url = _safe_next(request.values.get("next", ""))
    if request.method == "GET":
        return render_template("login.html", next=next_url, username="")
    username = normalise_username(request.form.get("username", ""))
    password = request.form.get("password", "")
    throttle: LoginThrottle = current_app.extensions["login_throttle"]
    if throttle.is_locked(username):
        flash(_("Too many failed attempts. Wait 15 minutes and try again."), "error")
        return render_template("login.html", next=next_url, username=username), 429
    db = get_db_session()
    user = authenticate(db, username, password) if username and password else None
    if user is None:
        throttle.record_failure(username)
        record_audit(db, f"user:{username}"[:120], "auth.login_failed", target=f"ip:{request.remote_addr}")
        db.commit()
        logger.info("failed login for %s", username)
        flash(_("Wrong username or password."), "error")
        return render_template("login.html", next=next_url, username=username), 401
    throttle.reset(username)
    language = session.get("language")
    session.clear()  # a fresh session: no fixation, nothing left from before the login
    login_user(WebUser(user))
    if language in LANGUAGES and language != user.language:
        user.language = language
    record_audit(db, f"user:{user.username}", "auth.login", user_id=user.id, school_id=user.school_id,
                 target=f"ip:{request.remote_addr}")
    db.commit()
    return redirect(next_url or url_for("pages.home"))


@auth_bp.route("/logout", methods=["POST"])
@login_required
def logout():
    from dashboard.app import get_db_session

    db = get_db_session()
    user = current_user.row
    rotate_session_token(user)
    record_audit(db, f"user:{user.username}", "auth.logout", user_id=user.id, school_id=user.school_id)
    db.commit()
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@auth_bp.route("/language", methods=["POST"])
def set_language():
    from dashboard.app import get_db_session

    language = request.form.get("language", "")
    if language not in LANGUAGES:
        abort(400)
    session["language"] = language
    if current_user.is_authenticated:
        current_user.row.language = language
        get_db_session().commit()
    return redirect(_safe_next(request.form.get("next", "")) or url_for("pages.home"))


def _safe_next(target: str) -> str:
    """Only a path on this site: never another host (an open redirect)."""
    if not target:
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    return target
