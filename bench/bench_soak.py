"""Soak run of the camera agent: half an hour of frames (or more) through its real frame loop, measuring the
process's resident memory (RSS) and the frame loop's slowest step as video time goes by.

    python -m bench.bench_soak                                 # 30 video-minutes of each scene at 5 fps
    python -m bench.bench_soak --scene held --minutes 60 --fps 10

Two scenes, each from ../shared/faces/video/short_hamilton_clip.mp4, decoded once at ``--fps`` frames per
video second, cropped to the 320x240 window where its faces are (a third of the pixels: half an hour of
frames in a few minutes of CPU) and then played faster than real time (frame times advance at that pace):

- ``held``: one frame with Lin-Manuel Miranda's face, repeated: a face that stays in view the whole time
  (a child waiting at the gate, a poster), one track for half an hour. On this frame dlib places him just
  over its threshold, so the track is never named: it is embedded up to its cap and decided unknown when
  the scene ends, the costliest case (its liveness cues span every frame);
- ``loop``: the clip played over and over: tracks start and end, check-ins and unknown faces are decided
  and stored in the outbox.

The agent is the product's ``Agent`` (pipeline, outbox, decisions) with the dlib models (HOG and ResNet)
and a gallery of ../shared/faces/people enrolled with them; its network threads are not started, so events
stay in its outbox (on disk). Prints a markdown table: RSS at each checkpoint of video time, the growth from
the first checkpoint after warm-up to the end, and the slowest frame of each stretch. Needs ../shared/faces.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attendance.faces.factory import build_face_engine
from attendance.faces.video import open_video_file
from attendance.settings import load_settings
from bench.bench_agent import FACES, enroll_people
from camera_agent.agent import Agent
from camera_agent.client import DashboardClient
from camera_agent.engine import build_engine, core_settings, operating_point
from camera_agent.gallery_sync import GallerySnapshot
from camera_agent.outbox import Outbox
from camera_agent.settings import AgentSettings
from camera_agent.sources import Frame, SourceEnded

CLIP = FACES / "video" / "short_hamilton_clip.mp4"
HELD_FRAME = 120  # Lin-Manuel Miranda, frontal, about 100 px
CROP = (slice(0, 240), slice(96, 416))  # rows, columns of the 640x360 clip where its faces are
START_AT = dt.datetime(2026, 9, 7, 6, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
CHECKPOINT_MIN = (0, 1, 5, 10, 15, 20, 25, 30)
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing is sent, events wait in the outbox


def read_rss_mib() -> float:
    """This process's resident memory in MiB (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Sample:
    video_min: float
    frames: int
    rss_mib: float
    slowest_ms: float  # the slowest frame since the previous sample (read to read, the loop's whole step)


@dataclass
class SoakSource:
    """A file-like source that plays ``images`` over and over at ``fps`` until ``minutes`` of video time,
    sampling RSS at each checkpoint. Not live: the agent processes every frame, as fast as it can."""

    images: list
    fps: float
    minutes: float
    checkpoints_min: tuple[float, ...]
    identity: str = "soak"
    live: bool = False
    samples: list[Sample] = field(default_factory=list)
    _index: int = 0
    _last_read_s: float | None = None
    _slowest_s: float = 0.0

    def read(self, timeout_s: float = 0.0) -> Frame | None:
        now = time.perf_counter()
        if self._last_read_s is not None:
            self._slowest_s = max(self._slowest_s, now - self._last_read_s)
        self._last_read_s = now
        t_s = self._index / self.fps
        due = [m for m in self.checkpoints_min if m * 60.0 <= t_s and m > self._sampled_min()]
        if due or t_s >= self.minutes * 60.0:
            self.samples.append(Sample(t_s / 60.0, self._index, read_rss_mib(), self._slowest_s * 1000.0))
            self._slowest_s = 0.0
        if t_s >= self.minutes * 60.0:
            raise SourceEnded()
        image = self.images[self._index % len(self.images)]
        frame = Frame(self._index, image, START_AT + dt.timedelta(seconds=t_s), t_s)
        self._index += 1
        return frame

    def _sampled_min(self) -> float:
        return self.samples[-1].video_min if self.samples else -1.0

    def close(self) -> None:
        pass


