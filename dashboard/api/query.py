"""A request's query string read against the contract's query models (``attendance.contract.queries``)."""

from __future__ import annotations

from typing import TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from dashboard.api.errors import ApiError

Query = TypeVar("Query", bound=BaseModel)


def read_query(model: type[Query], example: str) -> Query:
    """The request's query string read as ``model``; 422 ``invalid_input`` naming the first bad parameter,
    with ``example`` (a well-formed URL) as a hint."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        name = ".".join(str(part) for part in first["loc"])
        raise ApiError(422, "invalid_input", f"{name}: {first['msg']} (e.g. {example})") from None
