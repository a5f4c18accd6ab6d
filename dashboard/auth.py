"""Logging in and out of the dashboard: Flask-Login, a failed-login throttle, and role checks.

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
from attendance.text import text_problem
from attendance.errors import InvalidInput, PermissionDenied
from attendance.users import (
    authenticate, change_own_password, normalise_username, record_audit, rotate_session_token,
)
from dashboard.db import get_db_session
from dashboard.forms import TYPED_KEY, same_site_referrer
from dashboard.i18n import LANGUAGES

logger = logging.getLogger(__name__)

auth_bp = Blueprint("auth", __name__)
login_required = _login_required

MAX_FAILURES = 5  # per (username, client address)
MAX_FAILURES_PER_ADDRESS = 20  # per client address, any usernames
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
    """Slows password guessing without letting a stranger lock a teacher out.

    Failures count per (username, client address): ``MAX_FAILURES`` in ``LOCKOUT_S`` locks that name from
    that address only, so guessing a teacher's password from one machine does not lock them out of theirs.
    Failures also count per address, whatever the name: ``MAX_FAILURES_PER_ADDRESS`` in ``LOCKOUT_S`` locks
    every login from it (one password tried on many names). A success clears the name's count, never the
    address's. In memory, per process, thread-safe: enough for one school's dashboard behind waitress,
    forgotten on restart.

    Checking and counting are one step (``begin_attempt``): an attempt is counted as a failure *before* the
    password is checked, and a success takes its count back. Checking first and counting after the slow
    password hash let 11 of 40 concurrent guesses through instead of 5.
    """

    MAX_KEYS = 10_000  # bounded: past it, the oldest keys are forgotten

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._by_name: dict[tuple[str, str], list[float]] = {}
        self._by_address: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def is_locked(self, username: str, address: str) -> bool:
        """Whether a login as ``username`` from ``address`` (an IP) is refused now."""
        with self._lock:
            now = self.clock()
            return (len(self._recent(self._by_name, (username, address), now)) >= MAX_FAILURES
                    or len(self._recent(self._by_address, address, now)) >= MAX_FAILURES_PER_ADDRESS)

    def begin_attempt(self, username: str, address: str) -> float | None:
        """Atomically: None when a login as ``username`` from ``address`` is refused now; else count the
        attempt as a failure and return its ticket (give it to ``succeeded`` if the password is right)."""
        with self._lock:
            now = self.clock()
            if (len(self._recent(self._by_name, (username, address), now)) >= MAX_FAILURES
                    or len(self._recent(self._by_address, address, now)) >= MAX_FAILURES_PER_ADDRESS):
                return None
            self._append(self._by_name, (username, address), now, MAX_FAILURES)
            self._append(self._by_address, address, now, MAX_FAILURES_PER_ADDRESS)
            return now

    def succeeded(self, username: str, address: str, ticket: float) -> None:
        """The attempt of ``ticket`` had the right password: forget the name's failures and take the
        address's count of this attempt back."""
        with self._lock:
            self._by_name.pop((username, address), None)
            attempts = self._by_address.get(address, [])
            if ticket in attempts:
                attempts.remove(ticket)

    def record_failure(self, username: str, address: str) -> None:
        with self._lock:
            now = self.clock()
            self._append(self._by_name, (username, address), now, MAX_FAILURES)
            self._append(self._by_address, address, now, MAX_FAILURES_PER_ADDRESS)

    def reset(self, username: str, address: str) -> None:
        """Forget the failures of ``username`` from ``address`` (after a successful login)."""
        with self._lock:
            self._by_name.pop((username, address), None)

    def _append(self, failures: dict, key: Any, now: float, keep: int) -> None:
        recent = self._recent(failures, key, now)
        recent.append(now)
        failures.pop(key, None)  # re-inserted last: the dict stays ordered oldest activity first
        failures[key] = recent[-keep:]
        if len(failures) > self.MAX_KEYS:
            for stale in list(failures)[:self.MAX_KEYS // 10]:
                del failures[stale]

    @staticmethod
    def _recent(failures: dict, key: Any, now: float) -> list[float]:
        return [t for t in failures.get(key, []) if now - t < LOCKOUT_S]


def init_auth(app: Flask) -> LoginManager:
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = None  # the login page says enough
    manager.session_protection = "basic"
    manager.user_loader(load_user)
    manager.unauthorized_handler(_ask_to_log_in)
    app.extensions["login_throttle"] = LoginThrottle()
    app.register_blueprint(auth_bp)
    return manager


def _ask_to_log_in():
    """Not logged in (or the session ended): to the login page, then back. A form sent after the session
    ended is kept for the page it came from, so a typed reason is not lost."""
    from dashboard.forms import remember_form

    target = request.full_path if request.method == "GET" else ""
    if request.method == "POST":
        target = same_site_referrer()
        if target:
            remember_form(target.split("?", 1)[0])
            flash(_("Your session had ended. What you typed is kept: check it and send it again."), "error")
    return redirect(url_for("auth.login", next=_safe_next(target.rstrip("?")) or None))


def load_user(user_id: str) -> WebUser | None:
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


@auth_bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("pages.today"))
    next_url = _safe_next(request.values.get("next", ""))
    if request.method != "POST":  # GET, and HEAD: never a state change (HEAD also skips CSRF)
        return render_template("login.html", next=next_url, username="")
    username = normalise_username(request.form.get("username", ""))
    password = request.form.get("password", "")
    throttle: LoginThrottle = current_app.extensions["login_throttle"]
    address = request.remote_addr or "unknown"
    ticket = throttle.begin_attempt(username, address)
    if ticket is None:
        flash(_("Too many failed attempts. Wait 15 minutes and try again."), "error")
        return render_template("login.html", next=next_url, username=username), 429
    db = get_db_session()
    user = authenticate(db, username, password) if username and password else None
    if user is None:
        record_audit(db, f"user:{username}"[:120], "auth.login_failed", target=f"ip:{address}")
        db.commit()
        logger.info("failed login for %s", username)
        flash(_("Wrong username or password."), "error")
        return render_template("login.html", next=next_url, username=username), 401
    throttle.succeeded(username, address, ticket)
    language = session.get("language")
    typed_form = session.get(TYPED_KEY)  # a form the session ended under: given back after the login
    session.clear()  # a fresh session: no fixation, nothing left from before the login
    if typed_form:
        session[TYPED_KEY] = typed_form
    login_user(WebUser(user))
    if language in LANGUAGES and language != user.language:
        user.language = language
    record_audit(db, f"user:{user.username}", "auth.login", user_id=user.id, school_id=user.school_id,
                 target=f"ip:{address}")
    db.commit()
    return redirect(next_url or url_for("pages.home"))


