"""Two OS processes on one PostgreSQL database: each background job done once, live counters shared.

Each test spawns two fresh interpreters (``tests/process_jobs.py``) that start the same job together at a
barrier against the test's database, as two dashboard processes of a district do. Runs in
``make test-postgres`` (``ATTENDANCE_TEST_DATABASE_URL``); SQLite has one process per school PC.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import queue
import time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

import process_jobs
from attendance.db.changes import read_version
from attendance.db.models import CheckIn, JobRun, WebhookDelivery, utcnow
from attendance.webhooks import create_webhook
from conftest import POSTGRES_URL, TEST_DATA_KEY
from factories import make_camera, make_class, make_school, make_student, make_user
from test_retention import add_checkin
from webhook_receiver import Receiver

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL: ATTENDANCE_TEST_DATABASE_URL")]

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY = dt.date(2026, 9, 7)
SPAWN = multiprocessing.get_context("spawn")


def run_two(target, *args) -> list[dict]:
    """Run ``target(url, key, barrier, results, *args)`` in two spawned processes at once; their reports."""
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    processes = [SPAWN.Process(target=target, args=(*args[:1], TEST_DATA_KEY, barrier, results, *args[1:]))
                 for _ in range(2)]
    for process in processes:
        process.start()
    reports = []
    deadline_s = time.monotonic() + 90
    while len(reports) < 2:
        try:
            reports.append(results.get(timeout=0.5))
        except queue.Empty:
            crashed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            assert not crashed and time.monotonic() < deadline_s, f"a job process failed: exit codes {crashed}"
    for process in processes:
        process.join(10)
        assert process.exitcode == 0
    assert reports[0]["pid"] != reports[1]["pid"]
    return reports


@pytest.fixture
def receiver():
    r = Receiver(delay_s=0.001)
    yield r
    r.close()


def test_each_due_webhook_is_delivered_once_by_two_processes(db, database_url, receiver):
    with db.session() as s:
        school = make_school(s, "THCS1")
        hook, _ = create_webhook(s, school, receiver.url)
        due_at = utcnow() - dt.timedelta(minutes=1)
        s.add_all(WebhookDelivery(webhook_id=hook.id, event_type="checkin", event_key=f"checkin:{n}:2026-09-07",
                                  payload={"n": n}, attempts=0, next_attempt_at=due_at, last_error="")
                  for n in range(120))
    reports = run_two(process_jobs.deliver_webhooks, database_url)
    assert len(receiver.counts) == 120 and set(receiver.counts.values()) == {1}  # each sent exactly once
    assert sum(r["delivered"] for r in reports) == 120 and all(r["failed"] == 0 for r in reports)
    assert all(r["delivered"] > 0 for r in reports), reports  # both processes took a share of the queue
    with db.session() as s:
        rows = s.execute(select(WebhookDelivery.attempts, WebhookDelivery.delivered_at)).all()
    assert len(rows) == 120 and all(attempts == 1 and delivered_at for attempts, delivered_at in rows)


def test_absences_are_queued_once_per_school_and_day_by_two_processes(db, database_url, receiver):
    with db.session() as s:
        for code, size in (("THCS1", 12), ("THCS2", 7), ("THCS3", 3)):
            school = make_school(s, code)
            klass = make_class(s, school, "6A1")
            for n in range(size):
                make_student(s, klass, f"{code}-{n}")
            create_webhook(s, school, receiver.url, events="absence")
    after_cutoff = dt.datetime(2026, 9, 7, 10, 0, tzinfo=HCM).astimezone(dt.timezone.utc)
    reports = run_two(process_jobs.queue_absences, database_url, after_cutoff, 15)
    # each school's enqueueing ran once in all, though each process asked 15 times
    assert sorted(code for r in reports for code in r["ran"]) == ["THCS1", "THCS2", "THCS3"]
    assert sum(r["queued"] for r in reports) == 22
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 22
        runs = s.execute(select(JobRun.name, JobRun.period)).all()
    assert len(runs) == 3 and {period for _, period in runs} == {MONDAY.isoformat()}


def test_the_hourly_purge_is_done_once_by_two_processes(db, database_url, instance):
    now_at = dt.datetime(2026, 10, 20, 3, 0, tzinfo=dt.timezone.utc)
    with db.session() as s:
        school = make_school(s, "THCS1")
        gate = (school, make_student(s, make_class(s, school, "6A1"), "HS001"), make_camera(s, school, "gate-1")[0])
        expired = [add_checkin(s, instance, gate, n, 31 + n % 3).snapshot_path for n in range(40)]
        kept = add_checkin(s, instance, gate, 99, 2).snapshot_path
    reports = run_two(process_jobs.purge, database_url, str(instance), now_at, 10)
    runs = [removed for r in reports for removed in r["runs"]]
    assert runs == [40]  # one run in all, which removed every expired snapshot
    assert not any((instance / path).exists() for path in expired) and (instance / kept).is_file()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(CheckIn).where(CheckIn.snapshot_path.is_not(None))) == 1
        assert s.get(JobRun, "retention-purge").ran_at == now_at


def test_live_counters_count_check_ins_stored_by_two_processes(db, database_url, app):
    """A check-in stored by another process reaches this one's live page; concurrent ones all count."""
    with db.session() as s:
        school = make_school(s, "THCS1")
        klass = make_class(s, school, "6A1")
        codes = [make_student(s, klass, f"HS{n:03d}").student_code for n in range(20)]
        camera_id = make_camera(s, school, "gate-1")[0].id
        make_user(s, "lan", school=school, role="school_admin", password="pw-live-123456")
        school_id, class_id = school.id, klass.id
    client = app.test_client()
    assert client.post("/login", data={"username": "lan", "password": "pw-live-123456"}).status_code == 302
    etag = client.get("/live").get_json()["etag"]
    assert client.get("/live", headers={"If-None-Match": etag}).status_code == 304
    captured_at = utcnow()
    reports = run_two(process_jobs.record_checkins, database_url, camera_id, [codes[:10], codes[10:]], captured_at)
    assert [status for r in reports for status in r["statuses"]] == ["created"] * 20
    answer = client.get("/live", headers={"If-None-Match": etag})
    assert answer.status_code == 200 and answer.get_json()["etag"] != etag
    with db.session() as s:
        # one bump per stored batch, none lost to the other process's concurrent bumps
        assert read_version(s, school_id) == 20 and read_version(s, school_id, class_id) == 20
        assert s.scalar(select(func.count()).select_from(CheckIn)) == 20
