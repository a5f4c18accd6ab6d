"""The contract: the OpenAPI document generated from the models equals its committed snapshot, every /api/v1
route is in it, every answer of every endpoint fits its declared schema, and the agent's requests fit theirs.

After an intended change of the contract: ``python -m attendance.contract.openapi > tests/data/openapi.json``.
"""

import base64
import datetime as dt
import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ValidationError

from attendance import contract
from attendance.cameras import create_api_token
from attendance.contract.openapi import OPERATIONS, build_document
from camera_agent.agent import record_decision
from camera_agent.cards import CardLedger, CardSighting
from camera_agent.heartbeat import build_heartbeat
from camera_agent.outbox import Outbox
from camera_agent.pipeline import Decision
from camera_agent.status import AgentStatus
from camera_agent.voting import Verdict
from factories import make_camera, make_class, make_school, make_student

PREFIX = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
SNAPSHOT = Path(__file__).parent / "data" / "openapi.json"
NOW = dt.datetime(2026, 9, 7, 0, 30, tzinfo=dt.timezone.utc)  # Monday 07:30 in Ho Chi Minh
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"
DOCUMENT = build_document()


def routes(app) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(PREFIX):])
        found.update((path, method.lower()) for method in rule.methods - IGNORED_METHODS)
    return found


def documented() -> set[tuple[str, str]]:
    return {(path, method) for path, item in DOCUMENT["paths"].items() for method in item}


def test_the_document_equals_its_committed_snapshot():
    """A change of any request or response schema shows here, and in review as a diff of the snapshot."""
    assert json.loads(SNAPSHOT.read_text(encoding="utf-8")) == DOCUMENT, (
        "the API contract changed: if intended, run `python -m attendance.contract.openapi > tests/data/openapi.json`")


def test_every_route_is_documented_and_every_documented_path_exists(app):
    assert routes(app) == documented()


def test_the_document_is_openapi_3_1_and_its_references_resolve():
    assert DOCUMENT["openapi"].startswith("3.1")
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(DOCUMENT)
    assert refs
    for ref in refs:
        node = DOCUMENT
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]


