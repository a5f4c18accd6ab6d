"""The contract's value types: storable text, aware timestamps, base64 JPEG snapshots, liveness cues.

Each type is an ``Annotated`` pydantic type carrying both its check and its JSON schema, so a limit is
written once and reaches the validation and the OpenAPI document alike. Custom failures are
``PydanticCustomError`` whose message reads after the field's name (``captured_at: needs a time zone``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PlainSerializer, PlainValidator, StrictBool, StringConstraints, \
    ValidationError, WithJsonSchema, WrapValidator
from pydantic_core import PydanticCustomError

from attendance.text import text_problem

MAX_EVENT_ID_CHARS = 64
MAX_CODE_CHARS = 32  # a student's code
MAX_MODEL_ID_CHARS = 64
MAX_CARD_CHARS = 200
MAX_SNAPSHOT_BYTES = 1024 * 1024
MAX_LIVENESS_KEYS = 32
MAX_LIVENESS_TEXT_CHARS = 200
MAX_SAFE_INT = 2**53  # beyond it a JSON number is not an exact integer in every client
MAX_INT32 = 2**31 - 1
JPEG_MAGIC = b"\xff\xd8\xff"
EARLIEST_AT = dt.datetime(1, 1, 3, tzinfo=dt.timezone.utc)  # room for any school's local date and clock skew
LATEST_AT = dt.datetime(9999, 12, 29, tzinfo=dt.timezone.utc)


def storable(value: str) -> str:
    """``value`` when a database can store it (no NUL, surrogate or control character); else an error."""
    problem = text_problem(value)
    if problem:
        raise PydanticCustomError("unstorable_text", problem)
    return value


def _line(max_chars: int) -> StringConstraints:
    return StringConstraints(min_length=1, max_length=max_chars)


# One line of storable text of 1 to N characters (no NUL, surrogate or control character).
EventId = Annotated[str, _line(MAX_EVENT_ID_CHARS), AfterValidator(storable),
                    Field(description="unique per camera: the idempotency key")]
StudentCode = Annotated[str, _line(MAX_CODE_CHARS), AfterValidator(storable)]
ModelId = Annotated[str, _line(MAX_MODEL_ID_CHARS), AfterValidator(storable)]
CardText = Annotated[str, _line(MAX_CARD_CHARS), AfterValidator(storable)]
SmallCount = Annotated[int, Field(ge=0, le=MAX_INT32)]
FiniteNumber = Annotated[float, Field(allow_inf_nan=False)]


def parse_aware_timestamp(value: Any) -> dt.datetime:
    """An ISO 8601 timestamp WITH a zone (``"2026-09-07T07:02:10+07:00"`` or ``"...Z"``) as aware UTC, from
    0001-01-03 to 9999-12-29; anything else raises ``PydanticCustomError`` (a ``ValueError``)."""
    if not isinstance(value, str):
        raise PydanticCustomError("timestamp_type", "must be an ISO 8601 string with a time zone")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("timestamp_parsing", "is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise PydanticCustomError("timestamp_naive", "has no time zone (add Z or +07:00)")
    try:  # 0001-01-01T00:00+14:00 and 9999-12-31T23:59-14:00 have no UTC value a datetime can hold
        utc = parsed.astimezone(dt.timezone.utc)
    except OverflowError:
        raise PydanticCustomError("timestamp_range", "is out of range") from None
    if not EARLIEST_AT <= utc <= LATEST_AT:
        raise PydanticCustomError("timestamp_range", "is out of range")
    return utc


AwareTimestamp = Annotated[
    dt.datetime, PlainValidator(parse_aware_timestamp), PlainSerializer(lambda at: at.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time",
                    "description": "ISO 8601 WITH a zone (Z or +07:00); a naive time is refused"}),
]
# A timestamp the server writes (always aware UTC, ``isoformat()``): read back leniently by clients and tests.
IsoDatetime = Annotated[dt.datetime, PlainSerializer(lambda at: at.isoformat(), return_type=str)]
IsoDate = Annotated[dt.date, PlainSerializer(lambda day: day.isoformat(), return_type=str)]


def decode_jpeg_b64(value: Any) -> bytes:
    """The JPEG in base64 ``value`` (at most ``MAX_SNAPSHOT_BYTES`` decoded); else ``PydanticCustomError``."""
    if not isinstance(value, str) or len(value) > MAX_SNAPSHOT_BYTES * 4 // 3 + 4:
        raise PydanticCustomError("snapshot_size", f"must be base64 of at most {MAX_SNAPSHOT_BYTES} bytes")
    try:
        jpeg = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise PydanticCustomError("snapshot_base64", "is not valid base64") from None
    if not jpeg.startswith(JPEG_MAGIC):
        raise PydanticCustomError("snapshot_jpeg", "is not a JPEG")
    return jpeg


JpegBase64 = Annotated[
    bytes, PlainValidator(decode_jpeg_b64),
    PlainSerializer(lambda jpeg: base64.b64encode(jpeg).decode("ascii"), return_type=str),
    WithJsonSchema({"type": "string", "contentEncoding": "base64", "contentMediaType": "image/jpeg",
                    "maxLength": MAX_SNAPSHOT_BYTES * 4 // 3 + 4,
                    "description": f"a JPEG in base64, at most {MAX_SNAPSHOT_BYTES} bytes decoded"}),
]


def _one_cue(value: Any, handler: Any) -> Any:
    try:
        return handler(value)
    except ValidationError:
        raise PydanticCustomError("liveness_cue", "must be a finite number, a boolean or a short string") from None


def _exact_integer(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INT:
        raise PydanticCustomError("liveness_cue", "must be a finite number, a boolean or a short string")
    return value


LivenessCue = Annotated[
    StrictBool | int | FiniteNumber
    | Annotated[str, StringConstraints(max_length=MAX_LIVENESS_TEXT_CHARS), AfterValidator(storable)],
    AfterValidator(_exact_integer), WrapValidator(_one_cue),  # integers within +-2**53, else a float would lose them
]
LivenessCues = Annotated[
    dict[Annotated[str, StringConstraints(max_length=MAX_LIVENESS_TEXT_CHARS), AfterValidator(storable)], LivenessCue],
    Field(max_length=MAX_LIVENESS_KEYS,
          description="per-track cues (numbers, booleans, short strings); verdict = suspected_attack flags a "
                      "check-in for review (or refuses it, per liveness_action)"),
]
