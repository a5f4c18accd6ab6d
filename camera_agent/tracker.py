"""An IoU tracker: each detected face continues the track whose last box it overlaps most, or starts a new one.

Greedy matching on IoU is enough at a school gate: faces move a few pixels between frames and rarely
cross. A face the detector lost for a few frames (a turned head) often comes back too far away to
overlap its old box, so detections left over after the IoU pass may continue a track whose centre is
within ``max_center_jump`` face sizes: one child stays one track, and is decided once. A track ends after
``max_missed_frames`` processed frames without its face. A track keeps only its latest box: nothing
about it grows while a face stays in view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from attendance.faces.types import box_iou as iou

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in full-resolution pixels


@dataclass
class Track:
    """One face followed across frames. ``first_frame``/``last_frame`` are processed-frame indexes."""

    track_id: int
    box: Box
    first_frame: int
    last_frame: int
    hits: int = 1
    missed: int = 0


@dataclass
class TrackUpdate:
    """The result of one frame: the track of each detection (same order), and the tracks that ended."""

    tracks: list[Track]
    ended: list[Track]


class IouTracker:
    """Keeps the live tracks; ``update`` once per processed frame with that frame's boxes."""

    def __init__(self, min_iou: float = 0.3, max_missed_frames: int = 10, max_center_jump: float = 1.0) -> None:
        self.min_iou = min_iou
        self.max_missed_frames = max_missed_frames
        self.max_center_jump = max_center_jump
        self.live: dict[int, Track] = {}
        self._next_id = 1

    def update(self, boxes: Sequence[Box], frame_index: int) -> TrackUpdate:
        """Assign each of ``boxes`` to a track (continuing or new); end tracks missed too long."""
        pairs = sorted(
            ((iou(track.box, box), track_id, i) for track_id, track in self.live.items() for i, box in enumerate(boxes)),
            reverse=True,
        )
        assigned: dict[int, Track] = {}
        used_tracks: set[int] = set()
        for overlap, track_id, i in pairs:
            if overlap < self.min_iou:
                break
            if track_id in used_tracks or i in assigned:
                continue
            track = self.live[track_id]
            track.box, track.last_frame, track.missed = boxes[i], frame_index, 0
            track.hits += 1
            assigned[i] = track
            used_tracks.add(track_id)
        jumps = sorted(
            (_center_distance(track.box, box), track_id, i)
            for track_id, track in self.live.items() if track_id not in used_tracks
            for i, box in enumerate(boxes) if i not in assigned
        )
        for distance, track_id, i in jumps:
            if track_id in used_tracks or i in assigned:
                continue
            track = self.live[track_id]
            if distance > self.max_center_jump * max(_side(track.box), _side(boxes[i])):
                continue
            track.box, track.last_frame, track.missed = boxes[i], frame_index, 0
            track.hits += 1
            assigned[i] = track
            used_tracks.add(track_id)
        for i, box in enumerate(boxes):
            if i not in assigned:
                track = Track(self._next_id, box, frame_index, frame_index)
                self._next_id += 1
                self.live[track.track_id] = track
                assigned[i] = track
                used_tracks.add(track.track_id)
        ended = []
        for track_id in list(self.live):
            if track_id in used_tracks:
                continue
            track = self.live[track_id]
            track.missed += 1
            if track.missed > self.max_missed_frames:
                ended.append(self.live.pop(track_id))
        return TrackUpdate([assigned[i] for i in range(len(boxes))], ended)

    def end_all(self) -> list[Track]:
        """End every live track (the source ended or stalled)."""
        ended = list(self.live.values())
        self.live.clear()
        return ended


def _center_distance(a: Box, b: Box) -> float:
    return math.dist(((a[0] + a[2]) / 2, (a[1] + a[3]) / 2), ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2))


def _side(box: Box) -> float:
    return float(max(box[2] - box[0], box[3] - box[1]))
