"""Storing what the gate agents saw: named check-ins and unknown faces, idempotently, with their snapshots.

Every event an agent sends is kept (the roll's "first check-in wins" is a rule of ``roll.py``, not of
storage). An event is identified by ``(camera, event_id)``: sending it again, after a lost response or
from a retry queue, answers ``duplicate`` with the stored id and changes nothing. That holds under
concurrency too: rows are inserted with ``ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite), so two requests
racing on one event both get an answer, one ``created`` and one ``duplicate``.

A bad event is answered with a per-event error and never fails the batch: agents drop events answered
``error`` and retry only the ones with no answer. Error codes: ``invalid_event`` (a missing or malformed
field, a timestamp without a zone), ``unknown_student`` (no active student of this school has the code),
``no_consent`` (the student's current consent does not cover recognition: an agent matching from a stale
gallery), ``bad_card`` (a ``source: "qr"`` check-in whose card is not the student's current card signed by the
school: see ``attendance/cards.py``; a QR check-in needs no consent, since no face is involved),
``too_old`` (captured more than ``checkin_max_age_days`` before it arrived, or before the camera was
registered), ``future_day`` (captured on a school-local day after the server's today: a camera cannot
check a student in for tomorrow), ``bad_snapshot`` (not base64, not a JPEG, too large). A refused event's
snapshot is never written. A check-in of a day already past (an agent that was offline) is stored, changes
that day's roll and is audited as ``checkin.past_day``. The snapshot of a check-in whose student's consent
does not cover keeping snapshots (``attendance.consent``) is dropped before anything is written, and the
result says so (``"snapshot": "not_kept_no_consent"``). Text that no database can store (a NUL,
an unpaired surrogate, a control character), a non-finite number anywhere (``NaN`` in ``liveness``) or a
timestamp whose UTC value is out of range is ``invalid_event``; should the database still refuse a row,
that row alone is ``invalid_event`` and the others are stored.

A snapshot file is written only for an event that was stored, after its row is inserted; a snapshot that
cannot be written (a full disk) is dropped, the check-in kept, and its result carries
``"warning": {"code": "snapshot_not_saved", ...}``. A file left by a transaction that failed to commit
names no row, and ``erasure.purge_orphan_files`` removes it.

A check-in whose ``liveness.verdict`` is ``suspected_attack`` (camera_agent/spoof.py: the face looked like a
photo or a screen) follows the ``liveness_action`` setting: ``flag`` stores it with ``review_status`` "pending"
for a teacher to confirm or reject (``attendance/liveness_review.py``); ``refuse`` stores it as an unknown face with
``flag`` set and the named student kept as ``claimed_student_id``, and no check-in (its result then carries
``unknown_id``). Either way the answer is ``created``: the agent must not send it again.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from attendance.checkin_fields import (
    EventError, Snapshot, check_captured_at, is_storable, oldest_accepted_at, read_event, read_event_id, result_error,
)
from attendance.consent import current_scopes, where_recognition_consented
from attendance.cards import CardFormatError, parse_card, verify_card
from attendance.contract import CheckinEvent, UnknownEvent
from attendance.crypto import write_sealed_file
from attendance.db.changes import bump_for_students
from attendance.db.models import Camera, CheckIn, School, SchoolClass, Student, UnknownFace
from attendance.roll import school_local_date
from attendance.settings import Settings
from attendance.users import record_audit
from attendance.webhooks import enqueue_checkins

logger = logging.getLogger(__name__)

EventModel = type[CheckIn] | type[UnknownFace]  # the two tables an agent's events are stored in

SUSPECTED_ATTACK = "suspected_attack"  # the agent's liveness verdict that flags an event
LIVENESS_ACTIONS = ("flag", "refuse")
DEFAULT_MAX_AGE_DAYS: int = Settings.checkin_max_age_days


def _snapshot_path(instance_path: str | Path | None, school_id: int, school_date: dt.date,
                   snapshot: Snapshot | None) -> str | None:
    """Where the JPEG will lie, relative to the instance: ``snapshots/<school_id>/<yyyy-mm-dd>/<uuid>.jpg``."""
    if snapshot is None or instance_path is None:
        return None
    return (Path("snapshots") / str(school_id) / school_date.isoformat() / f"{uuid.uuid4().hex}.jpg").as_posix()


def _write_snapshot(instance_path: str | Path, relative: str, snapshot: Snapshot) -> bool:
    """Write one stored event's JPEG; False (and a log line) when the disk refuses it."""
    target = Path(instance_path) / relative
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_sealed_file(target, snapshot.jpeg, "snapshot")  # sealed at rest: crypto.py
    except OSError as err:
        logger.warning("snapshot %s not saved: %s", relative, err.strerror or err)
        try:
            target.unlink(missing_ok=True)  # a partly written file
        except OSError:
            pass
        return False
    return True


