"""What each OS process of the two-process tests runs (spawned: a fresh interpreter, its own engine).

Every function opens its own ``Database`` on the URL it is given, waits at the barrier so both processes
start the job together, runs it repeatedly and returns what it did through a queue.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

from attendance import jobs
from attendance.crypto import Keyring, decode_keys, install_keyring
from attendance.db import Database
from attendance.db.models import utcnow


def _open(url: str, data_key: str) -> Database:
    install_keyring(Keyring(decode_keys(data_key)))
    return Database.open(url, create_schema=False)


def deliver_webhooks(url: str, data_key: str, barrier: Any, results: Any) -> None:
    """Deliver due webhooks in batches of 2 (short rounds: the two processes claim at the same moments often)
    until two rounds in a row find none; report the totals."""
    database = _open(url, data_key)
    barrier.wait(30)
    totals = {"delivered": 0, "failed": 0, "pid": os.getpid()}
    idle_rounds = 0
    while idle_rounds < 2:
        outcome = jobs.deliver_due_webhooks(database, utcnow(), timeout_s=5, limit=2)
        totals["delivered"] += outcome["delivered"]
        totals["failed"] += outcome["failed"]
        idle_rounds = idle_rounds + 1 if not any(outcome.values()) else 0
        if idle_rounds:
            time.sleep(0.05)
    database.close()
    results.put(totals)


def queue_absences(url: str, data_key: str, barrier: Any, results: Any, now_at: dt.datetime, rounds: int) -> None:
    """Ask to queue the day's absences ``rounds`` times (no memory between rounds: the database decides);
    report how many notices this process queued and how many times it ran the enqueueing for a school."""
    database = _open(url, data_key)
    ran = []
    real_enqueue = jobs.enqueue_absences

    def counting_enqueue(session, school, *args, **kwargs):
        ran.append(school.code)
        return real_enqueue(session, school, *args, **kwargs)

    jobs.enqueue_absences = counting_enqueue
    barrier.wait(30)
    queued = sum(jobs.queue_due_absences(database, now_at, delay_min=0) for _ in range(rounds))
    database.close()
    results.put({"queued": queued, "ran": ran, "pid": os.getpid()})


def purge(url: str, data_key: str, barrier: Any, results: Any, instance: str, now_at: dt.datetime,
          rounds: int) -> None:
    """Ask for the hourly purge ``rounds`` times at ``now_at``; report the runs that did it and files removed."""
    database = _open(url, data_key)
    barrier.wait(30)
    runs = []
    for _ in range(rounds):
        removed = jobs.purge_if_due(database, instance, now_at, snapshot_retention_days=30, unknown_retention_days=7)
        if removed is not None:
            runs.append(removed)
    database.close()
    results.put({"runs": runs, "pid": os.getpid()})


def record_checkins(url: str, data_key: str, barrier: Any, results: Any, camera_id: int,
                    codes_by_process: list[list[str]], captured_at: dt.datetime) -> None:
    """Store one check-in per student code of this process's list (by its place at the barrier), each in
    its own transaction, as an agent's batches are."""
    from attendance.checkins import record_checkins as store
    from attendance.db.models import Camera

    database = _open(url, data_key)
    codes = codes_by_process[barrier.wait(30)]
    statuses = []
    for n, code in enumerate(codes):
        with database.session() as session:
            camera = session.get(Camera, camera_id)
            event = {"event_id": f"{os.getpid()}-{n}", "seq": n, "student_code": code,
                     "captured_at": captured_at.isoformat()}
            statuses += [r["status"] for r in store(session, camera, [event], captured_at)]
    database.close()
    results.put({"statuses": statuses, "pid": os.getpid()})
