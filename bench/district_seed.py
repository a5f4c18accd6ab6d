"""A district for the district bench, seeded straight into PostgreSQL with COPY: schools, classes, students,
templates, cameras, users, and a month of history (check-ins, some late, some absent, overrides, leave).

Deterministic for a given ``seed`` and school date: the same rows every run (ids aside). Rows written with
COPY skip the ORM's flush hooks, so what they would maintain is written here too (class memberships "since
always", the gallery versions).
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from attendance.cameras import hash_token
from attendance.crypto import installed_keyring
from attendance.users import hash_password

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
MODEL_ID = "dlib_resnet_v1"
PASSWORD = "bench-district-pass-1"  # every seeded user's (the bench logs in with signed cookies, never with it)
FAMILIES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
MIDDLES = ["Văn", "Thị", "Minh", "Ngọc", "Hữu", "Thanh", "Gia", "Khánh"]
GIVENS = ["An", "Bình", "Châu", "Dũng", "Đạt", "Hân", "Khoa", "Linh", "Nam", "Vy", "Yến", "Phúc", "Quân", "Trang"]


@dataclass
class Shape:
    """How big the district is: schools, students per school, classes and cameras per school, teachers."""

    schools: int = 50
    students_per_school: int = 2000
    classes_per_school: int = 50
    cameras_per_school: int = 4
    teachers_per_school: int = 20
    history_days: int = 22  # school days of history before today


@dataclass
class District:
    """What the load needs from the seeded district: tokens, sessions, ids, and today's events per camera."""

    school_ids: list[int] = field(default_factory=list)
    camera_tokens: list[tuple[int, str]] = field(default_factory=list)  # (school id, bearer token)
    teachers: list[tuple[int, str, int]] = field(default_factory=list)  # (user id, session token, class id)
    school_admins: list[tuple[int, str, int]] = field(default_factory=list)  # (user id, token, school id)
    district_admin: tuple[int, str] = (0, "")
    students: dict[int, list[str]] = field(default_factory=dict)  # school id: student codes
    checkins_seeded: int = 0
    today: dt.date = dt.date.min


def school_days_before(today: dt.date, count: int) -> list[dt.date]:
    """The ``count`` weekdays (Monday to Friday) before ``today``, oldest first."""
    days, day = [], today
    while len(days) < count:
        day -= dt.timedelta(days=1)
        if day.isoweekday() <= 5:
            days.append(day)
    return days[::-1]


