"""The district bench's morning: cameras posting today's check-ins while teachers and admins poll their pages.

Camera threads each own a share of the cameras and send their batches in turn (each camera's own token and
events, oldest first, 100 per batch as the agent's sender does) as fast as the servers answer. Page threads
take the next due poll from one schedule: each teacher's class roll every ``teacher_poll_s``, each school
admin's Today page, the district page, a month report, each camera's gallery with ``If-None-Match``. Every
connection is kept alive; each actor talks to one server (by its index), as a proxy with sticky sessions would.
"""

from __future__ import annotations

import datetime as dt
import heapq
import http.client
import json
import random
import threading
import time
from dataclasses import dataclass, field

from bench.district_seed import HCM, MODEL_ID, District

BATCH = 100  # the agent's default batch size (camera_agent/sender.py)


@dataclass
class LoadResult:
    """What the load saw: per-kind client latencies, events sent, the ingestion's wall time, 5xx answers."""

    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    events_sent: int = 0
    batches: int = 0
    ingest_s: float = 0.0
    server_errors: int = 0
    event_prefix: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, ms: float, status: int) -> None:
        with self.lock:
            self.latencies_ms.setdefault(kind, []).append(ms)
            if status >= 500:
                self.server_errors += 1


class Connections:
    """One keep-alive connection per server for one thread."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.open: dict[int, http.client.HTTPConnection] = {}

    def request(self, server: int, method: str, path: str, headers: dict[str, str],
                body: bytes | None = None) -> tuple[int, float]:
        """(status, client milliseconds) of one request to server ``server``; reconnects once if dropped."""
        for attempt in (1, 2):
            conn = self.open.get(server)
            if conn is None:
                conn = self.open[server] = http.client.HTTPConnection("127.0.0.1", self.ports[server], timeout=120)
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                return response.status, (time.perf_counter() - started) * 1000
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                self.open.pop(server, None)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def session_cookie(secret_key: str, user_id: int, session_token: str) -> str:
    """The signed Flask session cookie of a logged-in user (what the login form would have set)."""
    from flask import Flask

    app = Flask("bench_cookies")
    app.secret_key = secret_key
    value = app.session_interface.get_signing_serializer(app).dumps(
        {"_user_id": f"{user_id}:{session_token}", "_fresh": True})
    return f"attendance_session={value}"


def todays_batches(district: District, rng: random.Random, prefix: str) -> list[list[bytes]]:
    """Per camera, its bodies of ``{"events": [...]}`` for today's arrivals: ~93 % of each school's students,
    spread over its cameras, a tenth seen twice; captured this morning (never in the future)."""
    now = dt.datetime.now(dt.timezone.utc)
    cameras_of: dict[int, list[int]] = {}
    for index, (school_id, _) in enumerate(district.camera_tokens):
        cameras_of.setdefault(school_id, []).append(index)
    events: list[list[dict]] = [[] for _ in district.camera_tokens]
    n = 0
    for school_id, codes in district.students.items():
        cams = cameras_of[school_id]
        for code in codes:
            if rng.random() >= 0.93:
                continue
            sightings = 2 if rng.random() < 0.1 else 1
            # this morning around 06:45 (about one in ten after 07:00), or the last hour if it is not that late yet
            morning = dt.datetime.combine(district.today, dt.time(0), tzinfo=HCM) + dt.timedelta(
                minutes=rng.gauss(6 * 60 + 45, 12))
            at = min(morning, now - dt.timedelta(seconds=rng.uniform(60, 3600)))
            camera = cams[rng.randrange(len(cams))]
            for k in range(sightings):
                n += 1
                events[camera].append({
                    "event_id": f"{prefix}{n}", "seq": n, "student_code": code,
                    "captured_at": (at + dt.timedelta(seconds=30 * k)).isoformat(), "distance": 0.35,
                    "margin": 0.08, "votes": 3, "model_id": MODEL_ID})
    bodies = []
    for camera_events in events:
        camera_events.sort(key=lambda e: e["captured_at"])
        bodies.append([json.dumps({"events": camera_events[i:i + BATCH]}).encode()
                       for i in range(0, len(camera_events), BATCH)])
    return bodies


def _post_batches(result: LoadResult, ports: list[int], cameras: list[int], tokens: list[str],
                  bodies: list[list[bytes]]) -> None:
    conns = Connections(ports)
    queues = {camera: list(reversed(bodies[camera])) for camera in cameras}
    while queues:
        for camera in list(queues):
            body = queues[camera].pop()
            headers = {"Authorization": f"Bearer {tokens[camera]}", "Content-Type": "application/json"}
            status, ms = conns.request(camera % len(ports), "POST", "/api/v1/checkins", headers, body)
            result.add("checkins", ms, status)
            if status == 200:
                with result.lock:
                    result.events_sent += body.count(b'"event_id"')
                    result.batches += 1
            if not queues[camera]:
                del queues[camera]


def _page_schedule(district: District, options, secret: str, rng: random.Random,
                   gallery_etags: dict[int, str]) -> list:
    """The polls as [due offset s, sequence, interval s, kind, server, path, headers], the first round spread
    over each interval."""
    plan = []

    def add(interval_s: float, kind: str, server: int, path: str, headers: dict[str, str]) -> None:
        plan.append([rng.uniform(0, interval_s), len(plan), interval_s, kind, server, path, headers])

    for index, (user_id, token, class_id) in enumerate(district.teachers):
        add(options.teacher_poll_s, "roll", index % options.workers, f"/classes/{class_id}",
            {"Cookie": session_cookie(secret, user_id, token)})
    for index, (user_id, token, _) in enumerate(district.school_admins):
        add(15.0, "today", index % options.workers, "/today", {"Cookie": session_cookie(secret, user_id, token)})
    user_id, token = district.district_admin
    add(5.0, "district", 0, "/district", {"Cookie": session_cookie(secret, user_id, token)})
    month = dt.datetime.now(HCM).strftime("%Y-%m")
    for index, (user_id, token, class_id) in enumerate(district.teachers[::25]):
        add(60.0, "month", index % options.workers, f"/classes/{class_id}/report?month={month}",
            {"Cookie": session_cookie(secret, user_id, token)})
    for index, (school_id, token) in enumerate(district.camera_tokens):
        add(60.0, "gallery", index % options.workers, f"/api/v1/gallery?model={MODEL_ID}",
            {"Authorization": f"Bearer {token}", "If-None-Match": gallery_etags[school_id]})
    heapq.heapify(plan)
    return plan


def _poll_pages(result: LoadResult, ports: list[int], plan: list, plan_lock: threading.Lock,
                started: float, stop: threading.Event) -> None:
    conns = Connections(ports)
    while not stop.is_set():
        with plan_lock:
            item = heapq.heappop(plan)
        due, seq, interval_s, kind, server, path, headers = item
        wait_s = started + due - time.perf_counter()
        if wait_s > 0 and stop.wait(wait_s):
            return
        status, ms = conns.request(server, "GET", path, headers)
        result.add(kind if kind != "gallery" or status != 304 else "gallery_304", ms, status)
        if status not in (200, 304):
            result.add(f"status_{status}", ms, status)
        with plan_lock:
            heapq.heappush(plan, [due + interval_s, seq, interval_s, kind, server, path, headers])


def read_gallery_etags(libpq_url: str) -> dict[int, str]:
    """{school id: the ETag its gallery has now} (the agents are up to date before the morning)."""
    import psycopg

    with psycopg.connect(libpq_url) as conn:
        rows = conn.execute("SELECT school_id, model_id, version FROM gallery_versions").fetchall()
    versions: dict[int, dict[str, str]] = {}
    for school_id, model_id, version in rows:
        versions.setdefault(school_id, {})[model_id] = version
    return {school_id: f'"{v.get("*", "0")}.{v.get(MODEL_ID, "0")}"' for school_id, v in versions.items()}


def run_load(district: District, ports: list[int], secret_key: str, libpq_url: str, options) -> LoadResult:
    """Warm each server up, then run the morning; returns what the clients saw."""
    rng = random.Random(options.seed)
    result = LoadResult(event_prefix=f"b{rng.getrandbits(32):08x}-")
    bodies = todays_batches(district, rng, result.event_prefix)
    tokens = [token for _, token in district.camera_tokens]
    plan = _page_schedule(district, options, secret_key, rng, read_gallery_etags(libpq_url))
    warm = Connections(ports)
    for item in sorted(plan, key=lambda i: i[1])[:: max(1, len(plan) // 40)]:
        warm.request(item[4], "GET", item[5], item[6])
    plan_lock, stop = threading.Lock(), threading.Event()
    started = time.perf_counter()
    pollers = [threading.Thread(target=_poll_pages, args=(result, ports, plan, plan_lock, started, stop), daemon=True)
               for _ in range(options.client_threads)]
    share = options.camera_threads
    senders = [threading.Thread(target=_post_batches, args=(result, ports, list(range(k, len(tokens), share)), tokens,
                                                            bodies), daemon=True) for k in range(share)]
    for thread in pollers + senders:
        thread.start()
    for thread in senders:
        thread.join()
    result.ingest_s = time.perf_counter() - started
    remaining_s = options.min_load_s - result.ingest_s
    if remaining_s > 0:
        time.sleep(remaining_s)
    stop.set()
    for thread in pollers:
        thread.join(timeout=120)
    return result
