"""Test doubles for the camera agent's tests: a fake dashboard API on 127.0.0.1 and a gallery made from photos.

``FakeDashboard`` speaks the API contract (checkins, unknowns, gallery with ETag, heartbeat), stores
events idempotently by event_id, and can be told to fail: answer 503/429 with Retry-After, or store a
batch and then drop the connection before answering (the "lost response" case).
"""

from __future__ import annotations

import base64

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

TOKEN = "cam_test_token"


class FakeDashboard:
    """A dashboard API double. ``script`` holds actions for the next event POSTs: ``("status", code, headers)``
    answers that status without storing; ``("html", code)`` answers it as a reverse proxy would, with an HTML
    page; ``("drop",)`` stores the batch and closes the connection unanswered."""

    def __init__(self, gallery: dict | None = None, port: int = 0) -> None:
        self.gallery = gallery
        self.checkins: dict[str, dict] = {}
        self.unknowns: dict[str, dict] = {}
        self.heartbeats: list[dict] = []
        self.posts: list[tuple[str, int]] = []  # (path, number of events)
        self.gets: list[str] = []  # paths of the GETs answered 200
        self.script: list[tuple] = []
        self.refuse_codes: set[str] = set()  # student codes answered with a per-event error
        self.gallery_key = b"fake-gallery-copy-key-32-bytes!!"  # what GET /api/v1/gallery/key hands out
        self.lock = threading.Lock()
        self.port = port
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeDashboard:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def checkin_codes(self) -> list[str]:
        with self.lock:
            return sorted(e["student_code"] for e in self.checkins.values())

    def store(self, kind: str, events: list[dict]) -> list[dict]:
        table = self.checkins if kind == "checkin" else self.unknowns
        results = []
        with self.lock:
            for event in events:
                event_id = event["event_id"]
                if kind == "checkin" and event.get("student_code") in self.refuse_codes:
                    results.append({"event_id": event_id, "status": "error",
                                    "error": {"code": "unknown_student", "message": "no such student"}})
                elif event_id in table:
                    results.append({"event_id": event_id, "status": "duplicate", "checkin_id": 1})
                else:
                    table[event_id] = event
                    results.append({"event_id": event_id, "status": "created", "checkin_id": len(table)})
        return results


def _handler(fake: FakeDashboard):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def _reply(self, status: int, body: dict | str | None, headers: dict | None = None) -> None:
            if isinstance(body, str):
                data, content_type = body.encode(), "text/html"
            else:
                data, content_type = (json.dumps(body).encode() if body is not None else b""), "application/json"
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if body is not None:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(401, {"error": {"code": "unauthorized", "message": "bad token"}})
                return False
            return True

        def do_GET(self):
            url = urlparse(self.path)
            if url.path == "/api/v1/gallery/key" and self._authorised():
                self._reply(200, {"key": base64.b64encode(fake.gallery_key).decode("ascii"), "key_id": "fake"})
                return
            if url.path != "/api/v1/gallery" or not self._authorised():
                if url.path != "/api/v1/gallery":
                    self._reply(404, {"error": {"code": "not_found", "message": url.path}})
                return
            if fake.gallery is None:
                self._reply(503, {"error": {"code": "unavailable", "message": "no gallery"}})
                return
            model = parse_qs(url.query).get("model", [""])[0]
            etag = f'"{fake.gallery["version"]}"'
            if model != fake.gallery["model_id"]:
                self._reply(404, {"error": {"code": "unknown_model", "message": model}})
            elif self.headers.get("If-None-Match") == etag:
                self._reply(304, None, {"ETag": etag})
            else:
                fake.gets.append(url.path)
                self._reply(200, fake.gallery, {"ETag": etag})

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self._authorised():
                return
            if self.path == "/api/v1/heartbeat":
                fake.heartbeats.append(body)
                self._reply(200, {"ok": True})
                return
            kind = {"/api/v1/checkins": "checkin", "/api/v1/unknowns": "unknown"}.get(self.path)
            if kind is None:
                self._reply(404, {"error": {"code": "not_found", "message": self.path}})
                return
            fake.posts.append((self.path, len(body["events"])))
            action = fake.script.pop(0) if fake.script else ("ok",)
            if action[0] == "status":
                self._reply(action[1], {"error": {"code": "busy", "message": "try later"}}, action[2] if len(action) > 2 else None)
                return
            if action[0] == "html":
                self._reply(action[1], f"<html><body><h1>{action[1]}</h1><hr>nginx</body></html>")
                return
            results = fake.store(kind, body["events"])
            if action[0] == "drop":  # stored, but the answer is lost
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._reply(200, {"results": results})

    return Handler


def enroll_people(people_dir: Path) -> dict:
    """The API's gallery document for ``people/<name>/*``: each person's largest face, student code = name."""
    from attendance.faces.factory import build_face_engine
    from attendance.faces.image import load_image
    from attendance.settings import Settings, load_settings

    engine = build_face_engine(load_settings(Settings, environ={}), "dlib")
    students = []
    for person in sorted(p for p in people_dir.iterdir() if p.is_dir()):
        templates = []
        for photo in sorted(person.iterdir()):
            faces = engine.find_faces(load_image(photo))
            if faces:
                templates.append([float(v) for v in faces[0].embedding])
        students.append({"student_code": person.name, "full_name": person.name.replace("_", " ").title(),
                         "class_code": "6A1", "templates": templates})
    return {"model_id": "dlib_resnet_v1", "metric": "euclidean", "dim": 128, "version": "v1", "students": students}
