"""Take the README's screenshots of the school admin's pages with made-up data: docs/screenshots/admin-*.png.

    .venv/bin/python docs/make_admin_screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]

The school of ``make_screenshots.py`` (invented names, silhouettes instead of faces) plus a week of earlier
mornings, a few unknown faces seen twice, and an audit trail; photographed with Playwright and the system
Chromium, then saved as 256-colour PNGs to stay small. Nothing is downloaded.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "docs"))

from make_screenshots import (  # noqa: E402
    CHROMIUM_ARGS, NOW, ZONE, log_in, run, silhouette_jpeg,
)

from attendance.db import Database  # noqa: E402
from attendance.db.models import Camera, CheckIn, School, Student, UnknownFace, User  # noqa: E402
from attendance.users import record_audit  # noqa: E402


def add_admin_history(db: Database, instance: Path, seed: int = 11) -> None:
    """Mornings of 2-6 March, unknown faces (two seen twice), consent missing for class 6A2, audit entries."""
    rng = random.Random(seed)
    with db.session() as s:
        school = s.query(School).one()
        gates = s.query(Camera).order_by(Camera.id).all()
        students = s.query(Student).order_by(Student.id).all()
        event = 0
        for day in range(2, 7):
            punctual = rng.uniform(0.78, 0.9)
            for student in students:
                roll = rng.random()
                if roll > 0.96:
                    continue  # absent
                minutes = rng.uniform(0, 48) if roll < punctual else rng.uniform(51, 75)
                at = dt.datetime(2026, 3, day, 6, 10, tzinfo=ZONE) + dt.timedelta(minutes=minutes)
                event += 1
                s.add(CheckIn(school_id=school.id, camera_id=gates[event % 2].id, student_id=student.id,
                              event_id=f"past-{event}", captured_at=at.astimezone(dt.timezone.utc),
                              school_date=dt.date(2026, 3, day), distance=0.3))
        for student in students:
            if student.school_class and student.school_class.code == "6A2":
                student.consent_given = False
        folder = instance / "snapshots" / "unknown"
        folder.mkdir(parents=True, exist_ok=True)
        for n, (minutes, times) in enumerate([(5, 2), (18, 1), (31, 2), (44, 1)]):
            nearest = rng.choice(students)
            for k in range(times):
                path = folder / f"{n}-{k}.jpg"
                path.write_bytes(silhouette_jpeg(rng))
                at = dt.datetime(2026, 3, 9, 6, 20, tzinfo=ZONE) + dt.timedelta(minutes=minutes + 2 * k)
                s.add(UnknownFace(school_id=school.id, camera_id=gates[n % 2].id, event_id=f"unk-{n}-{k}",
                                  captured_at=at.astimezone(dt.timezone.utc), school_date=NOW.date(),
                                  best_distance=round(rng.uniform(0.5, 0.68), 2), nearest_student_id=nearest.id,
                                  snapshot_path=path.relative_to(instance).as_posix()))
        admin = s.query(User).filter(User.role == "school_admin").one()
        trail = [("user:co.lan", "roll.override", f"student:{students[3].student_code}", {"status": "excused"}),
                 ("user:hieutruong", "student.consent", f"student:{students[40].student_code}",
                  {"form_reference": "PĐ-6A2-01", "given_on": "2026-03-02"}),
                 ("user:hieutruong", "camera.revoke", "camera:cong-cu", None),
                 ("camera:cong-chinh", "checkin.past_day", f"student:{students[7].student_code}", None),
                 ("user:hieutruong", "user.create", "user:co.mai", {"role": "teacher"}),
                 ("user:hieutruong", "student.update", f"student:{students[12].student_code}", {"active": True})]
        for n, (actor, action, target, detail) in enumerate(trail):
            entry = record_audit(s, actor, action, user_id=admin.id if actor == "user:hieutruong" else None,
                                 school_id=school.id, target=target, detail=detail)
            entry.created_at = NOW - dt.timedelta(hours=5 * n + 1)


def save_small(png: bytes, path: Path) -> None:
    from PIL import Image

    Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256).save(path, optimize=True)


def take_screenshots(base: str, out: Path, chromium: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    shots = [("admin-students.png", "/admin/students?class_id=2", "desktop"),
             ("admin-unknown-faces.png", "/unknown", "desktop"),
             ("admin-audit-log.png", "/admin/audit", "desktop"),
             ("admin-trends.png", "/reports/trends?month=2026-03", "desktop"),
             ("admin-trends-phone.png", "/reports/trends?month=2026-03", "phone"),
             ("admin-students-phone.png", "/admin/students?q=nguyen", "phone")]
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        contexts = {
            "desktop": browser.new_context(viewport={"width": 1280, "height": 860}, locale="vi-VN"),
            "phone": browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN", is_mobile=True,
                                         has_touch=True),
        }
        pages = {}
        for size, context in contexts.items():
            pages[size] = context.new_page()
            log_in(pages[size], base, "hieutruong")
        for name, path, size in shots:
            page = pages[size]
            page.goto(f"{base}{path}")
            page.wait_for_timeout(300)
            save_small(page.screenshot(), out / name)
            written.append(out / name)
        browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    return run(argv, take_screenshots, add_admin_history)


if __name__ == "__main__":
    sys.exit(main())
