"""The sender: posts the outbox's events to the dashboard, oldest first, until the server has each one.

An event leaves the outbox only when the server answered ``created`` or ``duplicate`` for it, so a lost
response costs one duplicate answer, never a lost or doubled event. Only a per-event ``error`` in the
server's answer is final: that event moves to the dead letters. A batch refused as a whole says nothing
about its events (a 404 from a reverse proxy, a wrong ``server_url``, a revoked token), so it is retried
with exponential backoff and jitter (a ``Retry-After`` header wins) and reported in the heartbeat, never
dead-lettered; a 413 (too large) halves the batch instead, down to single events.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from attendance.backoff import Backoff as CoreBackoff
from camera_agent.client import RETRY_STATUSES, DashboardClient, DeliveryError
from camera_agent.outbox import Outbox
from camera_agent.status import AgentStatus

logger = logging.getLogger(__name__)

MAX_BATCH = 500  # the API's limit
MAX_RETRY_AFTER_S = 600.0


class Backoff(CoreBackoff):
    """The uploads' backoff: 1 s, 2 s, 4 s... up to ``max_s``, each times a random 0.5-1 (the cameras of a
    school do not retry in step); the server's ``Retry-After`` wins when it sends one."""

    def __init__(self, base_s: float = 1.0, max_s: float = 60.0, rng: Callable[[], float] = random.random) -> None:
        super().__init__(base_s, max_s, jitter=0.5, rng=rng)

    def next_delay(self, retry_after_s: float | None = None) -> float:
        """Seconds to wait after one more failure; the server's Retry-After (capped at 10 min) when given."""
        delay_s = self.next_delay_s()
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), MAX_RETRY_AFTER_S)
        return delay_s


@dataclass
class BatchOutcome:
    """What one attempt did. ``retry_in_s`` is None when the outbox is empty."""

    delivered: int = 0
    duplicates: int = 0
    dead: int = 0
    retry_in_s: float | None = 0.0


class Sender:
    """Delivers the outbox; ``send_batch`` is one attempt, ``run`` loops it on a thread."""

    def __init__(self, outbox: Outbox, client: DashboardClient, status: AgentStatus | None = None, *,
                 batch_size: int = 100, backoff: Backoff | None = None) -> None:
        self.outbox = outbox
        self.client = client
        self.status = status or AgentStatus()
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self.backoff = backoff or Backoff()
        self._limit = self.batch_size
        self.wake = threading.Event()  # set by the frame loop when it stores an event

    def send_batch(self) -> BatchOutcome:
        """Post the oldest pending batch once and apply the answer."""
        batch = self.outbox.next_batch(self._limit)
        if not batch:
            return BatchOutcome(retry_in_s=None)
        kind = batch[0].kind
        try:
            results = self.client.post_events(kind, [event.payload for event in batch])
        except DeliveryError as err:
            return self._handle_failure(err, batch)
        self.backoff.reset()
        self._limit = self.batch_size
        return self._apply_results(results, batch)

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; sleeps on backoff, or until woken when the outbox is empty."""
        while not stop.is_set():
            try:
                outcome = self.send_batch()
            except Exception:  # keep delivering whatever happens; the next attempt may work
                logger.exception("sender: unexpected error")
                self.status.report_error("sender: unexpected error")
                outcome = BatchOutcome(retry_in_s=self.backoff.next_delay())
            if outcome.retry_in_s is None:
                self.wake.wait(timeout=5.0)
                self.wake.clear()
            elif outcome.retry_in_s > 0:
                stop.wait(timeout=outcome.retry_in_s)

    def _apply_results(self, results: list[dict], batch) -> BatchOutcome:
        by_id = {r.get("event_id"): r for r in results if isinstance(r, dict)}
        delivered, missing = [], []
        outcome = BatchOutcome()
        for event in batch:
            result = by_id.get(event.event_id)
            state = result.get("status") if result else None
            if state in ("created", "duplicate"):
                delivered.append(event.event_id)
                outcome.delivered += state == "created"
                outcome.duplicates += state == "duplicate"
            elif state == "error":
                error = (result or {}).get("error") or {}
                code, message = str(error.get("code", "error")), str(error.get("message", ""))
                logger.warning("the dashboard refused %s event seq=%d: %s %s", event.kind, event.seq, code, message)
                self.outbox.dead_letter(event.event_id, code, message)
                self.status.report_error(f"event refused: {code}")
                outcome.dead += 1
            else:
                missing.append(event.event_id)
        self.outbox.delete(delivered)
        if missing:
            self.outbox.note_failure(missing, "no result in the server's answer")
            outcome.retry_in_s = self.backoff.next_delay()
        logger.debug("sent %d %s events: %d created, %d duplicate, %d refused", len(batch), batch[0].kind,
                     outcome.delivered, outcome.duplicates, outcome.dead)
        return outcome

    def _handle_failure(self, err: DeliveryError, batch) -> BatchOutcome:
        ids = [event.event_id for event in batch]
        self.outbox.note_failure(ids, str(err))
        self.status.report_error(str(err))
        if not err.retry and len(batch) > 1:  # too large: send less
            self._limit = max(1, len(batch) // 2)
            logger.info("delivery refused as too large (%s); trying %d events", err, self._limit)
            return BatchOutcome(retry_in_s=0.0)
        # One event alone over the size limit waits too: only a per-event error is final.
        delay = self.backoff.next_delay(err.retry_after_s)
        # Busy or unreachable is weather; any other refusal needs a person (a token, server_url, a proxy).
        log = logger.info if err.status is None or err.status in RETRY_STATUSES else logger.warning
        log("delivery failed (%s); retrying in %.1f s", err, delay)
        return BatchOutcome(retry_in_s=delay)
