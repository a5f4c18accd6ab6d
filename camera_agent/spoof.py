"""A liveness verdict per track: MiniFASNet scores of the frames a track is decided from, plus its motion cues.

The verdict is ``live``, ``suspected_attack`` or ``unsure``; it travels in the event's ``liveness`` object
with its evidence (the scores' mean and minimum, how many frames were scored, the threshold, the reason),
beside the motion cues of ``liveness.py``. The server decides what a suspected attack does (the
``liveness_action`` setting). It is a signal for a teacher's review, not security: a printed photo or a
phone held still is what it catches; a replayed video, a mask, or a photo moved to fake motion may pass.

Rules (``judge_track``): the model speaks first, since motion alone cannot tell a moved photo from a child.
- No frame scored (the models are not installed, or no face was large enough): ``unsure``.
- Mean score under the threshold: ``suspected_attack``, unless the landmarks moved relative to the face box
  as a live face's do (turning, blinking), when the two disagree: ``unsure`` (a live child wrongly flagged
  costs a teacher's time).
- Mean score at or over the threshold: ``live``; ``unsure`` if some frame scored under it and the face moved
  rigidly over enough frames (a held photo that fooled the model on some frames).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from attendance.faces.liveness import Box, LivenessChecker

LIVE, ATTACK, UNSURE = "live", "suspected_attack", "unsure"
MAX_TRACKS = 256  # per-track state kept at once; the oldest is dropped (a track that ended undecided)
MAX_SCORES_PER_TRACK = 20


@dataclass(frozen=True)
class SpoofRule:
    """``threshold``: live score under which a frame looks like an attack (the core's ``liveness_threshold``).
    ``live_landmark_motion``: landmark motion (face sizes) above which a face moved as only a live one does.
    ``rigid_landmark_motion`` / ``rigid_min_frames``: below it over that many frames, the face moved rigidly.
    The motion values are a first guess, not measured on attacks (NUAA's attack frames are single shots)."""

    threshold: float = 0.05
    live_landmark_motion: float = 0.03
    rigid_landmark_motion: float = 0.008
    rigid_min_frames: int = 8


def judge_track(scores: list[float], cues: dict, rule: SpoofRule) -> dict:
    """The verdict and its evidence, as flat fields to add to the event's ``liveness`` object."""
    evidence: dict = {"spoof_threshold": rule.threshold, "spoof_frames": len(scores)}
    if not scores:
        return {**evidence, "verdict": UNSURE, "verdict_reason": "no frame scored"}
    mean, low = float(np.mean(scores)), float(np.min(scores))
    evidence.update(spoof_score_mean=round(mean, 4), spoof_score_min=round(low, 4))
    motion = cues.get("landmark_motion")
    moved_live = motion is not None and motion >= rule.live_landmark_motion
    rigid = (motion is not None and motion < rule.rigid_landmark_motion
             and cues.get("frames", 0) >= rule.rigid_min_frames)
    if mean < rule.threshold:
        if moved_live:
            return {**evidence, "verdict": UNSURE, "verdict_reason": "model says photo, landmarks moved as a live face"}
        return {**evidence, "verdict": ATTACK, "verdict_reason": "model says photo or screen"}
    if low < rule.threshold and rigid:
        return {**evidence, "verdict": UNSURE, "verdict_reason": "some frames look like a photo and the face moved rigidly"}
    return {**evidence, "verdict": LIVE, "verdict_reason": "model says live"}


class TrackLiveness:
    """The pipeline's liveness step: crops a track's embedding candidate when it is chosen, scores the due
    candidates of a frame in one batch with the embeddings, and gives each track's verdict when it is decided.
    Bounded: at most ``MAX_TRACKS`` tracks and ``MAX_SCORES_PER_TRACK`` scores each."""

    def __init__(self, checker: LivenessChecker, rule: SpoofRule | None = None) -> None:
        self.checker = checker
        self.rule = rule or SpoofRule(threshold=checker.threshold)
        self.pending: OrderedDict[int, np.ndarray] = OrderedDict()
        self.scores: OrderedDict[int, list[float]] = OrderedDict()

    def offer(self, track_id: int, image_rgb: np.ndarray, box: Box) -> None:
        """This face is now the track's embedding candidate: keep its crops (cheap) to score with the batch."""
        self.pending[track_id] = self.checker.crop_face(image_rgb, box)
        self.pending.move_to_end(track_id)
        _cap(self.pending)

    def score(self, track_ids: list[int]) -> int:
        """Score the pending candidates of these tracks (the ones being embedded now) in one batch."""
        ids = [t for t in track_ids if t in self.pending]
        if not ids:
            return 0
        values = self.checker.score_crops([self.pending.pop(t) for t in ids])
        for track_id, value in zip(ids, values):
            kept = self.scores.setdefault(track_id, [])
            if len(kept) < MAX_SCORES_PER_TRACK:
                kept.append(float(value))
            self.scores.move_to_end(track_id)
        _cap(self.scores)
        return len(ids)

    def verdict(self, track_id: int, cues: dict) -> dict:
        """The track's motion cues with the verdict and its evidence; forgets the track."""
        self.pending.pop(track_id, None)
        return {**cues, **judge_track(self.scores.pop(track_id, []), cues, self.rule)}


def _cap(kept: OrderedDict) -> None:
    while len(kept) > MAX_TRACKS:
        kept.popitem(last=False)