@auth_bp.route("/logout", methods=["POST"])
@login_required
def logout():
    db = get_db_session()
    user = current_user.row
    rotate_session_token(user)
    record_audit(db, f"user:{user.username}", "auth.logout", user_id=user.id, school_id=user.school_id)
    db.commit()
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@auth_bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """A user changes their own password; their other sessions end, this one goes on."""
    if request.method != "POST":
        return render_template("account_password.html")
    new_password = request.form.get("password", "")
    if new_password != request.form.get("password_confirm", ""):
        raise InvalidInput("the two passwords differ")
    db = get_db_session()
    user = current_user.row
    try:
        change_own_password(user, request.form.get("current_password", ""), new_password)
    except PermissionDenied as err:
        raise InvalidInput(err.message) from err  # the form comes back with the message, no 403 page
    record_audit(db, f"user:{user.username}", "user.password_change", user_id=user.id, school_id=user.school_id)
    db.commit()
    login_user(WebUser(user))  # the new session token: this browser stays logged in
    flash(_("Your password was changed; your other sessions were ended."), "success")
    return redirect(url_for("pages.home"))


@auth_bp.route("/language", methods=["POST"])
def set_language():
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
    if text_problem(target) or len(target) > 2000:  # CR/LF would split the Location header
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    return target
