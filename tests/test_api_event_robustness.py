"""A bad event never fails its batch: hostile values in one event are that event's error, the rest are stored.

Also the snapshots' life: a file is written only for a stored event, a snapshot that cannot be written is
dropped (the check-in kept, the result says so), and the purge removes files no row names.
"""

import base64
import datetime as dt
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from attendance.db.models import CheckIn, UnknownFace
from test_api_checkins import JPEG, NOW, count, event, gate, post, snapshot_files  # noqa: F401  (gate: fixture)

SNAP = base64.b64encode(JPEG).decode()

HOSTILE = [
    ({"captured_at": "0001-01-01T00:00:00+14:00"}, "invalid_event"),
    ({"captured_at": "9999-12-31T23:59:59-14:00"}, "invalid_event"),
    ({"captured_at": "0001-01-01T00:00:00Z"}, "invalid_event"),
    ({"captured_at": "1900-01-01T00:00:00Z"}, "too_old"),
    ({"event_id": "gate-\x00-2"}, "invalid_event"),
    ({"event_id": "gate-\ud800-2"}, "invalid_event"),
    ({"student_code": "HS\x00001"}, "invalid_event"),
    ({"student_code": "HS\udfff"}, "invalid_event"),
    ({"model_id": "dlib\x00"}, "invalid_event"),
    ({"model_id": "dlib\ud83d"}, "invalid_event"),
    ({"model_id": "m" * 65}, "invalid_event"),
    ({"student_code": "H" * 33}, "invalid_event"),
    ({"liveness": {"motion": float("nan")}}, "invalid_event"),
    ({"liveness": {"motion": float("inf")}}, "invalid_event"),
    ({"liveness": {"motion": float("-inf")}}, "invalid_event"),
    ({"liveness": {"note": "a\x00b"}}, "invalid_event"),
    ({"liveness": {"k\x00": 1}}, "invalid_event"),
    ({"liveness": {"note": "\ud800"}}, "invalid_event"),
    ({"liveness": {"k" * 201: 1}}, "invalid_event"),
    ({"distance": float("nan")}, "invalid_event"),
    ({"seq": 2**63}, "invalid_event"),
    ({"votes": -1}, "invalid_event"),
]


def raw_post(client, gate, events, path="/api/v1/checkins"):
    """Post JSON as an agent's encoder might write it: NaN and Infinity as bare tokens, surrogates escaped."""
    body = json.dumps({"events": events}, allow_nan=True)
    return client.post(path, data=body, content_type="application/json", headers=gate["headers"])


@pytest.mark.parametrize("bad, code", HOSTILE, ids=[repr(b)[:40] for b, _ in HOSTILE])
def test_a_hostile_value_is_that_events_own_error(app, client, db, gate, bad, code):
    batch = [event(1, snapshot_jpeg_b64=SNAP), dict(event(2, snapshot_jpeg_b64=SNAP), **bad), event(3, "HS002")]
    response = raw_post(client, gate, batch)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["created", "error", "created"]
    assert results[1]["error"]["code"] == code
    assert count(db, CheckIn) == 2
    assert len(snapshot_files(app)) == 1  # the refused event's snapshot was never written


@pytest.mark.parametrize("bad", [b for b, code in HOSTILE if not {"student_code", "model_id", "distance", "votes"} & set(b)]
                         + [{"best_distance": float("nan")}],
                         ids=lambda b: repr(b)[:40])
def test_a_hostile_unknown_face_is_its_own_error(client, db, gate, bad):
    good = {"event_id": "u-1", "seq": 1, "captured_at": "2026-09-07T06:58:00+07:00"}
    batch = [good, {**good, "event_id": "u-2", **bad}, dict(good, event_id="u-3")]
    response = raw_post(client, gate, batch, "/api/v1/unknowns")
    assert response.status_code == 200
    assert [r["status"] for r in response.get_json()["results"]] == ["created", "error", "created"]
    assert count(db, UnknownFace) == 2


def test_an_unforeseen_database_refusal_fails_only_its_event(client, db, gate, monkeypatch):
    """Should a value pass validation and still be refused by the database, the batch's others are stored."""
    import attendance.checkins as checkins

    checked_by_contract = checkins.read_event

    def lenient(model, event):  # the contract's check of model_id skipped: the database is the last line
        checked = checked_by_contract(model, {key: value for key, value in event.items() if key != "model_id"})
        return checked.model_copy(update={"model_id": event.get("model_id")})

    monkeypatch.setattr(checkins, "read_event", lenient)
    response = post(client, gate, [event(1), event(2, model_id="x" * 65), event(3, "HS002")])
    assert response.status_code == 200
    statuses = [r["status"] for r in response.get_json()["results"]]
    if db.engine.dialect.name == "postgresql":  # SQLite does not enforce VARCHAR lengths
        assert statuses == ["created", "error", "created"]
    else:
        assert statuses == ["created", "created", "created"]


def test_a_snapshot_that_cannot_be_written_drops_the_snapshot_not_the_checkin(app, client, db, gate, monkeypatch):
    real_write = Path.write_bytes

    def disk_full(self, data):
        if "snapshots" in self.parts:
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    response = post(client, gate, [event(1, snapshot_jpeg_b64=SNAP), event(2, "HS002")])
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["created", "created"]
    assert results[0]["warning"]["code"] == "snapshot_not_saved"
    assert "warning" not in results[1]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(CheckIn).where(CheckIn.snapshot_path.is_not(None))) == 0
    assert count(db, CheckIn) == 2


def test_no_snapshot_file_for_a_batch_that_failed_to_store(app, client, db, gate, monkeypatch):
    import attendance.checkins as checkins

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(checkins, "_insert_many", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = post(client, gate, [event(i, snapshot_jpeg_b64=SNAP) for i in range(5)])
    assert response.status_code == 500
    assert snapshot_files(app) == []


def test_purge_removes_orphan_snapshot_and_photo_files(app, client, db, gate, settings):
    from attendance.erasure import purge_orphan_files

    results = post(client, gate, [event(1, snapshot_jpeg_b64=SNAP)]).get_json()["results"]
    instance = Path(app.instance_path)
    orphans = [instance / "snapshots" / "1" / "2026-09-07" / "orphan.jpg", instance / "photos" / "1" / "99" / "x.jpg"]
    for path in orphans:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(JPEG)
        old = (NOW - dt.timedelta(days=2)).timestamp()
        os.utime(path, (old, old))
    fresh = instance / "snapshots" / "1" / "2026-09-07" / "in-flight.jpg"
    fresh.write_bytes(JPEG)
    os.utime(fresh, (NOW.timestamp(), NOW.timestamp()))
    with db.session() as s:
        kept = s.get(CheckIn, results[0]["checkin_id"]).snapshot_path
        os.utime(instance / kept, (NOW.timestamp() - 10 * 86400,) * 2)
        assert purge_orphan_files(s, instance, NOW) == 2
    assert not any(p.exists() for p in orphans)
    assert fresh.exists() and (instance / kept).exists()


def test_a_database_failure_fails_the_request_so_the_agent_retries(app, client, db, gate, monkeypatch):
    """A lost connection is not the events' fault: answering "error" would make the agent drop them."""
    from sqlalchemy.exc import OperationalError

    import attendance.checkins as checkins

    def down(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(checkins, "_insert_many", down)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = post(client, gate, [event(1), event(2, "HS002")])
    assert response.status_code == 500
    assert count(db, CheckIn) == 0
