"""Take the README's screenshots of the dashboard with made-up demo data: docs/screenshots/*.png.

    .venv/bin/python docs/make_screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]

Builds a throwaway school (invented names, silhouettes instead of faces: no real child appears), serves
the dashboard with waitress on a free loopback port and photographs it with Playwright and the system
Chromium. Nothing is downloaded and nothing outside a temporary folder is written but the PNGs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from attendance.crypto import install_keyring, load_keyring  # noqa: E402
from attendance.db import Database  # noqa: E402
from attendance.db.models import (  # noqa: E402
    Camera, CheckIn, ClassTeacher, FaceTemplate, LeaveRequest, RollOverride, School, SchoolClass, Student, User,
)
from attendance.settings import Settings, load_settings  # noqa: E402
from attendance.users import hash_password  # noqa: E402

ZONE = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2026, 3, 9, 7, 26, tzinfo=ZONE).astimezone(dt.timezone.utc)  # Monday 07:26 in Ho Chi Minh
PASSWORD = "demo password 2026"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--font-render-hinting=none"]

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
          "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Minh", "Ngọc", "Gia", "Hoàng", "Thanh", "Quốc", "Bảo", "Anh", "Khánh", "Đức", "Phương"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hân", "Hiếu", "Hòa", "Huy", "Khang", "Khoa", "Lâm",
         "Linh", "Long", "Mai", "Minh", "My", "Nam", "Ngân", "Nhi", "Phúc", "Quân", "Quỳnh", "Sơn", "Tâm", "Thảo",
         "Thư", "Tiến", "Trâm", "Trí", "Trung", "Tú", "Uyên", "Vy", "Yến", "Đạt", "Ánh", "Ý"]
CLASSES = ["6A1", "6A2", "7A1", "7A2", "8A1", "8A2", "9A1", "9A2"]


def silhouette_jpeg(rng: random.Random) -> bytes:
    """A plain avatar (a head-and-shoulders shape on a soft colour): a stand-in for a face snapshot."""
    from PIL import Image, ImageDraw

    hue = rng.choice([(203, 225, 246), (214, 240, 225), (252, 232, 214), (233, 222, 248), (246, 222, 230)])
    image = Image.new("RGB", (160, 160), hue)
    draw = ImageDraw.Draw(image)
    shade = tuple(max(0, c - 70) for c in hue)
    draw.ellipse((52, 26, 108, 90), fill=shade)
    draw.ellipse((24, 96, 136, 200), fill=shade)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def build_demo(db: Database, instance: Path, seed: int = 7) -> None:
    """A school of eight classes, most students already through the gate at 07:26, a few late or absent."""
    rng = random.Random(seed)
    snapshots = instance / "snapshots" / "demo"
    snapshots.mkdir(parents=True, exist_ok=True)
    with db.session() as s:
        s.info["clock"] = lambda: NOW - dt.timedelta(days=30)  # students joined a month before the screenshots
        school = School(code="NGUYENDU", name="Trường THCS Nguyễn Du", timezone="Asia/Ho_Chi_Minh")
        s.add(school)
        s.flush()
        gates = [Camera(school_id=school.id, name=name, location=where, token_hash=f"demo-{name}",
                        last_seen_at=NOW - dt.timedelta(seconds=20), last_heartbeat={"fps": 7.8, "queue_depth": 0})
                 for name, where in (("cong-chinh", "Cổng chính"), ("cong-phu", "Cổng phụ"))]
        s.add_all(gates)
        admin = User(school_id=school.id, username="hieutruong", full_name="Trần Văn Hùng", role="school_admin",
                     password_hash=hash_password(PASSWORD), session_token="demo-admin", language="vi")
        teacher = User(school_id=school.id, username="co.lan", full_name="Nguyễn Thị Lan", role="teacher",
                       password_hash=hash_password(PASSWORD), session_token="demo-teacher", language="vi")
        s.add_all([admin, teacher])
        s.flush()
        event = 0
        for class_index, code in enumerate(CLASSES):
            klass = SchoolClass(school_id=school.id, code=code, grade=int(code[0]), school_year="2025-2026")
            s.add(klass)
            s.flush()
            if code == "6A1":
                s.add(ClassTeacher(class_id=klass.id, user_id=teacher.id))
            used = set()
            for n in range(rng.randint(30, 36)):
                name = None
                while name is None or name in used:
                    name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
                used.add(name)
                student = Student(school_id=school.id, class_id=klass.id, student_code=f"HS{class_index + 6}{n + 1:03d}",
                                  full_name=name, active=True, consent_given=n != 5)
                s.add(student)
                s.flush()
                if n not in (5, 9):  # two students per class the cameras cannot recognise yet
                    s.add(FaceTemplate(student_id=student.id, model_id="dlib_resnet_v1", quality=1.0,
                                       vector=bytes(rng.getrandbits(8) for _ in range(512))))
                if code == "6A1":
                    _add_earlier_days(s, rng, school.id, gates[0].id, student.id, n)
                if code == "6A1" and n == 3:  # on leave this week, asked for last Friday
                    s.add(LeaveRequest(school_id=school.id, student_id=student.id, first_date=NOW.date(),
                                       last_date=NOW.date() + dt.timedelta(days=2), reason="Việc gia đình: về quê",
                                       created_by_id=teacher.id, created_by="user:co.lan",
                                       created_at=NOW - dt.timedelta(days=3)))
                    continue
                roll = rng.random()
                if roll < 0.05:
                    s.add(RollOverride(student_id=student.id, school_date=NOW.date(), status="excused",
                                       reason=rng.choice(["Ốm, phụ huynh xin phép", "Đi khám răng", "Việc gia đình"])))
                    continue
                if roll < 0.13:
                    continue  # not in yet
                local = dt.datetime(2026, 3, 9, 6, 10, tzinfo=ZONE) + dt.timedelta(minutes=rng.uniform(0, 50))
                if roll > 0.95:
                    local = dt.datetime(2026, 3, 9, 7, 2, tzinfo=ZONE) + dt.timedelta(minutes=rng.uniform(0, 22))
                captured = local.astimezone(dt.timezone.utc)
                if captured > NOW:
                    continue
                event += 1
                path = snapshots / f"{event}.jpg"
                path.write_bytes(silhouette_jpeg(rng))
                s.add(CheckIn(school_id=school.id, camera_id=gates[event % 2].id, student_id=student.id,
                              event_id=f"demo-{event}", captured_at=captured, school_date=NOW.date(),
                              snapshot_path=path.relative_to(instance).as_posix(), distance=0.3))


def _add_earlier_days(s, rng: random.Random, school_id: int, camera_id: int, student_id: int, n: int) -> None:
    """Monday 2 to Friday 6 March for a student of 6A1: mostly on time, a few late or absent (the month grid)."""
    for offset in range(7, 2, -1):
        day = NOW.date() - dt.timedelta(days=offset)
        roll = rng.random()
        if roll < 0.04:
            continue  # absent
        minute = rng.uniform(0, 48) if roll < 0.93 else rng.uniform(52, 70)
        local = dt.datetime(day.year, day.month, day.day, 6, 10, tzinfo=ZONE) + dt.timedelta(minutes=minute)
        s.add(CheckIn(school_id=school_id, camera_id=camera_id, student_id=student_id,
                      event_id=f"demo-{student_id}-{day.isoformat()}", captured_at=local.astimezone(dt.timezone.utc),
                      school_date=day, distance=0.3))


def optimise_png(path: Path) -> None:
    """Fewer colours: the pages are flat colours and text, and a 256-colour PNG is a third of the size."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def serve(app):
    import logging

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" notes are noise here
    from waitress import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=6)
    threading.Thread(target=server.run, daemon=True).start()
    return server


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def take_screenshots(base: str, out: Path, chromium: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        desktop = browser.new_context(viewport={"width": 1280, "height": 860}, device_scale_factor=1, locale="vi-VN")
        page = desktop.new_page()
        log_in(page, base, "hieutruong")
        page.goto(f"{base}/today")
        page.wait_for_timeout(500)
        page.screenshot(path=str(out / "today.png"))
        written.append(out / "today.png")
        desktop.close()

        teacher = browser.new_context(viewport={"width": 1280, "height": 860}, locale="vi-VN")
        page = teacher.new_page()
        log_in(page, base, "co.lan")  # a homeroom teacher of one class lands on its roll
        page.wait_for_timeout(300)
        page.screenshot(path=str(out / "class-roll.png"))
        written.append(out / "class-roll.png")
        teacher.close()

        phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="vi-VN",
                                    is_mobile=True, has_touch=True)
        page = phone.new_page()
        log_in(page, base, "co.lan")
        page.wait_for_selector("#live[data-live=on]")
        page.screenshot(path=str(out / "class-roll-phone.png"))
        written.append(out / "class-roll-phone.png")

        # the roll after saving a mark with a quick reason: the row and the message stay in view on a phone
        row = page.locator("table.roll tbody tr[data-student]").nth(2)
        row.locator("summary").click()
        row.locator("label.chip").first.click()
        row.locator("input[name=reason]").fill("sốt, mẹ gọi điện")
        with page.expect_navigation():
            row.locator("form.markform button[type=submit]").click()
        page.wait_for_timeout(300)
        page.screenshot(path=str(out / "class-roll-saved-phone.png"))
        written.append(out / "class-roll-saved-phone.png")
        page.goto(f"{base}/classes/1/leave")
        page.screenshot(path=str(out / "leave-phone.png"))
        written.append(out / "leave-phone.png")
        page.goto(f"{base}/classes/1/report?month=2026-03")
        page.evaluate("window.scrollTo(0, document.getElementById('daygrid').offsetTop - 120)")
        page.screenshot(path=str(out / "month-report-phone.png"))
        written.append(out / "month-report-phone.png")
        phone.close()

        desktop = browser.new_context(viewport={"width": 1280, "height": 860}, locale="vi-VN")
        page = desktop.new_page()
        log_in(page, base, "hieutruong")
        page.goto(f"{base}/classes/1/report?month=2026-03")
        page.evaluate("window.scrollTo(0, document.getElementById('daygrid').offsetTop - 80)")
        page.screenshot(path=str(out / "month-report.png"))
        written.append(out / "month-report.png")
        page.goto(f"{base}/school/not-recognised")
        page.screenshot(path=str(out / "not-recognised.png"))
        written.append(out / "not-recognised.png")
        desktop.close()
        browser.close()
    for path in written:
        optimise_png(path)
    return written


def run(argv: list[str] | None, take: Callable[[str, Path, str], list[Path]],
        add_data: Callable[[Database, Path], None] | None = None) -> int:
    """Build the invented school (plus ``add_data``), serve it, and ``take(base_url, out, chromium)``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    from dashboard import create_app

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(Settings, environ={}, overrides={
            "instance_path": tmp, "secret_key": "demo", "session_cookie_secure": False})
        install_keyring(load_keyring(settings))  # templates are sealed at rest: a key for this throwaway school
        db = Database.open(settings.resolved_database_url)
        build_demo(db, Path(tmp))
        if add_data is not None:
            add_data(db, Path(tmp))
        app = create_app(settings, test_config={"TESTING": True}, database=db)
        app.config["CLOCK"] = lambda: NOW
        server = serve(app)
        try:
            for path in take(f"http://127.0.0.1:{server.effective_port}", Path(args.out), args.chromium):
                print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
        finally:
            server.close()
            db.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(argv, take_screenshots)


if __name__ == "__main__":
    sys.exit(main())
