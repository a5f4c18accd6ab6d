"""Video frames through OpenCV: opening cameras, streams and files, and the few image operations the agent needs.

This is the camera agent's only door to ``cv2`` (the layer rule keeps cv2 inside ``attendance/faces/``).
Frames leave here as RGB uint8 arrays, the same as every other image in the product.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

from attendance.errors import ImageError

# RTSP over TCP: UDP loses packets on busy school networks and gives grey, smeared frames.
RTSP_CAPTURE_OPTIONS = "rtsp_transport;tcp"


@dataclass(frozen=True)
class VideoInfo:
    """What a capture says about itself (0 when it does not know)."""

    width: int
    height: int
    fps: float
    frame_count: int


class VideoReader:
    """A thin wrapper of ``cv2.VideoCapture`` that hands out RGB frames."""

    def __init__(self, capture: cv2.VideoCapture) -> None:
        self._capture = capture

    @property
    def is_open(self) -> bool:
        return bool(self._capture.isOpened())

    def info(self) -> VideoInfo:
        c = self._capture
        return VideoInfo(int(c.get(cv2.CAP_PROP_FRAME_WIDTH)), int(c.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                         float(c.get(cv2.CAP_PROP_FPS) or 0.0), max(0, int(c.get(cv2.CAP_PROP_FRAME_COUNT))))

    def read_rgb(self) -> np.ndarray | None:
        """The next frame as RGB (H, W, 3) uint8, or None when none could be read."""
        ok, frame = self._capture.read()
        if not ok or frame is None or frame.size == 0:
            return None
        if frame.ndim == 2:
            return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def grab(self) -> bool:
        """Skip one frame without decoding it (cheap); False at the end or on error."""
        return bool(self._capture.grab())

    @property
    def position_ms(self) -> float:
        """Time of the frame last read, from the file's own time base (CAP_PROP_POS_MSEC)."""
        return float(self._capture.get(cv2.CAP_PROP_POS_MSEC))

    @property
    def position_frames(self) -> int:
        return int(self._capture.get(cv2.CAP_PROP_POS_FRAMES))

    def release(self) -> None:
        self._capture.release()


def open_video_file(path: str) -> VideoReader:
    """Open a video file for reading every frame in order; ``ImageError`` when it cannot be opened."""
    reader = VideoReader(cv2.VideoCapture(path, cv2.CAP_FFMPEG))
    if not reader.is_open:
        reader = VideoReader(cv2.VideoCapture(path))
    if not reader.is_open:
        raise ImageError(f"{path}: cannot open the video file")
    return reader


def open_camera(spec: int | str, *, open_timeout_s: float = 10.0, read_timeout_s: float = 5.0) -> VideoReader:
    """Open a USB camera (an index) or a network stream (an RTSP/HTTP URL); ``ImageError`` on failure.

    Streams go through FFmpeg over TCP with open and read timeouts, so a dead camera makes ``read_rgb``
    return None after ``read_timeout_s`` instead of blocking for ever.
    """
    if isinstance(spec, int):
        capture = cv2.VideoCapture(spec)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep the driver from queueing old frames
    else:
        if spec.lower().startswith(("rtsp://", "rtsps://")):
            # FFmpeg reads its options from the environment when the capture opens.
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", RTSP_CAPTURE_OPTIONS)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout_s * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout_s * 1000)]
        capture = cv2.VideoCapture(spec, cv2.CAP_FFMPEG, params)
    reader = VideoReader(capture)
    if not reader.is_open:
        reader.release()
        raise ImageError(f"cannot open camera {spec if isinstance(spec, int) else _redact_url(spec)}")
    return reader


def _redact_url(url: str) -> str:
    """A stream URL without its password (cameras often carry ``user:pass@`` in the URL)."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest


def resize(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` scaled by ``scale`` (area interpolation when shrinking)."""
    if scale == 1.0:
        return image
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)


def to_gray(image_rgb: np.ndarray) -> np.ndarray:
    """The grey version of an RGB image (HOG on grey is about 30% faster than on colour, same faces)."""
    return cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)


def encode_jpeg_rgb(image_rgb: np.ndarray, quality: int = 85) -> bytes:
    """JPEG bytes of an RGB image (no metadata)."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("cannot encode the image as JPEG")
    return data.tobytes()


def draw_box(image_rgb: np.ndarray, box: tuple[int, int, int, int], label: str,
             color: tuple[int, int, int] = (0, 200, 0)) -> None:
    """Draw ``box`` and a one-line ``label`` above it, in place (ASCII labels: OpenCV has no Vietnamese font)."""
    x1, y1, x2, y2 = box
    cv2.rectangle(image_rgb, (x1, y1), (x2, y2), color, 2)
    cv2.putText(image_rgb, label, (x1, max(12, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