def _copy(cursor, table: str, columns: list[str], rows) -> int:
    """COPY ``rows`` (tuples; None is NULL) into ``table``; returns how many."""
    n = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def seed_district(conninfo: str, shape: Shape, seed: int, today: dt.date) -> District:
    """Fill the (migrated, empty) database at ``conninfo`` (a libpq URL) with the district; returns its handles."""
    rng = random.Random(seed)
    district = District(today=today)
    weekdays = "1,2,3,4,5" if today.isoweekday() <= 5 else f"1,2,3,4,5,{today.isoweekday()}"
    now = dt.datetime.now(dt.timezone.utc)
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        for index in range(shape.schools):
            cur.execute("INSERT INTO schools (code, name, timezone, school_days, on_time_cutoff, "
                        "absence_cutoff, created_at) VALUES (%s, %s, 'Asia/Ho_Chi_Minh', %s, '07:00', "
                        "'09:00', %s) RETURNING id", (f"S{index:03d}", f"Trường THCS số {index + 1}", weekdays, now))
            district.school_ids.append(cur.fetchone()[0])
        _copy(cur, "school_classes", ["school_id", "code", "grade", "school_year"],
              ((sid, f"{6 + c // 13}A{c % 13 + 1}", 6 + c // 13, "2026-2027")
               for sid in district.school_ids for c in range(shape.classes_per_school)))
        cur.execute("SELECT id, school_id FROM school_classes ORDER BY id")
        classes: dict[int, list[int]] = {}
        for class_id, school_id in cur.fetchall():
            classes.setdefault(school_id, []).append(class_id)
        student_rows = []
        for sid in district.school_ids:
            codes = [f"HS{sid:03d}{n:05d}" for n in range(shape.students_per_school)]
            district.students[sid] = codes
            for n, code in enumerate(codes):
                name = f"{rng.choice(FAMILIES)} {rng.choice(MIDDLES)} {rng.choice(GIVENS)}"
                student_rows.append((sid, classes[sid][n % shape.classes_per_school], code, name, True, True,
                                     "Phụ huynh", now, now, 1))
        _copy(cur, "students", ["school_id", "class_id", "student_code", "full_name", "active", "consent_given",
                                "consent_by", "consent_at", "created_at", "card_version"], student_rows)
        cur.execute("INSERT INTO class_memberships (student_id, class_id) SELECT id, class_id FROM students")
        cur.execute("SELECT id, school_id FROM students ORDER BY id")
        students = cur.fetchall()
        keyring = installed_keyring()
        vectors = np.random.default_rng(seed).standard_normal((len(students), 128)).astype("<f4") * 0.1
        _copy(cur, "face_templates", ["student_id", "model_id", "vector", "quality", "created_at"],
              ((student_id, MODEL_ID, keyring.seal(vectors[i].tobytes(), "template"), 1.0, now)
               for i, (student_id, _) in enumerate(students)))
        cur.executemany("INSERT INTO gallery_versions (school_id, model_id, version) VALUES (%s, %s, %s)",
                        [(sid, model, secrets.token_hex(16)) for sid in district.school_ids for model in ("*", MODEL_ID)])
        cameras: dict[int, list[int]] = {}
        for sid in district.school_ids:
            for c in range(shape.cameras_per_school):
                token = f"cam_bench{sid:03d}{c:02d}{rng.getrandbits(64):016x}"
                cur.execute("INSERT INTO cameras (school_id, name, location, token_hash, created_at) "
                            "VALUES (%s, %s, 'Cổng', %s, %s) RETURNING id", (sid, f"cong-{c + 1}", hash_token(token), now))
                cameras.setdefault(sid, []).append(cur.fetchone()[0])
                district.camera_tokens.append((sid, token))
        password_hash = hash_password(PASSWORD)

        def add_user(username: str, role: str, school_id: int | None) -> tuple[int, str]:
            token = f"{rng.getrandbits(128):032x}"
            cur.execute("INSERT INTO users (school_id, username, full_name, role, password_hash, active, "
                        "session_token, language, created_at) VALUES (%s, %s, %s, %s, %s, true, %s, 'vi', %s) "
                        "RETURNING id", (school_id, username, username, role, password_hash, token, now))
            return cur.fetchone()[0], token

        for sid in district.school_ids:
            for t in range(shape.teachers_per_school):
                class_id = classes[sid][t % shape.classes_per_school]
                user_id, token = add_user(f"gv{sid:03d}{t:03d}", "teacher", sid)
                cur.execute("INSERT INTO class_teachers (class_id, user_id) VALUES (%s, %s)", (class_id, user_id))
                district.teachers.append((user_id, token, class_id))
            user_id, token = add_user(f"admin{sid:03d}", "school_admin", sid)
            district.school_admins.append((user_id, token, sid))
        district.district_admin = add_user("so-gd", "district_admin", None)
        district.checkins_seeded = _seed_history(cur, rng, shape, students, cameras, today)
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
    return district


# The history, generated inside PostgreSQL (millions of rows; seconds there, minutes through Python).
# One random() stream after setseed(), in a fixed row order, on one worker: the same rows every run.
_ARRIVALS = """
CREATE TEMP TABLE bench_arrivals AS
SELECT s.id AS student_id, s.school_id, d.day,
       c.ids[1 + s.id %% array_length(c.ids, 1)] AS camera_id,
       random() AS come, random() AS twice, random() AS excuse, random() AS later,
       -- Box-Muller: minutes after midnight around 06:45 (sd 12): about one in ten after 07:00
       405 + 12 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS minute
FROM (SELECT day FROM unnest(%(days)s::date[]) AS day ORDER BY day) d
CROSS JOIN (SELECT id, school_id FROM students ORDER BY id) s
JOIN (SELECT school_id, array_agg(id ORDER BY id) AS ids FROM cameras GROUP BY school_id) c
  ON c.school_id = s.school_id
ORDER BY d.day, s.id
"""
_CHECKINS = """
INSERT INTO checkins (school_id, camera_id, student_id, event_id, seq, captured_at, school_date, distance,
                      margin, votes, model_id, received_at, source)
SELECT school_id, camera_id, student_id, 'h' || student_id || '-' || to_char(day, 'YYYYMMDD') || '-' || k, 0,
       at, day, 0.35, 0.08, 3, %(model)s, at, 'camera'
FROM (SELECT a.*, 1 AS k, (a.day::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') + a.minute * interval '1 minute' AS at
      FROM bench_arrivals a WHERE come < 0.93
      UNION ALL
      SELECT a.*, 2, (a.day::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') + (a.minute + 1 + 19 * a.later) * interval '1 minute'
      FROM bench_arrivals a WHERE come < 0.93 AND twice < 0.1) rows
ORDER BY day, student_id, k
"""
_OVERRIDES = """
INSERT INTO roll_overrides (student_id, school_date, status, reason, created_at)
SELECT student_id, day, 'excused', 'Ốm', day::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'
FROM bench_arrivals WHERE come >= 0.93 AND excuse < 0.15
"""


def _seed_history(cur, rng: random.Random, shape: Shape, students: list[tuple[int, int]],
                  cameras: dict[int, list[int]], today: dt.date) -> int:
    """A month of school days before ``today``: ~93 % come (mostly by 07:00, some late), ~10 % of them seen
    twice, the rest absent, a sixth of those excused by their teacher; ten leave requests per school (one
    covering today). Returns the check-ins written."""
    days = school_days_before(today, shape.history_days)
    cur.execute("SET max_parallel_workers_per_gather = 0")
    cur.execute("SELECT setseed(%s)", (rng.random() * 2 - 1,))
    cur.execute(_ARRIVALS, {"days": days})
    cur.execute(_CHECKINS, {"model": MODEL_ID})
    checkins = cur.rowcount
    cur.execute(_OVERRIDES)
    cur.execute("DROP TABLE bench_arrivals")
    leave_rows = []
    by_school: dict[int, list[int]] = {}
    for student_id, school_id in students:
        by_school.setdefault(school_id, []).append(student_id)
    for school_id, ids in by_school.items():
        for k in range(10):
            start = today - dt.timedelta(days=rng.randint(0, 27)) if k else today
            leave_rows.append((school_id, rng.choice(ids), start, start + dt.timedelta(days=rng.randint(0, 2)),
                               "Việc gia đình", "bench", dt.datetime.now(dt.timezone.utc)))
    _copy(cur, "leave_requests", ["school_id", "student_id", "first_date", "last_date", "reason", "created_by",
                                  "created_at"], leave_rows)
    return checkins