def decode_clip(fps: float) -> list:
    """The clip's frames at ``fps`` frames per video second."""
    reader = open_video_file(str(CLIP))
    frames, next_due = [], 0.0
    while (image := reader.read_rgb()) is not None:
        t_s = reader.position_ms / 1000.0
        if t_s + 1e-6 >= next_due:
            frames.append(np.ascontiguousarray(image[CROP]))
            next_due = t_s + 1.0 / fps
    reader.release()
    return frames


def run_scene(scene: str, images: list, settings: AgentSettings, gallery, args) -> tuple[SoakSource, dict]:
    """The agent's frame loop on one scene; returns its source (with the samples) and the outbox's counts."""
    engine = build_engine(settings)
    checkpoints = tuple(m for m in CHECKPOINT_MIN if m < args.minutes)
    source = SoakSource(images, args.fps, args.minutes, checkpoints, identity=f"soak:{scene}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = dataclasses.replace(settings, outbox=str(Path(tmp) / "outbox.sqlite3"))
        outbox = Outbox(settings.outbox_path)
        client = DashboardClient(UNREACHABLE, "cam_soak", timeout_s=1.0)
        agent = Agent(settings, engine, source, outbox, client, operating_point(settings, engine.model_id))
        agent.gallery.current = GallerySnapshot(gallery, "soak", None)
        decided = {"checkin": 0, "unknown": 0}
        agent.on_decision = lambda decision, stored: decided.update({decision.kind: decided[decision.kind] + 1})
        started, cpu_started = time.perf_counter(), time.process_time()
        agent.run_frames()
        wall_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        stats = outbox.stats()
        counts = {"pending events": stats.pending, "wall s": round(wall_s, 1), "cpu s": round(cpu_s, 1),
                  "frames": agent.status.frames_total, "decided": decided}
        outbox.close()
    return source, counts


def table(scene: str, source: SoakSource, counts: dict, warmup_min: float) -> str:
    decided = counts["decided"]
    lines = [f"### {scene}: {counts['frames']} frames ({source.minutes:g} video-minutes at {source.fps:g} fps) in "
             f"{counts['wall s']} s wall, {counts['cpu s']} s CPU; {decided['checkin']} check-in and "
             f"{decided['unknown']} unknown decisions, {counts['pending events']} events stored (one check-in a "
             f"student a day)",
             "", "| video min | frames | RSS MiB | slowest frame since previous, ms |", "|---:|---:|---:|---:|"]
    for s in source.samples:
        lines.append(f"| {s.video_min:.1f} | {s.frames} | {s.rss_mib:.1f} | {s.slowest_ms:.0f} |")
    after = [s for s in source.samples if s.video_min >= warmup_min]
    if len(after) >= 2:
        growth = after[-1].rss_mib - after[0].rss_mib
        span = after[-1].video_min - after[0].video_min
        lines.append(f"\nRSS from minute {after[0].video_min:.0f} to {after[-1].video_min:.0f}: "
                     f"{growth:+.1f} MiB ({growth / span * 60:+.1f} MiB per video-hour)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", choices=("held", "loop", "both"), default="both")
    parser.add_argument("--minutes", type=float, default=30.0, help="video-minutes per scene (at least 30 to soak)")
    parser.add_argument("--fps", type=float, default=5.0, help="the agent's pace: frames per video second")
    parser.add_argument("--warmup-min", type=float, default=5.0, help="growth is measured from this video-minute")
    args = parser.parse_args(argv)
    if not CLIP.exists():
        print(f"bench_soak: {CLIP} is missing (see ../shared/faces/README.md)", file=sys.stderr)
        return 2
    settings = load_settings(AgentSettings, environ={}, overrides={"token": "cam_soak"})
    enroll_engine = build_face_engine(dataclasses.replace(core_settings(settings), detect_upsample=1))
    gallery = enroll_people(enroll_engine, FACES / "people")
    clip = decode_clip(args.fps)
    scenes = {"held": [clip[min(HELD_FRAME * len(clip) // 275, len(clip) - 1)]], "loop": clip}
    print(f"RSS before the first scene: {read_rss_mib():.1f} MiB\n")
    for scene in (("held", "loop") if args.scene == "both" else (args.scene,)):
        source, counts = run_scene(scene, scenes[scene], settings, gallery, args)
        print(table(scene, source, counts, args.warmup_min) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