def test_every_operation_has_an_id_and_a_200(app):
    ids = [op["operationId"] for item in DOCUMENT["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert all("200" in op["responses"] for item in DOCUMENT["paths"].values() for op in item.values())


def test_the_request_schemas_carry_the_limits_the_server_enforces():
    schemas = DOCUMENT["components"]["schemas"]
    checkin = schemas["CheckinEvent"]
    assert set(checkin["required"]) == {"event_id", "seq", "student_code", "captured_at"}
    assert checkin["properties"]["event_id"]["maxLength"] == contract.MAX_EVENT_ID_CHARS
    assert checkin["properties"]["captured_at"]["format"] == "date-time"
    assert schemas["CheckinBatch"]["properties"]["events"]["maxItems"] == contract.MAX_EVENTS_PER_BATCH
    assert schemas["CheckinBatch"]["properties"]["events"]["items"] == {"$ref": "#/components/schemas/CheckinEvent"}
    assert set(schemas["UnknownEvent"]["required"]) == {"event_id", "seq", "captured_at"}


def test_the_contract_needs_no_database():
    """attendance/contract/ imports pydantic, the standard library and attendance.text only (LAYERS.md)."""
    import ast
    import sys

    allowed = {"pydantic", "pydantic_core", "__future__", "attendance"} | set(sys.stdlib_module_names)
    for path in sorted((Path(__file__).parents[1] / "attendance" / "contract").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
                if name.startswith("attendance"):
                    assert name == "attendance" or name.startswith(("attendance.contract", "attendance.text")), \
                        f"{path.name} imports {name}"


def test_the_contracts_statuses_are_the_rolls():
    from typing import get_args

    from attendance.contract.responses import RollStatus
    from attendance.roll import STATUSES

    assert get_args(RollStatus) == STATUSES


def test_the_document_is_served(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.get_json() == DOCUMENT


# --- every answer fits the schema its operation declares -----------------------------------------------------


@pytest.fixture
def world(app, db):
    app.config["CLOCK"] = lambda: NOW
    with db.session() as s:
        school = make_school(s, "THCS1")
        klass = make_class(s, school, "6A1")
        make_student(s, klass, "HS001", "Nguyễn Văn An", templates=[11, 12])
        make_student(s, klass, "HS002", "Trần Thị Bình", templates=[21], snapshots=False)
        make_student(s, klass, "HS003", "Lê Văn Cường")
        _, camera_token = make_camera(s, school, "gate-1")
        _, api_token = create_api_token(s, "sis", school)
    return {"camera": {"Authorization": f"Bearer {camera_token}"},
            "integration": {"Authorization": f"Bearer {api_token}"}}


def checkin(n: int, code: str = "HS001", **extra) -> dict:
    return {"event_id": f"gate-1-{n}", "seq": n, "student_code": code, "captured_at": "2026-09-07T06:55:00+07:00",
            "distance": 0.31, "margin": 0.08, "votes": 3, "model_id": "dlib_resnet_v1",
            "liveness": {"motion": 0.4, "verdict": "live"}, **extra}


SNAP = base64.b64encode(JPEG).decode()
UNKNOWN = {"event_id": "u-1", "seq": 7, "captured_at": "2026-09-07T06:58:00+07:00", "best_distance": 0.52,
           "nearest_student_code": "HS003", "snapshot_jpeg_b64": SNAP}
HEARTBEAT = {"fps": 14.8, "queue_depth": 3, "oldest_unsent_age_s": 12.5, "last_error": "", "version": "0.1.0",
             "backend": "dlib", "model_id": "dlib_resnet_v1"}
# (method, path, token kind, query, JSON body): the scenario, good requests and bad ones
SCENARIO = [
    ("post", "/checkins", "camera", None, {"events": [checkin(1, snapshot_jpeg_b64=SNAP), checkin(2, "HS002", snapshot_jpeg_b64=SNAP)]}),
    ("post", "/checkins", "camera", None, {"events": [checkin(1), checkin(3, "NOPE"), checkin(4, captured_at="07:00"),
                                                      checkin(5, snapshot_jpeg_b64="%%%"), "not an event",
                                                      {"seq": 1}]}),
    ("post", "/checkins", "camera", None, {"evts": []}),
    ("post", "/checkins", "integration", None, {"events": []}),
    ("post", "/checkins", None, None, {"events": []}),
    ("post", "/unknowns", "camera", None, {"events": [UNKNOWN, dict(UNKNOWN, event_id="u-2", seq="8")]}),
    ("post", "/heartbeat", "camera", None, HEARTBEAT),
    ("post", "/heartbeat", "camera", None, {"fps": [1]}),
    ("get", "/gallery", "camera", {"model": "dlib_resnet_v1"}, None),
    ("get", "/gallery", "camera", {"model": "arcface_r100"}, None),
    ("get", "/gallery", "camera", {}, None),
    ("get", "/gallery/key", "camera", None, None),
    ("get", "/roll", "integration", {"class": "6A1", "date": "2026-09-07"}, None),
    ("get", "/roll", "integration", {"class": "9Z"}, None),
    ("get", "/roll", "camera", {"class": "6A1"}, None),
    ("get", "/checkins", "integration", {"since": "2026-09-07T00:00:00+07:00", "limit": "1"}, None),
    ("get", "/checkins", "integration", {"since": "2026-09-07T00:00:00+07:00"}, None),
    ("get", "/checkins", "integration", {"since": "yesterday"}, None),
    ("get", "/openapi.json", None, None, None),
]


def fits(model: type[BaseModel] | None, body) -> None:
    """``body`` is valid for ``model`` (None: any JSON object); models forbid keys they do not name."""
    if model is None:
        assert isinstance(body, dict)
    else:
        model.model_validate(body)


def test_every_answer_fits_the_schema_of_its_operation(app, client, world):
    seen = set()
    for method, path, token, query, body in SCENARIO:
        headers = world[token] if token else {}
        response = client.open(PREFIX + path, method=method, query_string=query, json=body, headers=headers)
        answer = response.get_json()
        operation = DOCUMENT["paths"][path][method]
        assert str(response.status_code) in operation["responses"], (method, path, response.status_code, answer)
        if response.status_code == 200:
            fits(next(op.response for op in OPERATIONS if (op.method, op.path) == (method, path)), answer)
        else:
            fits(contract.ErrorBody, answer)
        seen.add((response.status_code, path, method))
    assert {(path, method) for status, path, method in seen if status == 200} == documented()
    assert {status for status, _, _ in seen} >= {200, 401, 403, 404, 422}


def test_the_declared_schemas_refuse_answers_they_do_not_describe():
    """The check above can fail: a renamed key, a wrong type or an undocumented status is caught."""
    with pytest.raises(ValidationError):
        contract.Roll.model_validate({"school_code": "A", "class_code": "6A1", "date": "2026-09-07", "students": [
            {"student_code": "HS1", "name": "An", "class_code": "6A1", "status": "absent", "first_seen_at": None,
             "minutes_late": None, "camera": None, "source": None, "received_on": None}]})
    with pytest.raises(ValidationError):
        contract.EventResults.model_validate({"results": [{"event_id": "e", "status": "stored"}]})
    with pytest.raises(ValidationError):
        contract.ErrorBody.model_validate({"error": {"code": "x"}})


# --- the requests of the scenario and of the camera agent fit the request schemas ----------------------------


def test_the_scenarios_good_requests_fit_their_request_models():
    contract.CheckinBatch.model_validate(SCENARIO[0][4])
    contract.UnknownBatch.model_validate({"events": [UNKNOWN]})
    contract.Heartbeat.model_validate(HEARTBEAT)


def test_the_agents_events_and_heartbeat_fit_the_contract(tmp_path):
    """What camera_agent puts in its outbox is what the server's models accept (no drift between the two)."""
    outbox = Outbox(tmp_path / "outbox.db")
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    at = dt.datetime(2026, 9, 7, 6, 55, tzinfo=zone)

    def decision(kind: str, verdict: Verdict, track_id: int) -> Decision:
        return Decision(kind=kind, verdict=verdict, track_id=track_id, first_index=track_id, captured_at=at,
                        t_s=1.0, first_t_s=0.5, first_seen_wall_s=0.0,
                        liveness={"motion": 0.41, "frames": 12, "verdict": "live"}, snapshot_jpeg=JPEG)

    named = record_decision(outbox, decision("checkin", Verdict("HS001", 4, 6, 0.312345, 12.0), 1),
                            source_identity="cam", model_id="dlib_resnet_v1", timezone="Asia/Ho_Chi_Minh")
    unknown = record_decision(outbox, decision("unknown", Verdict(None, 0, 5, 0.7, 0.01, "HS002"), 2),
                              source_identity="cam", model_id="dlib_resnet_v1", timezone="Asia/Ho_Chi_Minh")
    card = CardLedger().record(outbox, CardSighting("ATT1.THCS1.HS001.1.sig", "HS001", at), "2026-09-07")
    parsed = contract.CheckinEvent.model_validate(json.loads(json.dumps(named.payload)))
    assert parsed.snapshot_jpeg_b64 == JPEG and parsed.captured_at == at
    contract.UnknownEvent.model_validate(json.loads(json.dumps(unknown.payload)))
    assert contract.CheckinEvent.model_validate(json.loads(json.dumps(card.payload))).source == "qr"
    heartbeat = build_heartbeat(AgentStatus(), outbox, version="0.1.0", backend="dlib", model_id="dlib_resnet_v1")
    assert contract.Heartbeat.model_validate(json.loads(json.dumps(heartbeat))).queue_depth == 3
    outbox.close()
