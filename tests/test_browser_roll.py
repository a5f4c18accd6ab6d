"""The homeroom teacher's morning in headless Chromium, on a 390x844 phone and a desktop, in Vietnamese and English.

The roll's order and its toggle, a quick reason saved with the row and its message in view, a leave request
shown on the roll, the month grid scrolling inside its box, and live pages: a check-in posted to the agent
API while the roll or the Today page is open shows within 5 s. The real app runs under waitress with CSRF
on (``tests/test_browser.py`` has the fixtures' reasoning). With ``ATTENDANCE_SCREENSHOTS=DIR`` the tests
also save PNGs of the pages there (the README's screenshots come from this).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import urllib.request
from pathlib import Path

import pytest

from attendance.db.models import CheckIn
from factories import make_camera, make_class, make_school, make_student, make_user
from browser_support import PASSWORD, chromium_path, launch_chromium, serve_dashboard

NOW = dt.datetime(2026, 3, 9, 1, 0, tzinfo=dt.timezone.utc)  # Monday 08:00 in Ho Chi Minh: before the absence cutoff
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TEXT = {
    "vi": {"user": "lan", "by_name": "Theo tên", "sick": "Ốm", "saved": "Đã ghi nhận Lê Văn Cường", "late": "Đi trễ",
           "on_leave": "Nghỉ có đơn", "leave": "Đơn xin nghỉ", "excused": "được nghỉ có phép"},
    "en": {"user": "john", "by_name": "By name", "sick": "Sick", "saved": "Lê Văn Cường marked excused", "late": "Late",
           "on_leave": "On leave", "leave": "Leave requests", "excused": "is excused from"},
}

pytestmark = pytest.mark.browser


@pytest.fixture
def server(settings, db):
    """The dashboard under waitress; yields (base URL, camera token)."""
    pytest.importorskip("playwright.sync_api")
    from dashboard import create_app

    with db.session() as s:
        school = make_school(s, "LL", "THCS Lê Lợi")
        klass = make_class(s, school, "6A1", grade=6)
        an = make_student(s, klass, "HS001", "Nguyễn Văn An", templates=1)
        binh = make_student(s, klass, "HS002", "Trần Thị Bình", templates=1)
        make_student(s, klass, "HS003", "Lê Văn Cường", templates=1)
        make_student(s, klass, "HS004", "Phạm Văn Dũng", templates=1)
        make_student(s, klass, "HS005", "Võ Thị Hà", consent=False)
        # a class long enough that the rows scroll on a phone; all of them on time
        given = ("Khoa Khánh Lan Linh Long Mai Minh My Nam Nga Ngọc Nhi Phúc Quân Sơn Tâm Thảo Trang Tuấn Vinh").split()
        others = [make_student(s, klass, f"HS{i:03d}", f"Đỗ Văn {name}", templates=1)
                  for i, name in enumerate(given, start=6)]
        make_user(s, "lan", school=school, password=PASSWORD, classes=[klass], full_name="Nguyễn Thị Lan")
        make_user(s, "john", school=school, password=PASSWORD, classes=[klass], full_name="John Smith", language="en")
        camera, token = make_camera(s, school, "cong-chinh")
        arrivals = [(an, 80), (binh, 50)] + [(student, 70) for student in others]  # minutes before 08:00
        for n, (student, minutes) in enumerate(arrivals):
            s.add(CheckIn(school_id=school.id, camera_id=camera.id, student_id=student.id, event_id=f"e{n}",
                          captured_at=NOW - dt.timedelta(minutes=minutes), school_date=NOW.date()))
    app = create_app(settings, test_config={"TESTING": True}, database=db)
    app.config["CLOCK"] = lambda: NOW
    with serve_dashboard(app) as base_url:
        yield base_url, token


@pytest.fixture(params=[("vi", PHONE), ("en", PHONE), ("vi", DESKTOP), ("en", DESKTOP)],
                ids=["vi-phone", "en-phone", "vi-desktop", "en-desktop"])
def browser_page(request, server):
    from playwright.sync_api import sync_playwright

    language, viewport = request.param
    chromium_path()  # a skip (a failure under CI) before Playwright starts
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(locale="vi-VN" if language == "vi" else "en-GB", viewport=viewport,
                                      is_mobile=viewport is PHONE, has_touch=viewport is PHONE)
        page = context.new_page()
        page.set_default_timeout(15_000)
        base, _ = server
        page.goto(f"{base}/login")
        page.fill("#username", TEXT[language]["user"])
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        yield page, language, "phone" if viewport is PHONE else "desktop"
        context.close()
        browser.close()


def screenshot(page, name: str) -> None:
    folder = os.environ.get("ATTENDANCE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def codes(page) -> list[str]:
    return page.eval_on_selector_all("table.roll tbody tr[data-student]", "rows => rows.map(r => r.dataset.student)")


def in_view(page, selector: str) -> bool:
    """True when the element is wholly on screen and not under the sticky top bar."""
    return page.eval_on_selector(selector, """el => {
        const r = el.getBoundingClientRect(), bar = document.querySelector('.topbar').getBoundingClientRect();
        return r.top >= bar.bottom - 1 && r.bottom <= window.innerHeight + 1;
    }""")


def post_checkin(base: str, token: str, code: str, minutes_before: int, n: int) -> float:
    event = {"event_id": f"live-{code}-{n}", "seq": n, "student_code": code,
             "captured_at": (NOW - dt.timedelta(minutes=minutes_before)).isoformat()}
    request = urllib.request.Request(f"{base}/api/v1/checkins", data=json.dumps({"events": [event]}).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["results"][0]["status"] == "created"
    return time.monotonic()


def test_roll_order_quick_reason_in_view_and_leave(server, browser_page):
    page, language, size = browser_page
    text = TEXT[language]
    base, _ = server
    page.goto(f"{base}/classes/1")
    first = codes(page)
    # not yet in first (Cường, Dũng, Hà: by given name), then the rest by given name
    assert first[:3] == ["HS003", "HS004", "HS005"] and "badge not_yet" in page.inner_html("tr[data-student=HS003]")
    assert page.locator("#roll-counts .stat.not_yet .value").inner_text() == "3"
    assert page.locator("#not-recognised").count() == 1  # Hà: no consent, no photo
    screenshot(page, f"roll-{language}-{size}")
    page.click(f".segmented a:has-text('{text['by_name']}')")
    page.wait_for_url("**order=name**")
    assert codes(page)[:2] == ["HS001", "HS002"]  # An, Bình
    page.goto(f"{base}/classes/1")

    row = page.locator("tr[data-student=HS003]")
    row.locator("summary").click()
    row.locator(f"label.chip:has-text('{text['sick']}')").click()
    row.locator("input[name=reason]").fill("sốt")
    with page.expect_navigation():
        row.locator("form.markform button[type=submit]").click()
    page.wait_for_load_state()
    assert page.url.endswith("#s3") and "saved=3" in page.url
    assert "badge excused" in page.inner_html("tr#s3")
    assert text["saved"] in page.locator("tr.rowflash").inner_text()
    assert in_view(page, "tr#s3") and in_view(page, "tr.rowflash")
    assert f"{text['sick']}: sốt" in page.locator("tr#s3").inner_text()
    screenshot(page, f"roll-saved-{language}-{size}")

    page.click(f"a.btn:has-text('{text['leave']}')")
    page.wait_for_url("**/classes/1/leave")
    page.select_option("#student_id", value="4")
    page.fill("#first_date", "10/03/2026")
    page.fill("#last_date", "12/03/2026")
    page.locator("#leaveform label.chip").nth(1).click()  # family
    page.fill("#reason", "về quê")
    with page.expect_navigation():
        page.click("#leaveform button[type=submit]")
    assert text["excused"] in page.locator(".flashes").inner_text()
    assert page.locator("tr[data-student=HS004]").count() == 1
    screenshot(page, f"leave-{language}-{size}")
    page.goto(f"{base}/classes/1?date=2026-03-11")
    assert text["on_leave"] in page.locator("tr[data-student=HS004]").inner_text()
    assert "badge excused" in page.inner_html("tr[data-student=HS004]")

    page.goto(f"{base}/classes/1/report?month=2026-03")
    widths = page.evaluate("""() => ({page: document.documentElement.scrollWidth, view: window.innerWidth,
        box: document.querySelector('#daygrid .tablewrap').scrollWidth,
        boxView: document.querySelector('#daygrid .tablewrap').clientWidth})""")
    assert widths["page"] <= widths["view"], widths  # the page itself never scrolls sideways
    if size == "phone":
        assert widths["box"] > widths["boxView"]  # the grid scrolls inside its box
    screenshot(page, f"month-{language}-{size}")


def test_a_checkin_posted_while_the_pages_are_open_shows_within_5_s(server, browser_page):
    page, language, size = browser_page
    base, token = server
    page.goto(f"{base}/classes/1")
    page.wait_for_selector("#live[data-live=on]", timeout=6000)  # "Live" only once a poll succeeded
    assert "badge not_yet" in page.inner_html("tr[data-student=HS003]")
    sent = post_checkin(base, token, "HS003", 10, 1)  # 07:50: late
    page.wait_for_selector("tr[data-student=HS003] .badge.late", timeout=5000)
    assert time.monotonic() - sent < 5
    assert text_of(page, "tr[data-student=HS003]").count(TEXT[language]["late"]) >= 1
    assert page.locator("#roll-counts .stat.not_yet .value").inner_text() == "2"

    page.goto(f"{base}/today")
    page.wait_for_selector("#live[data-live=on]", timeout=6000)
    sent = post_checkin(base, token, "HS004", 5, 2)
    page.locator("#feed li", has_text="Phạm Văn Dũng").wait_for(timeout=5000)
    assert time.monotonic() - sent < 5
    screenshot(page, f"today-live-{language}-{size}")


def text_of(page, selector: str) -> str:
    return page.locator(selector).inner_text()
