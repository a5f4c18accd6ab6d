"""Webhooks: queued with the check-in, signed, delivered to a local HTTP server, retried with backoff."""

import datetime as dt
import json
import socket
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from attendance.checkins import record_checkins
from attendance.db.models import Camera, Webhook, WebhookDelivery
from attendance.errors import InvalidInput
from attendance.roll import set_override
from attendance.webhooks import (
    MAX_ATTEMPTS, cameras_still_sending, create_webhook, deliver_pending_webhooks, enqueue_absences, retry_delay_s,
    verify_signature,
)
from dashboard.webhook_worker import WebhookWorker, start_webhook_worker
from factories import make_camera, make_class, make_school, make_student
from webhook_receiver import Receiver

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY = dt.date(2026, 9, 7)


def local(hh, mm=0, day=MONDAY):
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=HCM).astimezone(dt.timezone.utc)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def world(session, receiver):
    school = make_school(session, "THCS1")
    klass = make_class(session, school, "6A1")
    students = [make_student(session, klass, f"HS00{i}", name) for i, name in
                enumerate(["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường"], start=1)]
    camera, _ = make_camera(session, school, "gate-1")
    hook, secret = create_webhook(session, school, receiver.url)
    return school, students, camera, hook, secret


def check_in(session, camera, code, at, n):
    return record_checkins(session, camera, [{"event_id": f"e{n}", "seq": n, "student_code": code,
                                              "captured_at": at.isoformat()}], at)[0]


def deliveries(session):
    return session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()


def test_first_checkin_of_the_day_is_queued_once(session, world):
    school, students, camera, hook, _ = world
    check_in(session, camera, "HS001", local(7, 5), 1)
    check_in(session, camera, "HS001", local(7, 30), 2)  # a later sighting: no second event
    [delivery] = deliveries(session)
    assert delivery.event_type == "checkin" and delivery.event_key == f"checkin:{students[0].id}:2026-09-07"
    assert delivery.payload["status"] == "late" and delivery.payload["minutes_late"] == 5
    assert delivery.payload["student_code"] == "HS001" and delivery.payload["class_code"] == "6A1"
    assert "snapshot" not in json.dumps(delivery.payload)


def test_delivery_is_signed_and_marked_delivered(session, world, receiver):
    _, _, camera, hook, secret = world
    check_in(session, camera, "HS002", local(6, 50), 1)
    outcome = deliver_pending_webhooks(session, local(6, 51), timeout_s=5)
    assert outcome == {"delivered": 1, "failed": 0}
    [(headers, body)] = receiver.requests
    sent_s = local(6, 51).timestamp()
    signature = headers["X-Attendance-Signature"]
    assert signature.startswith(f"t={int(sent_s)},v1=")
    assert verify_signature(secret, body, signature, now_s=sent_s + 2)
    assert not verify_signature("whsec_wrong", body, signature, now_s=sent_s)
    # a captured delivery replayed later, or its body altered, or its time altered: all refused
    assert not verify_signature(secret, body, signature, now_s=sent_s + 3600)
    assert not verify_signature(secret, body.replace(b"HS002", b"HS003"), signature, now_s=sent_s)
    forged_time = signature.replace(f"t={int(sent_s)}", f"t={int(sent_s) + 3600}")
    assert not verify_signature(secret, body, forged_time, now_s=sent_s + 3600)
    assert headers["X-Attendance-Event"] == "checkin"
    document = json.loads(body)
    assert document["event"] == "checkin" and document["data"]["full_name"] == "Trần Thị Bình"
    assert headers["X-Attendance-Delivery"] == str(document["delivery_id"])
    [delivery] = deliveries(session)
    assert delivery.delivered_at == local(6, 51) and delivery.attempts == 1
    assert deliver_pending_webhooks(session, local(7), timeout_s=5) == {"delivered": 0, "failed": 0}


def test_failures_back_off_exponentially_then_give_up(session, world, receiver):
    _, _, camera, hook, _ = world
    check_in(session, camera, "HS001", local(6, 50), 1)
    receiver.statuses = [500] * MAX_ATTEMPTS
    now = local(6, 51)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert deliver_pending_webhooks(session, now, timeout_s=5) == {"delivered": 0, "failed": 1}
        [delivery] = deliveries(session)
        assert delivery.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert delivery.next_attempt_at == now + dt.timedelta(seconds=retry_delay_s(attempt))
            # not due yet: nothing is sent
            assert deliver_pending_webhooks(session, delivery.next_attempt_at - dt.timedelta(seconds=1)) == {
                "delivered": 0, "failed": 0}
            now = delivery.next_attempt_at
    assert delivery.delivered_at is None and delivery.last_error.startswith("gave up")
    assert deliver_pending_webhooks(session, now + dt.timedelta(days=2)) == {"delivered": 0, "failed": 0}
    assert len(receiver.requests) == MAX_ATTEMPTS
    assert [retry_delay_s(n) for n in (1, 2, 3)] == [30, 60, 120] and retry_delay_s(20) == 6 * 3600


