"""The school admin's day in headless Chromium, on a 390x844 phone and a desktop, in Vietnamese and English:
consent for many students at once, search without diacritics, the audit-log filter, and no page wider than
the phone. Same set-up as ``test_browser`` (system Chromium, never downloaded; skipped without it unless CI).
"""

from __future__ import annotations

import datetime as dt

import pytest

from attendance.db.models import CheckIn, Student, UnknownFace
from attendance.users import record_audit
from factories import make_camera, make_class, make_school, make_student, make_user
from browser_support import PASSWORD, chromium_path, launch_chromium, serve_dashboard
from test_browser import NOW

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SIZES = {"phone": PHONE, "desktop": DESKTOP}
WORDS = {
    "vi": {"consent_done": "Đã ghi nhận đồng ý cho 2 học sinh", "no_entry": "Không có mục nào phù hợp."},
    "en": {"consent_done": "Consent recorded for 2 student(s)", "no_entry": "No entry matches."},
}


@pytest.fixture
def admin_server(settings, db):
    """School LL: 6A1 (Trần Minh Đức, Nguyễn Thị Bình, Lê Văn Cường; no consent yet), an audit trail, check-ins
    of the month, two sightings of one unknown face; admin "hoa" (Vietnamese) and "hoa_en" (English)."""
    pytest.importorskip("playwright.sync_api")
    from dashboard import create_app

    with db.session() as s:
        school = make_school(s, "LL", "THCS Lê Lợi")
        klass = make_class(s, school, "6A1", grade=6)
        students = [make_student(s, klass, f"HS00{n}", name, consent=False)
                    for n, name in enumerate(["Trần Minh Đức", "Nguyễn Thị Bình", "Lê Văn Cường"], start=1)]
        make_user(s, "hoa", school=school, role="school_admin", password=PASSWORD, full_name="Võ Thị Hoa")
        make_user(s, "hoa_en", school=school, role="school_admin", password=PASSWORD, language="en")
        make_user(s, "lan", school=school, password=PASSWORD, classes=[klass])
        camera, _ = make_camera(s, school, "cong-chinh")
        for day in range(2, 7):
            s.add(CheckIn(school_id=school.id, camera_id=camera.id, student_id=students[0].id, event_id=f"d{day}",
                          school_date=dt.date(2026, 3, day),
                          captured_at=dt.datetime(2026, 3, day, 6, 45, tzinfo=dt.timezone(dt.timedelta(hours=7)))))
        for n, (actor, action, target) in enumerate([("user:lan", "roll.override", "student:HS003"),
                                                    ("user:hoa", "student.update", "student:HS001")]):
            record_audit(s, actor, action, school_id=school.id, target=target).created_at = NOW - dt.timedelta(days=n)
        for n in range(2):
            s.add(UnknownFace(school_id=school.id, camera_id=camera.id, event_id=f"u{n}", school_date=NOW.date(),
                              captured_at=NOW - dt.timedelta(hours=2, minutes=5 - 3 * n), best_distance=0.6 - n / 20,
                              nearest_student_id=students[2].id))
    app = create_app(settings, test_config={"TESTING": True, "SSE_DURATION_S": 1.0}, database=db)
    app.config["CLOCK"] = lambda: NOW
    with serve_dashboard(app) as base_url:
        yield base_url


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    chromium_path()  # a skip (a failure under CI) before Playwright starts
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def open_as(browser, base, username, size):
    context = browser.new_context(viewport=SIZES[size], locale="vi-VN", is_mobile=size == "phone",
                                  has_touch=size == "phone")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


LANGUAGES = {"vi": "hoa", "en": "hoa_en"}


@pytest.mark.parametrize("size", ["phone", "desktop"])
@pytest.mark.parametrize("language", ["vi", "en"])
def test_consent_for_several_students_in_one_action(admin_server, browser, db, size, language):
    page = open_as(browser, admin_server, LANGUAGES[language], size)
    page.goto(f"{admin_server}/admin/students")
    boxes = page.locator("input[name=student_ids]")
    assert boxes.count() == 3 and not any(boxes.nth(i).is_checked() for i in range(3))  # none pre-ticked
    page.locator("tr", has_text="Trần Minh Đức").locator("input[name=student_ids]").check()
    page.locator("tr", has_text="Nguyễn Thị Bình").locator("input[name=student_ids]").check()
    page.fill("#reference", "PĐ-6A1-01")
    page.fill("#given_on", "02/03/2026")
    with page.expect_navigation():
        page.locator("#consent-form button[type=submit]").click()
    assert WORDS[language]["consent_done"] in page.locator(".flashes").inner_text()
    with db.session() as s:
        consented = {st.full_name for st in s.query(Student).filter(Student.consent_given.is_(True))}
    assert consented == {"Trần Minh Đức", "Nguyễn Thị Bình"}


@pytest.mark.parametrize("size", ["phone", "desktop"])
@pytest.mark.parametrize("language", ["vi", "en"])
def test_search_ignores_diacritics(admin_server, browser, size, language):
    page = open_as(browser, admin_server, LANGUAGES[language], size)
    page.goto(f"{admin_server}/admin/students")
    for query, found, hidden in (("duc", "Trần Minh Đức", "Nguyễn Thị Bình"), ("nguyen", "Nguyễn Thị Bình", "Đức")):
        page.fill("#q", query)
        with page.expect_navigation():
            page.press("#q", "Enter")
        table = page.locator("table.list").inner_text()
        assert found in table and hidden not in table
    # the unknown-faces picker filters as one types, diacritics ignored too
    page.goto(f"{admin_server}/unknown")
    assert page.locator(".unknowncard").count() == 1  # two sightings, one card
    assert "Lê Văn Cường" in page.locator(".unknowncard").inner_text()  # the nearest student


@pytest.mark.parametrize("size", ["phone", "desktop"])
@pytest.mark.parametrize("language", ["vi", "en"])
def test_audit_log_filter(admin_server, browser, size, language):
    page = open_as(browser, admin_server, LANGUAGES[language], size)
    page.goto(f"{admin_server}/admin/audit")
    assert page.locator("tr.entry").count() >= 3
    page.select_option("#who", "user:lan")
    with page.expect_navigation():
        page.locator("#audit-filter button[type=submit]").click()
    rows = page.locator("tr.entry")
    assert rows.count() == 1 and "Lê Văn Cường (HS003)" in rows.first.inner_text()
    page.fill("#target", "duc")
    with page.expect_navigation():
        page.locator("#audit-filter button[type=submit]").click()
    assert WORDS[language]["no_entry"] in page.inner_text("main")


MAIN_PAGES = ["/today", "/classes/1", "/classes/1/report", "/reports", "/reports/trends", "/unknown",
              "/students/1", "/admin/classes", "/admin/students", "/admin/cameras", "/admin/users",
              "/admin/school", "/admin/audit", "/admin/calibration", "/admin/students/import", "/admin/students/1/edit"]


@pytest.mark.parametrize("language", ["vi", "en"])
def test_no_page_is_wider_than_a_phone(admin_server, browser, language):
    page = open_as(browser, admin_server, LANGUAGES[language], "phone")
    too_wide = {}
    for path in MAIN_PAGES:
        response = page.goto(f"{admin_server}{path}")
        assert response.status == 200, path
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[path] = width
    page.goto(f"{admin_server}/login")  # logged in: the login page redirects; the page itself is checked below
    assert not too_wide
    context = browser.new_context(viewport=PHONE, locale="vi-VN")
    login = context.new_page()
    login.goto(f"{admin_server}/login")
    assert login.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
