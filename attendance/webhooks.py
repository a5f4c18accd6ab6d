"""Webhooks: tell a school's other systems (a parents' app, the school's SIS) when a student arrives or is absent.

Events are queued as WebhookDelivery rows in the same transaction as the check-in, so none is lost, and
``event_key`` makes each one happen once: ``checkin:<student>:<date>`` for a student's arrival (later
sightings that day send nothing) and ``absence:<student>:<date>`` after the absence cutoff. Absences wait
``absence_notice_delay_min`` past the cutoff, and longer while a camera of the school still reports unsent
check-ins: agents hold check-ins in their outbox during an outage, and a child at school must not be
reported absent because the gate's check-in is still on its way. A worker
(``attendance.jobs.deliver_due_webhooks``, run every few seconds by each dashboard process) claims due
deliveries (``claim_due_deliveries``: each by one process, with no transaction open while it sends) and
POSTs each body as JSON signed with the webhook's secret over the time of sending and the body, as Stripe
does:

    X-Attendance-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + the raw body>
    X-Attendance-Event: checkin | absence
    X-Attendance-Delivery: <delivery id, the same on every retry>

A receiver recomputes the HMAC over ``t`` + "." + the body it got, compares in constant time, and refuses a
``t`` more than a few minutes from its own clock (``verify_signature``'s ``tolerance_s``, 5 minutes): a
captured delivery replayed later fails. ``X-Attendance-Delivery`` lets it drop a retry it already has.

A 2xx answer marks it delivered; anything else is retried with exponential backoff (30 s, 1 min, 2 min...
capped at 6 h) and given up after ``MAX_ATTEMPTS``. Bodies carry names and codes, never photos or vectors.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from attendance.backoff import backoff_delay_s
from attendance.db.models import (
    Camera, School, SchoolClass, Student, Webhook, WebhookDelivery,
)
from attendance.db.locks import skip_locked
from attendance.errors import InvalidInput, NotFound
from attendance.roll import DayRules, compute_school_statuses, load_day_rules, school_zone
from attendance.users import record_audit

logger = logging.getLogger(__name__)

EVENT_TYPES = ("checkin", "absence")
MAX_ATTEMPTS = 10
GAVE_UP = "gave up after"  # how the last error of a delivery given up begins
FIRST_RETRY_S = 30.0
MAX_RETRY_S = 6 * 3600.0
BATCH_SIZE = 50
LEASE_MARGIN_S = 60.0
SIGNATURE_HEADER = "X-Attendance-Signature"
SIGNATURE_TOLERANCE_S = 300.0


def sign_body(secret: str, body: bytes, timestamp_s: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp_s`` (unix seconds): ``t=<ts>,v1=<hex>``."""
    signed = f"{timestamp_s}.".encode("ascii") + body
    return f"t={timestamp_s},v1=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str, now_s: float,
                     tolerance_s: float = SIGNATURE_TOLERANCE_S) -> bool:
    """What a receiver does: True when ``header`` signs ``body`` with ``secret`` and its time is within
    ``tolerance_s`` (typically 300) of ``now_s``, the receiver's clock in unix seconds."""
    fields = dict(part.split("=", 1) for part in (header or "").split(",") if "=" in part)
    timestamp = fields.get("t", "")
    if not (timestamp.isascii() and timestamp.isdigit()) or abs(now_s - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign_body(secret, body, int(timestamp)), f"t={timestamp},v1={fields.get('v1', '')}")


def create_webhook(session, school: School, url: str, events: str = "checkin,absence") -> tuple[Webhook, str]:
    """Register ``url`` (http or https) for ``events`` of ``school``; returns it and its signing secret."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 500:
        raise InvalidInput(f"a webhook URL must be http(s)://host/..., got {url!r}")
    wanted = [e.strip() for e in events.split(",") if e.strip()]
    if not wanted or any(e not in EVENT_TYPES for e in wanted):
        raise InvalidInput(f"webhook events are a comma-separated subset of {', '.join(EVENT_TYPES)}")
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = Webhook(school_id=school.id, url=url, secret=secret, events=",".join(wanted), active=True)
    session.add(hook)
    record_audit(session, "cli", "webhook.create", school_id=school.id, target=f"webhook:{parts.netloc}")
    session.flush()
    return hook, secret


def list_webhooks(session, school: School | None = None) -> list[Webhook]:
    """Webhooks (of ``school``; None: every school's), oldest first. Their secrets are never shown again."""
    query = select(Webhook).order_by(Webhook.created_at, Webhook.id)
    if school is not None:
        query = query.where(Webhook.school_id == school.id)
    return list(session.scalars(query))


def remove_webhook(session, hook_id: int, school: School | None = None, actor: str = "cli") -> Webhook:
    """Delete webhook ``hook_id`` (of ``school``, when given) with its queued and sent deliveries; audited.
    NotFound when there is no such webhook."""
    hook = session.get(Webhook, hook_id)
    if hook is None or (school is not None and hook.school_id != school.id):
        raise NotFound(f"no webhook with id {hook_id}")
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))
    record_audit(session, actor, "webhook.remove", school_id=hook.school_id,
                 target=f"webhook:{urlsplit(hook.url).netloc}")
    session.delete(hook)
    session.flush()
    return hook