def test_a_connection_error_is_a_failed_attempt(session, world):
    _, _, camera, hook, _ = world
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        hook.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    check_in(session, camera, "HS001", local(6, 50), 1)
    assert deliver_pending_webhooks(session, local(6, 51), timeout_s=2) == {"delivered": 0, "failed": 1}
    assert deliveries(session)[0].last_error == "ConnectionError"


def test_absences_are_queued_once_after_the_cutoff(session, world):
    school, students, camera, hook, _ = world
    check_in(session, camera, "HS001", local(6, 50), 1)
    set_override(session, students[1], MONDAY, "excused", "ốm", None)
    assert enqueue_absences(session, school, MONDAY, local(8, 59)) == 0
    assert enqueue_absences(session, school, MONDAY, local(9, 0)) == 1
    assert enqueue_absences(session, school, MONDAY, local(9, 5)) == 0
    absence = [d for d in deliveries(session) if d.event_type == "absence"]
    assert [d.payload["student_code"] for d in absence] == ["HS003"]
    assert enqueue_absences(session, school, dt.date(2026, 9, 5), local(10, day=dt.date(2026, 9, 5))) == 0


def test_a_hook_gets_only_the_events_it_asked_for(session, world, receiver):
    school, _, camera, hook, _ = world
    hook.active = False
    absences_only, _ = create_webhook(session, school, receiver.url, events="absence")
    check_in(session, camera, "HS001", local(6, 50), 1)
    assert deliveries(session) == []
    assert enqueue_absences(session, school, MONDAY, local(9)) == 2
    assert {d.webhook_id for d in deliveries(session)} == {absences_only.id}
    with pytest.raises(InvalidInput):
        create_webhook(session, school, "ftp://example.org/x")
    with pytest.raises(InvalidInput):
        create_webhook(session, school, receiver.url, events="checkin,everything")


def test_the_worker_queues_absences_and_delivers(app, db, receiver):
    with db.session() as s:
        school = make_school(s, "THCS1")
        make_student(s, make_class(s, school, "6A1"), "HS001", "Nguyễn Văn An")
        create_webhook(s, school, receiver.url, events="absence")
    worker = WebhookWorker(app)
    assert worker.tick(local(8)) == {"delivered": 0, "failed": 0}
    assert worker.tick(local(9, 1)) == {"delivered": 0, "failed": 0}  # absence_notice_delay_min = 30
    assert worker.tick(local(9, 30)) == {"delivered": 1, "failed": 0}
    assert worker.tick(local(9, 31)) == {"delivered": 0, "failed": 0}
    assert json.loads(receiver.requests[0][1])["data"]["student_code"] == "HS001"
    started = start_webhook_worker(app, interval_s=0.05)
    assert start_webhook_worker(app) is started and started.thread.is_alive()
    started.stop()
    assert not started.thread.is_alive()
    with db.session() as s:
        assert s.scalar(select(Webhook.events)) == "absence"


def absences(session):
    return sorted(d.payload["student_code"] for d in deliveries(session) if d.event_type == "absence")


def heartbeat(session, camera, at, queue_depth):
    from attendance.cameras import record_heartbeat

    record_heartbeat(session, camera, {"queue_depth": queue_depth}, at)


def test_absences_wait_the_notice_delay_after_the_cutoff(session, world):
    school, _, camera, _, _ = world
    check_in(session, camera, "HS001", local(6, 50), 1)
    assert enqueue_absences(session, school, MONDAY, local(9, 0), delay_min=30) == 0
    assert enqueue_absences(session, school, MONDAY, local(9, 29), delay_min=30) == 0
    assert enqueue_absences(session, school, MONDAY, local(9, 30), delay_min=30) == 2
    assert absences(session) == ["HS002", "HS003"]


def test_a_camera_still_sending_holds_the_absences(session, world):
    """The gate's outbox held HS002's 08:10 check-in through an outage: no "absent" message meanwhile."""
    school, _, camera, _, _ = world
    heartbeat(session, camera, local(9, 20), queue_depth=4)
    assert cameras_still_sending(session, school, MONDAY, local(9, 1)) == ["gate-1"]
    assert enqueue_absences(session, school, MONDAY, local(9, 31), delay_min=30) == 0
    assert enqueue_absences(session, school, MONDAY, local(9, 49), delay_min=30) == 0
    check_in(session, camera, "HS002", local(8, 10), 1)  # the backlog arrives
    heartbeat(session, camera, local(9, 50), queue_depth=0)
    assert enqueue_absences(session, school, MONDAY, local(9, 51), delay_min=30) == 2
    assert absences(session) == ["HS001", "HS003"]


