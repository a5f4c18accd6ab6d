"""The request's database session and the app's settings, reached by every view without importing the app.

As in Flask's tutorial, ``init_app(app, ...)`` (called by ``create_app``) keeps the settings and the
opened ``Database`` on the app and closes the request's session at teardown; views call
``get_db_session()`` and ``get_settings()``. A request that failed saves nothing it had not committed
itself: ``discard_request_changes`` rolls back and marks it, and teardown then rolls back too.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from attendance.db import Database
from attendance.settings import Settings

DATABASE_KEY = "attendance_db"
SETTINGS_KEY = "attendance_settings"


def init_app(app: Flask, settings: Settings, database: Database) -> None:
    """Keep ``settings`` and ``database`` on ``app`` and end each request's session at teardown."""
    app.extensions[SETTINGS_KEY] = settings
    app.extensions[DATABASE_KEY] = database

    @app.teardown_appcontext
    def close_db_session(exc: BaseException | None) -> None:
        # Flask passes exc=None when an error handler handled the exception: the flag says it failed
        end_db_session(commit=exc is None and not g.pop("request_failed", False))


def get_settings() -> Settings:
    """The settings the app was built with."""
    return current_app.extensions[SETTINGS_KEY]


def get_db_session() -> Session:
    """The request's database session (opened on first use, committed or rolled back at teardown)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions[DATABASE_KEY].sessions()
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

    Called for every exception a view raises (see ``dashboard.app.DashboardFlask``), before any error
    handler runs: a refused form must not save the fields it read before the bad one.
    """
    g.request_failed = True
    session = g.get("db_session")
    if session is not None:
        session.rollback()  # the session stays usable: the error page may still read the user and school
