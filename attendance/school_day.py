"""The school day of a moment: one rule, used by the dashboard and by the camera agents.

A school day is the calendar date in the *school's* time zone (``schools.timezone``), never the machine's or
a setting's: an agent on a PC set to UTC and the dashboard must put 06:50 in Ho Chi Minh (23:50 UTC the day
before) on the same day.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attendance.errors import InvalidInput


def find_zone(timezone: str) -> ZoneInfo:
    """The IANA zone ``timezone`` (e.g. ``"Asia/Ho_Chi_Minh"``). Raises ``InvalidInput`` for an unknown name
    (Windows has no zone database of its own: the ``tzdata`` package supplies it)."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:  # tzdata opens a file named by the text
        raise InvalidInput(f"unknown time zone {timezone!r}") from err


def school_date_at(at: dt.datetime, timezone: str) -> dt.date:
    """The school-local date of the aware instant ``at`` in the school's zone ``timezone``: 23:30 UTC on
    6 September is 7 September in ``Asia/Ho_Chi_Minh`` (UTC+7). Raises ``InvalidInput`` for a naive ``at``."""
    if at.tzinfo is None:
        raise InvalidInput("a naive datetime has no school date; give an aware one")
    return at.astimezone(find_zone(timezone)).date()
