"""What gate agents send: check-in and unknown-face events, their batches, and the heartbeat.

The server validates each event of a batch on its own (``attendance.checkin_fields.read_event``), so one
bad event is that event's error and never the batch's; the batch models describe the whole request body
for the OpenAPI document. Unknown keys are ignored, so an older server accepts a newer agent's events.
Checks that need the database or the clock (the age limit, the school day, the student, consent, the
card's signature) are ``attendance.checkins``'s.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from attendance.contract.fields import (
    AwareTimestamp, CardText, EventId, FiniteNumber, JpegBase64, LivenessCues, ModelId, SmallCount, StudentCode,
)

MAX_EVENTS_PER_BATCH = 500
MAX_HEARTBEAT_TEXT_CHARS = 500


class _Event(BaseModel):
    """The fields every event has. Strict: ``"1"`` is not a number and ``true`` is not 1."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    event_id: EventId
    seq: SmallCount = Field(description="the agent's outbox sequence number")
    captured_at: AwareTimestamp


class CheckinEvent(_Event):
    """A student recognised at the gate (or a QR card read: ``source: "qr"`` with the card's text)."""

    student_code: StudentCode
    distance: FiniteNumber | None = None
    margin: FiniteNumber | None = None
    votes: SmallCount | None = None
    model_id: ModelId | None = None
    # null is a camera check-in, as an older agent may send it; any other value is refused (invalid_event)
    source: Annotated[Literal["camera", "qr"], BeforeValidator(lambda value: "camera" if value is None else value)] = \
        Field("camera", description="camera (also when null or absent) or qr: a student's QR card was read; `card` "
                                    "must then be the student's current signed card (else error bad_card)")
    card: CardText | None = None
    liveness: LivenessCues | None = None
    snapshot_jpeg_b64: JpegBase64 | None = None  # last: a bad snapshot is reported only when all else is well

    @model_validator(mode="after")
    def _card_with_qr(self) -> CheckinEvent:
        if self.source == "qr" and self.card is None:
            raise PydanticCustomError("card_missing", 'card: a source "qr" check-in carries the card\'s text')
        return self


class UnknownEvent(_Event):
    """A face the agent could not name (its nearest student, not named, when there is one)."""

    best_distance: FiniteNumber | None = None
    nearest_student_code: StudentCode | None = None
    liveness: LivenessCues | None = None
    snapshot_jpeg_b64: JpegBase64 | None = None


class CheckinBatch(BaseModel):
    """``POST /checkins``: a batch of check-ins, idempotent on the camera and each ``event_id``."""

    events: Annotated[list[CheckinEvent], Field(max_length=MAX_EVENTS_PER_BATCH)]


class UnknownBatch(BaseModel):
    """``POST /unknowns``: a batch of unknown faces."""

    events: Annotated[list[UnknownEvent], Field(max_length=MAX_EVENTS_PER_BATCH)]


def _cut(value: float | str) -> float | str:
    return value[:MAX_HEARTBEAT_TEXT_CHARS] if isinstance(value, str) else value


_Reading = Annotated[Annotated[int, Field(strict=True)] | FiniteNumber | str, AfterValidator(_cut)] | None


class Heartbeat(BaseModel):
    """``POST /heartbeat``: the agent's health. Known keys are kept on the camera (text cut to 500
    characters); others are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")

    fps: _Reading = None
    queue_depth: _Reading = None
    oldest_unsent_age_s: _Reading = None
    last_error: _Reading = None
    version: _Reading = None
    backend: _Reading = None
    model_id: _Reading = None
    gallery_version: _Reading = None
    uptime_s: _Reading = None
    cpu_percent: _Reading = None
    temperature_c: _Reading = None
    frames_dropped: _Reading = None
    frames_total: _Reading = None
    reconnects: _Reading = None
