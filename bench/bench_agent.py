"""Benchmark of the camera agent's pipeline against face_recognition's webcam recipe, on real clips.

    python -m bench.bench_agent                      # short_hamilton_clip.mp4 and the Intel clips
    python -m bench.bench_agent --clips short_hamilton_clip.mp4 --fps 10
    python -m bench.bench_agent --instance /tmp/inst --detector yunet_2023mar --model mobilefacenet_paddlex --no-naive

For each clip, in the same process and on the same decoded frames: the agent's pipeline (detect on a
grey, scaled frame, whole-frame scans every 4th frame and track regions in between; embed the best face
of a track every 6 frames; vote; decide once; store in a real SQLite outbox) and the naive loop
(face_recognition's webcam recipe with the same dlib models: every frame at half size, HOG upsample 1,
embed every face, nearest template within 0.6, check in the first time a name appears). Reports frames
per second, per-stage milliseconds per frame, and the time from a face's first frame to its check-in
being stored (frame time and wall time, p50/p95). The naive loop's check-ins must all be made by ours.
``--fps N`` decodes at most N frames per video second and both loops process exactly those frames: frames
per second counts processed frames. ``--instance`` names an instance folder whose installed models the agent
uses (``--detector``/``--model``: YuNet and an ArcFace-style embedder, say); the people are enrolled with
the same pair. "detector runs" counts every run of the detection network, the landmarker's included.
Needs ../shared/faces; prints a markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from attendance.faces.dlib_models import DlibHogDetector
from attendance.faces.engine import FaceEngine
from attendance.faces.factory import build_face_engine
from attendance.faces.image import load_image
from attendance.faces.video import open_video_file, resize
from attendance.gallery import Gallery, OperatingPoint
from attendance.settings import load_settings
from camera_agent.agent import pipeline_config, record_decision
from camera_agent.engine import build_engine, core_settings, operating_point
from camera_agent.gallery_sync import GallerySnapshot
from camera_agent.outbox import Outbox
from camera_agent.pipeline import Pipeline
from camera_agent.settings import AgentSettings
from camera_agent.sources import Frame
from camera_agent.tracker import IouTracker

FACES = Path(__file__).resolve().parents[1].parent / "shared" / "faces"
DEFAULT_CLIPS = ["short_hamilton_clip.mp4", "intel/classroom.mp4", "intel/face-demographics-walking-and-pause.mp4",
                 "intel/face-demographics-walking.mp4", "intel/head-pose-face-detection-female.mp4"]
NAIVE_TOLERANCE = 0.6  # face_recognition's compare_faces default
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class LoopResult:
    name: str
    frames: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0  # process CPU time: fairer than wall time on a shared machine
    stage_ms: dict[str, float] = field(default_factory=dict)
    embeddings: int = 0
    detector_runs: int = 0
    video_s: float = 0.0
    checkins: list[str] = field(default_factory=list)
    unknowns: int = 0
    latency_frame_s: list[float] = field(default_factory=list)
    latency_wall_s: list[float] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_fps(self) -> float:
        return self.frames / self.cpu_s if self.cpu_s else 0.0


def count_detector_runs(engine: FaceEngine) -> dict[str, int]:
    """Counts every run of the engine's detection network from now on (the landmarker's runs too, when the
    landmarker runs the same detector on face regions, as YuNet's does). Wraps the instance, not the class."""
    counter = {"runs": 0}
    detector = engine.detector
    name = "detect_at_scale" if hasattr(detector, "detect_at_scale") else "detect"
    inner = getattr(detector, name)

    def counted(*args, **kwargs):
        counter["runs"] += 1
        return inner(*args, **kwargs)

    setattr(detector, name, counted)
    landmark_detector = getattr(engine.landmarker, "detector", None)
    if landmark_detector is not None and landmark_detector is not detector and hasattr(landmark_detector, "detect_at_scale"):
        inner_landmarks = landmark_detector.detect_at_scale

        def counted_landmarks(*args, **kwargs):
            counter["runs"] += 1
            return inner_landmarks(*args, **kwargs)

        landmark_detector.detect_at_scale = counted_landmarks
    return counter


def enroll_people(engine: FaceEngine, people: Path) -> Gallery:
    """Each person's photos' largest face; student key = folder name."""
    vectors, keys = [], []
    for person in sorted(p for p in people.iterdir() if p.is_dir()):
        for photo in sorted(person.iterdir()):
            faces = engine.find_faces(load_image(photo))
            if faces:
                vectors.append(faces[0].embedding)
                keys.append(person.name)
    return Gallery(engine.model_id, engine.embedder.metric, np.stack(vectors), keys)


