"""The agent: wires a source, the pipeline, the outbox and the background threads, and runs the frame loop.

The loop is: read a frame, process it (detect, track, embed, vote), record the decisions in the outbox,
read any QR card (every few frames), show the preview. Everything that talks to the network (sender, gallery
sync, heartbeat) runs on its own thread, so a slow or absent dashboard never slows down recognition.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from attendance.faces.engine import FaceEngine
from attendance.faces.video import encode_jpeg_rgb
from attendance.school_day import school_date_at
from camera_agent import __version__
from camera_agent.cards import CardLedger, CardReader, CardSighting
from camera_agent.client import DashboardClient, DeliveryError
from camera_agent.engine import operating_point
from camera_agent.gallery_sync import GallerySync
from camera_agent.heartbeat import build_heartbeat, run_heartbeats
from camera_agent.outbox import Outbox, StoredEvent, checkin_key
from camera_agent.pipeline import Decision, FrameResult, Pipeline, PipelineConfig
from camera_agent.preview import PreviewServer, annotate
from camera_agent.sender import Backoff, Sender
from camera_agent.settings import AgentSettings
from camera_agent.sources import Frame, FrameSource, SourceEnded
from camera_agent.spoof import TrackLiveness
from camera_agent.status import AgentStatus
from camera_agent.voting import VotingRule

logger = logging.getLogger(__name__)

STALL_END_TRACKS_S = 2.0  # a live camera silent this long ends its tracks (the people have moved on)


# Called with each decision and what the outbox made of it (None: already checked in today), after the commit.
DecisionListener = Callable[[Decision, StoredEvent | None], None]


def pipeline_config(settings: AgentSettings, point) -> PipelineConfig:
    return PipelineConfig(
        point=point, scale=settings.scale, detect_every_frames=settings.detect_every_frames,
        min_face_px=settings.min_face_px, min_sharpness=settings.min_sharpness, max_yaw_deg=settings.max_yaw_deg,
        embed_every_frames=settings.embed_every_frames, max_embeddings_per_track=settings.max_embeddings_per_track,
        voting=VotingRule(settings.min_votes, settings.min_vote_share, settings.min_embeddings_for_unknown,
                          give_up_distance=point.threshold + settings.give_up_margin),
        track_min_iou=settings.track_min_iou, track_max_missed_frames=settings.track_max_missed_frames,
        snapshots=settings.snapshots, snapshot_max_px=settings.snapshot_max_px,
    )


def school_date_of(captured_at: dt.datetime, timezone: str) -> str:
    """The school day (ISO date) of a moment in the school's zone ``timezone``: the dashboard's own rule."""
    return school_date_at(captured_at, timezone).isoformat()


def record_decision(outbox: Outbox, decision: Decision, *, source_identity: str, model_id: str,
                    timezone: str) -> StoredEvent | None:
    """Store one decision as an event; None when its student is already checked in today (or it was decided
    before, e.g. a file processed again after a crash)."""
    school_date = school_date_of(decision.captured_at, timezone)
    verdict = decision.verdict
    body: dict = {"captured_at": decision.captured_at.isoformat(), "liveness": decision.liveness}
    if decision.snapshot_jpeg is not None:
        body["snapshot_jpeg_b64"] = base64.b64encode(decision.snapshot_jpeg).decode("ascii")
    if decision.kind == "checkin" and verdict.student_code:  # a check-in always names its student
        body.update(student_code=verdict.student_code, distance=round(verdict.distance, 4),
                    margin=round(min(verdict.margin, 9.0), 4), votes=verdict.votes, model_id=model_id)
        return outbox.record("checkin", body, checkin_key(school_date, verdict.student_code), school_date)
    body["best_distance"] = round(min(verdict.distance, 9.0), 4)
    if verdict.nearest_code:
        body["nearest_student_code"] = verdict.nearest_code
    key = f"unknown:{source_identity}:{decision.first_index}:{decision.track_id}"
    return outbox.record("unknown", body, key, school_date)


class Agent:
    """One camera's agent. ``run`` returns the process exit status.

    It keeps no history of its own: decisions go to the outbox (on disk) and are counted in ``stored``;
    whoever wants each one (a benchmark, a test) passes ``on_decision``.
    """

    def __init__(self, settings: AgentSettings, engine: FaceEngine, source: FrameSource, outbox: Outbox,
                 client: DashboardClient, point, status: AgentStatus | None = None,
                 liveness: TrackLiveness | None = None, on_decision: DecisionListener | None = None) -> None:
        self.settings = settings
        self.source = source
        self.outbox = outbox
        self.client = client
        self.status = status or AgentStatus()
        self.model_id = engine.embedder.model_id
        self.pipeline = Pipeline(engine, pipeline_config(settings, point), liveness)
        self.cards = CardReader(settings.qr_every_frames, settings.qr_scale)
        self.card_ledger = CardLedger()
        # The school's calibrated point comes with the gallery; the installer's match_threshold/margin still win.
        self.gallery = GallerySync(client, self.model_id, engine.embedder.dim, settings.gallery_cache_path, self.status,
                                   resolve_point=lambda calibrated: operating_point(settings, self.model_id, calibrated))
        self.sender = Sender(outbox, client, self.status, batch_size=settings.batch_size,
                             backoff=Backoff(max_s=settings.retry_max_s))
        self.preview = PreviewServer(settings.preview_port) if settings.preview_port else None
        self.stop = threading.Event()
        self.on_decision = on_decision
        self.stored: Counter[str] = Counter()  # events stored by kind ("checkin", "unknown"), for --once's summary
        self._threads_stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pruned_for: str | None = None

    @property
    def school_timezone(self) -> str:
        """The zone that decides the school day: the school's, sent with the gallery (also with its copy on
        disk, so it holds offline after the first contact); before any gallery, the ``timezone`` setting."""
        current = self.gallery.current
        return current.timezone if current is not None and current.timezone else self.settings.timezone

    # -- the frame loop ------------------------------------------------------------------------------------

    def run_frames(self) -> None:
        """Read, process, record, show; until the source ends or ``stop`` is set."""
        last_frame: Frame | None = None
        silent_since = time.monotonic()
        while not self.stop.is_set():
            try:
                frame = self.source.read(timeout_s=0.5)
            except SourceEnded:
                break
            if frame is None:
                silent_since = self.handle_silence(silent_since)
                continue
            silent_since = time.monotonic()
            last_frame = frame
            try:
                result = self.pipeline.process(frame, self.gallery.current)
                self.record_decisions(result.decisions, frame)
                self.record_cards(self.cards.read(frame))
                self.show(frame, result)
            except Exception:  # one bad frame must not stop the gate; log, pause, go on
                logger.exception("frame %d failed", frame.index)
                self.status.report_error("frame processing failed (see the agent's log)")
                time.sleep(0.5 if self.source.live else 0.0)
            self.status.count_frame()
        self.record_decisions(self.pipeline.finish(last_frame), last_frame)

    def handle_silence(self, silent_since: float) -> float:
        """No frame from a live camera: after a while, end its tracks so their decisions are not held back."""
        if self.pipeline.tracker.live and time.monotonic() - silent_since > STALL_END_TRACKS_S:
            self.record_decisions(self.pipeline.finish(None), None)
        return silent_since

    def record_decisions(self, decisions: list[Decision], frame: Frame | None) -> None:
        """Store each decision in the outbox (before anything is sent) and wake the sender."""
        for decision in decisions:
            self.prune_old_decisions(decision.captured_at)
            stored = record_decision(self.outbox, decision, source_identity=self.source.identity,
                                     model_id=self.model_id, timezone=self.school_timezone)
            if self.on_decision is not None:
                self.on_decision(decision, stored)
            if stored is None:
                logger.debug("track %d: %s already recorded today", decision.track_id, decision.student_code)
                continue
            self.stored[stored.kind] += 1
            logger.info("%s seq=%d track=%d votes=%d/%d distance=%.3f", decision.kind, stored.seq, decision.track_id,
                        decision.verdict.votes, decision.verdict.embeddings, decision.verdict.distance)
            self.save_debug_frame(decision, frame)
            self.sender.wake.set()

    def record_cards(self, sightings: list[CardSighting]) -> None:
        """Queue a ``qr`` check-in for each card not queued today (the dashboard verifies its signature)."""
        for sighting in sightings:
            school_date = school_date_of(sighting.captured_at, self.school_timezone)
            stored = self.card_ledger.record(self.outbox, sighting, school_date)
            if stored is None:
                continue
            logger.info("qr card seq=%d", stored.seq)
            self.sender.wake.set()

    def show(self, frame: Frame, result: FrameResult) -> None:
        """Draw boxes, names, votes and quality on the preview, when someone is watching."""
        if self.preview is None or not self.preview.watched:
            return
        names = self.gallery.current.names if self.gallery.current else {}
        labels = []
        for face in result.faces:
            state = self.pipeline.states.get(face.track_id)
            verdict = state.verdict if state else None
            votes = len(state.votes) if state else 0
            if verdict is not None and verdict.student_code:
                text, kind = f"{verdict.student_code} {_ascii(names.get(verdict.student_code, ''))}", "named"
            elif verdict is not None:
                text, kind = "unknown", "unknown"
            else:
                text, kind = f"#{face.track_id} votes {votes}", "pending"
            labels.append((face.box, f"{text} {face.face_px:.0f}px yaw {face.yaw_deg:.0f}", kind))
        self.preview.publish(annotate(frame.image, labels))

    def save_debug_frame(self, decision: Decision, frame: Frame | None) -> None:
        """With ``--debug-dir``: keep the frame of a decision (asked for explicitly: it is a child's picture)."""
        if not self.settings.debug_dir or frame is None:
            return
        folder = Path(self.settings.debug_dir)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{decision.captured_at:%Y%m%dT%H%M%S%f}_{decision.kind}_{decision.student_code or 'unknown'}_t{decision.track_id}.jpg"
        kind = "named" if decision.student_code else "unknown"
        boxes = [(t.box, decision.student_code or "unknown" if t.track_id == decision.track_id else f"#{t.track_id}",
                  kind if t.track_id == decision.track_id else "pending")
                 for t in self.pipeline.tracker.live.values()]
        (folder / name).write_bytes(encode_jpeg_rgb(annotate(frame.image, boxes), 85))

    def prune_old_decisions(self, now: dt.datetime) -> None:
        today = school_date_of(now, self.school_timezone)
        if self._pruned_for == today:
            return
        cutoff = (dt.date.fromisoformat(today) - dt.timedelta(days=self.settings.keep_days)).isoformat()
        self.outbox.prune_decisions(cutoff)
        self._pruned_for = today

    # -- start and stop ------------------------------------------------------------------------------------

    def start_background(self) -> None:
        """Start the sender, the gallery poller and the heartbeat."""
        stop = self._threads_stop
        self._spawn("sender", self.sender.run, stop)
        self._spawn("gallery", self.gallery.run, stop, self.settings.gallery_poll_s)
        self._spawn("heartbeat", run_heartbeats, self.client, stop, self.settings.heartbeat_s, self.heartbeat_body)

    def heartbeat_body(self) -> dict:
        return build_heartbeat(self.status, self.outbox, version=__version__, backend=self.settings.face_backend,
                               model_id=self.model_id)

    def load_gallery(self, wait_s: float) -> bool:
        """The disk copy at once, then the dashboard's (retried for ``wait_s`` when there is no copy)."""
        have_copy = self.gallery.load_cached()
        deadline = time.monotonic() + wait_s
        while True:
            if self.gallery.try_refresh() or self.gallery.current is not None:
                return True
            if have_copy or time.monotonic() >= deadline or self.stop.wait(2.0):
                return self.gallery.current is not None

    def wait_for_delivery(self, timeout_s: float) -> int:
        """With --once: wait until the outbox is empty or ``timeout_s`` has passed; returns how many are left."""
        deadline = time.monotonic() + timeout_s
        while True:
            pending = self.outbox.stats().pending
            if pending == 0 or time.monotonic() >= deadline or self.stop.is_set():
                return pending
            self.sender.wake.set()
            time.sleep(0.1)

    def close(self) -> None:
        self._threads_stop.set()
        self.sender.wake.set()
        for thread in self._threads:
            thread.join(timeout=self.settings.request_timeout_s + 2.0)
        self.source.close()
        if self.preview is not None:
            self.preview.close()
        try:
            self.client.post_heartbeat(self.heartbeat_body())
        except DeliveryError:  # the last heartbeat is a courtesy
            logger.debug("final heartbeat not sent")
        self.outbox.close()

    def _spawn(self, name: str, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)


def _ascii(text: str) -> str:
    """OpenCV draws ASCII only: strip Vietnamese diacritics for the preview label."""
    return unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D")).encode("ascii", "ignore").decode()
