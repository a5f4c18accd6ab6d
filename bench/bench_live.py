"""Live pages under load: hundreds of viewers polling ``/live``, and an update across server processes.

Starts ``--processes`` real ``attendance serve`` processes (waitress, as deployed) on one database (a
temporary SQLite file in WAL mode, or ``--pg URL``: a scratch PostgreSQL database created and dropped),
logs a teacher in once, then runs ``--viewers`` simulated open pages as asyncio clients on loopback. Each
viewer keeps one HTTP/1.1 keep-alive connection and does what the page's script does: ``GET /live`` with
``If-None-Match``, then waits ``--poll-s`` after each answer. Meanwhile a check-in is posted to the first
process through the agent API (``POST /api/v1/checkins``) every ``--post-every-s``; the update delay of a
viewer is the time from sending that POST until its first poll that answers 200 with a new ETag.

Two phases: (1) every viewer on the first process, check-ins posted to it; (2) every viewer on the second
process, check-ins posted to the first, so each update crosses processes through the database. Prints the
poll latency (p50/p95/p99/max, ms), polls per second, answers by status, and the update delay (p50/p95/max, s).

    python -m bench.bench_live [--viewers 500] [--duration-s 30] [--poll-s 2.5] [--pg postgresql+psycopg://...]

Bounded: viewers and seconds are capped (``MAX_VIEWERS``, ``MAX_DURATION_S``); everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.cookiejar
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.processes import free_port, stop_servers

from attendance.cameras import create_camera
from attendance.db import Database
from attendance.db.models import SchoolClass, Student
from attendance.db.session import normalise_url
from attendance.directory import get_or_create_school
from attendance.users import create_user, set_teacher_classes

MAX_VIEWERS = 2000
MAX_DURATION_S = 300
PASSWORD = "bench password 2026"
STUDENTS = 200


@dataclass
class Results:
    """What the viewers saw in one phase."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    delays_s: list[float] = field(default_factory=list)
    posts: list[float] = field(default_factory=list)  # monotonic send times of the check-ins posted
    missed: int = 0  # (viewer, post) pairs never seen by the end of the phase


def seed(url: str) -> str:
    """One school, a class of ``STUDENTS``, teacher "lan" and a camera; returns the camera's token."""
    with Database.open(url) as database, database.session() as session:
        school = get_or_create_school(session, "BENCH", name="THCS Bench", timezone="Asia/Ho_Chi_Minh")
        klass = SchoolClass(school_id=school.id, code="6A1", grade=6)
        session.add(klass)
        session.flush()
        session.add_all([Student(school_id=school.id, class_id=klass.id, student_code=f"HS{i:04d}",
                                 full_name=f"Học Sinh {i}", consent_given=True) for i in range(STUDENTS)])
        teacher = create_user(session, "lan", PASSWORD, "teacher", school.id)
        set_teacher_classes(session, teacher, [klass.id])
        _, token = create_camera(session, school, "cong-chinh")
    return token


def start_server(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "attendance.cli.main", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"server on port {port} exited: see {log}") from None
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"server on port {port} did not start in 60 s: see {log}")


