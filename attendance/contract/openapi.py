"""The API's contract as an OpenAPI 3.1 document, generated from the contract's models.

The bodies are the pydantic models of ``attendance.contract`` (the same ones that validate what the agents
send); this module adds only the table of operations: method, path, token kind, request model, 200 model,
error statuses and query parameters. ``dashboard/api/openapi.py`` serves the document at
/api/v1/openapi.json, and ``tests/data/openapi.json`` is the committed snapshot the contract test compares
it with. After an intended change of the contract, regenerate the snapshot and review its diff::

    python -m attendance.contract.openapi > tests/data/openapi.json
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from attendance import contract
from attendance.contract.queries import CheckinsQuery, GalleryQuery, RollQuery

REF_TEMPLATE = "#/components/schemas/{model}"
ERROR_TEXT = {
    400: "Malformed JSON.", 401: "Missing, unknown or revoked token.", 403: "A token of the wrong kind.",
    404: "Not found.", 405: "Method not allowed.", 409: "Conflict.",
    413: f"Body over the size limit, or more than {contract.MAX_EVENTS_PER_BATCH} events.",
    422: "Invalid parameters or body.",
}


@dataclass(frozen=True)
class Operation:
    """One endpoint. ``auth`` is the token kind (``camera``, ``integration``) or None (public); ``response``
    is the 200 body's model (None: any JSON object); ``query`` the query string's model; ``headers`` the
    request headers it reads (OpenAPI parameter objects)."""

    method: str
    path: str
    operation_id: str
    summary: str
    auth: str | None
    response: type[BaseModel] | None
    request: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    query: type[BaseModel] | None = None
    headers: tuple[dict[str, Any], ...] = ()
    response_text: str = "OK."
    response_headers: dict[str, Any] = field(default_factory=dict)
    extra_responses: dict[str, Any] = field(default_factory=dict)


OPERATIONS: tuple[Operation, ...] = (
    Operation("post", "/checkins", "postCheckins", "Post a batch of named check-ins (idempotent on camera + "
              "event_id)", "camera", contract.EventResults, contract.CheckinBatch, (400, 401, 403, 413, 422),
              response_text="The batch was processed; one result per event, in order."),
    Operation("get", "/checkins", "listCheckins", "Check-ins received since a time (integrations)", "integration",
              contract.CheckinsPage, None, (401, 403, 404, 422), CheckinsQuery,
              response_text="Oldest first; page with after_id."),
    Operation("post", "/unknowns", "postUnknowns", "Post a batch of unknown-face tracks (idempotent on camera + "
              "event_id)", "camera", contract.EventResults, contract.UnknownBatch, (400, 401, 403, 413, 422),
              response_text="One result per event, in order."),
    Operation("get", "/gallery", "getGallery", "The camera's school gallery for one model", "camera",
              contract.Gallery, None, (401, 403, 422), GalleryQuery,
              ({"name": "If-None-Match", "in": "header", "schema": {"type": "string"}},),
              "The gallery; the ETag header is its version.", {"ETag": {"schema": {"type": "string"}}},
              {"304": {"description": "Unchanged since the ETag given in If-None-Match."}}),
    Operation("get", "/gallery/key", "getGalleryKey", "The key this camera encrypts its gallery copy with "
              "(keep it in memory only)", "camera", contract.GalleryKey, None, (401, 403),
              response_text="Derived from the server's data key and this camera's token."),
    Operation("post", "/heartbeat", "postHeartbeat", "Report the agent's health; marks the camera online",
              "camera", contract.ServerTime, contract.Heartbeat, (400, 401, 403, 422),
              response_text="The server's clock."),
    Operation("get", "/roll", "getRoll", "A class's roll on a day (integrations)", "integration", contract.Roll,
              None, (401, 403, 404, 422), RollQuery, response_text="The roll in roster order."),
    Operation("get", "/openapi.json", "getOpenApi", "This document", None, None, response_text="OpenAPI 3.1."),
)


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The query model's fields as OpenAPI parameters (named by their alias: ``class``)."""
    schema = model.model_json_schema(by_alias=True, ref_template=REF_TEMPLATE)
    parameters = []
    for name, field_schema in schema["properties"].items():
        field_schema = {key: value for key, value in field_schema.items() if key not in ("title", "description")}
        options = [option for option in field_schema.pop("anyOf", []) if option != {"type": "null"}]
        if len(options) == 1:  # an optional parameter is absent, never null
            field_schema = {**options[0], **{k: v for k, v in field_schema.items() if v is not None}}
        elif options:
            field_schema["anyOf"] = options
        parameter = {"name": name, "in": "query", "required": name in schema.get("required", ()),
                     "schema": field_schema}
        description = schema["properties"][name].get("description")
        parameters.append({**parameter, "description": description} if description else parameter)
    return parameters


def _operation(op: Operation) -> dict[str, Any]:
    body = _ref(op.response) if op.response else {"type": "object"}
    responses = {"200": _json(body, op.response_text), **op.extra_responses,
                 **{str(status): {"$ref": f"#/components/responses/E{status}"} for status in op.errors}}
    if op.response_headers:
        responses["200"]["headers"] = op.response_headers
    document: dict[str, Any] = {"summary": op.summary, "operationId": op.operation_id,
                                "x-token": op.auth or "none"}
    if op.auth is None:
        document["security"] = []
    parameters = (_query_parameters(op.query) if op.query else []) + list(op.headers)
    if parameters:
        document["parameters"] = parameters
    if op.request:
        document["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(op.request)}}}
    document["responses"] = responses
    return document


def contract_models() -> list[type[BaseModel]]:
    """Every model the document names: the requests, the 200 bodies and the error body."""
    models: list[type[BaseModel]] = [contract.ErrorBody]
    for op in OPERATIONS:
        models += [model for model in (op.request, op.response) if model and model not in models]
    return models


@cache
def build_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of /api/v1, from the contract's models and ``OPERATIONS``."""
    _, schemas = models_json_schema([(model, "validation") for model in contract_models()],
                                    ref_template=REF_TEMPLATE)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "School attendance API", "version": "1.0.0",
            "description": "Camera agents post check-ins and fetch their school's gallery with a camera token "
                           "(cam_...); integrations read the roll with an integration token (api_...). Every "
                           "error is {\"error\": {\"code\", \"message\"}}. Per-event errors in a batch are final: "
                           "agents drop those events and retry only events with no answer.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "cam_... for agents, api_... for integrations"}},
            "responses": {f"E{status}": _json(_ref(contract.ErrorBody), text) for status, text in ERROR_TEXT.items()},
            "schemas": schemas["$defs"],
        },
    }


def response_model(method: str, path: str) -> type[BaseModel] | None:
    """The model of the 200 body of ``method path`` (``"get", "/roll"``), or None when it has none."""
    return next(op.response for op in OPERATIONS if (op.method, op.path) == (method.lower(), path))


if __name__ == "__main__":
    sys.stdout.write(json.dumps(build_document(), indent=2, ensure_ascii=False) + "\n")