def _insert_rows(session, model: EventModel, rows: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, str]]:
    """Insert ``rows`` in one statement; should the database refuse it, row by row, so one bad row fails
    alone. ({event_id: id} inserted, {event_id: problem} refused by the database.)

    On PostgreSQL a failed statement aborts the transaction, so each attempt runs in a savepoint; SQLite
    undoes just the failed statement (and pysqlite's savepoints would commit early), so none is needed.
    """
    if not rows:
        return {}, {}
    postgres = session.get_bind().dialect.name == "postgresql"

    def attempt():
        return session.begin_nested() if postgres else nullcontext()

    try:
        with attempt():
            return _insert_many(session, model, rows), {}
    except StatementError as err:
        if not _refuses_a_value(err):
            raise
        if len(rows) == 1:
            return {}, {rows[0]["event_id"]: _database_problem(err)}
        logger.warning("a batch of %d %s rows was refused (%s); inserting one by one", len(rows),
                       model.__tablename__, type(err.orig or err).__name__)
    inserted: dict[str, int] = {}
    refused: dict[str, str] = {}
    for row in rows:
        try:
            with attempt():
                inserted.update(_insert_many(session, model, [row]))
        except StatementError as err:
            if not _refuses_a_value(err):
                raise
            refused[row["event_id"]] = _database_problem(err)
    return inserted, refused


def _refuses_a_value(err: StatementError) -> bool:
    """Whether the database refused a value of the rows (too long, out of range, not encodable), as opposed
    to failing itself (connection lost, lock timeout): then the request must fail and the agent retry, or
    events answered "error" would be dropped by the agent and lost."""
    return isinstance(err, (DataError, IntegrityError)) or not isinstance(err, DBAPIError)


def _database_problem(err: StatementError) -> str:
    return f"the database refused the event ({type(err.orig or err).__name__}): a value too long or not storable"


def _insert_many(session, model: EventModel, rows: list[dict[str, Any]]) -> dict[str, int]:
    """INSERT the rows in one statement, ON CONFLICT (camera_id, event_id) DO NOTHING; {event_id: id} of
    the rows actually inserted (a row another request stored first is simply not in the answer)."""
    if not rows:
        return {}
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (insert(model).on_conflict_do_nothing(index_elements=["camera_id", "event_id"])
                 .returning(model.event_id, model.id))
    return dict(session.connection().execute(statement, rows).all())


def _existing_ids(session, model: EventModel, camera: Camera, event_ids: list[str]) -> dict[str, int]:
    if not event_ids:
        return {}
    rows = session.execute(select(model.event_id, model.id).where(
        model.camera_id == camera.id, model.event_id.in_(set(event_ids))))
    return dict(rows.all())


ParseEvent = Callable[[dict, dt.datetime], tuple[dict[str, Any], "Snapshot | None"]]


