"""Time (and optionally cProfile) the district bench's requests in-process: class roll, Today, district, a POST of
100 check-ins. For before/after figures of per-request CPU cost on the same seeded data.

    python -m bench.profile_pages [--db perf_profile] [--reseed] [--runs 20] [--profile roll,today,post,district]

The first run (or ``--reseed``) creates the PostgreSQL database ``--db`` on ``--pg``, seeds it with the district
bench's seeder (``--schools`` x ``--students-per-school``) and posts this morning's check-ins of the first school;
later runs reuse it (the data key and the handles are kept in ``/tmp/<db>.pickle``). The timed POSTs go to the
second school (first sightings) and are deleted again after the run. Drop the database with ``--drop``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pickle
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

from bench.district_seed import HCM, MODEL_ID, Shape, seed_district


def _admin(pg: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(sql)


def seed(pg: str, db: str, shape: Shape, state_path: Path) -> None:
    """Create and seed ``db``; keep the data key and the district's handles in ``state_path``."""
    from attendance.crypto import Keyring, encode_key, install_keyring, new_key
    from attendance.db import Database

    _admin(pg, f'DROP DATABASE IF EXISTS "{db}"')
    _admin(pg, f'CREATE DATABASE "{db}"')
    key = new_key()
    install_keyring(Keyring([key]))
    libpq = pg.rsplit("/", 1)[0] + "/" + db
    Database.open(libpq.replace("postgresql://", "postgresql+psycopg://")).close()
    district = seed_district(libpq, shape, 11, dt.datetime.now(HCM).date())
    state_path.write_bytes(pickle.dumps({"key": encode_key(key), "district": district}))


def make_app(pg: str, db: str, key: str):  # noqa: ANN201
    os.environ.update({
        "ATTENDANCE_DATABASE_URL": pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + db,
        "ATTENDANCE_INSTANCE_PATH": f"/tmp/{db}_instance", "ATTENDANCE_SECRET_KEY": "p" * 64,
        "ATTENDANCE_DATA_KEY": key, "ATTENDANCE_LOG_LEVEL": "WARNING", "ATTENDANCE_SESSION_COOKIE_SECURE": "0"})
    from attendance.settings import Settings, load_settings
    from dashboard.app import create_app

    return create_app(load_settings(Settings), test_config={"TESTING": True})


def client_for(app, user_id: int, token: str):  # noqa: ANN001, ANN201
    from bench.district_load import session_cookie

    client = app.test_client()
    client.set_cookie(*session_cookie("p" * 64, user_id, token).split("=", 1))
    return client


