"""The per-frame pipeline: detect, track, embed the best frames, match, vote, and decide once per track.

The face engine does the face work, one step at a time: ``detect`` once per frame (the whole frame every
``detect_every_frames`` frames, in between only the regions around live tracks: a 190 px region costs a
fifth of a 640x360 frame), ``locate`` each face's landmarks (the detector's own when it gives them),
``align`` only the faces a track still wants embedded, and ``embed`` the due chips in one batch.
Embedding (the expensive step, ~50-150 ms a face on a gate PC) runs at most once every
``embed_every_frames`` frames per track, on the best face of that window (sharpest first: blur costs
recognition most), and stops when the track is decided or has ``max_embeddings_per_track`` votes. A track
whose last votes were all far from every student (a stranger) is given up, until a face much sharper than
any embedded so far shows that those votes came from blurred frames.

Everything kept per track is bounded (a face in view for hours holds the same few kilobytes) and dropped
when the track ends.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from attendance.faces.engine import FaceEngine
from attendance.faces.types import Face, FaceQuality
from attendance.faces.video import encode_jpeg_rgb, resize
from attendance.gallery import OperatingPoint
from camera_agent.gallery_sync import GallerySnapshot
from camera_agent.liveness import LivenessCues
from camera_agent.sources import Frame
from camera_agent.spoof import TrackLiveness
from camera_agent.tracker import Box, IouTracker, Track
from camera_agent.voting import TrackVotes, Verdict, Vote, VotingRule, quality_weight, score_candidate

logger = logging.getLogger(__name__)

ROI_MARGIN = 0.4  # a track's search region: its box grown by this fraction of its side on each side
# A track given up as a stranger is embedded again when a face this many times sharper than any embedded
# so far comes along: its far votes may have come from blurred frames (a child walking in, out of focus).
RETRY_SHARPNESS_RATIO = 2.0
# Faces under this fraction of min_face_px are not tracked: they must double in size before they could be
# embedded, and the next whole-frame scan finds them when they have (YuNet finds faces from 10 px).
TRACK_MIN_FACE_RATIO = 0.5
SNAPSHOT_MARGIN = 0.25


@dataclass(frozen=True)
class PipelineConfig:
    """The pipeline's knobs (see ``AgentSettings`` for their meaning and defaults)."""

    point: OperatingPoint
    scale: float = 1.0
    detect_every_frames: int = 4
    min_face_px: int = 60
    min_sharpness: float = 0.0
    max_yaw_deg: float = 45.0
    embed_every_frames: int = 6
    max_embeddings_per_track: int = 20
    voting: VotingRule = field(default_factory=VotingRule)
    track_min_iou: float = 0.3
    track_max_missed_frames: int = 10
    snapshots: bool = True
    snapshot_max_px: int = 160


@dataclass
class SeenFace:
    """A face found in this frame (the engine's ``Face``: box and landmarks), its pose, and its track."""

    face: Face
    yaw_deg: float
    roll_deg: float
    pitch_ratio: float
    track_id: int = 0

    @property
    def box(self) -> Box:
        return self.face.box

    @property
    def landmarks(self) -> np.ndarray:
        return self.face.landmarks

    @property
    def face_px(self) -> float:
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))


@dataclass
class Candidate:
    """The best face of a track's current embedding window: the aligned face, its scores and a snapshot crop."""

    face: Face  # with its chip and quality; the frame itself is not kept
    score: float  # what chose it within the window (sharpness first)
    weight: float  # its vote's weight
    crop: np.ndarray | None

    @property
    def quality(self) -> FaceQuality:
        return self.face.require_quality()


@dataclass
class TrackState:
    """What the pipeline knows about one track."""

    track: Track
    first_index: int  # source frame index of the first frame
    first_t_s: float
    first_seen_wall_s: float  # time.monotonic() when its first frame was processed
    votes: TrackVotes = field(default_factory=TrackVotes)
    cues: LivenessCues = field(default_factory=LivenessCues)
    last_embed_frame: int = -10**9
    sharpest_embedded: float = 0.0  # the sharpness of the sharpest face embedded so far
    candidate: Candidate | None = None
    best_weight: float = 0.0
    best_crop: np.ndarray | None = None
    verdict: Verdict | None = None

    @property
    def decided(self) -> bool:
        return self.verdict is not None


@dataclass
class Decision:
    """A track's decision, ready to be recorded: a check-in (``student_code``) or an unknown face."""

    kind: str  # "checkin" or "unknown"
    verdict: Verdict
    track_id: int
    first_index: int
    captured_at: dt.datetime
    t_s: float
    first_t_s: float
    first_seen_wall_s: float
    liveness: dict[str, float | int | str]  # motion cues, and the liveness verdict with its evidence
    snapshot_jpeg: bytes | None = None

    @property
    def student_code(self) -> str | None:
        return self.verdict.student_code


