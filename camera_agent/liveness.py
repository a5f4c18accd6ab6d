"""Liveness cues of a track: how the face moved. Sent with each event for the dashboard to judge, not a verdict.

A child walking to the gate moves (``center_motion``), grows in the frame (``size_change`` > 1) and moves
their eyes and nose relative to the face box while turning and blinking (``landmark_motion``, ``yaw_range_deg``).
A printed photo held up to the camera moves rigidly: its landmarks stay still relative to its box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from camera_agent.tracker import Box


@dataclass
class LivenessCues:
    """One track's per-frame measurements, kept as running sums: the same few numbers after ten frames or
    an hour of them (a face that stays in view must not grow the agent's memory or slow its loop)."""

    frames: int = 0
    _first_size: float = 0.0
    _last_size: float = 0.0
    _size_sum: float = 0.0
    _path: float = 0.0  # the box centre's path so far, in pixels
    _last_center: tuple[float, float] | None = None
    _landmark_frames: int = 0
    _landmark_mean: np.ndarray | None = field(default=None, repr=False)  # (5, 2), in face sizes
    _landmark_m2: np.ndarray | None = field(default=None, repr=False)  # sums of squared deviations (Welford)
    _yaw_min: float = math.inf
    _yaw_max: float = -math.inf

    def observe(self, box: Box, landmarks: np.ndarray | None, yaw_deg: float | None) -> None:
        """Add one frame: the face box and, when known, its landmarks (5, 2) and yaw."""
        x1, y1, x2, y2 = box
        side = float(max(1, max(x2 - x1, y2 - y1)))
        center = ((x1 + x2) / 2.0, (y1 + y2) / 2.0)
        if self._last_center is not None:
            self._path += math.dist(self._last_center, center)
        self._last_center = center
        if self.frames == 0:
            self._first_size = side
        self.frames += 1
        self._last_size = side
        self._size_sum += side
        if landmarks is not None:
            self._add_landmarks((np.asarray(landmarks, dtype=np.float64) - (x1, y1)) / side)
        if yaw_deg is not None:
            self._yaw_min = min(self._yaw_min, float(yaw_deg))
            self._yaw_max = max(self._yaw_max, float(yaw_deg))

    def _add_landmarks(self, relative: np.ndarray) -> None:
        self._landmark_frames += 1
        if self._landmark_mean is None:
            self._landmark_mean, self._landmark_m2 = relative.copy(), np.zeros_like(relative)
            return
        delta = relative - self._landmark_mean
        self._landmark_mean += delta / self._landmark_frames
        self._landmark_m2 += delta * (relative - self._landmark_mean)

    def as_dict(self) -> dict[str, float | int]:
        """The cues as sent in an event's ``liveness``: all unitless except ``yaw_range_deg``."""
        if self.frames == 0:
            return {"frames": 0}
        mean_size = self._size_sum / self.frames
        cues: dict[str, float | int] = {
            "frames": self.frames,
            "center_motion": round(self._path / mean_size, 3),  # box centre's path, in face sizes
            "size_change": round(self._last_size / self._first_size, 3),  # > 1: came closer
        }
        if self._landmark_m2 is not None and self._landmark_frames >= 2:
            spread = np.sqrt(self._landmark_m2 / self._landmark_frames)  # per point and axis, in face sizes
            cues["landmark_motion"] = round(float(spread.mean()), 4)
        if self._yaw_max >= self._yaw_min:
            cues["yaw_range_deg"] = round(self._yaw_max - self._yaw_min, 1)
        return cues
