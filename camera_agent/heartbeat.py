"""The heartbeat: every ``heartbeat_s`` seconds the agent tells the dashboard it is alive and how it is doing."""

from __future__ import annotations

import logging
import threading
from typing import Any

from camera_agent.client import DashboardClient, DeliveryError
from camera_agent.outbox import Outbox
from camera_agent.status import AgentStatus

logger = logging.getLogger(__name__)


def build_heartbeat(status: AgentStatus, outbox: Outbox, *, version: str, backend: str, model_id: str) -> dict[str, Any]:
    """The heartbeat body: the API's fields (fps, queue_depth, oldest_unsent_age_s, last_error, version,
    backend, model_id, frames_total, reconnects) plus gallery_version and uptime_s."""
    stats = outbox.stats()
    body: dict[str, Any] = {
        **status.snapshot(), "queue_depth": stats.pending, "oldest_unsent_age_s": round(stats.oldest_age_s, 1),
        "version": version, "backend": backend, "model_id": model_id,
    }
    return {key: value for key, value in body.items() if value is not None}


def run_heartbeats(client: DashboardClient, stop: threading.Event, interval_s: float, make_body) -> None:
    """Post ``make_body()`` now and then every ``interval_s`` until ``stop``; failures are only logged."""
    while not stop.is_set():
        try:
            client.post_heartbeat(make_body())
        except DeliveryError as err:
            logger.info("heartbeat failed: %s", err)
        except Exception:  # a heartbeat must never take the agent down
            logger.exception("heartbeat: unexpected error")
        stop.wait(timeout=interval_s)
