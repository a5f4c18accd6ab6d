"""What the API answers: per-event results, the gallery, the roll, the check-in stream, and the error body.

A roll entry has one JSON shape, ``roll_entry_json``, used by ``GET /api/v1/roll`` and ``attendance roll
--json`` alike. Timestamps the server writes are ``isoformat()`` of aware UTC (``...+00:00``).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from attendance.contract.fields import IsoDate, IsoDatetime

EventErrorCode = Literal["invalid_event", "unknown_student", "no_consent", "bad_card", "too_old", "future_day",
                        "bad_snapshot"]
RollStatus = Literal["on_time", "late", "absent", "excused", "present_manual", "not_yet", "no_school"]
EVENT_ERROR_CODES: tuple[str, ...] = get_args(EventErrorCode)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a key the contract does not name is a contract change


class ErrorDetail(_Answer):
    code: str = Field(description="a stable snake_case code: unauthorized, forbidden, invalid_input, ...")
    message: str = Field(description="for people; may change")


class ErrorBody(_Answer):
    """Every error of the API, whatever its status."""

    error: ErrorDetail


class EventErrorDetail(_Answer):
    code: EventErrorCode
    message: str


class EventWarning(_Answer):
    code: Literal["snapshot_not_saved"]
    message: str


class EventResult(_Answer):
    """One event's answer. ``error`` is final: the agent drops the event; without an answer it retries."""

    event_id: str | None = Field(description="null when the event had no usable event_id")
    status: Literal["created", "duplicate", "error"]
    checkin_id: int | None = Field(None, description="check-ins: the stored row (created or duplicate)")
    unknown_id: int | None = Field(None, description="unknown faces, and check-ins refused as suspected "
                                   "presentation attacks (liveness_action = refuse): the stored row")
    snapshot: Literal["not_kept_no_consent"] | None = Field(
        None, description="the snapshot was dropped: the student's consent does not cover keeping snapshots")
    error: EventErrorDetail | None = None
    warning: EventWarning | None = Field(None, description="a created event stored without its snapshot")


class EventResults(_Answer):
    """One result per event, in the order sent."""

    results: list[EventResult]


class ServerTime(_Answer):
    server_time: IsoDatetime


class GalleryKey(_Answer):
    key: str = Field(description="base64 of a 256-bit AES-GCM key; keep it in memory only")
    key_id: str


class OperatingPoint(_Answer):
    """The school's calibrated point (``attendance calibrate --apply``); agents use it unless their
    match_threshold/match_margin are set."""

    threshold: float
    margin: float
    set_at: IsoDatetime | None = None


class GalleryStudent(_Answer):
    student_code: str
    full_name: str
    class_code: str | None
    templates: list[list[float]]


class Gallery(_Answer):
    """A school's enrolled templates of one model; the ETag header is ``version``."""

    model_id: str
    metric: Literal["euclidean", "cosine"]
    dim: int | None = Field(description="null when no student has a template")
    version: str
    timezone: str = Field(description="The school's IANA time zone: agents decide a check-in's school day in it.")
    operating_point: OperatingPoint | None = Field(description="null: none applied")
    students: list[GalleryStudent]


class RollEntry(_Answer):
    """One student's line of a class roll."""

    student_code: str
    full_name: str
    class_code: str
    status: RollStatus
    first_seen_at: IsoDatetime | None = Field(description="the first check-in, aware UTC")
    minutes_late: int | None
    camera: str | None
    source: Literal["camera", "review", "qr"] | None = Field(
        description="review: named by an admin on the unknown-faces page")
    received_on: IsoDate | None = Field(
        description="the first check-in reached the server on this later day (a camera that was offline)")


def roll_entry_json(entry: Any) -> dict[str, Any]:
    """The JSON of a roll entry (an ``attendance.roll.RollEntry``), the one shape every caller prints."""
    return RollEntry(
        student_code=entry.student_code, full_name=entry.full_name, class_code=entry.class_code,
        status=entry.status, first_seen_at=entry.first_seen_at, minutes_late=entry.minutes_late,
        camera=entry.camera_name, source=entry.source, received_on=entry.received_on,
    ).model_dump(mode="json")


class Roll(_Answer):
    """A class's roll on a day, in roster order."""

    school_code: str
    class_code: str
    date: IsoDate
    students: list[RollEntry]


class Checkin(_Answer):
    id: int
    school_code: str
    student_code: str
    full_name: str
    class_code: str | None
    camera: str
    captured_at: IsoDatetime
    received_at: IsoDatetime
    school_date: IsoDate
    distance: float | None


class CheckinsPage(_Answer):
    """Oldest first; page with ``after_id`` = ``next_after_id`` until it is null."""

    checkins: list[Checkin]
    next_after_id: int | None