def read_frames(path: Path, fps_cap: float) -> tuple[list[Frame], float]:
    """Every frame of the clip (or at most ``fps_cap`` a second), decoded up front; returns them and the decode time."""
    import datetime as dt

    start = dt.datetime(2026, 9, 7, 6, 30, tzinfo=ZONE)
    reader = open_video_file(str(path))
    frames, started, index, next_due = [], time.perf_counter(), -1, 0.0
    while (image := reader.read_rgb()) is not None:
        index += 1
        t_s = reader.position_ms / 1000.0
        if fps_cap and t_s + 1e-6 < next_due:
            continue
        next_due = t_s + (1.0 / fps_cap if fps_cap else 0.0)
        frames.append(Frame(index, image, start + dt.timedelta(seconds=t_s), t_s))
    reader.release()
    return frames, time.perf_counter() - started


def run_ours(engine: FaceEngine, gallery: Gallery, frames: list[Frame], settings: AgentSettings) -> LoopResult:
    """The agent's pipeline and outbox, as the agent runs them (minus the network threads)."""
    pipeline = Pipeline(engine, pipeline_config(settings, operating_point(settings, engine.model_id)))
    snapshot = GallerySnapshot(gallery, "bench", None)
    result = LoopResult("agent pipeline")
    with tempfile.TemporaryDirectory() as tmp:
        outbox = Outbox(Path(tmp) / "outbox.sqlite3")
        started, cpu_started = time.perf_counter(), time.process_time()
        for frame in frames:
            decisions = pipeline.process(frame, snapshot).decisions
            _store(outbox, decisions, result)
        _store(outbox, pipeline.finish(frames[-1] if frames else None), result)
        result.wall_s = time.perf_counter() - started
        result.cpu_s = time.process_time() - cpu_started
        outbox.close()
    result.frames = len(frames)
    result.stage_ms = dict(pipeline.stage_ms)
    result.embeddings = pipeline.embeddings_total
    return result


def _store(outbox: Outbox, decisions, result: LoopResult) -> None:
    for decision in decisions:
        stored = record_decision(outbox, decision, source_identity="bench", model_id="bench", timezone=ZONE.key)
        if stored is None:
            continue
        if decision.kind == "unknown":
            result.unknowns += 1
            continue
        result.checkins.append(decision.student_code)
        result.latency_frame_s.append(decision.t_s - decision.first_t_s)
        result.latency_wall_s.append(time.monotonic() - decision.first_seen_wall_s)


