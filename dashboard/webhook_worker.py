"""The dashboard's background thread: send due webhooks every few seconds, queue absences at the cutoff.

One daemon thread per dashboard process (``start_webhook_worker(app)``, called by the factory when not
testing). Each tick opens its own database session, delivers what is due, and for every school whose
absence cutoff has passed today queues the day's absences once (the queue dedupes, so a restart re-running
it sends nothing twice). An error is logged and the loop carries on after a pause.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from flask import Flask
from sqlalchemy import select

from attendance.db.models import School, utcnow
from attendance.roll import load_day_rules, school_local_date
from attendance.webhooks import deliver_pending_webhooks, enqueue_absences

logger = logging.getLogger(__name__)

WORKER_KEY = "webhook_worker"
INTERVAL_S = 5.0
ERROR_PAUSE_S = 30.0


class WebhookWorker:
    """Runs ``tick`` every ``interval_s`` seconds on a daemon thread until ``stop``."""

    def __init__(self, app: Flask, interval_s: float = INTERVAL_S) -> None:
        self.database = app.extensions["attendance_db"]
        self.timeout_s = app.extensions["attendance_settings"].webhook_timeout_s
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._absences_done: set[tuple[int, dt.date]] = set()
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
        """One round: queue absences where the cutoff has just passed, then send what is due."""
        with self.database.session() as session:
            for school in session.scalars(select(School)):
                key = (school.id, school_local_date(school, now_at))
                if key in self._absences_done:
                    continue
                rules = load_day_rules(session, school, key[1])
                if rules.is_school_day and now_at < rules.absent_from:
                    continue
                if rules.is_school_day:
                    enqueue_absences(session, school, key[1], now_at)
                self._absences_done.add(key)
        with self.database.session() as session:
            return deliver_pending_webhooks(session, now_at, timeout_s=self.timeout_s)


def start_webhook_worker(app: Flask, interval_s: float = INTERVAL_S) -> WebhookWorker:
    """Start the worker for ``app`` once (a second call returns the running one)."""
    worker = app.extensions.get(WORKER_KEY)
    if worker is None:
        worker = app.extensions[WORKER_KEY] = WebhookWorker(app, interval_s).start()
    return worker
