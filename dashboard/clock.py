"""The app's clock: ``now_at()``, the current aware UTC time, which tests replace with ``app.config["CLOCK"]``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import current_app

from attendance.db.models import utcnow


def now_at() -> dt.datetime:
    """The current aware UTC time (``app.config["CLOCK"]``, a callable, replaces it in tests)."""
    clock: Callable[[], dt.datetime] | None = current_app.config.get("CLOCK")
    return clock() if clock else utcnow()
