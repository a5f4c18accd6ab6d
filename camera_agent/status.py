"""The agent's health, shared by its threads: frame rate, counters and the last error, for heartbeats and logs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

FPS_WINDOW_S = 2.0


@dataclass
class AgentStatus:
    """Counters the frame loop, the source and the sender update; ``snapshot`` reads them consistently."""

    started_at: float = field(default_factory=time.monotonic)
    frames_total: int = 0
    fps: float = 0.0
    reconnects: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    gallery_version: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _window_start: float | None = field(default=None, repr=False)
    _window_frames: int = field(default=0, repr=False)

    def count_frame(self, now: float | None = None) -> None:
        """One processed frame; ``fps`` is recomputed from the frames of each window of at least 2 seconds."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self.frames_total += 1
            if self._window_start is None:
                self._window_start, self._window_frames = now, 0
            self._window_frames += 1
            if now - self._window_start >= FPS_WINDOW_S:
                self.fps = self._window_frames / (now - self._window_start)
                self._window_start, self._window_frames = now, 0

    def count_reconnect(self) -> None:
        with self._lock:
            self.reconnects += 1

    def report_error(self, message: str) -> None:
        """Remember the latest problem (one line, no secrets) for the next heartbeat."""
        with self._lock:
            self.last_error = message[:300]
            self.last_error_at = time.time()

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "fps": round(self.fps, 2), "frames_total": self.frames_total, "reconnects": self.reconnects,
                "last_error": self.last_error, "gallery_version": self.gallery_version,
                "uptime_s": round(time.monotonic() - self.started_at, 1),
            }
