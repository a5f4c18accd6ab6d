"""The JSON API's contract: every request and response body, defined once as a pydantic model.

The server validates what agents send with these models (``attendance.checkin_fields``), the camera agent's
events are checked against them, and the OpenAPI document (``attendance.contract.openapi``) is generated from
their JSON schemas. No Flask and no database here: only shapes, limits and the rules of a single value.
"""

from attendance.contract.events import (
    MAX_EVENTS_PER_BATCH, CheckinBatch, CheckinEvent, Heartbeat, UnknownBatch, UnknownEvent,
)
from attendance.contract.fields import (
    EARLIEST_AT, LATEST_AT, MAX_EVENT_ID_CHARS, MAX_SNAPSHOT_BYTES, EventId, parse_aware_timestamp,
)
from attendance.contract.responses import (
    Checkin, CheckinsPage, ErrorBody, EventResult, EventResults, Gallery, GalleryKey, Roll, RollEntry, ServerTime,
    roll_entry_json,
)

__all__ = [
    "EARLIEST_AT", "LATEST_AT", "MAX_EVENTS_PER_BATCH", "MAX_EVENT_ID_CHARS", "MAX_SNAPSHOT_BYTES", "Checkin",
    "CheckinBatch", "CheckinEvent", "CheckinsPage", "ErrorBody", "EventId", "EventResult", "EventResults",
    "Gallery", "GalleryKey", "Heartbeat", "Roll", "RollEntry", "ServerTime", "UnknownBatch", "UnknownEvent",
    "parse_aware_timestamp", "roll_entry_json",
]
