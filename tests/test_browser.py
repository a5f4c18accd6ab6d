"""End to end in headless Chromium: log in, open a class roll, mark a student excused, download the roll.

Runs the real app under waitress on a free loopback port, with CSRF on, driven by Playwright with the
system Chromium (``/usr/bin/chromium``; Playwright never downloads a browser here). Skipped when Chromium
is missing, except under CI, where that is a failure.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from attendance.db.models import CheckIn
from browser_support import PASSWORD, chromium_path, launch_chromium, serve_dashboard
from factories import make_camera, make_class, make_school, make_student, make_user

NOW = dt.datetime(2026, 3, 9, 2, 30, tzinfo=dt.timezone.utc)  # Monday 09:30 in Ho Chi Minh

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(settings, db):
    """The dashboard (CSRF on) under waitress in a thread; yields its base URL."""
    pytest.importorskip("playwright.sync_api")
    from dashboard import create_app

    with db.session() as s:
        school = make_school(s, "LL", "THCS Lê Lợi")
        klass = make_class(s, school, "6A1", grade=6)
        an = make_student(s, klass, "HS001", "Nguyễn Văn An")
        make_student(s, klass, "HS002", "Lê Văn Cường")
        make_user(s, "lan", school=school, password=PASSWORD, classes=[klass], full_name="Nguyễn Thị Lan")
        camera, _ = make_camera(s, school, "cong-chinh")
        s.add(CheckIn(school_id=school.id, camera_id=camera.id, student_id=an.id, event_id="e1",
                      captured_at=NOW - dt.timedelta(hours=2, minutes=49), school_date=NOW.date()))
    app = create_app(settings, test_config={"TESTING": True}, database=db)
    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    app.config["CLOCK"] = lambda: NOW
    with serve_dashboard(app) as base_url:
        yield base_url


@pytest.fixture
def page(live_server):
    from playwright.sync_api import sync_playwright

    chromium_path()  # a skip (a failure under CI) before Playwright starts
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(accept_downloads=True, locale="vi-VN", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        browser.close()


def test_teacher_marks_a_student_excused_and_downloads_the_roll(live_server, page):
    from openpyxl import load_workbook

    page.goto(f"{live_server}/classes/1")
    assert "/login" in page.url  # not logged in yet
    page.fill("#username", "lan")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/classes/1")
    assert page.locator("h1").inner_text() == "Lớp 6A1"

    row = page.locator("tr[data-student=HS002]")
    assert "Vắng" in row.locator("td.status").inner_text()
    row.locator("summary").click()
    row.locator("input[value=excused]").check()
    row.locator("input[name=reason]").fill("Ốm, mẹ gọi điện xin phép")
    with page.expect_navigation():
        row.locator("form.markform button[type=submit]").click()
    row = page.locator("tr[data-student=HS002]")
    assert "Có phép" in row.locator("td.status").inner_text()
    assert "Ốm, mẹ gọi điện xin phép" in row.inner_text()
    assert "Đã ghi nhận Lê Văn Cường" in page.locator("tr.rowflash").inner_text()  # beside the row

    with page.expect_download() as info:
        page.click("a[href*='roll.csv']")
    data = Path(info.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "Nguyễn Văn An,6A1,09/03/2026,Đúng giờ,06:41" in text
    assert "Lê Văn Cường,6A1,09/03/2026,Có phép" in text and "Ốm, mẹ gọi điện xin phép" in text

    with page.expect_download() as info:
        page.click("a[href*='roll.xlsx']")
    assert info.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes())).active
    cells = list(sheet.iter_rows(values_only=True))
    assert cells[3][2] == "Lê Văn Cường" and cells[3][5] == "Có phép"


def test_today_page_gets_live_checkins(live_server, page, db):
    page.goto(f"{live_server}/login")
    page.fill("#username", "lan")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server}/today")
    assert page.locator("#feed li").count() == 1
    with db.session() as s:
        s.add(CheckIn(school_id=1, camera_id=1, student_id=2, event_id="e2", captured_at=NOW - dt.timedelta(hours=1),
                      school_date=NOW.date()))
    page.locator("#feed li", has_text="Lê Văn Cường").wait_for()
    assert page.locator("#feed li").first.inner_text().count("08:30") == 1
