"""The frame pipeline and the agent's loop with a fake face engine: squares of one grey level are one person.

No model file is needed: the fake detector finds each non-black grey level as a face box, and the fake
embedder maps a level to a fixed vector, so which student a square "is" is decided by its colour.
"""

import base64
import datetime as dt
import gc
import json
import pickle
import sqlite3
import threading
import time
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from agent_fakes import TOKEN, FakeDashboard

from attendance.crypto import Keyring
from attendance.db.models import School
from attendance.faces.engine import FaceEngine
from attendance.faces.types import Detection
from attendance.gallery import Gallery, OperatingPoint
from attendance.school_rules import school_local_date
from camera_agent.agent import Agent, record_decision, school_date_of
from camera_agent.client import DashboardClient
from camera_agent.gallery_sync import GallerySnapshot, parse_gallery
from camera_agent.outbox import Outbox
from camera_agent.pipeline import Pipeline, PipelineConfig
from camera_agent.settings import AgentSettings
from camera_agent.sources import Frame, SourceEnded
from camera_agent.voting import VotingRule

DIM = 8
STUDENT_LEVEL, OTHER_STUDENT_LEVEL, STRANGER_LEVEL = 100, 200, 150
VECTORS = {100: np.eye(DIM)[0], 200: np.eye(DIM)[1], 150: np.eye(DIM)[2] * 0.5 + np.eye(DIM)[3] * 0.5}
START = dt.datetime(2026, 9, 6, 23, 30, tzinfo=dt.UTC)  # 06:30 on 7 September in Ho Chi Minh City
POINT = OperatingPoint(threshold=0.45, margin=0.04)


class FakeDetector:
    model_id = "fake_detector"

    def detect(self, image):
        channel = image[..., 0] if image.ndim == 3 else image
        found = []
        for level in np.unique(channel):
            if level == 0:
                continue
            ys, xs = np.nonzero(channel == level)
            found.append(Detection((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1), 1.0))
        return found


class FakeLandmarker:
    model_id = "fake_landmarks"

    def locate(self, image, box):
        x1, y1, x2, _ = box
        rel = np.array([[0.2, 0.4], [0.35, 0.4], [0.65, 0.4], [0.8, 0.4], [0.5, 0.65]])
        return (rel * (x2 - x1) + (x1, y1)).astype(np.float32)


class FakeEmbedder:
    model_id = "fake_v1"
    dim = DIM
    metric = "euclidean"
    chip_size = 32

    def __init__(self):
        self.calls = 0

    def align(self, image, landmarks, box):
        x1, y1, x2, y2 = box
        return np.ascontiguousarray(image[y1:y2, x1:x2])

    def embed(self, chips):
        self.calls += 1
        return np.array([VECTORS[int(c[..., 0].max())] + 0.01 for c in chips], dtype=np.float32)


def fake_engine():
    return FaceEngine(FakeDetector(), FakeLandmarker(), FakeEmbedder())


def gallery_snapshot():
    gallery = Gallery("fake_v1", "euclidean", np.stack([VECTORS[100], VECTORS[200]]), ["HS1", "HS2"])
    return GallerySnapshot(gallery, "v1", None, {"HS1": "Nguyễn Văn An", "HS2": "Trần Thị Bình"})


def gallery_document():
    return {"model_id": "fake_v1", "metric": "euclidean", "dim": DIM, "version": "v1", "students": [
        {"student_code": "HS1", "full_name": "Nguyễn Văn An", "class_code": "6A1", "templates": [VECTORS[100].tolist()]},
        {"student_code": "HS2", "full_name": "Trần Thị Bình", "class_code": "6A1", "templates": [VECTORS[200].tolist()]},
    ]}


