"""One check-in or unknown-face event's fields, read and checked: each bad field is the event's own ``EventError``.

The agents' JSON is hostile until proven otherwise: text no database can store (a NUL, an unpaired surrogate,
a control character), a non-finite number, a timestamp out of range or without a zone, a snapshot that is not
a JPEG. Everything here is pure (no database, no files); ``attendance.checkins`` stores what passes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Literal, overload

from attendance.db.models import Camera
from attendance.text import text_problem

MAX_EVENT_ID_CHARS = 64
MAX_SNAPSHOT_BYTES = 1024 * 1024
MAX_LIVENESS_KEYS = 32
MAX_LIVENESS_TEXT_CHARS = 200
# An agent's clock may be a little ahead of (or behind) the server's; a day off is a broken clock.
MAX_FUTURE_SKEW = dt.timedelta(days=1)
JPEG_MAGIC = b"\xff\xd8\xff"
EARLIEST_AT = dt.datetime(1, 1, 3, tzinfo=dt.timezone.utc)
LATEST_AT = dt.datetime(9999, 12, 29, tzinfo=dt.timezone.utc)


class EventError(Exception):
    """One event is refused; ``code`` is one of the module's error codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Snapshot:
    """A decoded snapshot, checked to be a JPEG."""

    jpeg: bytes


def result_error(event_id: Any, err: EventError) -> dict[str, Any]:
    return {"event_id": event_id if isinstance(event_id, str) else None, "status": "error",
            "error": {"code": err.code, "message": err.message}}


def read_event_id(event: Any) -> str:
    if not isinstance(event, dict):
        raise EventError("invalid_event", "an event must be a JSON object")
    event_id = event.get("event_id")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= MAX_EVENT_ID_CHARS:
        raise EventError("invalid_event", f"event_id must be a string of 1 to {MAX_EVENT_ID_CHARS} characters")
    check_event_text(event_id, "event_id")
    return event_id


def check_event_text(value: str, key: str) -> None:
    problem = text_problem(value)
    if problem:
        raise EventError("invalid_event", f"{key} {problem}")


def is_storable(value: Any) -> bool:
    """Whether ``value`` is text a query may carry (the look-ups run before each event is checked)."""
    return isinstance(value, str) and len(value) <= MAX_EVENT_ID_CHARS and text_problem(value) is None


@overload
def read_int(event: dict, key: str, *, required: Literal[True]) -> int: ...
@overload
def read_int(event: dict, key: str, *, required: bool) -> int | None: ...


def read_int(event: dict, key: str, *, required: bool) -> int | None:
    value = event.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2**31 - 1:
        raise EventError("invalid_event", f"{key} must be a non-negative integer")
    return value


def read_float(event: dict, key: str) -> float | None:
    value = event.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EventError("invalid_event", f"{key} must be a finite number")
    return float(value)


@overload
def read_str(event: dict, key: str, max_chars: int, *, required: Literal[True]) -> str: ...
@overload
def read_str(event: dict, key: str, max_chars: int, *, required: bool) -> str | None: ...


def read_str(event: dict, key: str, max_chars: int, *, required: bool) -> str | None:
    value = event.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > max_chars:
        raise EventError("invalid_event", f"{key} must be a string of 1 to {max_chars} characters")
    check_event_text(value, key)
    return value


def parse_aware_datetime(value: Any, key: str = "captured_at") -> dt.datetime:
    """An ISO 8601 timestamp WITH a zone ("2026-09-07T07:02:10+07:00" or "...Z") as aware UTC."""
    if not isinstance(value, str):
        raise EventError("invalid_event", f"{key} must be an ISO 8601 string with a time zone")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as err:
        raise EventError("invalid_event", f"{key} is not an ISO 8601 timestamp") from err
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise EventError("invalid_event", f"{key} has no time zone (add Z or +07:00)")
    try:  # 0001-01-01T00:00+14:00 and 9999-12-31T23:59-14:00 have no UTC value a datetime can hold
        utc = parsed.astimezone(dt.timezone.utc)
    except OverflowError as err:
        raise EventError("invalid_event", f"{key} is out of range") from err
    if not EARLIEST_AT <= utc <= LATEST_AT:  # room for any school's local date and the skew arithmetic
        raise EventError("invalid_event", f"{key} is out of range")
    return utc


def oldest_accepted_at(camera: Camera, received_at: dt.datetime, max_age_days: int) -> dt.datetime:
    """The earliest ``captured_at`` accepted from ``camera`` at ``received_at`` (aware UTC).

    That is ``max_age_days`` (typically 7; 0 means no limit) before ``received_at``, and never before the
    camera was registered, less a day for the agent's clock. A camera registered "after" ``received_at``
    means the server's clock went back: the registration then counts as ``received_at``.
    """
    registered_at = min(camera.created_at, received_at) - MAX_FUTURE_SKEW
    if max_age_days <= 0:
        return registered_at
    return max(received_at - dt.timedelta(days=max_age_days), registered_at)


def read_captured_at(event: dict, received_at: dt.datetime, not_before: dt.datetime | None = None) -> dt.datetime:
    captured_at = parse_aware_datetime(event.get("captured_at"))
    if captured_at > received_at + MAX_FUTURE_SKEW:
        raise EventError("invalid_event", "captured_at is more than a day in the future (check the agent's clock)")
    if not_before is not None and captured_at < not_before:
        raise EventError("too_old", f"captured_at is before {not_before.isoformat()}: too old to record "
                                    "(older than the age limit, or before the camera was registered)")
    return captured_at


def read_liveness(event: dict) -> dict | None:
    value = event.get("liveness")
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_LIVENESS_KEYS:
        raise EventError("invalid_event", f"liveness must be an object of at most {MAX_LIVENESS_KEYS} keys")
    for key, item in value.items():
        check_event_text(key[:MAX_LIVENESS_TEXT_CHARS], "a liveness key")
        if len(key) > MAX_LIVENESS_TEXT_CHARS:
            raise EventError("invalid_event", f"liveness keys must be at most {MAX_LIVENESS_TEXT_CHARS} characters")
        if (not isinstance(item, (int, float, str, bool))
                or (isinstance(item, str) and len(item) > MAX_LIVENESS_TEXT_CHARS)
                or (isinstance(item, float) and not math.isfinite(item))
                or (isinstance(item, int) and not isinstance(item, bool) and abs(item) > 2**53)):
            raise EventError("invalid_event", f"liveness.{key} must be a finite number, a boolean or a short string")
        if isinstance(item, str):
            check_event_text(item, f"liveness.{key}")
    return value


def read_snapshot(event: dict) -> Snapshot | None:
    encoded = event.get("snapshot_jpeg_b64")
    if encoded is None:
        return None
    if not isinstance(encoded, str) or len(encoded) > MAX_SNAPSHOT_BYTES * 4 // 3 + 4:
        raise EventError("bad_snapshot", f"snapshot_jpeg_b64 must be base64 of at most {MAX_SNAPSHOT_BYTES} bytes")
    try:
        jpeg = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as err:
        raise EventError("bad_snapshot", "snapshot_jpeg_b64 is not valid base64") from err
    if not jpeg.startswith(JPEG_MAGIC):
        raise EventError("bad_snapshot", "the snapshot is not a JPEG")
    return Snapshot(jpeg)
