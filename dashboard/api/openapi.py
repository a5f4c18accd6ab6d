"""The API's contract as an OpenAPI 3.1 document, served at /api/v1/openapi.json.

A test checks that every /api/v1 route is documented here and every documented path exists, so this dict
is the contract the camera agent and integrations are written against.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from dashboard.api import api_bp


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): {"$ref": f"#/components/responses/E{status}"} for status in statuses}


_ERROR_TEXT = {
    400: "Malformed JSON.", 401: "Missing, unknown or revoked token.", 403: "A token of the wrong kind.",
    404: "Not found.", 405: "Method not allowed.", 409: "Conflict.",
    413: "Body over the size limit, or more than 500 events.", 422: "Invalid parameters or body.",
}

_EVENT_RESULT = {
    "type": "object", "required": ["event_id", "status"],
    "properties": {
        "event_id": {"type": ["string", "null"]},
        "status": {"enum": ["created", "duplicate", "error"]},
        "checkin_id": {"type": "integer", "description": "check-ins: the stored row (created or duplicate)"},
        "unknown_id": {"type": "integer", "description": "unknown faces, and check-ins refused as suspected "
                       "presentation attacks (liveness_action = refuse): the stored row"},
        "snapshot": {"enum": ["not_kept_no_consent"], "description": "check-ins: the event's snapshot was "
                     "dropped because the student's consent does not cover keeping snapshots"},
        "error": {"type": "object", "properties": {
            "code": {"enum": ["invalid_event", "unknown_student", "no_consent", "too_old", "future_day",
                              "bad_snapshot"]},
            "message": {"type": "string"}}},
        "warning": {"type": "object", "description": "a created event stored without its snapshot", "properties": {
            "code": {"enum": ["snapshot_not_saved"]}, "message": {"type": "string"}}},
    },
}

_COMMON_EVENT = {
    "event_id": {"type": "string", "maxLength": 64, "description": "unique per camera; the idempotency key"},
    "seq": {"type": "integer", "minimum": 0},
    "captured_at": {"type": "string", "format": "date-time",
                    "description": "ISO 8601 WITH a zone (Z or +07:00); a naive time is refused"},
    "snapshot_jpeg_b64": {"type": "string", "description": "optional JPEG (base64, at most 1 MiB decoded)"},
    "liveness": {"type": "object", "description": "optional per-track cues (numbers, booleans, short strings); "
                 "verdict = suspected_attack flags a check-in for review (or refuses it, per liveness_action)"},
}

DOCUMENT: dict[str, Any] = {
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
    "paths": {
        "/checkins": {
            "post": {
                "summary": "Post a batch of named check-ins (idempotent on camera + event_id)",
                "operationId": "postCheckins",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["events"],
                    "properties": {"events": {"type": "array", "maxItems": 500, "items": _ref("CheckinEvent")}},
                }}}},
                "responses": {"200": _json({"type": "object", "properties": {
                    "results": {"type": "array", "items": _ref("EventResult")}}},
                    "The batch was processed; one result per event, in order."),
                    **_errors(400, 401, 403, 413, 422)},
            },
            "get": {
                "summary": "Check-ins received since a time (integrations)",
                "operationId": "listCheckins",
                "parameters": [
                    {"name": "since", "in": "query", "required": True, "schema": {"type": "string", "format": "date-time"}},
                    {"name": "after_id", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                    {"name": "school", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": _json({"type": "object", "properties": {
                    "checkins": {"type": "array", "items": _ref("Checkin")},
                    "next_after_id": {"type": ["integer", "null"]}}}, "Oldest first; page with after_id."),
                    **_errors(401, 403, 404, 422)},
            },
        },
        "/unknowns": {
            "post": {
                "summary": "Post a batch of unknown-face tracks (idempotent on camera + event_id)",
                "operationId": "postUnknowns",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["events"],
                    "properties": {"events": {"type": "array", "maxItems": 500, "items": _ref("UnknownEvent")}},
                }}}},
                "responses": {"200": _json({"type": "object", "properties": {
                    "results": {"type": "array", "items": _ref("EventResult")}}}, "One result per event."),
                    **_errors(400, 401, 403, 413, 422)},
            },
        },
        "/gallery": {
            "get": {
                "summary": "The camera's school gallery for one model",
                "operationId": "getGallery",
                "parameters": [
                    {"name": "model", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {**_json(_ref("Gallery"), "The gallery; the ETag header is its version."),
                            "headers": {"ETag": {"schema": {"type": "string"}}}},
                    "304": {"description": "Unchanged since the ETag given in If-None-Match."},
                    **_errors(401, 403, 422),
                },
            },
        },
        "/gallery/key": {
            "get": {
                "summary": "The key this camera encrypts its gallery copy with (keep it in memory only)",
                "operationId": "getGalleryKey",
                "responses": {"200": _json({"type": "object", "required": ["key", "key_id"], "properties": {
                    "key": {"type": "string", "description": "base64 of a 256-bit AES-GCM key"},
                    "key_id": {"type": "string"}}}, "Derived from the server's data key and this camera's token."),
                    **_errors(401, 403)},
            },
        },
        "/heartbeat": {
            "post": {
                "summary": "Report the agent's health; marks the camera online",
                "operationId": "postHeartbeat",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Heartbeat")}}},
                "responses": {"200": _json({"type": "object", "required": ["server_time"], "properties": {
                    "server_time": {"type": "string", "format": "date-time"}}}, "The server's clock."),
                    **_errors(400, 401, 403, 422)},
            },
        },
        "/roll": {
            "get": {
                "summary": "A class's roll on a day (integrations)",
                "operationId": "getRoll",
                "parameters": [
                    {"name": "class", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "date", "in": "query", "schema": {"type": "string", "format": "date"},
                     "description": "YYYY-MM-DD; default today in the school's zone"},
                    {"name": "school", "in": "query", "schema": {"type": "string"},
                     "description": "needed when the token reads several schools"},
                ],
                "responses": {"200": _json(_ref("Roll"), "The roll in roster order."), **_errors(401, 403, 404, 422)},
            },
        },
        "/openapi.json": {
            "get": {
                "summary": "This document", "operationId": "getOpenApi", "security": [],
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1.")},
            },
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                       "description": "cam_... for agents, api_... for integrations"}},
        "responses": {f"E{status}": _json(_ref("Error"), text) for status, text in _ERROR_TEXT.items()},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
            "EventResult": _EVENT_RESULT,
            "CheckinEvent": {
                "type": "object", "required": ["event_id", "seq", "student_code", "captured_at"],
                "properties": {
                    **_COMMON_EVENT,
                    "student_code": {"type": "string", "maxLength": 32},
                    "distance": {"type": "number"}, "margin": {"type": "number"},
                    "votes": {"type": "integer", "minimum": 0}, "model_id": {"type": "string", "maxLength": 64},
                    "source": {"enum": ["camera", "qr"], "description": "qr: a student's QR card was read; "
                               "`card` must then be the student's current signed card (else error bad_card)."},
                    "card": {"type": "string", "maxLength": 200},
                },
            },
            "UnknownEvent": {
                "type": "object", "required": ["event_id", "seq", "captured_at"],
                "properties": {**_COMMON_EVENT, "best_distance": {"type": "number"},
                               "nearest_student_code": {"type": "string", "maxLength": 32}},
            },
            "Gallery": {
                "type": "object", "required": ["model_id", "metric", "dim", "version", "students"],
                "properties": {
                    "model_id": {"type": "string"}, "metric": {"enum": ["euclidean", "cosine"]},
                    "dim": {"type": ["integer", "null"]}, "version": {"type": "string"},
                    "timezone": {"type": "string", "description": "The school's IANA time zone: agents decide "
                                                                  "a check-in's school day in it."},
                    "operating_point": {
                        "type": ["object", "null"], "required": ["threshold", "margin"],
                        "description": "The school's calibrated point (`attendance calibrate --apply`); agents use "
                                       "it unless their match_threshold/match_margin are set. Null: none applied.",
                        "properties": {"threshold": {"type": "number"}, "margin": {"type": "number"},
                                       "set_at": {"type": "string", "format": "date-time"}}},
                    "students": {"type": "array", "items": {"type": "object", "properties": {
                        "student_code": {"type": "string"}, "full_name": {"type": "string"},
                        "class_code": {"type": ["string", "null"]},
                        "templates": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                    }}},
                },
            },
            "Heartbeat": {"type": "object", "properties": {
                "fps": {"type": "number"}, "queue_depth": {"type": "integer"},
                "oldest_unsent_age_s": {"type": "number"}, "last_error": {"type": "string"},
                "version": {"type": "string"}, "backend": {"type": "string"}, "model_id": {"type": "string"},
                "gallery_version": {"type": "string"}, "uptime_s": {"type": "number"},
            }, "description": "Known keys are kept on the camera; others are ignored."},
            "Roll": {"type": "object", "properties": {
                "school_code": {"type": "string"}, "class_code": {"type": "string"},
                "date": {"type": "string", "format": "date"},
                "students": {"type": "array", "items": {"type": "object", "properties": {
                    "student_code": {"type": "string"}, "full_name": {"type": "string"},
                    "status": {"enum": ["on_time", "late", "absent", "excused", "present_manual", "not_yet",
                                        "no_school"]},
                    "first_seen_at": {"type": ["string", "null"], "format": "date-time"},
                    "minutes_late": {"type": ["integer", "null"]}, "camera": {"type": ["string", "null"]},
                    "source": {"enum": ["camera", "review", "qr", None],
                               "description": "review: named by an admin on the unknown-faces page"},
                    "received_on": {"type": ["string", "null"], "format": "date",
                                    "description": "the first check-in reached the server on this later day "
                                                   "(a camera that was offline)"},
                }}},
            }},
            "Checkin": {"type": "object", "properties": {
                "id": {"type": "integer"}, "school_code": {"type": "string"}, "student_code": {"type": "string"},
                "full_name": {"type": "string"}, "class_code": {"type": ["string", "null"]},
                "camera": {"type": "string"}, "captured_at": {"type": "string", "format": "date-time"},
                "received_at": {"type": "string", "format": "date-time"},
                "school_date": {"type": "string", "format": "date"}, "distance": {"type": ["number", "null"]},
            }},
        },
    },
}


@api_bp.get("/openapi.json")
def get_openapi():
    return jsonify(DOCUMENT)
