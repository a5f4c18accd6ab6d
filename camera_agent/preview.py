"""An optional local preview: an MJPEG page on 127.0.0.1 with boxes, names, votes and quality, for setting up a gate.

It listens on the loopback interface only (children's faces never leave the PC through it) and encodes
frames only while someone is watching.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from attendance.faces.video import draw_box, encode_jpeg_rgb

logger = logging.getLogger(__name__)

PAGE = (b"<!doctype html><meta charset=utf-8><title>camera-agent preview</title>"
        b"<body style='margin:0;background:#111'><img src='/stream' style='max-width:100%'></body>")
BOUNDARY = "frame"
COLORS = {"named": (0, 200, 0), "unknown": (220, 40, 40), "pending": (230, 200, 0)}


def annotate(image_rgb: np.ndarray, labels: list[tuple[tuple[int, int, int, int], str, str]]) -> np.ndarray:
    """A copy of the frame with each (box, label, state) drawn; state is named, unknown or pending."""
    canvas = image_rgb.copy()
    for box, label, state in labels:
        draw_box(canvas, box, label, COLORS.get(state, COLORS["pending"]))
    return canvas


class PreviewServer:
    """Serves the latest published frame as MJPEG at http://127.0.0.1:PORT/."""

    def __init__(self, port: int) -> None:
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._viewers = 0
        preview = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/":
                    self._reply(200, "text/html; charset=utf-8", PAGE)
                elif self.path == "/stream":
                    preview._stream(self)
                else:
                    self._reply(404, "text/plain", b"not found")

            def _reply(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args) -> None:
                logger.debug("preview: %s", format % args)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="preview",
                                        daemon=True)
        self._thread.start()

    @property
    def watched(self) -> bool:
        return self._viewers > 0

    def publish(self, image_rgb: np.ndarray) -> None:
        """Offer a frame to the viewers (encoded only while someone watches)."""
        if not self.watched:
            return
        jpeg = encode_jpeg_rgb(image_rgb, 70)
        with self._cond:
            self._jpeg = jpeg
            self._cond.notify_all()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _stream(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        handler.send_header("Cache-Control", "no-store")
        handler.end_headers()
        with self._cond:
            self._viewers += 1
        try:
            sent: bytes | None = None
            while True:
                def changed(previous: bytes | None = sent) -> bool:
                    return self._jpeg is not previous

                with self._cond:
                    self._cond.wait_for(changed, timeout=5.0)
                    jpeg = sent = self._jpeg
                if jpeg is None:
                    continue
                handler.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                                    .encode("ascii") + jpeg + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with self._cond:
                self._viewers -= 1
