"""In headless Chromium: the photo upload form shrinks a phone-sized photo before sending it (dashboard/static/js/admin.js).

A 4000x3000 photo goes out as a JPEG of at most 2560 px on its longest side, so an upload stays small on a
school's connection and under the request limit; the server gets the shrunk file and answers in Vietnamese.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from factories import make_class, make_school, make_student, make_user
from browser_support import PASSWORD, launch_chromium, serve_dashboard

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_server(settings, db):
    pytest.importorskip("playwright.sync_api")
    from dashboard import create_app

    with db.session() as s:
        school = make_school(s, "LL", "THCS Lê Lợi")
        klass = make_class(s, school, "6A1", grade=6)
        student = make_student(s, klass, "HS001", "Nguyễn Văn An")
        make_user(s, "hieu", school=school, role="school_admin", password=PASSWORD)
        student_id = student.id
    app = create_app(settings, test_config={"TESTING": True}, database=db)
    received: list[tuple[int, int, int]] = []  # (bytes, width, height) of each photo the server got

    @app.before_request
    def record_upload():
        from flask import request

        for upload in request.files.getlist("photos"):
            data = upload.stream.read()
            upload.stream.seek(0)
            with Image.open(io.BytesIO(data)) as image:
                received.append((len(data), *image.size))

    with serve_dashboard(app) as base_url:
        yield base_url, student_id, received


def test_a_phone_photo_is_shrunk_before_it_is_sent(admin_server, tmp_path):
    from playwright.sync_api import sync_playwright

    base, student_id, received = admin_server
    photo = tmp_path / "IMG_0001.JPG"  # a phone's 4000x3000 photo (noise: no face, so the server refuses it)
    pixels = np.random.default_rng(7).integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(photo, quality=90)
    original_bytes = photo.stat().st_size
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context(locale="vi-VN", viewport={"width": 390, "height": 844}).new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{base}/login")
        page.fill("#username", "hieu")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{base}/students/{student_id}")
        page.set_input_files("#photos-input", str(photo))
        with page.expect_navigation():
            page.click("form[data-shrink-photos] button[type=submit]")
        text = page.inner_text("body")
        browser.close()
    assert len(received) == 1
    sent_bytes, width, height = received[0]
    assert (width, height) == (2560, 1920) and sent_bytes < original_bytes
    assert "Không tìm thấy khuôn mặt" in text or "khuôn mặt" in text  # the refusal, in the page's language
