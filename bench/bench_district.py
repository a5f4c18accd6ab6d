"""A district on PostgreSQL under a morning's load: two dashboard processes over real HTTP, 200 cameras, 1,000 teachers.

Seeds 50 schools x 2,000 students (100,000) in 2,500 classes with a month of history into a scratch database
(``bench.district_seed``, COPY), starts two waitress processes on it, then runs the morning burst: 200
cameras (each with its own token) post today's check-ins in batches of 100 as the agent does, while 1,000
teachers poll their class roll, each school's admin its Today page, the district admin the district page,
teachers open month reports and the cameras poll their gallery with ``If-None-Match``. Prints a markdown
table: check-ins stored per second (counted in the database), p50/p95 per page from the client (keep-alive
connections) and from the servers (a WSGI timer around the app), and the number of 5xx answers.

    python -m bench.bench_district --pg postgresql://postgres@127.0.0.1:5432/postgres
    python -m bench.bench_district --pg ... --schools 4 --students-per-school 300   # a quick run
    python -m bench.bench_district --pg ... --explain   # also EXPLAIN ANALYZE each page's slowest queries

Deterministic for a ``--seed`` (the rows, the order of the events and of the polls; not the timings).
The load generator uses a few threads (``--client-threads``) so the servers keep the CPUs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.district_load import run_load
from bench.district_seed import HCM, Shape, seed_district
from bench.processes import free_port, stop_servers

GOALS = {"ingest": "≥ 2,000/s", "roll": "p95 ≤ 100 ms", "today": "p95 ≤ 200 ms", "district": "p95 ≤ 500 ms",
         "month": "—", "gallery_304": "≤ 5 ms (server)", "5xx": "0"}
LABELS = {"roll": "class roll page", "today": "Today page (per school)", "district": "district page",
          "month": "month report (class)", "gallery_304": "gallery poll, unchanged (304)",
          "checkins": "POST /api/v1/checkins (batch of 100)"}


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by nearest rank; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def scratch_database(server_url: str) -> tuple[str, str]:
    """Create an empty database named for this bench on ``server_url``'s server; (SQLAlchemy URL, libpq URL)."""
    import psycopg

    libpq = server_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"bench_district_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = libpq.rsplit("/", 1)[0]
    return f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}", f"{base}/{name}"


def drop_database(libpq_url: str) -> None:
    import psycopg

    base, name = libpq_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_servers(count: int, env: dict[str, str], folder: Path) -> tuple[list[subprocess.Popen], list[int]]:
    """``count`` waitress processes of the dashboard on their own ports; waits until each answers."""
    processes, ports = [], []
    for index in range(count):
        port = free_port()
        log = open(folder / f"server-{index}.log", "w")  # noqa: SIM115 (lives as long as the process)
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "bench.district_server", str(port), str(folder / f"timings-{index}.tsv")],
            env=env, stdout=log, stderr=subprocess.STDOUT))
        ports.append(port)
    deadline = time.monotonic() + 60
    for port, process in zip(ports, processes):
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server on port {port} did not start: see {folder}") from None
                time.sleep(0.2)
    return processes, ports


def read_server_timings(folder: Path) -> dict[str, list[tuple[float, int]]]:
    """{kind: [(ms, status)]} from every server's timing file."""
    timings: dict[str, list[tuple[float, int]]] = {}
    for path in folder.glob("timings-*.tsv"):
        for line in path.read_text().splitlines():
            kind, ms, status = line.split("\t")
            timings.setdefault(kind, []).append((float(ms), int(status)))
    return timings


def count_todays_checkins(libpq_url: str, prefix: str) -> int:
    import psycopg

    with psycopg.connect(libpq_url) as conn:
        return conn.execute("SELECT count(*) FROM checkins WHERE event_id LIKE %s", (prefix + "%",)).fetchone()[0]


def print_table(result, stored: int, server: dict[str, list[tuple[float, int]]], shape: Shape) -> None:
    """The markdown table: goal beside each figure, client and server percentiles."""
    print("| measure | goal | p50 (client) | p95 (client) | p50 (server) | p95 (server) | requests |")
    print("|---|---|---:|---:|---:|---:|---:|")
    rate = stored / result.ingest_s if result.ingest_s else 0.0
    print(f"| check-ins stored per second ({stored:,} in {result.ingest_s:.1f} s, counted in the database) "
          f"| {GOALS['ingest']} | {rate:,.0f}/s | | | | {result.batches:,} batches |")
    for kind in ("checkins", "roll", "today", "district", "month", "gallery_304"):
        client = result.latencies_ms.get(kind, [])
        served = [ms for ms, _ in server.get(kind, [])]
        cells = [percentile(client, 0.5), percentile(client, 0.95), percentile(served, 0.5), percentile(served, 0.95)]
        print(f"| {LABELS[kind]} | {GOALS.get(kind, '—')} | " + " | ".join(f"{c:.1f} ms" for c in cells)
              + f" | {len(client):,} |")
    others = {kind[len("status_"):]: len(ms) for kind, ms in result.latencies_ms.items() if kind.startswith("status_")}
    if others:
        print(f"| pages answered neither 200 nor 304 (status: count) | none | {others} | | | | |")
    errors = sum(1 for rows in server.values() for _, status in rows if status >= 500)
    print(f"| 5xx answers (client saw {result.server_errors}) | {GOALS['5xx']} | {errors} | | | | |")
    print(f"\n{shape.schools} schools x {shape.students_per_school:,} students "
          f"({shape.schools * shape.students_per_school:,}) in {shape.schools * shape.classes_per_school:,} classes; "
          f"{shape.schools * shape.cameras_per_school} cameras, {shape.schools * shape.teachers_per_school:,} teachers.")


