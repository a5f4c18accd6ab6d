"""One check-in or unknown-face event read against the API's contract: each bad event is its own ``EventError``.

The agents' JSON is hostile until proven otherwise: text no database can store (a NUL, an unpaired surrogate,
a control character), a non-finite number, a timestamp out of range or without a zone, a snapshot that is not
a JPEG. The shapes and limits are the contract's models (``attendance.contract``); this module turns their
verdict into the event's error, and adds the checks that need the server's clock (skew, age limit).
Everything here is pure (no database, no files); ``attendance.checkins`` stores what passes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from attendance.contract import EventId, parse_aware_timestamp
from attendance.contract.fields import MAX_EVENT_ID_CHARS
from attendance.db.models import Camera
from attendance.text import text_problem

# An agent's clock may be a little ahead of (or behind) the server's; a day off is a broken clock.
MAX_FUTURE_SKEW = dt.timedelta(days=1)
SNAPSHOT_FIELD = "snapshot_jpeg_b64"  # its errors are ``bad_snapshot``, every other field's ``invalid_event``

Event = TypeVar("Event", bound=BaseModel)
_EVENT_ID = TypeAdapter(EventId)


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
    """The result of a refused event: ``{"event_id", "status": "error", "error": {"code", "message"}}``."""
    return {"event_id": event_id if isinstance(event_id, str) else None, "status": "error",
            "error": {"code": err.code, "message": err.message}}


def _event_error(err: ValidationError) -> EventError:
    """The first problem pydantic found, as ``"field.key: problem"`` (fields are checked in the model's order)."""
    first = err.errors(include_url=False)[0]
    path = ".".join(str(part) for part in first["loc"])
    code = "bad_snapshot" if first["loc"][:1] == (SNAPSHOT_FIELD,) else "invalid_event"
    return EventError(code, f"{path}: {first['msg']}" if path else first["msg"])


def read_event(model: type[Event], event: Any) -> Event:
    """``event`` (parsed JSON) validated as ``model`` (``CheckinEvent``, ``UnknownEvent``); EventError else."""
    if not isinstance(event, dict):
        raise EventError("invalid_event", "an event must be a JSON object")
    try:
        return model.model_validate(event)
    except ValidationError as err:
        raise _event_error(err) from None


def read_event_id(event: Any) -> str:
    """The event's ``event_id`` (read before the rest: a duplicate is answered without checking again)."""
    if not isinstance(event, dict):
        raise EventError("invalid_event", "an event must be a JSON object")
    try:
        return _EVENT_ID.validate_python(event.get("event_id"), strict=True)
    except ValidationError as err:
        raise EventError("invalid_event", f"event_id: {err.errors(include_url=False)[0]['msg']} "
                                          f"(a string of 1 to {MAX_EVENT_ID_CHARS} characters)") from None


def is_storable(value: Any) -> bool:
    """Whether ``value`` is text a query may carry (the look-ups run before each event is checked)."""
    return isinstance(value, str) and len(value) <= MAX_EVENT_ID_CHARS and text_problem(value) is None


def parse_aware_datetime(value: Any, key: str = "captured_at") -> dt.datetime:
    """An ISO 8601 timestamp WITH a zone ("2026-09-07T07:02:10+07:00" or "...Z") as aware UTC; EventError else."""
    try:
        return parse_aware_timestamp(value)
    except ValueError as err:
        raise EventError("invalid_event", f"{key}: {err}") from None


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


def check_captured_at(captured_at: dt.datetime, received_at: dt.datetime,
                      not_before: dt.datetime | None = None) -> dt.datetime:
    """``captured_at`` (aware UTC, as the contract parsed it) when the server's clock accepts it: at most a
    day ahead of ``received_at`` (``invalid_event``), not before ``not_before`` (``too_old``)."""
    if captured_at > received_at + MAX_FUTURE_SKEW:
        raise EventError("invalid_event", "captured_at is more than a day in the future (check the agent's clock)")
    if not_before is not None and captured_at < not_before:
        raise EventError("too_old", f"captured_at is before {not_before.isoformat()}: too old to record "
                                    "(older than the age limit, or before the camera was registered)")
    return captured_at
