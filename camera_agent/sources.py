"""Frame sources: a USB camera, an RTSP/HTTP stream, a video file or a folder of images, all read the same way.

Live sources run a grabber thread that keeps only the latest frame, so a slow frame loop never works
through a backlog of old frames; when frames stop, the grabber reconnects with backoff and reports it.
Files and folders give every frame in order (or at most ``fps_cap`` per second of video time), with
timestamps from the file's own time base added to a start time: the same file gives the same frames and
times on every run.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from attendance.backoff import Backoff
from attendance.errors import AttendanceError, ImageError
from attendance.faces.image import load_image
from attendance.faces.video import VideoReader, open_camera, open_video_file
from camera_agent.status import AgentStatus

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
MAX_BAD_READS = 5  # consecutive failed reads that mean a file has ended


class SourceError(AttendanceError):
    """A source cannot be opened (no such file, folder or camera)."""

    code = "bad_source"


class SourceEnded(Exception):
    """A file or folder has no more frames."""


@dataclass
class Frame:
    """One frame: RGB pixels, its position in the source and when it was captured."""

    index: int  # 0-based position in the source (files: the frame number)
    image: np.ndarray  # (H, W, 3) uint8 RGB
    captured_at: dt.datetime  # aware UTC
    t_s: float  # seconds since the source's first frame (video time for files)


class FrameSource(Protocol):
    identity: str  # names the footage; stable across restarts for files and folders
    live: bool

    def read(self, timeout_s: float) -> Frame | None:
        """The next frame; None when a live source has none yet. Raises ``SourceEnded`` at a file's end."""

    def close(self) -> None: ...


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class VideoFileSource:
    """Every frame of a video file in order (or at most ``fps_cap`` per second of video time)."""

    live = False

    def __init__(self, path: Path, start_at: dt.datetime, fps_cap: float = 0.0,
                 opener: Callable[[str], VideoReader] = open_video_file) -> None:
        try:
            self._reader = opener(str(path))
        except ImageError as err:
            raise SourceError(str(err)) from err
        stat = path.stat()
        self.identity = f"file:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        self.start_at = start_at
        info = self._reader.info()
        self._fps = info.fps if info.fps > 0 else 25.0
        self._min_gap_s = 1.0 / fps_cap if fps_cap > 0 else 0.0
        self._next_due_s = 0.0
        self._index = -1
        self._last_t_s = -1.0

    def read(self, timeout_s: float = 0.0) -> Frame:
        while True:
            image = self._read_next()
            t_s = self._reader.position_ms / 1000.0
            if t_s <= self._last_t_s or (t_s == 0.0 and self._index > 0):  # no usable time base: count frames
                t_s = self._index / self._fps
            self._last_t_s = t_s
            if t_s + 1e-6 < self._next_due_s:
                continue
            self._next_due_s = t_s + self._min_gap_s
            return Frame(self._index, image, self.start_at + dt.timedelta(seconds=t_s), t_s)

    def _read_next(self) -> np.ndarray:
        for _ in range(MAX_BAD_READS):
            image = self._reader.read_rgb()
            self._index += 1
            if image is not None:
                return image
        raise SourceEnded()

    def close(self) -> None:
        self._reader.release()


class FolderSource:
    """The images of a folder, sorted by name, one every ``interval_s``; unreadable images are skipped."""

    live = False

    def __init__(self, path: Path, start_at: dt.datetime, interval_s: float = 0.5,
                 status: AgentStatus | None = None, loader: Callable[[Path], np.ndarray] = load_image) -> None:
        self._files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        self.identity = f"folder:{path.resolve()}:{len(self._files)}"
        self.start_at = start_at
        self.interval_s = interval_s
        self._status = status or AgentStatus()
        self._loader = loader
        self._next = 0

    def read(self, timeout_s: float = 0.0) -> Frame:
        while self._next < len(self._files):
            index, path = self._next, self._files[self._next]
            self._next += 1
            try:
                image = self._loader(path)
            except ImageError as err:
                logger.warning("skipping an unreadable image: %s", err)
                self._status.report_error(f"unreadable image {path.name}")
                continue
            t_s = index * self.interval_s
            return Frame(index, image, self.start_at + dt.timedelta(seconds=t_s), t_s)
        raise SourceEnded()

    def close(self) -> None:
        pass