def scene(people, frames, size=(320, 240), start=START):
    """Frames where each (level, first_frame, last_frame) person is a 70 px square walking right and growing."""
    out = []
    for n in range(frames):
        image = np.zeros((size[1], size[0], 3), np.uint8)
        for k, (level, first, last) in enumerate(people):
            if first <= n <= last:
                x, y, side = 10 + 2 * (n - first) + 150 * k, 40, 70 + (n - first) // 4
                image[y:y + side, x:x + side] = level
        out.append(Frame(n, image, start + dt.timedelta(seconds=n / 10), n / 10))
    return out


def config(**overrides):
    base = {"point": POINT, "detect_every_frames": 3, "min_face_px": 60, "embed_every_frames": 3,
            "max_embeddings_per_track": 10, "track_max_missed_frames": 3,
            "voting": VotingRule(2, 0.6, 3, give_up_distance=POINT.threshold + 0.2, give_up_after=3)}
    base.update(overrides)
    return PipelineConfig(**base)


def run(pipeline, frames, gallery=None):
    gallery = gallery or gallery_snapshot()
    decisions = []
    for frame in frames:
        decisions += [(frame.index, d) for d in pipeline.process(frame, gallery).decisions]
    decisions += [(None, d) for d in pipeline.finish(frames[-1] if frames else None)]
    return decisions


def test_a_student_walking_past_is_decided_once_after_two_votes_and_no_longer_embedded():
    pipeline = Pipeline(fake_engine(), config())
    decisions = run(pipeline, scene([(STUDENT_LEVEL, 0, 40)], 50))
    assert len(decisions) == 1
    index, decision = decisions[0]
    assert decision.kind == "checkin" and decision.student_code == "HS1"
    assert decision.verdict.votes == 2 and decision.verdict.embeddings == 2
    assert index == 3  # first embedding at frame 0, second 3 frames later: decided there
    assert pipeline.embeddings_total == 2  # nothing embedded once decided
    assert decision.liveness["frames"] >= 4 and decision.liveness["size_change"] >= 1.0


def test_a_stranger_becomes_one_unknown_when_the_track_ends_and_is_not_embedded_for_ever():
    pipeline = Pipeline(fake_engine(), config())
    decisions = run(pipeline, scene([(STRANGER_LEVEL, 0, 40)], 60))
    assert [(d.kind, d.student_code) for _, d in decisions] == [("unknown", None)]
    assert decisions[0][0] == 44  # decided when the track ended (3 missed frames after frame 40)
    assert pipeline.embeddings_total == 3  # given up: far from every student three times


def test_a_glimpse_too_short_to_judge_decides_nothing():
    pipeline = Pipeline(fake_engine(), config())
    assert run(pipeline, scene([(STRANGER_LEVEL, 0, 1)], 10)) == []


def test_embeddings_are_spaced_and_capped_per_track():
    pipeline = Pipeline(fake_engine(), config(embed_every_frames=5, max_embeddings_per_track=4,
                                               voting=VotingRule(min_votes=99)))
    run(pipeline, scene([(STUDENT_LEVEL, 0, 60)], 61))
    assert pipeline.embeddings_total == 4


def test_two_people_at_once_get_their_own_decisions_in_one_embedding_batch():
    engine = fake_engine()
    pipeline = Pipeline(engine, config())
    decisions = run(pipeline, scene([(STUDENT_LEVEL, 0, 30), (OTHER_STUDENT_LEVEL, 0, 30)], 40))
    assert sorted(d.student_code for _, d in decisions) == ["HS1", "HS2"]
    assert engine.embedder.calls == 2  # both faces in each call


def test_no_gallery_means_faces_are_tracked_but_nobody_is_decided():
    pipeline = Pipeline(fake_engine(), config())
    for frame in scene([(STUDENT_LEVEL, 0, 20)], 21):
        assert pipeline.process(frame, None).decisions == []
    assert pipeline.embeddings_total == 0


