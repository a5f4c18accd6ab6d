"""Dashboard server-side timings on SQLite and PostgreSQL: check-in ingestion, the class roll, Today's counts.

Builds one school of 3,000 students in 70 classes (a 45-student class among them) with two dlib templates
each, ingests a morning of check-ins (one per student for 90 %, a second sighting for 10 %) through
``POST /api/v1/checkins`` in batches of 100, then times each measurement ``--repeat`` times and prints a
markdown table of median and p95 in ms. The Flask test client is the server (no network), so the times
are the dashboard's own work: routing, JSON, the database.

    python -m bench.bench_dashboard [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--repeat 30]

``--pg`` (or ``ATTENDANCE_BENCH_PG_URL``) names a server where a scratch database is created and dropped.
Each measurement is one function in ``MEASUREMENTS``; add a page by adding a function.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import create_engine, insert, select, text

from attendance.cameras import create_api_token, create_camera
from attendance.db import Database
from attendance.db.models import ClassMembership, FaceTemplate, School, SchoolClass, Student
from attendance.db.session import normalise_url
from attendance.gallery_export import export_gallery, gallery_version
from attendance.roll import compute_class_roll, compute_school_counts
from attendance.settings import Settings, load_settings
from attendance.webhooks import create_webhook

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
SCHOOL_DATE = dt.date(2026, 9, 7)  # a Monday
NOW = dt.datetime(2026, 9, 7, 8, 0, tzinfo=HCM).astimezone(dt.timezone.utc)
STUDENTS, CLASSES, BIG_CLASS_SIZE, BATCH = 3000, 70, 45, 100
MODEL_ID = "dlib_resnet_v1"
ADMIN, ADMIN_PASSWORD = "bench-admin", "bench-password-123"


@dataclass
class World:
    """The app under test and the ids the measurements need."""

    app: Any
    database: Database
    school_id: int
    big_class_id: int
    big_class_code: str
    camera_headers: dict[str, str]
    api_headers: dict[str, str]
    web_client: Any = None
    ingest_rate: float = 0.0
    batch_ms: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def populate(database: Database, rng: random.Random) -> tuple[int, int, str, str, str]:
    """One school, 70 classes, 3,000 students with 2 templates each; (school, big class, code, cam, api)."""
    with database.session() as s:
        school = School(code="BENCH", name="Trường THCS Bench", timezone="Asia/Ho_Chi_Minh")
        s.add(school)
        s.flush()
        s.execute(insert(SchoolClass), [{"school_id": school.id, "code": f"{6 + i // 18}A{i % 18 + 1}", "grade": 6 + i // 18,
                                         "school_year": "2026-2027"} for i in range(CLASSES)])
        class_ids = s.scalars(select(SchoolClass.id).where(SchoolClass.school_id == school.id).order_by(SchoolClass.id)).all()
        sizes = [BIG_CLASS_SIZE] + [(STUDENTS - BIG_CLASS_SIZE) // (CLASSES - 1)] * (CLASSES - 1)
        sizes[-1] += STUDENTS - sum(sizes)
        families, middles, givens = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ", "Đặng"], ["Văn", "Thị", "Minh", "Ngọc"], \
            ["An", "Bình", "Châu", "Dũng", "Đạt", "Hân", "Khoa", "Linh", "Nam", "Vy", "Yến"]
        rows, n = [], 0
        for class_id, size in zip(class_ids, sizes):
            for _ in range(size):
                n += 1
                rows.append({"school_id": school.id, "class_id": class_id, "student_code": f"HS{n:05d}",
                             "full_name": f"{rng.choice(families)} {rng.choice(middles)} {rng.choice(givens)}",
                             "active": True, "consent_given": True, "consent_by": "PH"})
        s.execute(insert(Student), rows)  # a bulk insert skips the flush hook: memberships "since always" by hand
        s.execute(insert(ClassMembership).from_select(
            ["student_id", "class_id"], select(Student.id, Student.class_id).where(Student.school_id == school.id)))
        student_ids = s.scalars(select(Student.id).where(Student.school_id == school.id)).all()
        vectors = np.random.default_rng(1).standard_normal((len(student_ids) * 2, 128)).astype("<f4") * 0.1
        s.execute(insert(FaceTemplate), [{"student_id": sid, "model_id": MODEL_ID, "vector": vectors[2 * i + k].tobytes(),
                                          "quality": 1.0} for i, sid in enumerate(student_ids) for k in range(2)])
        _, camera_token = create_camera(s, school, "gate-1")
        _, api_token = create_api_token(s, "bench", school)
        create_webhook(s, school, "http://127.0.0.1:9/hook")  # queued with each arrival, never delivered here
        big = s.get(SchoolClass, class_ids[0])
        return school.id, big.id, big.code, camera_token, api_token


def ingest_morning(world: World, rng: random.Random) -> None:
    """Post the morning's check-ins in batches of 100 and record events per second."""
    codes = [f"HS{n:05d}" for n in range(1, STUDENTS + 1)]
    arrivals = [c for c in codes if rng.random() < 0.9]
    events = []
    for i, code in enumerate(arrivals + rng.sample(arrivals, len(arrivals) // 10)):
        minute = rng.gauss(6 * 60 + 45, 12)  # around 06:45, some late
        at = dt.datetime.combine(SCHOOL_DATE, dt.time(0), tzinfo=HCM) + dt.timedelta(minutes=minute)
        events.append({"event_id": f"ev-{i}", "seq": i, "student_code": code, "captured_at": at.isoformat(),
                       "distance": 0.35, "margin": 0.08, "votes": 3, "model_id": MODEL_ID})
    client = world.app.test_client()
    started = time.perf_counter()
    for start in range(0, len(events), BATCH):
        batch_started = time.perf_counter()
        response = client.post("/api/v1/checkins", json={"events": events[start:start + BATCH]},
                               headers=world.camera_headers)
        world.batch_ms.append((time.perf_counter() - batch_started) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
    world.ingest_rate = len(events) / (time.perf_counter() - started)


def login_web(world: World) -> None:
    """A logged-in client for the pages, when the web pages are installed."""
    try:
        from attendance.users import create_user
    except ImportError:
        world.notes.append("web pages not installed: page timings skipped")
        return
    with world.database.session() as s:
        create_user(s, ADMIN, ADMIN_PASSWORD, "school_admin", world.school_id)
    client = world.app.test_client()
    response = client.post("/login", data={"username": ADMIN, "password": ADMIN_PASSWORD})
    if response.status_code in (302, 303):
        world.web_client = client
    else:
        world.notes.append(f"login failed ({response.status_code}): page timings skipped")


def _in_session(world: World, work: Callable[[Any], Any]) -> Any:
    with world.database.session() as s:
        return work(s)


def measure_class_roll_core(world: World) -> None:
    _in_session(world, lambda s: compute_class_roll(s, s.get(SchoolClass, world.big_class_id), SCHOOL_DATE, NOW))


def measure_class_roll_api(world: World) -> None:
    response = world.app.test_client().get(f"/api/v1/roll?class={world.big_class_code}&date={SCHOOL_DATE}",
                                           headers=world.api_headers)
    assert response.status_code == 200 and len(response.get_json()["students"]) == BIG_CLASS_SIZE


def measure_class_roll_page(world: World) -> None:
    response = world.web_client.get(f"/classes/{world.big_class_id}?date={SCHOOL_DATE}")
    assert response.status_code == 200, response.status_code


def measure_today_counts_core(world: World) -> None:
    counts = _in_session(world, lambda s: compute_school_counts(s, s.get(School, world.school_id), SCHOOL_DATE, NOW))
    assert sum(sum(c.values()) for c in counts.values()) == STUDENTS


def measure_today_page(world: World) -> None:
    response = world.web_client.get("/today")
    assert response.status_code == 200, response.status_code


def measure_gallery_version(world: World) -> None:
    _in_session(world, lambda s: gallery_version(s, world.school_id, MODEL_ID))


def measure_gallery_304(world: World) -> None:
    client = world.app.test_client()
    etag = getattr(world, "_etag", None) or client.get(f"/api/v1/gallery?model={MODEL_ID}",
                                                      headers=world.camera_headers).headers["ETag"]
    world._etag = etag
    response = client.get(f"/api/v1/gallery?model={MODEL_ID}", headers={**world.camera_headers, "If-None-Match": etag})
    assert response.status_code == 304


def measure_gallery_full(world: World) -> None:
    world.app.extensions.pop("api_gallery_cache", None)  # a cold cache: build and serialise the whole gallery
    response = world.app.test_client().get(f"/api/v1/gallery?model={MODEL_ID}", headers=world.camera_headers)
    assert response.status_code == 200 and len(response.get_json()["students"]) == STUDENTS


def measure_gallery_export(world: World) -> None:
    document = _in_session(world, lambda s: export_gallery(s, s.get(School, world.school_id), MODEL_ID))
    assert len(document["students"]) == STUDENTS


def measure_student_search_page(world: World) -> None:
    response = world.web_client.get("/admin/students?q=nguyen")  # folded in Python over the school's students
    assert response.status_code == 200, response.status_code


def measure_trends_page(world: World) -> None:
    response = world.web_client.get(f"/reports/trends?month={SCHOOL_DATE:%Y-%m}")  # 5 school days decided so far
    assert response.status_code == 200, response.status_code


# (label, function, needs the web pages)
MEASUREMENTS: list[tuple[str, Callable[[World], None], bool]] = [
    ("class roll, core (45 students)", measure_class_roll_core, False),
    ("class roll, GET /api/v1/roll", measure_class_roll_api, False),
    ("class roll page /classes/<id>", measure_class_roll_page, True),
    ("Today counts, core (3,000 students)", measure_today_counts_core, False),
    ("Today page /today", measure_today_page, True),
    ("students search page /admin/students?q=nguyen (3,000 folded)", measure_student_search_page, True),
    ("school trends page /reports/trends (5 school days)", measure_trends_page, True),
    ("gallery ETag (3,000 students, 6,000 templates)", measure_gallery_version, False),
    ("GET /api/v1/gallery with If-None-Match (304)", measure_gallery_304, False),
    ("gallery export, core (full content)", measure_gallery_export, False),
    ("GET /api/v1/gallery, full body (cold cache, ~8 MB)", measure_gallery_full, False),
]


def time_ms(function: Callable[[World], None], world: World, repeat: int) -> tuple[float, float]:
    function(world)  # warm-up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function(world)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]


def run_backend(label: str, url: str, instance: Path, repeat: int) -> tuple[World, dict[str, tuple[float, float] | None]]:
    from dashboard import create_app

    rng = random.Random(7)
    database = Database.open(url)
    settings = load_settings(Settings, environ={}, overrides={
        "instance_path": str(instance), "database_url": url, "secret_key": "bench", "session_cookie_secure": False})
    app = create_app(settings, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False, "CLOCK": lambda: NOW},
                     database=database)
    school_id, big_id, big_code, camera_token, api_token = populate(database, rng)
    if database.engine.dialect.name == "postgresql":  # a server in use has statistics (autovacuum); a new one not
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    world = World(app, database, school_id, big_id, big_code, {"Authorization": f"Bearer {camera_token}"},
                  {"Authorization": f"Bearer {api_token}"})
    ingest_morning(world, rng)
    login_web(world)
    results: dict[str, tuple[float, float] | None] = {}
    for name, function, needs_web in MEASUREMENTS:
        if needs_web and world.web_client is None:
            results[name] = None
            continue
        results[name] = time_ms(function, world, repeat)
        print(f"  {label}: {name} done", file=sys.stderr)
    database.close()
    return world, results


def scratch_postgres(server_url: str) -> tuple[str, Callable[[], None]]:
    """A new empty database on ``server_url``'s server, and a function that drops it."""
    admin = create_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT")
    name = f"attendance_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return normalise_url(server_url).rsplit("/", 1)[0] + f"/{name}", drop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default=os.environ.get("ATTENDANCE_BENCH_PG_URL", ""),
                        help="PostgreSQL server URL (a scratch database is made there); empty: SQLite only")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per measurement (default: 30)")
    args = parser.parse_args(argv)

    backends: list[tuple[str, World, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        world, results = run_backend("SQLite", url, Path(tmp) / "instance-sqlite", args.repeat)
        backends.append(("SQLite", world, results))
        if args.pg:
            pg_url, drop = scratch_postgres(args.pg)
            try:
                world, results = run_backend("PostgreSQL", pg_url, Path(tmp) / "instance-pg", args.repeat)
                backends.append(("PostgreSQL", world, results))
            finally:
                drop()

    header = " | ".join(f"{label} median | {label} p95" for label, _, _ in backends)
    print(f"| measurement (ms) | {header} |")
    print("|---|" + "---:|" * (2 * len(backends)))
    cells = []
    for _, world, _ in backends:
        batch = sorted(world.batch_ms)
        cells += [f"{statistics.median(batch):.1f}", f"{batch[int(round(0.95 * (len(batch) - 1)))]:.1f}"]
    print(f"| POST /api/v1/checkins, one batch of {BATCH} | {' | '.join(cells)} |")
    for name, _, _ in MEASUREMENTS:
        cells = []
        for _, _, results in backends:
            value = results[name]
            cells += ["n/a", "n/a"] if value is None else [f"{value[0]:.1f}", f"{value[1]:.1f}"]
        print(f"| {name} | {' | '.join(cells)} |")
    print()
    for label, world, _ in backends:
        print(f"{label}: ingested {world.ingest_rate:,.0f} check-ins per second ({len(world.batch_ms)} batches of {BATCH}).")
    for label, world, _ in backends:
        for note in world.notes:
            print(f"\n{label}: {note}")
    print(f"\n{STUDENTS:,} students in {CLASSES} classes; {args.repeat} timed runs each; one CPU-shared machine.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
