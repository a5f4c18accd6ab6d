"""End to end with real faces: the agent as a subprocess on short_hamilton_clip.mp4 (``--once``).

Enrolling ../shared/faces/people/ must give exactly one check-in, lin_manuel_miranda (who appears from
about frame 83), no other, and the other face (a blurred bystander) as an unknown. Then the failure modes:
the dashboard down at the start (a lost answer when it is back), the dashboard stopped mid-run and
restarted, and the agent killed with SIGKILL mid-run and restarted: every decision arrives once. Run first against the fake dashboard of
``agent_fakes`` (the API contract), then against the real dashboard served by waitress.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from agent_fakes import TOKEN, FakeDashboard, enroll_people
from conftest import REPO_ROOT, SHARED_FACES, SIX_PEOPLE_DLIB_POINT, require_shared

pytestmark = pytest.mark.realfaces

CLIP = SHARED_FACES / "video" / "short_hamilton_clip.mp4"
PEOPLE = SHARED_FACES / "people"
START_AT = "2026-09-07T06:30:00+07:00"  # a Monday morning in Ho Chi Minh City
EXPECTED = ["lin_manuel_miranda"]
RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def clip() -> Path:
    require_shared(PEOPLE)
    return require_shared(CLIP)


@pytest.fixture(scope="module")
def people_gallery(clip) -> dict:
    return enroll_people(PEOPLE)


def agent_command(server_url: str, outbox: Path, *extra: str, start_at: str = START_AT) -> list[str]:
    return [sys.executable, "-m", "camera_agent", "--source", str(CLIP), "--server", server_url, "--once",
            "--outbox", str(outbox), "--start-at", start_at, "--deliver-timeout-s", "60", *extra]


def recent_start_at() -> str:
    """An hour ago: the real dashboard refuses events older than its age limit or its camera (``too_old``)."""
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(microsecond=0).isoformat()


def agent_env(token: str = TOKEN) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTENDANCE_")}
    env.update(ATTENDANCE_AGENT_TOKEN=token, ATTENDANCE_AGENT_RETRY_MAX_S="1", PYTHONPATH=str(REPO_ROOT),
               ATTENDANCE_AGENT_MATCH_THRESHOLD=SIX_PEOPLE_DLIB_POINT["threshold"],
               ATTENDANCE_AGENT_MATCH_MARGIN=SIX_PEOPLE_DLIB_POINT["margin"])
    return env


def run_agent(server_url: str, outbox: Path, *extra: str, token: str = TOKEN,
              start_at: str = START_AT) -> subprocess.CompletedProcess:
    command = agent_command(server_url, outbox, *extra, start_at=start_at)
    return subprocess.run(command, env=agent_env(token), cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)


def start_agent(server_url: str, outbox: Path, *extra: str, token: str = TOKEN,
                start_at: str = START_AT) -> subprocess.Popen:
    command = agent_command(server_url, outbox, *extra, start_at=start_at)
    return subprocess.Popen(command, env=agent_env(token), cwd=REPO_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def decisions_in(outbox: Path) -> int:
    if not outbox.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    except sqlite3.OperationalError:  # the agent is still creating it
        return 0


def wait_until(predicate, timeout_s: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the agent exited early ({proc.returncode}): {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- against the API contract (fake dashboard) -------------------------------------------------------------


@pytest.fixture(scope="module")
def clean_run(people_gallery, tmp_path_factory):
    """One undisturbed run: what every disturbed run must end up with."""
    fake = FakeDashboard(people_gallery).start()
    try:
        result = run_agent(fake.url, tmp_path_factory.mktemp("clean") / "outbox.sqlite3")
    finally:
        fake.stop()
    return result, fake


def test_the_clip_gives_one_checkin_for_lin_manuel_miranda_and_the_other_face_as_unknown(clean_run):
    result, fake = clean_run
    assert result.returncode == 0, result.stderr[-3000:]
    assert fake.checkin_codes() == EXPECTED
    checkin = next(iter(fake.checkins.values()))
    assert checkin["votes"] >= 2 and checkin["distance"] <= 0.45 and checkin["model_id"] == "dlib_resnet_v1"
    assert checkin["captured_at"].startswith("2026-09-06T23:3")  # 06:3x local, sent as UTC
    assert checkin["liveness"]["frames"] > 10 and "snapshot_jpeg_b64" in checkin
    assert len(fake.unknowns) >= 1
    assert all(u["best_distance"] > 0.45 for u in fake.unknowns.values())
    assert [e["seq"] for e in sorted([*fake.checkins.values(), *fake.unknowns.values()], key=lambda e: e["seq"])] == \
        list(range(1, 1 + len(fake.checkins) + len(fake.unknowns)))
    assert fake.heartbeats and fake.heartbeats[-1]["frames_total"] == 275


def test_dashboard_down_at_start_agent_killed_then_restarted_with_a_lost_answer_delivers_everything_once(
        clean_run, people_gallery, tmp_path):
    outbox = tmp_path / "outbox.sqlite3"
    warm = FakeDashboard(people_gallery).start()  # an earlier day: leaves the gallery copy on disk
    from camera_agent.client import DashboardClient
    from camera_agent.gallery_sync import GallerySync

    GallerySync(DashboardClient(warm.url, TOKEN), "dlib_resnet_v1", 128,
                outbox.with_name("gallery-outbox.json")).refresh()
    warm.stop()
    fake = FakeDashboard(people_gallery, port=free_port())  # not listening yet: the dashboard is down
    fake.script = [("drop",)]  # when it is back, the first batch is stored but its answer is lost
    proc = start_agent(fake.url, outbox)
    try:  # the sealed copy on disk stays closed while the dashboard (which holds its key) is down...
        time.sleep(3.0)
        assert decisions_in(outbox) == 0 and proc.poll() is None
        fake.start()  # ...and opens when it is back (304: no download); then killed mid-run
        wait_until(lambda: decisions_in(outbox) >= 1, RUN_TIMEOUT_S, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    try:
        result = run_agent(fake.url, outbox)
    finally:
        fake.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert fake.checkin_codes() == EXPECTED
    assert sorted(u["captured_at"] for u in fake.unknowns.values()) == \
        sorted(u["captured_at"] for u in clean_run[1].unknowns.values())
    assert ("/api/v1/checkins", 1) in fake.posts[:2]  # the lost answer was retried: the server said duplicate


def test_once_exits_non_zero_when_the_dashboard_never_answers(clean_run, people_gallery, tmp_path):
    outbox = tmp_path / "outbox.sqlite3"
    result = run_agent(f"http://127.0.0.1:{free_port()}", outbox, "--deliver-timeout-s", "2", "--fps", "5")
    assert result.returncode == 2  # no gallery: nothing to recognise with
    assert result.stderr.strip().splitlines()[-1].startswith("camera-agent: error: no gallery")


# -- against the real dashboard ----------------------------------------------------------------------------


class ServedDashboard:
    """The real dashboard app served by waitress on a loopback port, which can be stopped and restarted."""

    def __init__(self, app, port: int = 0) -> None:
        self.app = app
        self.port = port
        self._server = None
        self._thread = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServedDashboard:
        from waitress import create_server

        self._server = create_server(self.app, host="127.0.0.1", port=self.port, threads=4)
        self.port = self._server.effective_port
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._thread.join(5)
            self._server = None


@pytest.fixture
def real_dashboard(people_gallery, settings, db):
    """The dashboard with one school, one class, the people of ../shared/faces/people enrolled (their
    templates computed once per module by the face engine), and a camera, served on a loopback port."""
    from dashboard import create_app

    app = create_app(settings, test_config={"TESTING": True}, database=db)
    if not any(rule.rule == "/api/v1/checkins" for rule in app.url_map.iter_rules()):
        pytest.skip("the dashboard's agent API (/api/v1/checkins) is not there yet")
    from factories import make_camera, make_class, make_school, make_student

    from attendance.db.models import FaceTemplate
    from attendance.recognition import vector_to_bytes

    with db.session() as session:
        school = make_school(session)
        school_class = make_class(session, school)
        for person in people_gallery["students"]:
            student = make_student(session, school_class, code=person["student_code"], full_name=person["full_name"])
            for template in person["templates"]:
                session.add(FaceTemplate(student_id=student.id, model_id="dlib_resnet_v1",
                                         vector=vector_to_bytes(template), quality=100.0))
        _, token = make_camera(session, school)
    served = ServedDashboard(app).start()
    yield served, token, db
    served.stop()


def stored_checkins(db) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from attendance.db.models import CheckIn, Student

    with db.session() as session:
        return sorted(session.execute(select(Student.student_code, CheckIn.event_id)
                                      .join(Student, Student.id == CheckIn.student_id)).all())


def stored_unknowns(db) -> list[str]:
    from sqlalchemy import select

    from attendance.db.models import UnknownFace

    with db.session() as session:
        return sorted(row.captured_at.isoformat() for row in session.scalars(select(UnknownFace)))


def test_real_dashboard_stopped_mid_run_and_restarted_gets_everything_once(real_dashboard, tmp_path):
    served, token, db = real_dashboard
    outbox = tmp_path / "outbox.sqlite3"
    start_at = recent_start_at()
    proc = start_agent(served.url, outbox, token=token, start_at=start_at)
    try:
        wait_until(lambda: outbox.with_name("gallery-outbox.json").exists(), RUN_TIMEOUT_S, proc)
        served.stop()
        wait_until(lambda: decisions_in(outbox) >= 1, RUN_TIMEOUT_S, proc)
        served.start()
        assert proc.wait(RUN_TIMEOUT_S) == 0, proc.stderr.read()[-3000:]
    finally:
        proc.kill() if proc.poll() is None else None
        proc.stderr.close()
    assert [code for code, _ in stored_checkins(db)] == EXPECTED
    assert len(stored_unknowns(db)) == len(set(stored_unknowns(db))) >= 1


def test_real_dashboard_agent_killed_mid_run_and_restarted_loses_and_doubles_nothing(real_dashboard, tmp_path):
    served, token, db = real_dashboard
    outbox = tmp_path / "outbox.sqlite3"
    start_at = recent_start_at()
    proc = start_agent(served.url, outbox, token=token, start_at=start_at)
    try:
        wait_until(lambda: stored_checkins(db) != [], RUN_TIMEOUT_S, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    result = run_agent(served.url, outbox, token=token, start_at=start_at)  # the same frames, the same times
    assert result.returncode == 0, result.stderr[-3000:]
    assert [code for code, _ in stored_checkins(db)] == EXPECTED
    assert len(stored_unknowns(db)) == len(set(stored_unknowns(db))) >= 1