def post_bodies(district, school_index: int, prefix: str, count: int) -> list[bytes]:  # noqa: ANN001
    """``count`` batches of 100 first sightings of the school's students, this morning."""
    codes = district.students[district.school_ids[school_index]]
    now = dt.datetime.now(dt.timezone.utc)
    rng = random.Random(5)
    bodies = []
    for b in range(count):
        events = []
        for i in range(100):
            n = b * 100 + i
            at = min(dt.datetime.combine(district.today, dt.time(6, 40), tzinfo=HCM) + dt.timedelta(seconds=n),
                     now - dt.timedelta(seconds=rng.uniform(60, 3600)))
            events.append({"event_id": f"{prefix}{n}", "seq": n, "student_code": codes[n % len(codes)],
                           "captured_at": at.isoformat(), "distance": 0.35, "margin": 0.08, "votes": 3,
                           "model_id": MODEL_ID})
        bodies.append(json.dumps({"events": events}).encode())
    return bodies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--db", default="perf_profile")
    parser.add_argument("--schools", type=int, default=2)
    parser.add_argument("--students-per-school", type=int, default=2000)
    parser.add_argument("--classes-per-school", type=int, default=50)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--drop", action="store_true")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--profile", default="", help="comma-separated: roll,today,district,post")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--dump", default="", help="write each page's body (and the POST's answer) to this folder")
    args = parser.parse_args(argv)
    state_path = Path(f"/tmp/{args.db}.pickle")
    if args.drop:
        _admin(args.pg, f'DROP DATABASE IF EXISTS "{args.db}"')
        state_path.unlink(missing_ok=True)
        return 0
    if args.reseed or not state_path.exists():
        shape = Shape(schools=args.schools, students_per_school=args.students_per_school,
                      classes_per_school=args.classes_per_school, teachers_per_school=min(20, args.classes_per_school))
        seed(args.pg, args.db, shape, state_path)
        fresh = True
    else:
        fresh = False
    state = pickle.loads(state_path.read_bytes())
    district = state["district"]
    app = make_app(args.pg, args.db, state["key"])
    from sqlalchemy import text

    from attendance.cameras import hash_token

    engine = app.extensions["attendance_db"].engine
    with engine.begin() as conn:  # known camera tokens: one camera of school 1 and one of school 2
        conn.execute(text("UPDATE cameras SET token_hash = :h WHERE id = (SELECT min(id) FROM cameras "
                          "WHERE school_id = :s)"), {"h": hash_token("cam_perf_1"), "s": district.school_ids[0]})
        conn.execute(text("UPDATE cameras SET token_hash = :h WHERE id = (SELECT min(id) FROM cameras "
                          "WHERE school_id = :s)"), {"h": hash_token("cam_perf_2"), "s": district.school_ids[1]})
    camera = app.test_client()
    if fresh:  # this morning's arrivals at school 1 (what the teachers' rolls and Today show)
        for body in post_bodies(district, 0, "perfseed", len(district.students[district.school_ids[0]]) // 100):
            answer = camera.post("/api/v1/checkins", data=body, headers={
                "Authorization": "Bearer cam_perf_1", "Content-Type": "application/json"})
            assert answer.status_code == 200, answer.data[:300]
    teacher, token, class_id = district.teachers[0]
    admin, admin_token, _ = district.school_admins[0]
    post_prefix = f"perfpost{int(time.time())}_"
    bodies = iter(post_bodies(district, 1, post_prefix, args.runs * 2 + 8))
    post_headers = {"Authorization": "Bearer cam_perf_2", "Content-Type": "application/json"}
    teacher_client = client_for(app, teacher, token)
    admin_client = client_for(app, admin, admin_token)
    district_client = client_for(app, *district.district_admin)
    requests = {
        "roll": lambda: teacher_client.get(f"/classes/{class_id}"),
        "today": lambda: admin_client.get("/today"),
        "district": lambda: district_client.get("/district"),
        "post": lambda: camera.post("/api/v1/checkins", data=next(bodies), headers=post_headers),
    }
    wanted = {name for name in args.profile.split(",") if name}
    try:
        for name, call in requests.items():
            answer = call()
            assert answer.status_code == 200, (name, answer.status_code, answer.data[:300])
            if args.dump:
                Path(args.dump).mkdir(parents=True, exist_ok=True)
                (Path(args.dump) / f"{name}.html").write_bytes(answer.data)
            times, cpu = [], []
            for _ in range(args.runs if name != "district" else max(3, args.runs // 4)):
                started, started_cpu = time.perf_counter(), time.thread_time()
                answer = call()
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.thread_time() - started_cpu) * 1000)
                assert answer.status_code == 200
            times.sort()
            print(f"{name:9s} wall median {statistics.median(times):6.1f} ms, min {times[0]:6.1f} ms; "
                  f"CPU of this thread median {statistics.median(cpu):6.1f} ms "
                  f"({len(times)} runs, {len(answer.data):,} bytes)", flush=True)
            if name in wanted:
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(5):
                    call()
                profiler.disable()
                stats = pstats.Stats(profiler, stream=sys.stdout)
                stats.sort_stats("cumulative").print_stats(args.top)
                stats.sort_stats("tottime").print_stats(args.top)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM checkins WHERE event_id LIKE :p"), {"p": post_prefix + "%"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
