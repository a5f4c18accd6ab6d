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
    """Accumulates one track's per-frame measurements."""

    centers: list[tuple[float, float]] = field(default_factory=list)
    sizes: list[float] = field(default_factory=list)
    relative_landmarks: list[np.ndarray] = field(default_factory=list)
    yaws: list[float] = field(default_factory=list)

    def observe(self, box: Box, landmarks: np.ndarray | None, yaw_deg: float | None) -> None:
        """Add one frame: the face box and, when known, its landmarks (5, 2) and yaw."""
        x1, y1, x2, y2 = box
        side = float(max(1, max(x2 - x1, y2 - y1)))
        self.centers.append(((x1 + x2) / 2.0, (y1 + y2) / 2.0))
        self.sizes.append(side)
        if landmarks is not None:
            self.relative_landmarks.append((np.asarray(landmarks, dtype=np.float64) - (x1, y1)) / side)
        if yaw_deg is not None:
            self.yaws.append(float(yaw_deg))

    def as_dict(self) -> dict[str, float | int]:
        """The cues as sent in an event's ``liveness``: all unitless except ``yaw_range_deg``."""
        frames = len(self.sizes)
        if frames == 0:
            return {"frames": 0}
        mean_size = sum(self.sizes) / frames
        path = sum(math.dist(a, b) for a, b in zip(self.centers, self.centers[1:]))
        cues: dict[str, float | int] = {
            "frames": frames,
            "center_motion": round(path / mean_size, 3),  # box centre's path, in face sizes
            "size_change": round(self.sizes[-1] / self.sizes[0], 3),  # > 1: came closer
        }
        if len(self.relative_landmarks) >= 2:
            stacked = np.stack(self.relative_landmarks)
            cues["landmark_motion"] = round(float(stacked.std(axis=0).mean()), 4)  # in face sizes
        if self.yaws:
            cues["yaw_range_deg"] = round(max(self.yaws) - min(self.yaws), 1)
        return cues
