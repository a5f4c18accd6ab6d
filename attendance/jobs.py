"""The background jobs every dashboard process runs, each done once however many processes share the database.

- ``deliver_due_webhooks``: claims due webhook deliveries (``FOR UPDATE SKIP LOCKED`` and a lease,
  ``attendance.webhooks.claim_due_deliveries``), sends them with no transaction open, stores the outcomes.
- ``queue_due_absences``: once per school and school day, queues the absence notices when they are due.
- ``purge_if_due``: about once an hour, deletes snapshots past their retention and files no row names.

The last two take a transaction-level advisory lock named after the job (``attendance.db.locks``) and keep
when they last ran in ``job_runs``, read and written under that lock in the transaction that does the work:
a second process skips a job the first holds, and finds it done once the first commits; a run that fails
rolls back its mark with its work and is tried again. On SQLite (one process) the lock is always free.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from attendance.db import Database
from attendance.db.locks import try_advisory_lock
from attendance.db.models import JobRun, School
from attendance.erasure import purge_expired_snapshots, purge_orphan_files
from attendance.roll import load_day_rules, school_local_date
from attendance.webhooks import BATCH_SIZE, absences_due, deliver_pending_webhooks, enqueue_absences

logger = logging.getLogger(__name__)

PURGE_JOB = "retention-purge"
PURGE_INTERVAL = dt.timedelta(hours=1)


def absences_job(school_id: int) -> str:
    """The job name of a school's absence notices (its lock and its ``job_runs`` row)."""
    return f"absences:{school_id}"


def start_job(session: Session, name: str) -> JobRun | None:
    """Take job ``name``'s lock for this transaction and return its ``job_runs`` row (a new, unsaved one the
    first time); None when another process holds the lock now."""
    if not try_advisory_lock(session, name):
        return None
    return session.get(JobRun, name) or JobRun(name=name, period="")


def finish_job(session: Session, run: JobRun, now_at: dt.datetime, period: str = "") -> None:
    """Mark ``run`` done at ``now_at`` for ``period`` (a school date, or ""), in the caller's transaction."""
    run.period = period
    run.ran_at = now_at
    session.add(run)
    session.flush()


def deliver_due_webhooks(database: Database, now_at: dt.datetime, *, post: Callable[..., Any] | None = None,
                         timeout_s: float = 5.0, limit: int = BATCH_SIZE) -> dict[str, int]:
    """Send up to ``limit`` due webhook deliveries in three steps (claim and commit, send, store and commit);
    returns ``{"delivered", "failed"}``. ``post`` as in ``attendance.webhooks.send_delivery``."""
    with database.session() as session:  # the claim is committed before the sends: no transaction open meanwhile
        return deliver_pending_webhooks(session, now_at, post, timeout_s=timeout_s, limit=limit)


def queue_due_absences(database: Database, now_at: dt.datetime, delay_min: int,
                       done: set[tuple[int, dt.date]] | None = None) -> int:
    """For each school whose absences of today are due at ``now_at`` (``delay_min`` past the cutoff, no camera
    still sending; ``attendance.webhooks.absences_due``) and not yet queued by any process, queue them; the
    number of notices queued. A day that is no school day counts as done. ``done`` is this process's memory
    of (school id, date) pairs already done, so a finished school costs no query on the next tick."""
    done = set() if done is None else done
    with database.session() as session:
        schools = [(school.id, school_local_date(school, now_at)) for school in session.scalars(select(School))]
    queued = 0
    for school_id, school_date in schools:
        if (school_id, school_date) in done:
            continue
        with database.session() as session:
            result = _queue_school_absences(session, school_id, school_date, now_at, delay_min)
        if result is not None:
            done.add((school_id, school_date))
            queued += result
    return queued


def _queue_school_absences(session: Session, school_id: int, school_date: dt.date, now_at: dt.datetime,
                           delay_min: int) -> int | None:
    """Notices queued for the school's day, or None when not done yet (not due, or held by another process)."""
    run = start_job(session, absences_job(school_id))
    if run is None:
        return None
    if run.period == school_date.isoformat():
        return 0
    school = session.get(School, school_id)
    if school is None:
        return None
    rules = load_day_rules(session, school, school_date)
    queued = 0
    if rules.is_school_day:
        if not absences_due(session, school, rules, now_at, delay_min):
            return None
        queued = enqueue_absences(session, school, school_date, now_at, delay_min)
    finish_job(session, run, now_at, school_date.isoformat())
    return queued


def purge_if_due(database: Database, instance_path: str | Path, now_at: dt.datetime, *,
                 snapshot_retention_days: int, unknown_retention_days: int,
                 interval: dt.timedelta = PURGE_INTERVAL) -> int | None:
    """Delete expired snapshots (``purge_expired_snapshots``) and files no row names (``purge_orphan_files``)
    when no process has done so in the last ``interval`` (an hour); the files removed, or None when another
    process did it recently or is doing it now."""
    with database.session() as session:
        run = start_job(session, PURGE_JOB)
        if run is None or (run.ran_at is not None and now_at < run.ran_at + interval):
            return None
        removed = purge_expired_snapshots(session, instance_path, now_at,
                                          snapshot_retention_days=snapshot_retention_days,
                                          unknown_retention_days=unknown_retention_days)
        removed += purge_orphan_files(session, instance_path, now_at)
        finish_job(session, run, now_at)
    if removed:
        logger.info("expired snapshots deleted: %s files", removed)
    return removed