def test_between_full_scans_only_the_regions_around_tracks_are_searched():
    pipeline = Pipeline(fake_engine(), config(detect_every_frames=3))
    frames = scene([(STUDENT_LEVEL, 0, 20), (OTHER_STUDENT_LEVEL, 1, 20)], 8)
    seen = [len(pipeline.process(f, None).faces) for f in frames]
    assert seen[:4] == [1, 1, 1, 2]  # the second person, there from frame 1, is found by the scan at frame 3


def test_the_snapshot_is_a_small_crop_of_the_face_not_the_frame():
    pipeline = Pipeline(fake_engine(), config(snapshot_max_px=64))
    decision = run(pipeline, scene([(STUDENT_LEVEL, 0, 20)], 25))[0][1]
    image = cv2.imdecode(np.frombuffer(decision.snapshot_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert max(image.shape[:2]) <= 64
    off = Pipeline(fake_engine(), config(snapshots=False))
    assert run(off, scene([(STUDENT_LEVEL, 0, 20)], 25))[0][1].snapshot_jpeg is None


def textured_scene(frames, sharp_frames, level=STUDENT_LEVEL):
    """One person standing still; the face carries a fine checkerboard (in the green channel, so the fake
    detector still sees one grey level), sharp in ``sharp_frames`` and blurred (still over 100) in the others."""
    side, x, y = 72, 40, 40
    yy, xx = np.mgrid[0:side, 0:side]
    checker = (((yy // 4) + (xx // 4)) % 2 * 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(checker, (0, 0), 1.5)
    out = []
    for n in range(frames):
        image = np.zeros((240, 320, 3), np.uint8)
        image[y:y + side, x:x + side, 0] = level
        image[y:y + side, x:x + side, 1] = checker if n in sharp_frames else blurred
        out.append(Frame(n, image, START + dt.timedelta(seconds=n / 10), n / 10))
    return out


def test_each_embedding_is_the_sharpest_face_of_its_window():
    from attendance.faces.quality import measure_sharpness

    engine = fake_engine()
    embedded = []
    real_embed = engine.embedder.embed
    engine.embedder.embed = lambda chips: (embedded.extend(measure_sharpness(c) for c in chips), real_embed(chips))[1]
    pipeline = Pipeline(engine, config(embed_every_frames=3, voting=VotingRule(min_votes=99)))
    # Embeddings at frames 0, 3, 6, 9, 12: each window (1-3, 4-6, ...) has one sharp frame, in its middle.
    run(pipeline, textured_scene(13, sharp_frames={0, 2, 5, 8, 11}))
    assert len(embedded) == 5
    assert min(embedded) > 1000  # blurred chips measure ~480: over the vote weight's cap of 100, yet never chosen


def test_a_track_given_up_on_blurred_frames_is_embedded_again_when_its_face_comes_into_focus():
    from attendance.faces.quality import measure_sharpness

    engine = fake_engine()
    real_embed = engine.embedder.embed
    far = np.eye(DIM)[5]  # what a blurred chip embeds as: far from every student

    def embed_blur_badly(chips):
        vectors = real_embed(chips)
        return np.array([v if measure_sharpness(c) > 1000 else far for c, v in zip(chips, vectors)], np.float32)

    engine.embedder.embed = embed_blur_badly
    pipeline = Pipeline(engine, config(embed_every_frames=3))
    # Out of focus for the first 12 frames (three far votes: given up as a stranger), then sharp.
    decisions = run(pipeline, textured_scene(30, sharp_frames=set(range(12, 30))))
    assert [(d.kind, d.student_code) for _, d in decisions] == [("checkin", "HS1")]
    assert pipeline.embeddings_total == 5  # three blurred, then two sharp ones agree


def still_scene(frames, level=STUDENT_LEVEL, size=(160, 120)):
    """One face that stays in the same place (a child standing at the gate, a poster) for ``frames`` frames."""
    image = np.zeros((size[1], size[0], 3), np.uint8)
    image[20:90, 20:90] = level
    return (Frame(n, image, START + dt.timedelta(seconds=n / 10), n / 10) for n in range(frames))


def test_a_face_that_stays_in_view_holds_the_same_state_after_ten_times_the_frames():
    for level in (STUDENT_LEVEL, STRANGER_LEVEL):  # decided at once; never decided (embedded up to the cap)
        pipeline = Pipeline(fake_engine(), config(max_embeddings_per_track=5))
        gallery = gallery_snapshot()
        sizes = {}
        for frame in still_scene(2000, level):
            pipeline.process(frame, gallery)
            if frame.index in (199, 1999):
                sizes[frame.index] = len(pickle.dumps(pipeline.states)) + len(pickle.dumps(pipeline.tracker))
        assert len(pipeline.states) == 1
        assert sizes[1999] <= sizes[199] + 16, level  # a few bytes for bigger frame numbers, nothing per frame
        assert pipeline.embeddings_total <= 5


def test_a_tracks_state_is_dropped_when_it_ends():
    pipeline = Pipeline(fake_engine(), config())
    frames = scene([(STUDENT_LEVEL, 0, 10), (STRANGER_LEVEL, 0, 10)], 20)
    run(pipeline, frames[:15])
    assert pipeline.states == {} and pipeline.tracker.live == {}


def test_the_school_day_is_local_to_ho_chi_minh_city():
    assert school_date_of(START, "Asia/Ho_Chi_Minh") == "2026-09-07"
    assert school_date_of(START, "UTC") == "2026-09-06"


def test_a_decision_becomes_one_event_and_a_second_sighting_the_same_day_none(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    decisions = run(Pipeline(fake_engine(), config()), scene([(STUDENT_LEVEL, 0, 10)], 15))
    decisions += run(Pipeline(fake_engine(), config()), scene([(STUDENT_LEVEL, 0, 10)], 15))
    stored = [record_decision(outbox, d, source_identity="src", model_id="fake_v1", timezone="Asia/Ho_Chi_Minh")
              for _, d in decisions]
    assert stored[0] is not None and stored[1] is None
    payload = stored[0].payload
    assert set(payload) == {"event_id", "seq", "student_code", "captured_at", "distance", "margin", "votes",
                            "model_id", "liveness", "snapshot_jpeg_b64"}
    assert dt.datetime.fromisoformat(payload["captured_at"]).tzinfo is not None
    assert base64.b64decode(payload["snapshot_jpeg_b64"])[:2] == b"\xff\xd8"
    outbox.close()


class ListSource:
    live = False

    def __init__(self, frames, identity="file:test:1"):
        self.frames = list(frames)
        self.identity = identity

    def read(self, timeout_s=0.0):
        if not self.frames:
            raise SourceEnded()
        return self.frames.pop(0)

    def close(self):
        pass


def make_agent(tmp_path, fake, frames, **settings):
    agent_settings = AgentSettings(outbox=str(tmp_path / "data" / "outbox.sqlite3"), server_url=fake.url, token=TOKEN,
                                   request_timeout_s=1.0, retry_max_s=0.2, embed_every_frames=3,
                                   track_max_missed_frames=3, **settings)
    client = DashboardClient(fake.url, TOKEN, timeout_s=1.0)
    return Agent(agent_settings, fake_engine(), ListSource(frames), Outbox(agent_settings.outbox_path), client, POINT)


def run_agent(agent, deliver_timeout_s=5.0):
    assert agent.load_gallery(wait_s=0.0)
    agent.start_background()
    try:
        agent.run_frames()
        return agent.wait_for_delivery(deliver_timeout_s)
    finally:
        agent.close()


@pytest.fixture
def fake():
    server = FakeDashboard(gallery_document()).start()
    yield server
    server.stop()


def test_the_agent_delivers_each_decision_once_even_when_the_same_footage_is_replayed(tmp_path, fake):
    frames = scene([(STUDENT_LEVEL, 0, 20), (STRANGER_LEVEL, 5, 30)], 40)
    assert run_agent(make_agent(tmp_path, fake, frames)) == 0
    assert fake.checkin_codes() == ["HS1"] and len(fake.unknowns) == 1
    unknown = next(iter(fake.unknowns.values()))
    assert set(unknown) >= {"event_id", "seq", "captured_at", "best_distance", "liveness", "snapshot_jpeg_b64"}
    # Restarted on the same file (say after a crash): the same decisions are not stored or sent again.
    again = make_agent(tmp_path, fake, scene([(STUDENT_LEVEL, 0, 20), (STRANGER_LEVEL, 5, 30)], 40))
    assert run_agent(again) == 0
    assert fake.checkin_codes() == ["HS1"] and len(fake.unknowns) == 1
    assert fake.heartbeats and fake.heartbeats[-1]["frames_total"] == 40


def test_the_agent_keeps_deciding_while_the_dashboard_is_down_and_delivers_when_it_is_back(tmp_path, fake):
    first = make_agent(tmp_path, fake, scene([(STUDENT_LEVEL, 0, 5)], 6))
    assert run_agent(first) == 0
    agent = make_agent(tmp_path, fake, scene([(OTHER_STUDENT_LEVEL, 0, 20)], 25))
    assert agent.load_gallery(wait_s=0.0)  # the sealed copy on disk opens with the key the dashboard hands out
    port = fake.port
    fake.stop()  # then the dashboard goes down: the gallery is in memory
    agent.client._session.close()  # the fake's handler threads outlive its shutdown on a kept-alive connection
    agent.start_background()
    try:
        agent.run_frames()
        assert agent.outbox.stats().pending == 1
        assert "cannot reach the dashboard" in (agent.status.last_error or "")
        fake.port = port
        fake.start()
        assert agent.wait_for_delivery(10.0) == 0
    finally:
        agent.close()
    assert fake.checkin_codes() == ["HS1", "HS2"]


def test_a_gallery_update_is_used_without_a_restart(tmp_path, fake):
    agent = make_agent(tmp_path, fake, [])
    assert agent.load_gallery(wait_s=0.0)
    old = agent.gallery.current
    document = gallery_document()
    document["version"] = "v2"
    document["students"] = document["students"][:1]
    fake.gallery = document
    assert agent.gallery.refresh() is True
    assert agent.gallery.current is not old and agent.gallery.current.student_count == 1
    sealed = (tmp_path / "data" / "gallery-outbox.json").read_bytes()
    saved = json.loads(Keyring([fake.gallery_key]).open(sealed, "gallery"))
    assert saved["document"]["version"] == "v2"
    agent.close()


def test_the_frame_loop_survives_a_frame_that_fails(tmp_path, fake, monkeypatch):
    agent = make_agent(tmp_path, fake, scene([(STUDENT_LEVEL, 0, 20)], 25))
    real = agent.pipeline.process
    calls = []

    def flaky(frame, gallery):
        calls.append(frame.index)
        if frame.index == 2:
            raise RuntimeError("boom")
        return real(frame, gallery)

    monkeypatch.setattr(agent.pipeline, "process", flaky)
    assert run_agent(agent) == 0
    assert len(calls) == 25 and fake.checkin_codes() == ["HS1"]
    assert agent.status.last_error.startswith("frame processing failed")


def test_the_agent_keeps_no_decision_once_it_is_in_the_outbox(tmp_path, fake):
    import weakref

    frames = scene([(STUDENT_LEVEL, 0, 20), (STRANGER_LEVEL, 5, 30)], 40)
    heard = []
    agent = make_agent(tmp_path, fake, frames)
    agent.on_decision = lambda decision, stored: heard.append((decision.kind, stored is not None))
    decisions = []
    real = agent.pipeline.process

    def watched(frame, gallery):
        result = real(frame, gallery)
        decisions.extend(weakref.ref(d) for d in result.decisions)
        return result

    agent.pipeline.process = watched
    assert run_agent(agent) == 0
    assert fake.checkin_codes() == ["HS1"] and len(fake.unknowns) == 1
    del watched
    gc.collect()
    assert len(decisions) == 2 and all(ref() is None for ref in decisions)  # nothing holds a decision (or its snapshot)
    assert sorted(heard) == [("checkin", True), ("unknown", True)]  # a benchmark hears them instead
    assert agent.stored == {"checkin": 1, "unknown": 1}


def test_the_preview_serves_an_mjpeg_stream_on_loopback(tmp_path, fake):
    import urllib.request

    agent = make_agent(tmp_path, fake, scene([(STUDENT_LEVEL, 0, 200)], 200), preview_port=_free_port())
    assert agent.preview.port and agent.load_gallery(wait_s=0.0)
    page = urllib.request.urlopen(f"http://127.0.0.1:{agent.preview.port}/", timeout=5).read()
    assert b"/stream" in page
    chunks = []

    def watch():
        with urllib.request.urlopen(f"http://127.0.0.1:{agent.preview.port}/stream", timeout=5) as stream:
            chunks.append(stream.read(2000))

    viewer = threading.Thread(target=watch)
    viewer.start()
    deadline = time.monotonic() + 5
    while not agent.preview.watched and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        agent.run_frames()
    finally:
        viewer.join(5)
        agent.close()
    assert b"Content-Type: image/jpeg" in chunks[0]


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("captured_at, agent_zone", [
    # each scene lasts 1.5 s from its start; the agent PC's zone puts every one on another day than the school's
    (dt.datetime(2026, 9, 6, 16, 59, 58, tzinfo=dt.UTC), "Asia/Tokyo"),  # 23:59:58 on the 6th in HCMC, 7th in Tokyo
    (dt.datetime(2026, 9, 6, 17, 0, 0, tzinfo=dt.UTC), "UTC"),  # 00:00 on the 7th in HCMC, still the 6th in UTC
    (dt.datetime(2026, 9, 7, 6, 59, 58, tzinfo=dt.UTC), "America/Los_Angeles"),  # 23:59:58 on the 6th there
])
def test_an_agent_in_another_zone_decides_the_schools_day_as_the_server_does(tmp_path, captured_at, agent_zone):
    server = FakeDashboard(dict(gallery_document(), timezone="Asia/Ho_Chi_Minh")).start()
    try:
        agent = make_agent(tmp_path, server, scene([(STUDENT_LEVEL, 0, 10)], 15, start=captured_at),
                           timezone=agent_zone)
        assert agent.school_timezone == agent_zone  # no gallery yet: the setting
        assert run_agent(agent) == 0
    finally:
        server.stop()
    assert agent.school_timezone == "Asia/Ho_Chi_Minh"
    db = sqlite3.connect(agent.settings.outbox_path)
    try:
        [(agent_date,)] = db.execute("SELECT school_date FROM decisions").fetchall()
    finally:
        db.close()
    server_date = school_local_date(School(timezone="Asia/Ho_Chi_Minh"), captured_at)
    assert agent_date == server_date.isoformat()
    assert server_date != captured_at.astimezone(ZoneInfo(agent_zone)).date()  # the old rule would have split them


def test_a_gallery_without_a_time_zone_or_with_an_unknown_one_keeps_the_setting():
    assert parse_gallery(gallery_document(), "fake_v1", DIM).timezone is None
    unknown = parse_gallery(dict(gallery_document(), timezone="Mars/Olympus"), "fake_v1", DIM)
    assert unknown.timezone is None and unknown.student_count == 2


def test_a_zone_name_no_file_system_accepts_is_unknown_not_a_crash():
    from attendance.errors import InvalidInput
    from attendance.school_day import find_zone

    with pytest.raises(InvalidInput, match="unknown time zone"):
        find_zone("Nguyễn " * 300)
    assert parse_gallery(dict(gallery_document(), timezone="Nguyễn " * 300), "fake_v1", DIM).timezone is None