@dataclass
class FrameResult:
    faces: list[SeenFace]
    decisions: list[Decision]
    embedded: int
    full_scan: bool


class Pipeline:
    """Turns frames into decisions. One instance per camera; not thread-safe (the frame loop owns it)."""

    def __init__(self, engine: FaceEngine, config: PipelineConfig, liveness: TrackLiveness | None = None) -> None:
        self.engine = engine
        self.config = config
        self.liveness = liveness  # MiniFASNet on the embedding candidates only (camera_agent/spoof.py)
        self.tracker = IouTracker(config.track_min_iou, config.track_max_missed_frames)
        self.states: dict[int, TrackState] = {}
        self.frames_processed = 0
        self.stage_ms: dict[str, float] = dict.fromkeys(("detect", "landmarks", "align", "embed", "liveness", "match"), 0.0)
        self.embeddings_total = 0

    def process(self, frame: Frame, gallery: GallerySnapshot | None) -> FrameResult:
        """Run every step on one frame; returns the faces seen and the decisions made."""
        number = self.frames_processed
        self.frames_processed += 1
        full_scan = number % max(1, self.config.detect_every_frames) == 0
        faces = self.find_faces(frame.image, full_scan)
        update = self.tracker.update([f.box for f in faces], number)
        self.follow_tracks(frame, faces, update.tracks)
        embedded = self.embed_best_faces(frame.image, number, gallery) if gallery is not None else 0
        decisions = self.decide_tracks(frame, update.ended)
        return FrameResult(faces, decisions, embedded, full_scan)

    def finish(self, frame: Frame | None) -> list[Decision]:
        """End every track (the source ended or stalled) and return their decisions."""
        return self.decide_tracks(frame, self.tracker.end_all())

    # -- steps ---------------------------------------------------------------------------------------------

    def find_faces(self, image: np.ndarray, full_scan: bool) -> list[SeenFace]:
        """Detect faces once (the whole frame, or only around live tracks) and place their landmarks."""
        started = time.perf_counter()
        regions = None if full_scan else [t.box for t in self.tracker.live.values()]
        detections = self.engine.detect(image, scale=self.config.scale, regions=regions, region_margin=ROI_MARGIN,
                                        grey=True)
        self.stage_ms["detect"] += (time.perf_counter() - started) * 1000.0
        started = time.perf_counter()
        faces = []
        smallest_px = self.config.min_face_px * TRACK_MIN_FACE_RATIO
        for detection in detections:
            x1, y1, x2, y2 = detection.box
            if max(x2 - x1, y2 - y1) < smallest_px:
                continue  # a face far in the background: not followed until a full scan finds it grown
            face = self.engine.locate(image, detection)
            faces.append(SeenFace(face, *self.engine.measure_pose(face.landmarks)))
        self.stage_ms["landmarks"] += (time.perf_counter() - started) * 1000.0
        return faces

    def follow_tracks(self, frame: Frame, faces: list[SeenFace], tracks: list[Track]) -> None:
        """Attach each face to its track's state: liveness cues, and the best embedding candidate."""
        for face, track in zip(faces, tracks):
            face.track_id = track.track_id
            state = self.states.get(track.track_id)
            if state is None:
                state = TrackState(track, frame.index, frame.t_s, time.monotonic())
                self.states[track.track_id] = state
            state.cues.observe(face.box, face.landmarks, face.yaw_deg)
            if self._wants_embedding(state):
                self._consider_candidate(frame.image, face, state)

    def embed_best_faces(self, image: np.ndarray, frame_number: int, gallery: GallerySnapshot) -> int:
        """Embed the candidates whose window has closed, in one batch, and add their votes; returns how many."""
        due = [(s, candidate) for s in self.states.values()
               if (candidate := s.candidate) is not None and not s.decided
               and frame_number - s.last_embed_frame >= self.config.embed_every_frames]
        if not due:
            return 0
        started = time.perf_counter()
        faces = [candidate.face for _, candidate in due]
        self.engine.embed(faces)
        self.stage_ms["embed"] += (time.perf_counter() - started) * 1000.0
        if self.liveness is not None:
            started = time.perf_counter()
            self.liveness.score([s.track.track_id for s, _ in due])
            self.stage_ms["liveness"] += (time.perf_counter() - started) * 1000.0
        started = time.perf_counter()
        vectors = np.stack([f.require_embedding() for f in faces])
        matches = gallery.gallery.search(vectors, gallery.point or self.config.point)
        self.stage_ms["match"] += (time.perf_counter() - started) * 1000.0
        for (state, candidate), match in zip(due, matches):
            state.votes.add(Vote(_code(match.student_key), _code(match.best_key), match.distance, match.margin,
                                 candidate.weight))
            if candidate.weight >= state.best_weight:
                state.best_weight, state.best_crop = candidate.weight, candidate.crop
            state.candidate = None
            state.last_embed_frame = frame_number
            state.sharpest_embedded = max(state.sharpest_embedded, candidate.quality.sharpness)
            logger.debug("track %d: embedding %d, distance %.3f, margin %.3f, named %s", state.track.track_id,
                         len(state.votes), match.distance, match.margin, match.student_key is not None)
        self.embeddings_total += len(due)
        return len(due)

    def decide_tracks(self, frame: Frame | None, ended: list[Track]) -> list[Decision]:
        """Name tracks whose votes now agree; ended tracks become unknown (or are dropped) if still undecided."""
        decisions = []
        for state in self.states.values():
            if state.decided:
                continue
            verdict = state.votes.named_verdict(self.config.voting)
            if verdict is not None:
                decisions.append(self._decide(state, verdict, frame))
        for track in ended:
            ended_state = self.states.pop(track.track_id, None)
            if ended_state is not None and not ended_state.decided:
                decision = self._final_decision(ended_state, frame)
                if decision is not None:
                    decisions.append(decision)
        return decisions

    # -- helpers -------------------------------------------------------------------------------------------

    def _wants_embedding(self, state: TrackState) -> bool:
        return not state.decided and len(state.votes) < self.config.max_embeddings_per_track

    def _consider_candidate(self, image: np.ndarray, seen: SeenFace, state: TrackState) -> None:
        """Align the face and keep it if it beats the window's candidate so far (sharpness counts most)."""
        cfg = self.config
        if seen.face_px < cfg.min_face_px or abs(seen.yaw_deg) > cfg.max_yaw_deg:
            return
        started = time.perf_counter()
        face = self.engine.align(image, seen.face)
        self.stage_ms["align"] += (time.perf_counter() - started) * 1000.0
        quality = face.require_quality()
        if quality.sharpness < cfg.min_sharpness:
            return
        if (state.votes.hopeless(cfg.voting)
                and quality.sharpness <= RETRY_SHARPNESS_RATIO * state.sharpest_embedded):
            return  # far from everyone so far, and this face is no better: spare the embedding
        score = score_candidate(quality, cfg.min_face_px)
        if state.candidate is None or score > state.candidate.score:
            crop = _snapshot_crop(image, face.box, cfg.snapshot_max_px) if cfg.snapshots else None
            state.candidate = Candidate(face, score, quality_weight(quality, cfg.min_face_px), crop)
            if self.liveness is not None:
                self.liveness.offer(state.track.track_id, image, face.box)

    def _decide(self, state: TrackState, verdict: Verdict, frame: Frame | None) -> Decision:
        state.verdict = verdict
        snapshot = encode_jpeg_rgb(state.best_crop, 80) if (self.config.snapshots and state.best_crop is not None) else None
        captured_at = frame.captured_at if frame is not None else dt.datetime.now(dt.UTC)
        t_s = frame.t_s if frame is not None else state.first_t_s
        return Decision("checkin" if verdict.student_code else "unknown", verdict, state.track.track_id,
                        state.first_index, captured_at, t_s, state.first_t_s, state.first_seen_wall_s,
                        self._liveness_evidence(state), snapshot)

    def _liveness_evidence(self, state: TrackState) -> dict:
        cues = state.cues.as_dict()
        return cues if self.liveness is None else self.liveness.verdict(state.track.track_id, cues)

    def _final_decision(self, state: TrackState, frame: Frame | None) -> Decision | None:
        verdict = state.votes.final_verdict(self.config.voting)
        return self._decide(state, verdict, frame) if verdict is not None else None


def _code(key: object | None) -> str | None:
    return None if key is None else str(key)


def _clip(box: Box, width: int, height: int) -> Box:
    x1, y1, x2, y2 = box
    return max(0, x1), max(0, y1), min(width, x2), min(height, y2)


def _grow(box: Box, margin: float, width: int, height: int) -> Box:
    x1, y1, x2, y2 = box
    pad = round(max(x2 - x1, y2 - y1) * margin)
    return _clip((x1 - pad, y1 - pad, x2 + pad, y2 + pad), width, height)


def _snapshot_crop(image: np.ndarray, box: Box, max_px: int) -> np.ndarray:
    """The face and a little around it (never the whole frame), at most ``max_px`` on its longest side."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = _grow(box, SNAPSHOT_MARGIN, width, height)
    crop = image[y1:y2, x1:x2]
    longest = max(crop.shape[:2])
    return np.ascontiguousarray(resize(crop, max_px / longest) if longest > max_px else crop.copy())