@pytest.mark.parametrize("case", ["stale_heartbeat", "revoked", "seen_yesterday", "no_delay"])
def test_what_does_not_hold_absences(session, world, case):
    school, _, camera, _, _ = world
    delay_min = 30
    if case == "stale_heartbeat":  # a camera gone quiet with a backlog must not hold absences all day
        heartbeat(session, camera, local(8, 59), queue_depth=4)
    elif case == "revoked":
        heartbeat(session, camera, local(9, 20), queue_depth=4)
        camera.revoked_at = local(9, 25)
    elif case == "seen_yesterday":
        heartbeat(session, camera, local(9, 20), queue_depth=4)
        camera.last_seen_at = local(17, day=MONDAY - dt.timedelta(days=1))
    else:
        heartbeat(session, camera, local(9, 0), queue_depth=4)
        delay_min = 0
    assert enqueue_absences(session, school, MONDAY, local(9, 30), delay_min=delay_min) == 3


def test_the_worker_waits_for_the_delay_and_for_cameras_still_sending(app, db, receiver):
    with db.session() as s:
        school = make_school(s, "THCS1")
        make_student(s, make_class(s, school, "6A1"), "HS001", "Nguyễn Văn An")
        create_webhook(s, school, receiver.url, events="absence")
        camera, _ = make_camera(s, school, "gate-1")
        heartbeat(s, camera, local(9, 15), queue_depth=2)
    worker = WebhookWorker(app)
    assert app.extensions["attendance_settings"].absence_notice_delay_min == 30
    assert worker.tick(local(9, 29)) == {"delivered": 0, "failed": 0}  # too early
    assert worker.tick(local(9, 40)) == {"delivered": 0, "failed": 0}  # gate-1 still sending
    with db.session() as s:
        heartbeat(s, s.get(Camera, camera.id), local(9, 41), queue_depth=0)
    assert worker.tick(local(9, 42)) == {"delivered": 1, "failed": 0}
    assert worker.tick(local(9, 43)) == {"delivered": 0, "failed": 0}


def test_a_claim_is_a_lease_that_ends(session, world, receiver):
    """A process that died after claiming (its claim committed, nothing sent) leaves the delivery to be claimed
    again when the lease ends; the dead claim's late outcome is then ignored."""
    from attendance.webhooks import claim_due_deliveries, claim_lease_s, record_delivery_outcomes

    _, _, camera, _, _ = world
    check_in(session, camera, "HS001", local(6, 50), 1)
    now = local(6, 51)
    [lost] = claim_due_deliveries(session, now, timeout_s=5)
    session.commit()
    lease_s = claim_lease_s(1, 5)
    assert lease_s == 70
    assert claim_due_deliveries(session, now + dt.timedelta(seconds=lease_s - 1), timeout_s=5) == []
    assert deliver_pending_webhooks(session, now + dt.timedelta(seconds=lease_s), timeout_s=5) == {
        "delivered": 1, "failed": 0}
    assert len(receiver.requests) == 1
    [delivery] = deliveries(session)
    assert delivery.attempts == 2 and delivery.delivered_at == now + dt.timedelta(seconds=lease_s)
    record_delivery_outcomes(session, [(lost, "HTTP 500")], now + dt.timedelta(minutes=5))
    session.expire_all()
    assert deliveries(session)[0].delivered_at is not None and deliveries(session)[0].last_error == ""


def test_a_last_attempt_whose_process_stopped_is_marked_given_up(session, world, receiver):
    """The tenth attempt claimed by a process that died (nothing recorded) is not left pending for ever: once its
    lease ends the delivery is marked given up, and it is never sent again."""
    from attendance.webhooks import GAVE_UP, claim_due_deliveries, claim_lease_s

    _, _, camera, _, _ = world
    check_in(session, camera, "HS001", local(6, 50), 1)
    [delivery] = deliveries(session)
    delivery.attempts = MAX_ATTEMPTS - 1
    session.commit()
    now = local(6, 51)
    [last] = claim_due_deliveries(session, now, timeout_s=5)
    session.commit()
    assert last.attempts == MAX_ATTEMPTS
    lease_ends_at = now + dt.timedelta(seconds=claim_lease_s(1, 5))
    assert claim_due_deliveries(session, lease_ends_at - dt.timedelta(seconds=1), timeout_s=5) == []
    session.commit()
    session.expire_all()
    assert deliveries(session)[0].last_error == ""  # still within its lease: the process may yet answer
    assert deliver_pending_webhooks(session, lease_ends_at, timeout_s=5) == {"delivered": 0, "failed": 0}
    session.expire_all()
    [given_up] = deliveries(session)
    assert given_up.last_error.startswith(GAVE_UP) and given_up.delivered_at is None
    assert receiver.requests == []