class LiveSource:
    """A camera or stream read by a grabber thread that keeps only the latest frame, reconnecting when it dies."""

    live = True

    def __init__(self, spec: int | str, *, status: AgentStatus | None = None, read_timeout_s: float = 5.0,
                 reconnect_max_s: float = 30.0, reconnect_min_s: float = 1.0, fps_cap: float = 0.0,
                 opener: Callable[[int | str], VideoReader] | None = None,
                 clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self.spec = spec
        self._started = _utcnow()
        self.identity = f"live:{spec if isinstance(spec, int) else _safe_url(spec)}:{self._started.isoformat()}"
        self._status = status or AgentStatus()
        self._read_timeout_s = read_timeout_s
        self._reconnect_max_s = reconnect_max_s
        self._reconnect_min_s = reconnect_min_s
        self._min_gap_s = 1.0 / fps_cap if fps_cap > 0 else 0.0
        self._opener = opener or (lambda s: open_camera(s, read_timeout_s=read_timeout_s))
        self._clock = clock
        self._cond = threading.Condition()
        self._latest: tuple[np.ndarray, dt.datetime, float] | None = None
        self._latest_seq = 0
        self._taken_seq = 0
        self._index = -1
        self._last_t_s = -1e9
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._grab_loop, name="grabber", daemon=True)
        self._thread.start()

    def read(self, timeout_s: float = 1.0) -> Frame | None:
        """The newest frame not yet returned, waiting up to ``timeout_s``; None when none came."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                if self._latest_seq > self._taken_seq and self._latest is not None:
                    image, captured_at, t_s = self._latest
                    if t_s - self._last_t_s >= self._min_gap_s:
                        self._taken_seq = self._latest_seq
                        self._last_t_s = t_s
                        self._index += 1
                        return Frame(self._index, image, captured_at, t_s)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(timeout=remaining)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._read_timeout_s + 1.0)

    def _grab_loop(self) -> None:
        backoff = Backoff(base_s=self._reconnect_min_s, max_s=self._reconnect_max_s)
        first = True
        while not self._stop.is_set():
            if not first:
                self._status.count_reconnect()
            first = False
            try:
                reader = self._opener(self.spec)
            except ImageError as err:
                self._report(str(err))
                self._stop.wait(backoff.next_delay_s())
                continue
            got_frames = self._pump(reader)
            reader.release()
            if got_frames:
                backoff.reset()
            if not self._stop.is_set():
                self._report("the camera stopped giving frames; reconnecting")
                self._stop.wait(backoff.next_delay_s())

    def _pump(self, reader: VideoReader) -> bool:
        got = False
        while not self._stop.is_set():
            image = reader.read_rgb()
            if image is None:
                return got
            got = True
            with self._cond:
                self._latest = (image, self._clock(), time.monotonic() - self._t0)
                self._latest_seq += 1
                self._cond.notify_all()
        return got

    def _report(self, message: str) -> None:
        logger.warning("camera %s: %s", self.spec if isinstance(self.spec, int) else _safe_url(self.spec), message)
        self._status.report_error(message)


def _safe_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return scheme + sep + (("***@" + rest.split("@", 1)[1]) if "@" in rest else rest)


def parse_start_at(value: str) -> dt.datetime:
    """``--start-at``: an ISO 8601 time with a zone, as aware UTC; empty means now."""
    if not value:
        return _utcnow()
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as err:
        raise SourceError(f"start_at {value!r} is not an ISO 8601 time") from err
    if parsed.tzinfo is None:
        raise SourceError(f"start_at {value!r} needs a time zone (e.g. +07:00)")
    return parsed.astimezone(dt.UTC)


def open_source(spec: str, *, start_at: str = "", fps_cap: float = 0.0, folder_interval_s: float = 0.5,
                read_timeout_s: float = 5.0, open_timeout_s: float = 10.0, reconnect_max_s: float = 30.0,
                status: AgentStatus | None = None) -> FrameSource:
    """The source ``spec`` names: a camera index, a stream URL, a folder or a video file."""
    spec = spec.strip()
    if spec.isdigit():
        return LiveSource(int(spec), status=status, read_timeout_s=read_timeout_s,
                          reconnect_max_s=reconnect_max_s, fps_cap=fps_cap)
    if "://" in spec:
        return LiveSource(spec, status=status, read_timeout_s=read_timeout_s, reconnect_max_s=reconnect_max_s,
                          fps_cap=fps_cap,
                          opener=lambda s: open_camera(s, open_timeout_s=open_timeout_s, read_timeout_s=read_timeout_s))
    path = Path(os.path.expanduser(spec))
    if path.is_dir():
        return FolderSource(path, parse_start_at(start_at), folder_interval_s, status=status)
    if path.is_file():
        return VideoFileSource(path, parse_start_at(start_at), fps_cap)
    raise SourceError(f"source {spec!r} is not a camera index, a stream URL, a folder or a video file")