def active_webhooks(session, school_id: int, event_type: str) -> list[Webhook]:
    """The school's active webhooks subscribed to ``event_type``."""
    hooks = session.scalars(select(Webhook).where(Webhook.school_id == school_id, Webhook.active.is_(True)))
    return [h for h in hooks if event_type in h.events.split(",")]


def _enqueue(session, hooks: list[Webhook], event_type: str, events: list[tuple[str, dict[str, Any]]],
             now_at: dt.datetime) -> int:
    """Queue ``(event_key, payload)`` events for each hook in one INSERT, skipping keys a hook already has;
    the number queued."""
    if not hooks or not events:
        return 0
    rows = [{"webhook_id": hook.id, "event_type": event_type, "event_key": key, "payload": payload, "attempts": 0,
             "next_attempt_at": now_at, "last_error": ""} for hook in hooks for key, payload in events]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (insert(WebhookDelivery).on_conflict_do_nothing(index_elements=["webhook_id", "event_key"])
                 .returning(WebhookDelivery.id))
    return len(session.connection().execute(statement, rows).all())


def _students_info(session, school: School, student_ids: set[int]) -> dict[int, dict[str, Any]]:
    rows = session.execute(
        select(Student.id, Student.student_code, Student.full_name, SchoolClass.code)
        .outerjoin(SchoolClass, SchoolClass.id == Student.class_id).where(Student.id.in_(student_ids)))
    return {sid: {"school_code": school.code, "student_code": code, "full_name": name, "class_code": class_code}
            for sid, code, name, class_code in rows}


def enqueue_checkins(session, school: School, camera: Camera, checkins: list[dict[str, Any]],
                     hooks: list[Webhook] | None = None) -> int:
    """Queue the ``checkin`` event of new check-ins (rows with ``id, student_id, school_date, captured_at``):
    one per student and school day, the earliest of the batch; the number queued."""
    hooks = active_webhooks(session, school.id, "checkin") if hooks is None else hooks
    if not hooks or not checkins:
        return 0
    earliest: dict[tuple[int, dt.date], dict[str, Any]] = {}
    for row in checkins:
        key = (row["student_id"], row["school_date"])
        if key not in earliest or row["captured_at"] < earliest[key]["captured_at"]:
            earliest[key] = row
    rules = {day: load_day_rules(session, school, day) for day in {day for _, day in earliest}}
    info = _students_info(session, school, {student_id for student_id, _ in earliest})
    events = []
    for (student_id, day), row in earliest.items():
        if not rules[day].is_school_day:
            continue
        status, minutes_late = rules[day].judge(row["captured_at"], None, row["captured_at"])
        events.append((f"checkin:{student_id}:{day.isoformat()}", dict(
            info[student_id], school_date=day.isoformat(), captured_at=row["captured_at"].isoformat(),
            camera=camera.name, status=status, minutes_late=minutes_late, checkin_id=row["id"],
            liveness_review=row.get("review_status"))))
    return _enqueue(session, hooks, "checkin", events, min(row["received_at"] for row in checkins))


def cameras_still_sending(session, school: School, school_date: dt.date, since_at: dt.datetime) -> list[str]:
    """Names of the school's cameras whose check-ins may still be on their way: not revoked, seen on
    ``school_date``, and whose last heartbeat, received at or after ``since_at``, reported a ``queue_depth``
    above 0. A heartbeat older than ``since_at`` holds nothing (a camera gone quiet must not hold absences)."""
    zone = school_zone(school)
    day_starts_at = dt.datetime.combine(school_date, dt.time(0), zone).astimezone(dt.timezone.utc)
    cameras = session.scalars(select(Camera).where(
        Camera.school_id == school.id, Camera.revoked_at.is_(None), Camera.last_seen_at >= day_starts_at))
    return sorted(camera.name for camera in cameras if _reports_backlog(camera.last_heartbeat, since_at))


def _reports_backlog(heartbeat: dict | None, since_at: dt.datetime) -> bool:
    if not isinstance(heartbeat, dict):
        return False
    depth = heartbeat.get("queue_depth")
    if isinstance(depth, bool) or not isinstance(depth, (int, float)) or depth <= 0:
        return False
    try:
        received_at = dt.datetime.fromisoformat(str(heartbeat.get("received_at")))
    except ValueError:
        return False
    return received_at.tzinfo is not None and received_at >= since_at


