"""End to end: the agent as a subprocess (``--once``) on a generated clip in which a student holds up a QR card,
and then someone holds up a forged one (the right student code, a made-up signature), against the real
dashboard. Exactly one check-in of source ``qr`` is stored; the forged card is refused (``bad_card``), so
``--once`` exits 1 with it in the dead letters. No face model file is needed beyond dlib's built-in one."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select
from test_agent_e2e import ServedDashboard, agent_env

from attendance.card_print import CardFace, find_card_font, render_card_png
from attendance.cards import card_of
from attendance.db.models import CheckIn, Student
from conftest import REPO_ROOT
from factories import make_camera, make_class, make_school, make_student

FPS = 10
FRAME_W, FRAME_H = 640, 360


def card_frame(payload: str | None) -> np.ndarray:
    """A grey 640x360 BGR frame, with a card of ``payload`` held up (about 300 px wide) when given."""
    frame = np.full((FRAME_H, FRAME_W, 3), 110, np.uint8)
    if payload is None:
        return frame
    png = render_card_png(CardFace("Trần Thị Bình", "6A1", "HS002", "Trường THCS 1", payload), find_card_font())
    card = Image.open(io.BytesIO(png)).convert("RGB").resize((320, 202))
    frame[70:272, 160:480] = np.asarray(card)[:, :, ::-1]
    return frame


def write_clip(path, segments: list[tuple[str | None, int]]) -> None:
    """A video of ``(payload or None, frames)`` segments at 10 fps (MJPG in AVI)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (FRAME_W, FRAME_H))
    assert writer.isOpened()
    for payload, frames in segments:
        image = card_frame(payload)
        for _ in range(frames):
            writer.write(image)
    writer.release()


@pytest.fixture
def qr_dashboard(settings, db):
    from dashboard import create_app

    app = create_app(settings, test_config={"TESTING": True}, database=db)
    with db.session() as session:
        school = make_school(session, "THCS1")
        klass = make_class(session, school, "6A1")
        make_student(session, klass, "HS001", "Nguyễn Văn An", templates=2)  # the gallery needs one template
        no_consent = make_student(session, klass, "HS002", "Trần Thị Bình", consent=False)
        payload = card_of(session, no_consent).payload
        _, token = make_camera(session, school)
    served = ServedDashboard(app).start()
    yield served, token, payload
    served.stop()


def test_the_agent_checks_in_a_card_once_and_the_dashboard_refuses_a_forged_one(qr_dashboard, db, tmp_path):
    served, token, payload = qr_dashboard
    forged = payload.rsplit("|", 1)[0] + "|" + ("Q" if payload[-1] != "Q" else "R") * 20
    clip = tmp_path / "cards.avi"
    write_clip(clip, [(None, 5), (payload, 25), (None, 5), (forged, 15), (None, 5)])
    outbox = tmp_path / "outbox.sqlite3"
    start_at = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)).replace(microsecond=0).isoformat()
    command = [sys.executable, "-m", "camera_agent", "--source", str(clip), "--server", served.url, "--once",
               "--outbox", str(outbox), "--start-at", start_at, "--deliver-timeout-s", "30"]
    result = subprocess.run(command, env=agent_env(token), cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 1, result.stderr[-3000:]  # the forged card was refused
    assert "1 refused" in result.stderr or "1 refused" in result.stdout
    with db.session() as session:
        rows = session.execute(select(Student.student_code, CheckIn.source).join(Student)).all()
    assert rows == [("HS002", "qr")]
    with sqlite3.connect(outbox) as local:
        assert local.execute("SELECT error_code FROM dead_letters").fetchall() == [("bad_card",)]
    assert payload not in result.stderr and token not in result.stderr  # cards and tokens stay out of the log
