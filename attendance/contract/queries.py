"""The query strings of the API's GET endpoints, as models: the server reads them, the document lists them.

Query values arrive as text, so these models are lax (``"500"`` is the number 500); each field's alias is
the parameter's name (``class``, a Python keyword, is ``class_code`` here).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from attendance.contract.fields import MAX_MODEL_ID_CHARS, AwareTimestamp, storable

FIRST_YEAR, LAST_YEAR = 1900, 2999  # as the pages: the roll of 0001-01-01 or 9999-12-31 cannot be computed
MAX_CHECKINS_PAGE = 1000
MAX_QUERY_CODE_CHARS = 64


def _absent_when_blank(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _parse_query_date(value: Any) -> Any:
    """A query's date is text in ISO form, ``2026-09-07`` (surrounding spaces ignored, blank = absent); never a
    number (pydantic's lax mode would read ``0`` as 1970-01-01) nor a date-time."""
    if value is None or isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not text:
        return None
    if len(text) != 10:
        raise PydanticCustomError("date_format", "must be a date as YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as err:
        raise PydanticCustomError("date_format", "must be a date as YYYY-MM-DD") from err


def _in_calendar(day: dt.date) -> dt.date:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise PydanticCustomError("date_range", f"must be in the years {FIRST_YEAR} to {LAST_YEAR}")
    return day


QueryCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUERY_CODE_CHARS),
                      AfterValidator(storable)]


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class RollQuery(_Query):
    """``GET /roll?class=6A1&date=2026-09-07``."""

    class_code: QueryCode = Field(alias="class", description="the class code, e.g. 6A1")
    date: Annotated[dt.date | None, BeforeValidator(_parse_query_date), AfterValidator(
        lambda day: day if day is None else _in_calendar(day))] = Field(
        None, description="YYYY-MM-DD; default today in the school's zone")
    school: Annotated[QueryCode | None, BeforeValidator(_absent_when_blank)] = Field(
        None, description="a school's code; needed when the token reads several schools")


class CheckinsQuery(_Query):
    """``GET /checkins?since=2026-09-07T00:00:00+07:00&after_id=0&limit=500``."""

    since: AwareTimestamp
    after_id: int = Field(0, ge=0, le=2**63 - 1, description="the last id seen (next_after_id)")
    limit: int = Field(500, ge=1, le=MAX_CHECKINS_PAGE)
    school: Annotated[QueryCode | None, BeforeValidator(_absent_when_blank)] = Field(
        None, description="a school's code; needed when the token reads several schools")


class GalleryQuery(_Query):
    """``GET /gallery?model=dlib_resnet_v1``."""

    model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_MODEL_ID_CHARS)] = \
        Field(description="the model id, e.g. dlib_resnet_v1")
