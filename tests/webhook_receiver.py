"""A local webhook receiver for the tests: records each POST, counts each delivery id, answers queued statuses."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A tiny HTTP server on 127.0.0.1. ``requests`` holds (headers, body) of every POST, ``counts`` the POSTs of
    each ``X-Attendance-Delivery`` id; each answer is the next of ``statuses`` (else 204), after ``delay_s``."""

    def __init__(self, delay_s: float = 0.0):
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.counts: Counter[str] = Counter()
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if delay_s:
                    threading.Event().wait(delay_s)
                with lock:
                    receiver.requests.append((dict(self.headers), body))
                    receiver.counts[self.headers.get("X-Attendance-Delivery", "")] += 1
                    status = receiver.statuses.pop(0) if receiver.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