def absences_due(session, school: School, rules: DayRules, now_at: dt.datetime, delay_min: int = 0) -> bool:
    """True when ``absence`` events of ``rules``' day may be queued at ``now_at``: a school day, at least
    ``delay_min`` minutes (the ``absence_notice_delay_min`` setting, typically 30) after the absence cutoff,
    and no camera reporting unsent check-ins in the last ``delay_min`` minutes (``cameras_still_sending``)."""
    delay = dt.timedelta(minutes=max(delay_min, 0))
    if not rules.is_school_day or now_at < rules.absent_from + delay:
        return False
    if delay:
        held_by = cameras_still_sending(session, school, rules.school_date, now_at - delay)
        if held_by:
            logger.debug("absences of school %s held: cameras %s still sending", school.code, held_by)
            return False
    return True


def enqueue_absences(session, school: School, school_date: dt.date, now_at: dt.datetime,
                     delay_min: int = 0) -> int:
    """Queue an ``absence`` event for every student absent on ``school_date`` once ``absences_due`` at
    ``now_at`` (``delay_min`` minutes past the cutoff, no camera still sending); safe to call again
    (already-queued students are skipped). The number queued.
    """
    rules = load_day_rules(session, school, school_date)
    if not absences_due(session, school, rules, now_at, delay_min):
        return 0
    hooks = active_webhooks(session, school.id, "absence")
    if not hooks:
        return 0
    _, statuses = compute_school_statuses(session, school, school_date, now_at, rules=rules)
    absent = [student_id for student_id, _, status in statuses if status == "absent"]
    info = _students_info(session, school, set(absent)) if absent else {}
    events = [(f"absence:{student_id}:{school_date.isoformat()}",
               dict(info[student_id], school_date=school_date.isoformat(), status="absent",
                    absence_cutoff=rules.absent_from.isoformat())) for student_id in sorted(absent)]
    return _enqueue(session, hooks, "absence", events, now_at)


def retry_delay_s(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure: 30, 60, 120... capped at 6 hours."""
    return backoff_delay_s(attempts, FIRST_RETRY_S, MAX_RETRY_S)


def _default_post(url: str, *, data: bytes, headers: dict[str, str], timeout: float) -> Any:
    import requests

    return requests.post(url, data=data, headers=headers, timeout=timeout, allow_redirects=False)


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this process has claimed (``claim_due_deliveries``): what it needs to send it, with no
    database object (it is sent after the claim's transaction ended)."""

    id: int
    attempts: int  # counting this one: the claim's token (a later claim of the row has a higher count)
    webhook_id: int
    url: str
    secret: str
    event_type: str
    payload: dict[str, Any]


def claim_lease_s(count: int, timeout_s: float) -> float:
    """How long ``count`` claimed deliveries stay hidden from other processes: long enough to send them one
    after another (``requests`` may spend ``timeout_s`` connecting and again reading), plus a minute."""
    return LEASE_MARGIN_S + count * 2 * timeout_s


def claim_due_deliveries(session, now_at: dt.datetime, *, timeout_s: float = 5.0,
                         limit: int = BATCH_SIZE) -> list[ClaimedDelivery]:
    """Claim up to ``limit`` deliveries due at ``now_at`` for this process; the caller commits at once.

    The rows are selected ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one writer) and leased: their
    attempt count goes up and ``next_attempt_at`` moves ``claim_lease_s`` ahead, so once committed no other
    process sees them due while this one sends them, and no transaction stays open during the HTTP calls.
    A process that dies mid-way leaves the rows to be claimed again when the lease ends (at least once:
    receivers drop a delivery id they already have, as for any retry). A last attempt whose process died
    is never claimed again: once its lease has ended it is marked given up (``mark_abandoned_last_attempts``).
    """
    mark_abandoned_last_attempts(session, now_at)
    rows = session.execute(skip_locked(
        session,
        select(WebhookDelivery, Webhook).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.delivered_at.is_(None), WebhookDelivery.next_attempt_at <= now_at,
               WebhookDelivery.attempts < MAX_ATTEMPTS, Webhook.active.is_(True))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit),
        WebhookDelivery)).all()
    lease_ends_at = now_at + dt.timedelta(seconds=claim_lease_s(len(rows), timeout_s))
    claims = []
    for delivery, hook in rows:
        delivery.attempts += 1
        delivery.next_attempt_at = lease_ends_at
        claims.append(ClaimedDelivery(id=delivery.id, attempts=delivery.attempts, webhook_id=hook.id, url=hook.url,
                                      secret=hook.secret, event_type=delivery.event_type,
                                      payload=dict(delivery.payload)))
    session.flush()
    return claims


