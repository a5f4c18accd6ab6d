"""The dashboard's background thread: send due webhooks every few seconds, queue absences, expire snapshots.

One daemon thread per dashboard process (``start_webhook_worker(app)``, called by the factory when not
testing). Each tick opens its own database session, delivers what is due, and for every school whose
absences are due today (``absence_notice_delay_min`` past the cutoff, no camera still sending) queues the
day's absences once (the queue dedupes, so a restart re-running it sends nothing twice). About once an hour
it deletes snapshots past their retention (``attendance.erasure.purge_expired_snapshots``) and files no row
names (``purge_orphan_files``). An error is
logged and the loop carries on after a pause.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from flask import Flask
from sqlalchemy import select

from attendance.db.models import School, utcnow
from attendance.erasure import purge_expired_snapshots, purge_orphan_files
from attendance.roll import load_day_rules, school_local_date
from attendance.webhooks import absences_due, deliver_pending_webhooks, enqueue_absences

logger = logging.getLogger(__name__)

WORKER_KEY = "webhook_worker"
INTERVAL_S = 5.0
ERROR_PAUSE_S = 30.0
PURGE_INTERVAL = dt.timedelta(hours=1)


class WebhookWorker:
    """Runs ``tick`` every ``interval_s`` seconds on a daemon thread until ``stop``."""

    def __init__(self, app: Flask, interval_s: float = INTERVAL_S) -> None:
        self.database = app.extensions["attendance_db"]
        self.settings = app.extensions["attendance_settings"]
        self.instance_path = app.instance_path
        self.timeout_s = self.settings.webhook_timeout_s
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._absences_done: set[tuple[int, dt.date]] = set()
        self._next_purge_at: dt.datetime | None = None
        self.thread = threading.Thread(target=self._run, name="webhook-worker", daemon=True)

    def start(self) -> WebhookWorker:
        self.thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self.thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            pause = self.interval_s
            try:
                self.tick(utcnow())
            except Exception:  # the worker must outlive a database hiccup or a bad row
                logger.exception("webhook worker tick failed")
                pause = ERROR_PAUSE_S
            self._stop.wait(pause)

    def tick(self, now_at: dt.datetime) -> dict[str, int]:
        """One round: queue absences that have become due, send what is due, expire snapshots once an hour;
        returns the delivery outcome ``{"delivered", "failed"}``."""
        delay_min = self.settings.absence_notice_delay_min
        with self.database.session() as session:
            for school in session.scalars(select(School)):
                key = (school.id, school_local_date(school, now_at))
                if key in self._absences_done:
                    continue
                rules = load_day_rules(session, school, key[1])
                if rules.is_school_day:
                    if not absences_due(session, school, rules, now_at, delay_min):
                        continue
                    enqueue_absences(session, school, key[1], now_at, delay_min)
                self._absences_done.add(key)
        with self.database.session() as session:
            outcome = deliver_pending_webhooks(session, now_at, timeout_s=self.timeout_s)
        self.purge_if_due(now_at)
        return outcome

    def purge_if_due(self, now_at: dt.datetime) -> int | None:
        """Delete expired snapshots when the last purge is an hour old (the first tick purges); the files
        removed, or None when not due. A failed purge is retried an hour later, not every tick."""
        if self._next_purge_at is not None and now_at < self._next_purge_at:
            return None
        self._next_purge_at = now_at + PURGE_INTERVAL
        with self.database.session() as session:
            removed = purge_expired_snapshots(
                session, self.instance_path, now_at, snapshot_retention_days=self.settings.snapshot_retention_days,
                unknown_retention_days=self.settings.unknown_retention_days)
            removed += purge_orphan_files(session, self.instance_path, now_at)
        if removed:
            logger.info("expired snapshots deleted: %s files", removed)
        return removed


def start_webhook_worker(app: Flask, interval_s: float = INTERVAL_S) -> WebhookWorker:
    """Start the worker for ``app`` once (a second call returns the running one)."""
    worker = app.extensions.get(WORKER_KEY)
    if worker is None:
        worker = app.extensions[WORKER_KEY] = WebhookWorker(app, interval_s).start()
    return worker
