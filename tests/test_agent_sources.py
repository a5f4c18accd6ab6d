"""Frame sources: a video file written in tmp, a folder with a broken image, and a live camera that dies."""

import datetime as dt
import time

import cv2
import numpy as np
import pytest

from attendance.errors import ImageError
from camera_agent.sources import (
    FolderSource,
    LiveSource,
    SourceEnded,
    SourceError,
    VideoFileSource,
    open_source,
    parse_start_at,
)
from camera_agent.status import AgentStatus

START = dt.datetime(2026, 9, 7, 6, 30, tzinfo=dt.timezone(dt.timedelta(hours=7)))


def write_video(path, frames=30, fps=10.0, size=(160, 120)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        image = np.zeros((size[1], size[0], 3), np.uint8)
        image[:, :, 2] = (i * 8) % 256  # red rises frame by frame (BGR order on disk)
        writer.write(image)
    writer.release()
    return path


def read_all(source):
    frames = []
    while True:
        try:
            frames.append(source.read())
        except SourceEnded:
            return frames


def test_a_video_file_gives_every_frame_in_order_with_times_from_its_time_base(tmp_path):
    source = open_source(str(write_video(tmp_path / "clip.avi")), start_at=START.isoformat())
    assert isinstance(source, VideoFileSource) and not source.live
    frames = read_all(source)
    source.close()
    assert [f.index for f in frames] == list(range(30))
    assert [round(f.t_s, 2) for f in frames[:3]] == [0.0, 0.1, 0.2]
    assert frames[5].captured_at == START + dt.timedelta(seconds=frames[5].t_s)
    assert frames[5].captured_at.tzinfo is not None
    assert frames[5].image.shape == (120, 160, 3)
    assert frames[5].image[0, 0, 0] == pytest.approx(40, abs=3)  # RGB: red first
    assert frames[29].t_s == pytest.approx(2.9, abs=0.01)


def test_the_same_file_gives_the_same_frames_and_identity_twice(tmp_path):
    path = write_video(tmp_path / "clip.avi")
    a, b = open_source(str(path), start_at=START.isoformat()), open_source(str(path), start_at=START.isoformat())
    fa, fb = read_all(a), read_all(b)
    a.close(), b.close()
    assert a.identity == b.identity
    assert [(f.index, f.captured_at) for f in fa] == [(f.index, f.captured_at) for f in fb]


def test_an_fps_cap_keeps_frames_evenly_in_video_time(tmp_path):
    source = open_source(str(write_video(tmp_path / "clip.avi")), start_at=START.isoformat(), fps_cap=5.0)
    frames = read_all(source)
    source.close()
    assert [f.index for f in frames] == list(range(0, 30, 2))


def test_a_truncated_video_gives_its_readable_frames_then_ends(tmp_path):
    path = write_video(tmp_path / "clip.avi", frames=40)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    source = open_source(str(path), start_at=START.isoformat())
    frames = read_all(source)
    source.close()
    assert 5 <= len(frames) < 40


def test_a_folder_is_read_by_name_at_a_fixed_interval_and_a_broken_image_is_skipped(tmp_path):
    for name, value in (("b.png", 20), ("a.png", 10), ("d.png", 40)):
        cv2.imwrite(str(tmp_path / name), np.full((20, 30, 3), value, np.uint8))
    (tmp_path / "c.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    status = AgentStatus()
    source = open_source(str(tmp_path), start_at=START.isoformat(), folder_interval_s=0.5, status=status)
    assert isinstance(source, FolderSource)
    frames = read_all(source)
    assert [int(f.image[0, 0, 0]) for f in frames] == [10, 20, 40]
    assert [f.index for f in frames] == [0, 1, 3]
    assert [f.t_s for f in frames] == [0.0, 0.5, 1.5]
    assert "c.jpg" in status.last_error


def test_unusable_sources_are_refused_with_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="not a camera index"):
        open_source(str(tmp_path / "missing.mp4"))
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(SourceError):
        open_source(str(tmp_path / "empty.mp4"))
    with pytest.raises(SourceError, match="time zone"):
        parse_start_at("2026-09-07T06:30:00")


class FakeReader:
    """A camera that gives ``frames`` frames and then stops answering."""

    def __init__(self, frames, value):
        self.left = frames
        self.value = value

    def read_rgb(self):
        if self.left <= 0:
            return None
        self.left -= 1
        time.sleep(0.005)
        return np.full((8, 8, 3), self.value, np.uint8)

    def release(self):
        pass


def test_a_live_camera_that_dies_is_reported_and_reconnected_and_only_the_latest_frame_is_kept():
    opened = []

    def opener(spec):
        opened.append(spec)
        if len(opened) == 2 or len(opened) > 3:  # fails once, comes back once, then is gone
            raise ImageError("cannot open camera rtsp://***@gate")
        return FakeReader(frames=20, value=len(opened))

    status = AgentStatus()
    source = LiveSource("rtsp://user:pw@gate/stream", status=status, opener=opener, reconnect_min_s=0.01)
    try:
        assert "pw" not in source.identity
        values = set()
        deadline = time.monotonic() + 5
        while 3 not in values and time.monotonic() < deadline:
            frame = source.read(timeout_s=0.5)
            if frame is not None:
                values.add(int(frame.image[0, 0, 0]))
                time.sleep(0.02)  # a slow consumer: frames in between are dropped, not queued
        assert 3 in values  # frames again after the camera died and could not be reopened once
        assert status.reconnects >= 2
        assert status.last_error is not None
        indexes = []
        while (frame := source.read(timeout_s=0.3)) is not None:
            indexes.append(frame.index)
        assert indexes == sorted(set(indexes))
        assert "cannot open camera" in status.last_error
    finally:
        source.close()


def test_a_silent_live_camera_returns_none_instead_of_blocking():
    source = LiveSource(0, opener=lambda spec: FakeReader(frames=0, value=0), reconnect_min_s=0.05)
    try:
        started = time.monotonic()
        assert source.read(timeout_s=0.2) is None
        assert time.monotonic() - started < 1.0
    finally:
        source.close()