@dataclass
class Options:
    """The run's options, as parsed."""

    pg: str
    shape: Shape
    seed: int
    workers: int
    client_threads: int
    camera_threads: int
    teacher_poll_s: float
    min_load_s: float
    explain: bool
    keep: bool
    argv: list[str] = field(default_factory=list)


def parse_options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default=os.environ.get("ATTENDANCE_BENCH_PG_URL",
                                                       "postgresql://postgres@127.0.0.1:5432/postgres"),
                        help="PostgreSQL server URL; a scratch database is created there and dropped")
    parser.add_argument("--schools", type=int, default=50)
    parser.add_argument("--students-per-school", type=int, default=2000)
    parser.add_argument("--classes-per-school", type=int, default=50)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workers", type=int, default=2, help="dashboard processes (default: 2)")
    parser.add_argument("--client-threads", type=int, default=6, help="threads polling pages (default: 6)")
    parser.add_argument("--camera-threads", type=int, default=4, help="threads posting batches (default: 4)")
    parser.add_argument("--teacher-poll-s", type=float, default=30.0, help="each teacher's roll poll interval")
    parser.add_argument("--min-load-s", type=float, default=30.0, help="keep polling pages at least this long")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest queries of each page")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (prints its URL)")
    args = parser.parse_args(argv)
    teachers = min(20, args.classes_per_school)
    shape = Shape(schools=args.schools, students_per_school=args.students_per_school,
                  classes_per_school=args.classes_per_school, teachers_per_school=teachers)
    return Options(args.pg, shape, args.seed, args.workers, args.client_threads, args.camera_threads,
                   args.teacher_poll_s, args.min_load_s, args.explain, args.keep,
                   list(sys.argv[1:] if argv is None else argv))


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    from attendance.crypto import Keyring, encode_key, install_keyring, new_key
    from attendance.db import Database

    key = new_key()
    install_keyring(Keyring([key]))
    secret_key = uuid.UUID(int=random.Random(options.seed).getrandbits(128)).hex * 2
    today = dt.datetime.now(HCM).date()
    url, libpq = scratch_database(options.pg)
    print(f"scratch database: {libpq}", file=sys.stderr)
    processes: list[subprocess.Popen] = []
    try:
        started = time.perf_counter()
        Database.open(url).close()  # the schema, by the migrations
        district = seed_district(libpq, options.shape, options.seed, today)
        print(f"seeded {district.checkins_seeded:,} check-ins of history in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="bench_district_") as tmp:
            folder = Path(tmp)
            env = {**os.environ, "ATTENDANCE_DATABASE_URL": url, "ATTENDANCE_INSTANCE_PATH": str(folder / "instance"),
                   "ATTENDANCE_SECRET_KEY": secret_key, "ATTENDANCE_DATA_KEY": encode_key(key),
                   "ATTENDANCE_LOG_LEVEL": "WARNING", "ATTENDANCE_SESSION_COOKIE_SECURE": "0"}
            processes, ports = start_servers(options.workers, env, folder)
            result = run_load(district, ports, secret_key, libpq, options)
            stop_servers(processes)
            processes = []
            stored = count_todays_checkins(libpq, result.event_prefix)
            print()
            print_table(result, stored, read_server_timings(folder), options.shape)
            if stored != result.events_sent:
                print(f"\nWARNING: {result.events_sent:,} events sent but {stored:,} stored")
            if options.explain:
                from bench.district_explain import explain_pages

                explain_pages(url, env, district, secret_key)
        print(f"\nCommand: python -m bench.bench_district {shlex.join(options.argv)}")
        print("Machine: shared, 2 cores; the load generator runs on the same cores as the servers and PostgreSQL.")
    finally:
        stop_servers(processes)
        if options.keep:
            print(f"kept: {libpq}", file=sys.stderr)
        else:
            drop_database(libpq)
    return 0


if __name__ == "__main__":
    sys.exit(main())