def mark_abandoned_last_attempts(session, now_at: dt.datetime) -> int:
    """Mark given up the deliveries whose last allowed attempt was claimed by a process that stopped before
    storing its outcome (the lease ended, nothing was recorded); returns how many. The caller commits."""
    result = session.execute(update(WebhookDelivery).where(
        WebhookDelivery.delivered_at.is_(None), WebhookDelivery.attempts >= MAX_ATTEMPTS,
        WebhookDelivery.next_attempt_at <= now_at, WebhookDelivery.last_error.not_like(f"{GAVE_UP}%"),
    ).values(last_error=f"{GAVE_UP} {MAX_ATTEMPTS} attempts: the last one's outcome is unknown (its process stopped)")
        .execution_options(synchronize_session=False))
    if result.rowcount:
        logger.warning("%s webhook deliveries given up: their last attempt's process stopped", result.rowcount)
    return result.rowcount


def send_delivery(claim: ClaimedDelivery, now_at: dt.datetime, post: Callable[..., Any] | None = None,
                  timeout_s: float = 5.0) -> str:
    """POST one claimed delivery, signed at ``now_at``; "" when the receiver answered 2xx, else the error
    (``"HTTP 500"``, ``"ConnectionError"``). Touches no database."""
    post = post or _default_post
    body = json.dumps({"event": claim.event_type, "delivery_id": claim.id, "data": claim.payload},
                      ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "school-attendance-webhooks",
               SIGNATURE_HEADER: sign_body(claim.secret, body, int(now_at.timestamp())),
               "X-Attendance-Event": claim.event_type,
               "X-Attendance-Delivery": str(claim.id)}
    try:
        response = post(claim.url, data=body, headers=headers, timeout=timeout_s)
    except Exception as err:  # any transport failure is one failed attempt, retried later
        return type(err).__name__
    return "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"


def record_delivery_outcomes(session, sent: list[tuple[ClaimedDelivery, str]],
                             now_at: dt.datetime) -> dict[str, int]:
    """Store what ``send_delivery`` answered for each claim (delivered, or the error and the next try with
    backoff); returns ``{"delivered", "failed"}``. A row claimed again since (its lease ran out) is left to
    that claim. The caller commits."""
    outcome = {"delivered": 0, "failed": 0}
    for claim, error in sent:
        values: dict[str, Any] = {"delivered_at": now_at, "last_error": ""}
        if error:
            outcome["failed"] += 1
            if claim.attempts >= MAX_ATTEMPTS:
                values = {"last_error": f"{GAVE_UP} {claim.attempts} attempts: {error}"}
                logger.warning("webhook %s delivery %s given up: %s", claim.webhook_id, claim.id, error)
            else:
                values = {"last_error": error,
                          "next_attempt_at": now_at + dt.timedelta(seconds=retry_delay_s(claim.attempts))}
                logger.info("webhook %s delivery %s failed (%s), attempt %s", claim.webhook_id, claim.id, error,
                            claim.attempts)
        else:
            outcome["delivered"] += 1
        stored = session.execute(update(WebhookDelivery).where(
            WebhookDelivery.id == claim.id, WebhookDelivery.attempts == claim.attempts,
            WebhookDelivery.delivered_at.is_(None)).values(**values).execution_options(synchronize_session=False))
        if stored.rowcount == 0:
            logger.warning("webhook delivery %s was claimed again before its outcome was stored", claim.id)
    session.expire_all()  # the ORM objects of the claimed rows are stale now
    return outcome


def deliver_pending_webhooks(session, now_at: dt.datetime, post: Callable[..., Any] | None = None,
                             timeout_s: float = 5.0, limit: int = BATCH_SIZE) -> dict[str, int]:
    """POST up to ``limit`` deliveries that are due at ``now_at``; returns ``{"delivered", "failed"}``.

    ``post(url, data=bytes, headers=dict, timeout=seconds)`` returns an object with ``status_code``
    (``requests.post`` by default; tests pass their own). The claim (``claim_due_deliveries``) is committed
    before the first call, so any number of dashboard processes share the queue, each delivery sent by one,
    and no transaction is held open while a receiver is slow. The caller commits the outcomes.
    """
    claims = claim_due_deliveries(session, now_at, timeout_s=timeout_s, limit=limit)
    session.commit()
    if not claims:
        return {"delivered": 0, "failed": 0}
    sent = [(claim, send_delivery(claim, now_at, post, timeout_s)) for claim in claims]
    outcome = record_delivery_outcomes(session, sent, now_at)
    session.flush()
    return outcome