def _record_batch(session, model: EventModel, id_key: str, camera: Camera, school: School, events: list[Any],
                  received_at: dt.datetime, instance_path: str | Path | None,
                  parse: ParseEvent) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Validate, deduplicate and insert a batch; (results in order, the inserted rows with their ``id``).

    ``parse(event, received_at)`` returns the row's own columns (with ``captured_at``) and the snapshot, or
    raises EventError. Two statements whatever the batch size: the look-up of known ids and one INSERT.
    """
    candidates = [e["event_id"] for e in events if isinstance(e, dict) and is_storable(e.get("event_id"))]
    known = _existing_ids(session, model, camera, candidates)
    pending: dict[str, dict[str, Any]] = {}
    snapshots: dict[str, Snapshot | None] = {}
    results: list[dict[str, Any]] = []
    for event in events:
        raw_id = event.get("event_id") if isinstance(event, dict) else None
        try:
            event_id = read_event_id(event)
            if event_id in known or event_id in pending:
                results.append({"event_id": event_id, "status": "duplicate"})
                continue
            row, snapshot = parse(event, received_at)
            row["school_date"] = school_local_date(school, row["captured_at"])
            if row["school_date"] > school_local_date(school, received_at):
                raise EventError("future_day", f"captured_at is on {row['school_date'].isoformat()}, a school day "
                                               "that has not begun (check the agent's clock)")
        except EventError as err:
            results.append(result_error(raw_id, err))
            continue
        row.update(school_id=school.id, camera_id=camera.id, event_id=event_id, received_at=received_at,
                   snapshot_path=_snapshot_path(instance_path, school.id, row["school_date"], snapshot))
        pending[event_id] = row
        snapshots[event_id] = snapshot
        results.append({"event_id": event_id, "status": "created"})
    inserted, refused = _insert_rows(session, model, list(pending.values()))
    if inserted and model is CheckIn:  # a Core INSERT: the ORM flush hook does not see it
        bump_for_students(session, school.id, [pending[event_id]["student_id"] for event_id in inserted])
    raced = [event_id for event_id in pending if event_id not in inserted and event_id not in refused]
    if raced:  # another request stored these between our look-up and our insert: duplicates after all
        known.update(_existing_ids(session, model, camera, raced))
    unsaved = _write_snapshots(session, model, instance_path, pending, snapshots, inserted)
    for index, result in enumerate(results):
        if result["status"] == "error":
            continue
        event_id = result["event_id"]
        if result["status"] == "created" and event_id in refused:
            results[index] = result_error(event_id, EventError("invalid_event", refused[event_id]))
            continue
        if result["status"] == "created" and event_id not in inserted:
            result["status"] = "duplicate"
        result[id_key] = inserted.get(event_id) or known[event_id]
        if result["status"] == "created" and event_id in unsaved:
            result["warning"] = {"code": "snapshot_not_saved",
                                 "message": "the event is stored without its snapshot (the server could not write it)"}
    return results, [dict(pending[event_id], id=row_id) for event_id, row_id in inserted.items()]


def _check_card(event: CheckinEvent, school: School, student_code: str, card_version: int) -> None:
    """A ``source: "qr"`` event must carry the student's current card, signed with the school's secret."""
    try:
        card = parse_card(event.card or "")
    except CardFormatError as err:
        raise EventError("bad_card", "the card's text is not an attendance card") from err
    if not verify_card(school.card_secret, card, school.code, student_code, card_version or 1):
        raise EventError("bad_card", f"the card of {student_code!r} does not verify (forged, of another school, "
                                     "or revoked by a newer card)")


def is_suspected_attack(event: Any) -> bool:
    """True when the agent's liveness verdict for this event's track is a suspected presentation attack."""
    liveness = event.get("liveness") if isinstance(event, dict) else None
    return isinstance(liveness, dict) and liveness.get("verdict") == SUSPECTED_ATTACK


def _write_snapshots(session, model: EventModel, instance_path: str | Path | None, pending: dict[str, dict[str, Any]],
                     snapshots: dict[str, Snapshot | None], inserted: dict[str, int]) -> set[str]:
    """Write the snapshots of the rows inserted; the event ids whose snapshot could not be written (their
    row's ``snapshot_path`` is cleared: the check-in stays, its face crop is dropped)."""
    unsaved = set()
    for event_id in inserted:
        relative, snapshot = pending[event_id]["snapshot_path"], snapshots[event_id]
        if (relative and snapshot is not None and instance_path is not None
                and not _write_snapshot(instance_path, relative, snapshot)):
            unsaved.add(event_id)
            pending[event_id]["snapshot_path"] = None
    if unsaved:
        session.execute(update(model).where(model.id.in_([inserted[e] for e in unsaved])).values(snapshot_path=None))
    return unsaved


def record_checkins(session, camera: Camera, events: list[Any], received_at: dt.datetime, *,
                    instance_path: str | Path | None = None,
                    max_age_days: int = DEFAULT_MAX_AGE_DAYS, liveness_action: str = "flag") -> list[dict[str, Any]]:
    """Store a batch of named check-ins from ``camera``; one result per event, in order.

    Each result is ``{"event_id", "status": "created"|"duplicate"|"error", "checkin_id"?, "error"?}``.
    Snapshots are written under ``instance_path`` (None: snapshots are not kept). Events older than
    ``max_age_days`` (the ``checkin_max_age_days`` setting) are refused as ``too_old``; events naming a
    student without consent on record as ``no_consent``. New check-ins also enqueue the school's
    ``checkin`` webhooks (one per student and day). Suspected attacks follow ``liveness_action`` (see the
    module's docstring). The caller commits.
    """
    if liveness_action not in LIVENESS_ACTIONS:
        raise ValueError(f"liveness_action must be one of {LIVENESS_ACTIONS}, got {liveness_action!r}")
    school = session.get(School, camera.school_id)
    not_before = oldest_accepted_at(camera, received_at, max_age_days)
    codes = {e.get("student_code") for e in events if isinstance(e, dict) and is_storable(e.get("student_code"))}
    students = {code: (student_id, consent, card_version) for code, student_id, consent, card_version in session.execute(
        select(Student.student_code, Student.id, where_recognition_consented(), Student.card_version).where(
            Student.school_id == school.id, Student.active.is_(True), Student.student_code.in_(codes)))}
    scopes = current_scopes(session, [student_id for student_id, *_ in students.values()])
    snapshots_dropped: set[str] = set()

    def parse_named(raw: dict, received_at: dt.datetime) -> tuple[dict[str, Any], Snapshot | None]:
        event = read_event(CheckinEvent, raw)
        row = {
            "seq": event.seq,
            "student_id": None,
            "captured_at": check_captured_at(event.captured_at, received_at, not_before),
            "distance": event.distance, "margin": event.margin, "votes": event.votes,
            "model_id": event.model_id or "",
            "liveness": event.liveness,
            "review_status": "pending" if is_suspected_attack(raw) else None,
            "source": "camera",
        }
        code = event.student_code
        snapshot = Snapshot(event.snapshot_jpeg_b64) if event.snapshot_jpeg_b64 is not None else None
        if code not in students:
            raise EventError("unknown_student", f"no active student of this school has the code {code!r}")
        row["student_id"], consent, card_version = students[code]
        if event.source == "qr":  # no face involved: the card, verified here, is the evidence
            _check_card(event, school, code, card_version)
            row.update(source="qr", distance=None, margin=None, votes=None, liveness=None, review_status=None)
            return row, None
        if not consent:  # consent withdrawn after the agent's gallery was fetched: keep neither row nor face
            raise EventError("no_consent", f"student {code!r} has no guardian consent on record "
                                           "(the agent's gallery is out of date)")
        return row, snapshot

    def parse(event: dict, received_at: dt.datetime) -> tuple[dict[str, Any], Snapshot | None]:
        row, snapshot = parse_named(event, received_at)
        if snapshot is not None and not scopes[row["student_id"]].snapshots:
            snapshots_dropped.add(event["event_id"])
            snapshot = None  # never written: the guardian did not agree to snapshots being kept
        return row, snapshot

    def parse_refused(event: dict, received_at: dt.datetime) -> tuple[dict[str, Any], Snapshot | None]:
        # a suspected presentation attack keeps its evidence for the review, whatever the snapshot scope
        row, snapshot = parse_named(event, received_at)
        return {"captured_at": row["captured_at"], "best_distance": row["distance"], "status": "open",
                "flag": SUSPECTED_ATTACK, "claimed_student_id": row["student_id"]}, snapshot

    refused = [liveness_action == "refuse" and is_suspected_attack(e) for e in events]
    results, created = _record_batch(session, CheckIn, "checkin_id", camera, school,
                                     [e for e, r in zip(events, refused) if not r], received_at, instance_path, parse)
    if any(refused):
        unknown_results, _ = _record_batch(session, UnknownFace, "unknown_id", camera, school,
                                           [e for e, r in zip(events, refused) if r], received_at, instance_path,
                                           parse_refused)
        kept, stored_unknown = iter(results), iter(unknown_results)
        results = [next(stored_unknown) if r else next(kept) for r in refused]
    for result, was_refused in zip(results, refused):
        if not was_refused and result["status"] == "created" and result["event_id"] in snapshots_dropped:
            result["snapshot"] = "not_kept_no_consent"
    enqueue_checkins(session, school, camera, created)
    codes_by_id = {student_id: code for code, (student_id, _, _) in students.items()}
    _audit_past_days(session, school, camera, created, codes_by_id, received_at)
    return results


def _audit_past_days(session, school: School, camera: Camera, created: list[dict[str, Any]],
                     codes_by_id: dict[int, str], received_at: dt.datetime) -> None:
    """An audit entry for each new check-in of a day already past (an agent back online): it changes a roll
    teachers may have read, so it is recorded, and the roll shows when it arrived."""
    today = school_local_date(school, received_at)
    for row in created:
        if row["school_date"] >= today:
            continue
        record_audit(session, f"camera:{camera.name}", "checkin.past_day", school_id=school.id,
                     target=f"student:{codes_by_id.get(row['student_id'], row['student_id'])}",
                     detail={"school_date": row["school_date"].isoformat(),
                             "captured_at": row["captured_at"].isoformat(),
                             "received_at": received_at.isoformat(), "event_id": row["event_id"],
                             "checkin_id": row["id"]})


def record_unknowns(session, camera: Camera, events: list[Any], received_at: dt.datetime, *,
                    instance_path: str | Path | None = None,
                    max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> list[dict[str, Any]]:
    """Store a batch of unknown-face tracks from ``camera`` (same idempotency, age limit and result shape as
    check-ins; the id is ``unknown_id``). Fields: event_id, seq, captured_at, best_distance?,
    nearest_student_code? (the nearest student, not named; an unknown code is ignored), snapshot_jpeg_b64?,
    liveness?
    """
    school = session.get(School, camera.school_id)
    not_before = oldest_accepted_at(camera, received_at, max_age_days)
    codes = {c for c in (e.get("nearest_student_code") for e in events if isinstance(e, dict)) if isinstance(c, str)}
    nearest_ids = dict(session.execute(select(Student.student_code, Student.id).where(
        Student.school_id == school.id, Student.student_code.in_(codes))).all()) if codes else {}

    def parse(raw: dict, received_at: dt.datetime) -> tuple[dict[str, Any], Snapshot | None]:
        event = read_event(UnknownEvent, raw)
        row = {"captured_at": check_captured_at(event.captured_at, received_at, not_before),
               "best_distance": event.best_distance, "status": "open",
               "nearest_student_id": nearest_ids.get(event.nearest_student_code or "")}
        return row, Snapshot(event.snapshot_jpeg_b64) if event.snapshot_jpeg_b64 is not None else None

    results, _ = _record_batch(session, UnknownFace, "unknown_id", camera, school, events, received_at,
                               instance_path, parse)
    return results


def list_checkins(session, since: dt.datetime, *, school_id: int | None, after_id: int = 0,
                  limit: int = 500) -> list[dict[str, Any]]:
    """Check-ins received at or after ``since`` (aware UTC), oldest first, for integrations that poll.

    ``school_id`` None means every school (a district token). Page with ``after_id`` (the last id seen).
    """
    query = (select(CheckIn, Student.student_code, Student.full_name, SchoolClass.code, Camera.name, School.code)
             .join(Student, Student.id == CheckIn.student_id)
             .outerjoin(SchoolClass, SchoolClass.id == Student.class_id)
             .join(Camera, Camera.id == CheckIn.camera_id)
             .join(School, School.id == CheckIn.school_id)
             .where(CheckIn.received_at >= since, CheckIn.id > after_id)
             .order_by(CheckIn.id).limit(limit))
    if school_id is not None:
        query = query.where(CheckIn.school_id == school_id)
    return [{
        "id": checkin.id, "school_code": school_code, "student_code": student_code, "full_name": full_name,
        "class_code": class_code, "camera": camera_name, "captured_at": checkin.captured_at.isoformat(),
        "received_at": checkin.received_at.isoformat(), "school_date": checkin.school_date.isoformat(),
        "distance": checkin.distance,
    } for checkin, student_code, full_name, class_code, camera_name, school_code in session.execute(query)]
