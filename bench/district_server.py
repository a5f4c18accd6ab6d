"""One dashboard process for the district bench: waitress on a port, with a timer around the app.

    python -m bench.district_server PORT TIMINGS_FILE   (settings from the ATTENDANCE_* environment)

The timer writes one line per request to TIMINGS_FILE: the kind of page, the server's milliseconds from
the call into the app to the last byte of the body, and the status. Ended by SIGTERM.
"""

from __future__ import annotations

import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

KINDS = [("checkins", re.compile(r"^/api/v1/checkins$")), ("gallery", re.compile(r"^/api/v1/gallery$")),
         ("month", re.compile(r"^/classes/\d+/report$")), ("roll", re.compile(r"^/classes/\d+$")),
         ("today", re.compile(r"^/today$")), ("district", re.compile(r"^/district$"))]


def kind_of(path: str, status: int) -> str:
    """The bench's name for a request path ("roll", "today", ...; "gallery_304" for an unchanged gallery)."""
    for kind, pattern in KINDS:
        if pattern.match(path):
            return "gallery_304" if kind == "gallery" and status == 304 else kind
    return "other"


class Timed:
    """WSGI middleware: time each request to the end of its body and write it to ``sink``."""

    def __init__(self, app: Callable, sink) -> None:  # noqa: ANN001 (a text file)
        self.app = app
        self.sink = sink
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status: list[int] = []

        def record_status(line: str, headers, exc_info=None):  # noqa: ANN001
            status.append(int(line[:3]))
            return start_response(line, headers, exc_info)

        body = self.app(environ, record_status)
        try:
            yield from body
        finally:
            if hasattr(body, "close"):
                body.close()
            elapsed_ms = (time.perf_counter() - started) * 1000
            code = status[0] if status else 0
            with self.lock:
                self.sink.write(f"{kind_of(environ.get('PATH_INFO', ''), code)}\t{elapsed_ms:.3f}\t{code}\n")


def main(argv: list[str]) -> int:
    from waitress import serve

    from attendance.settings import Settings, load_settings
    from dashboard.app import create_app

    port, timings_path = int(argv[0]), argv[1]
    app = create_app(load_settings(Settings))
    sink = open(timings_path, "w", buffering=1 << 16)  # noqa: SIM115 (flushed at exit)

    def stop(signum, frame):  # noqa: ANN001
        sink.flush()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    app.wsgi_app = Timed(app.wsgi_app, sink)
    serve(app, host="127.0.0.1", port=port, threads=8, connection_limit=2000, asyncore_use_poll=True,
          ident="attendance")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