def log_in(base: str) -> str:
    """The session cookie of teacher "lan" (one login; every process shares the secret key)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"username": "lan", "password": PASSWORD, "csrf_token": token}).encode()
    opener.open(f"{base}/login", data=data).read()
    cookies = {c.name: c.value for c in jar}
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def post_checkin(base: str, token: str, n: int) -> None:
    event = {"event_id": f"bench-{uuid.uuid4().hex}", "seq": n, "student_code": f"HS{n % STUDENTS:04d}",
             "captured_at": dt.datetime.now(dt.timezone.utc).isoformat()}
    request = urllib.request.Request(f"{base}/api/v1/checkins", data=json.dumps({"events": [event]}).encode(),
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    if answer["results"][0]["status"] != "created":
        raise SystemExit(f"check-in refused: {answer}")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    length = int(headers.get("content-length", "0"))
    if length:
        await reader.readexactly(length)
    return status, headers


async def viewer(port: int, cookie: str, poll_s: float, stop_at: float, results: Results) -> None:
    """One open page: poll /live on a keep-alive connection; note when each posted check-in shows."""
    await asyncio.sleep(random.uniform(0, poll_s))  # pages were opened at different moments
    etag, seen_posts = "", 0
    reader = writer = None
    while time.monotonic() < stop_at:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            request = (f"GET /live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
                       f"If-None-Match: {etag}\r\nAccept: application/json\r\n\r\n")
            started = time.monotonic()
            writer.write(request.encode())
            status, headers = await asyncio.wait_for(read_response(reader), timeout=30)
            done = time.monotonic()
            results.latencies_ms.append((done - started) * 1000)
            results.statuses[status] = results.statuses.get(status, 0) + 1
            if status == 200:
                if etag and results.posts[seen_posts:]:
                    for sent in results.posts[seen_posts:]:
                        results.delays_s.append(done - sent)
                    seen_posts = len(results.posts)
                elif not etag:
                    seen_posts = len(results.posts)  # the first answer is the page's starting point
                etag = headers.get("etag", "")
            if headers.get("connection", "").lower() == "close":
                writer.close()
                writer = None
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            results.errors += 1
            if writer is not None:
                writer.close()
            writer = None
        await asyncio.sleep(poll_s)  # as the page's script: the interval counts from the answer
    results.missed += len(results.posts) - seen_posts
    if writer is not None:
        writer.close()


async def poster(base: str, token: str, every_s: float, stop_at: float, results: Results) -> None:
    n = 0
    await asyncio.sleep(every_s)
    while time.monotonic() < stop_at - every_s:  # the last one still has time to show
        sent = time.monotonic()
        results.posts.append(sent)  # before sending: a viewer may see the commit before the answer comes back
        await asyncio.to_thread(post_checkin, base, token, n)
        n += 1
        await asyncio.sleep(max(0.0, every_s - (time.monotonic() - sent)))


async def run_phase(view_port: int, post_base: str, cookie: str, token: str, args: argparse.Namespace) -> Results:
    results = Results()
    stop_at = time.monotonic() + args.duration_s
    tasks = [viewer(view_port, cookie, args.poll_s, stop_at, results) for _ in range(args.viewers)]
    await asyncio.gather(poster(post_base, token, args.post_every_s, stop_at, results), *tasks)
    return results


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def report(name: str, results: Results, duration_s: float) -> None:
    lat = results.latencies_ms
    print(f"\n## {name}")
    print(f"polls: {len(lat)} ({len(lat) / duration_s:.0f}/s), answers {dict(sorted(results.statuses.items()))}, "
          f"errors {results.errors}")
    print(f"poll latency ms: p50 {percentile(lat, 50):.1f}  p95 {percentile(lat, 95):.1f}  "
          f"p99 {percentile(lat, 99):.1f}  max {max(lat, default=float('nan')):.1f}")
    delays = results.delays_s
    print(f"check-ins posted: {len(results.posts)}; update delay s (send → viewer's 200): p50 "
          f"{percentile(delays, 50):.2f}  p95 {percentile(delays, 95):.2f}  max {max(delays, default=float('nan')):.2f}"
          f"  ({len(delays)} seen, {results.missed} missed, {sum(d > 5 for d in delays)} over 5 s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=500)
    parser.add_argument("--duration-s", type=float, default=30.0)
    parser.add_argument("--poll-s", type=float, default=2.5, help="the page's interval (default 2.5)")
    parser.add_argument("--post-every-s", type=float, default=5.0)
    parser.add_argument("--processes", type=int, default=2, choices=(1, 2))
    parser.add_argument("--pg", default=os.environ.get("ATTENDANCE_BENCH_PG_URL", ""),
                        help="a PostgreSQL server URL: a scratch database is created there and dropped")
    args = parser.parse_args(argv)
    args.viewers = max(1, min(args.viewers, MAX_VIEWERS))
    args.duration_s = max(5.0, min(args.duration_s, MAX_DURATION_S))

    workdir = Path(tempfile.mkdtemp(prefix="bench-live-"))
    admin_engine, scratch = None, ""
    if args.pg:
        admin_engine = create_engine(normalise_url(args.pg), isolation_level="AUTOCOMMIT")
        scratch = f"bench_live_{uuid.uuid4().hex[:8]}"
        with admin_engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{scratch}"'))
        url = normalise_url(args.pg).rsplit("/", 1)[0] + f"/{scratch}"
    else:
        url = f"sqlite:///{workdir / 'attendance.db'}"
    processes: list[subprocess.Popen] = []
    try:
        token = seed(url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATTENDANCE_")}
        env.update(ATTENDANCE_DATABASE_URL=url, ATTENDANCE_INSTANCE_PATH=str(workdir / "instance"),
                   ATTENDANCE_SECRET_KEY=uuid.uuid4().hex, ATTENDANCE_SESSION_COOKIE_SECURE="0")
        ports = [free_port() for _ in range(args.processes)]
        processes = [start_server(port, env, workdir / f"server-{i}.log") for i, port in enumerate(ports)]
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        cookie = log_in(bases[0])
        backend = "PostgreSQL" if args.pg else "SQLite (WAL)"
        print(f"# bench_live: {args.viewers} viewers, poll every {args.poll_s} s, {args.duration_s:.0f} s per phase, "
              f"a check-in every {args.post_every_s} s, {backend}, {os.cpu_count()} CPUs")
        phase1 = asyncio.run(run_phase(ports[0], bases[0], cookie, token, args))
        report(f"one process: {args.viewers} viewers on process 1, check-ins posted to process 1", phase1,
               args.duration_s)
        if args.processes == 2:
            phase2 = asyncio.run(run_phase(ports[1], bases[0], cookie, token, args))
            report(f"two processes: {args.viewers} viewers on process 2, check-ins posted to process 1", phase2,
                   args.duration_s)
        for i in range(len(processes)):
            queue_warnings = (workdir / f"server-{i}.log").read_text(errors="replace").count("Task queue depth")
            print(f"server {i + 1}: {queue_warnings} waitress task-queue warnings")
    finally:
        stop_servers(processes, timeout_s=10)
        if admin_engine is not None:
            with admin_engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            admin_engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
