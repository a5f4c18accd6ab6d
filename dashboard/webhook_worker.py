"""The dashboard's background thread: send due webhooks every few seconds, queue absences, expire snapshots.

One daemon thread per dashboard process (``start_webhook_worker(app)``, called by the factory when not
testing). Each tick runs the core's jobs (``attendance.jobs``), which are safe with any number of dashboard
processes on one database, each job done by one of them: due webhook deliveries are claimed row by row,
a school's absences of the day are queued once (``absence_notice_delay_min`` past the cutoff, no camera
still sending), and about once an hour snapshots past their retention and files no row names are deleted.
An error is logged and the loop carries on after a pause.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from flask import Flask

from attendance import jobs
from attendance.db.models import utcnow

logger = logging.getLogger(__name__)

WORKER_KEY = "webhook_worker"
INTERVAL_S = 5.0
ERROR_PAUSE_S = 30.0
# A purge that failed here is tried again after this long, not every tick.
PURGE_RETRY_INTERVAL = dt.timedelta(minutes=5)


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
        self._purge_retry_at: dt.datetime | None = None
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
        jobs.queue_due_absences(self.database, now_at, self.settings.absence_notice_delay_min, self._absences_done)
        outcome = jobs.deliver_due_webhooks(self.database, now_at, timeout_s=self.timeout_s)
        self.purge_if_due(now_at)
        return outcome

    def purge_if_due(self, now_at: dt.datetime) -> int | None:
        """Delete expired snapshots when no process has in the last hour (asking costs one primary-key read);
        the files removed, or None when not due here."""
        if self._purge_retry_at is not None and now_at < self._purge_retry_at:
            return None
        try:
            return jobs.purge_if_due(self.database, self.instance_path, now_at,
                                     snapshot_retention_days=self.settings.snapshot_retention_days,
                                     unknown_retention_days=self.settings.unknown_retention_days)
        except Exception:
            self._purge_retry_at = now_at + PURGE_RETRY_INTERVAL
            raise


def start_webhook_worker(app: Flask, interval_s: float = INTERVAL_S) -> WebhookWorker:
    """Start the worker for ``app`` once (a second call returns the running one)."""
    worker = app.extensions.get(WORKER_KEY)
    if worker is None:
        worker = app.extensions[WORKER_KEY] = WebhookWorker(app, interval_s).start()
    return worker
