"""In headless Chromium: a check-in flagged as a suspected photo shows its badge and snapshot on the class roll,
and the teacher rejects it: it leaves the roll, audited. CSRF is on.

Reuses the live-server set-up of tests/test_browser.py (skipped when Chromium is missing, failed under CI).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from attendance.checkins import record_checkins
from attendance.db.models import AuditEntry, CheckIn
from factories import make_camera, make_class, make_school, make_student, make_user
from browser_support import launch_chromium, serve_dashboard

PASSWORD = "correct horse battery"
NOW = dt.datetime(2026, 3, 9, 2, 30, tzinfo=dt.timezone.utc)  # Monday 09:30 in Ho Chi Minh: the roll is decided
CAPTURED = NOW - dt.timedelta(hours=2, minutes=49)  # 06:41 local
ATTACK = {"verdict": "suspected_attack", "spoof_score_mean": 0.012, "spoof_frames": 2, "frames": 9}
JPEG_B64 = "/9j/4AAQ" + "A" * 40 + "//Z="

pytestmark = pytest.mark.browser


@pytest.fixture
def flagged_server(settings, db):
    pytest.importorskip("playwright.sync_api")
    from dashboard import create_app

    with db.session() as s:
        school = make_school(s, "LL", "THCS Lê Lợi")
        klass = make_class(s, school, "6A1", grade=6)
        make_student(s, klass, "HS001", "Nguyễn Văn An")
        make_user(s, "lan", school=school, password=PASSWORD, classes=[klass], full_name="Nguyễn Thị Lan")
        camera, _ = make_camera(s, school, "cong-chinh")
        instance = Path(settings.instance_path)
        [result] = record_checkins(s, camera, [{
            "event_id": "e1", "seq": 1, "student_code": "HS001", "captured_at": CAPTURED.isoformat(),
            "liveness": ATTACK, "snapshot_jpeg_b64": JPEG_B64}], NOW, instance_path=instance)
        s.commit()
        checkin_id = result["checkin_id"]
    app = create_app(settings, test_config={"TESTING": True}, database=db)
    app.config["CLOCK"] = lambda: NOW
    with serve_dashboard(app) as base_url:
        yield base_url, checkin_id


def test_teacher_rejects_then_confirms_a_flagged_checkin(flagged_server, db):
    from playwright.sync_api import sync_playwright

    base, checkin_id = flagged_server
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context(locale="vi-VN").new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{base}/login")
        page.fill("#username", "lan")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{base}/classes/1")
        row = page.locator("tr[data-student=HS001]")
        assert row.locator(".badge.review").inner_text() == "Cần kiểm tra: ảnh?"
        assert row.locator(f"img[src*='/media/checkin/{checkin_id}.jpg']").count() == 1
        with page.expect_navigation():
            row.locator("button[value=reject]").click()
        row = page.locator("tr[data-student=HS001]")
        assert "Vắng" in row.locator("td.status").inner_text() and row.locator(".badge.review").count() == 0
        assert "Đã bác lượt điểm danh của Nguyễn Văn An" in page.locator(".flashes").inner_text()
        browser.close()
    with db.session() as s:
        assert s.get(CheckIn, checkin_id).review_status == "rejected"
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "checkin.liveness_review")).actor == "user:lan"