def run_naive(engine: FaceEngine, gallery: Gallery, frames: list[Frame]) -> LoopResult:
    """face_recognition's webcam recipe with the same dlib models: half size, HOG upsample 1, embed every face."""
    detector = DlibHogDetector(upsample=1)
    point = OperatingPoint(NAIVE_TOLERANCE, 0.0)
    tracker = IouTracker()  # only to know when each face was first seen, for the latency figure
    first_seen: dict[int, tuple[float, float]] = {}
    result = LoopResult("naive recipe")
    stage = {"detect": 0.0, "landmarks": 0.0, "align": 0.0, "embed": 0.0, "match": 0.0}
    started, cpu_started = time.perf_counter(), time.process_time()
    for n, frame in enumerate(frames):
        t0 = time.perf_counter()
        small = resize(frame.image, 0.5)
        boxes = [tuple(int(v * 2) for v in d.box) for d in detector.detect(small)]
        t1 = time.perf_counter()
        points = [engine.landmarker.locate(frame.image, b) for b in boxes]
        t2 = time.perf_counter()
        chips = [engine.embedder.align(frame.image, p, b) for p, b in zip(points, boxes)]
        t3 = time.perf_counter()
        vectors = engine.embedder.embed(chips) if chips else np.zeros((0, 128), np.float32)
        t4 = time.perf_counter()
        matches = gallery.search(vectors, point) if len(vectors) else []
        t5 = time.perf_counter()
        for key, value in zip(stage, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            stage[key] += value * 1000.0
        result.embeddings += len(chips)
        for track, match in zip(tracker.update(boxes, n).tracks, matches):
            first_seen.setdefault(track.track_id, (frame.t_s, time.monotonic()))
            if match.student_key is not None and match.student_key not in result.checkins:
                result.checkins.append(str(match.student_key))
                first_t, first_wall = first_seen[track.track_id]
                result.latency_frame_s.append(frame.t_s - first_t)
                result.latency_wall_s.append(time.monotonic() - first_wall)
    result.wall_s = time.perf_counter() - started
    result.cpu_s = time.process_time() - cpu_started
    result.frames = len(frames)
    result.stage_ms = stage
    return result


def percentile(values: list[float], q: float) -> str:
    if not values:
        return "-"
    return f"{float(np.percentile(values, q)):.2f}"


def table(rows: list[tuple[str, LoopResult, float]]) -> str:
    header = ("| clip | loop | frames processed | video s | detector runs | fps (CPU time) | fps (wall) | speed-up (CPU) | "
              "detect ms/f | landmarks ms/f | "
              "align ms/f | embed ms/f | embeddings | check-ins | unknowns | first frame to check-in p50/p95, video s | "
              "p50/p95, wall s |")
    lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|"]
    for clip, r, speedup in rows:
        per = {k: v / r.frames if r.frames else 0.0 for k, v in r.stage_ms.items()}
        lines.append(
            f"| {clip} | {r.name} | {r.frames} | {r.video_s:.1f} | {r.detector_runs if r.name != 'naive recipe' else '-'} | "
            f"{r.cpu_fps:.1f} | {r.fps:.1f} | {speedup:.1f}x | {per.get('detect', 0):.1f} | "
            f"{per.get('landmarks', 0):.1f} | {per.get('align', 0):.1f} | {per.get('embed', 0):.1f} | {r.embeddings} | "
            f"{', '.join(r.checkins) or '-'} | {r.unknowns if r.name != 'naive recipe' else '-'} | "
            f"{percentile(r.latency_frame_s, 50)} / {percentile(r.latency_frame_s, 95)} | "
            f"{percentile(r.latency_wall_s, 50)} / {percentile(r.latency_wall_s, 95)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="*", default=DEFAULT_CLIPS, help="clips under ../shared/faces/video")
    parser.add_argument("--fps", type=float, default=0.0, help="the agent's --fps cap (0: every frame)")
    parser.add_argument("--scale", type=float, default=None, help="the agent's processing scale")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loop (skipped anyway unless dlib)")
    parser.add_argument("--instance", help="instance folder whose models/ holds the installed models")
    parser.add_argument("--detector", help="detector model id (the agent's detector_model; default auto)")
    parser.add_argument("--model", help="embedder model id (the agent's recognition_model; default auto)")
    args = parser.parse_args(argv)
    if not FACES.exists():
        print(f"bench_agent: {FACES} is missing (see ../shared/faces/README.md)", file=sys.stderr)
        return 2
    overrides = {"fps": args.fps} if args.fps else {}
    if args.scale:
        overrides["scale"] = args.scale
    for name, value in (("instance_path", args.instance), ("detector_model", args.detector),
                        ("recognition_model", args.model)):
        if value:
            overrides[name] = value
    settings = load_settings(AgentSettings, environ={}, overrides=overrides)
    # Enrolled with the agent's own models (HOG at upsample 1, as enrollment runs it), in the same space.
    enroll_engine = build_face_engine(dataclasses.replace(core_settings(settings), detect_upsample=1))
    gallery = enroll_people(enroll_engine, FACES / "people")
    engine = build_engine(settings)  # the agent's: HOG upsample 0 (the naive loop makes its own detector)
    naive_ok = engine.model_id == "dlib_resnet_v1" and not args.no_naive  # its 0.6 tolerance is dlib's
    runs = count_detector_runs(engine)
    print(f"models: detector {engine.detector.model_id}, landmarks {engine.landmarker.model_id}, "
          f"embedder {engine.model_id}", file=sys.stderr)
    rows, missed = [], []
    for clip in args.clips:
        frames, _ = read_frames(FACES / "video" / clip, args.fps)  # both loops process exactly these
        video_s = frames[-1].t_s if frames else 0.0
        runs["runs"] = 0
        ours = run_ours(engine, gallery, frames, settings)
        ours.detector_runs, ours.video_s = runs["runs"], video_s
        name = Path(clip).stem
        if not naive_ok:
            rows.append((name, ours, 0.0))
            print(f"{name}: ours {ours.cpu_fps:.1f} fps (CPU time), {ours.detector_runs} detector runs", file=sys.stderr)
            continue
        naive = run_naive(engine, gallery, frames)
        naive.video_s = video_s
        rows += [(name, naive, 1.0), (name, ours, ours.cpu_fps / naive.cpu_fps if naive.cpu_fps else 0.0)]
        missed += [(name, code) for code in naive.checkins if code not in ours.checkins]
        print(f"{name}: naive {naive.cpu_fps:.1f} fps, ours {ours.cpu_fps:.1f} fps (CPU time)", file=sys.stderr)
    print(table(rows))
    if missed:
        print(f"\nRECALL LOST: the naive loop checked in {missed} and the agent did not", file=sys.stderr)
        return 1
    print(f"\nmodels: detector {engine.detector.model_id}, embedder {engine.model_id}; settings: scale {settings.scale}, "
          f"detect every {settings.detect_every_frames} frames, upsample "
          f"{settings.detect_upsample}, embed every {settings.embed_every_frames} frames (max "
          f"{settings.max_embeddings_per_track}/track), {settings.min_votes} votes, fps cap {settings.fps or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
