"""Delivery: the sender against a fake dashboard on 127.0.0.1 (retries, Retry-After, lost answers, refusals),
the gallery sync with ETag and its copy on disk, and the heartbeat."""

import email.utils
import json
import os
import threading
import time

import numpy as np
import pytest
from agent_fakes import TOKEN, FakeDashboard

from attendance.crypto import is_sealed
from camera_agent.client import DashboardClient, parse_retry_after
from camera_agent.gallery_sync import GalleryFormatError, GallerySync, parse_gallery
from camera_agent.heartbeat import build_heartbeat, run_heartbeats
from camera_agent.outbox import Outbox
from camera_agent.sender import Backoff, Sender
from camera_agent.status import AgentStatus


@pytest.fixture
def fake():
    server = FakeDashboard().start()
    yield server
    server.stop()


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


def make_client(fake, token=TOKEN, timeout_s=2.0):
    return DashboardClient(fake.url, token, timeout_s=timeout_s)


def fill(outbox, n, kind="checkin"):
    events = []
    for i in range(n):
        body = {"student_code": f"HS{i}", "captured_at": "2026-09-07T06:30:00+07:00"} if kind == "checkin" else {}
        events.append(outbox.record(kind, body, f"{kind}:{i}", "2026-09-07"))
    return events


def drain(sender, max_attempts=20):
    outcomes = []
    for _ in range(max_attempts):
        outcome = sender.send_batch()
        outcomes.append(outcome)
        if outcome.retry_in_s is None:
            return outcomes
    raise AssertionError("the outbox did not drain")


def test_backoff_doubles_with_jitter_up_to_the_cap_and_resets():
    backoff = Backoff(base_s=1.0, max_s=8.0, rng=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    backoff.reset()
    low = Backoff(base_s=1.0, max_s=8.0, rng=lambda: 0.0)
    assert low.next_delay() == 0.5  # jitter: between half and all of the step


def test_retry_after_in_seconds_or_as_an_http_date():
    assert parse_retry_after("7") == 7.0
    now = time.time()
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_a_batch_is_delivered_and_removed(fake, outbox):
    events = fill(outbox, 3)
    sender = Sender(outbox, make_client(fake))
    outcome = sender.send_batch()
    assert outcome.delivered == 3
    assert set(fake.checkins) == {e.event_id for e in events}
    assert [e["seq"] for e in fake.checkins.values()] == [1, 2, 3]
    assert outbox.stats().pending == 0


def test_a_lost_answer_after_the_server_stored_the_batch_gives_exactly_once(fake, outbox):
    events = fill(outbox, 5)
    fake.script = [("drop",), ("status", 503), ("drop",)]
    sender = Sender(outbox, make_client(fake), backoff=Backoff(rng=lambda: 0.0))
    outcomes = drain(sender)
    assert outbox.stats().pending == 0
    assert sorted(fake.checkins) == sorted(e.event_id for e in events)  # each once
    assert len(fake.posts) == 4  # drop, 503, drop, then the answer: all duplicates
    assert outcomes[-2].duplicates == 5


def test_5xx_408_and_429_are_retried_with_backoff_and_retry_after_wins(fake, outbox):
    fill(outbox, 2)
    fake.script = [("status", 500), ("status", 408), ("status", 429, {"Retry-After": "7"})]
    sender = Sender(outbox, make_client(fake), backoff=Backoff(base_s=1.0, rng=lambda: 1.0))
    delays = [sender.send_batch().retry_in_s for _ in range(3)]
    assert delays == [1.0, 2.0, 7.0]
    assert outbox.stats().pending == 2
    assert sender.send_batch().delivered == 2
    assert sender.backoff.failures == 0


def test_connection_refused_is_retried_and_reported(outbox):
    fill(outbox, 1)
    status = AgentStatus()
    dead_server = FakeDashboard()  # never started: nothing listens on its port
    dead_server.port = _free_port()
    sender = Sender(outbox, make_client(dead_server, timeout_s=0.5), status, backoff=Backoff(rng=lambda: 1.0))
    assert sender.send_batch().retry_in_s == 1.0
    assert "cannot reach the dashboard" in status.last_error
    assert outbox.stats().pending == 1


def test_a_per_event_error_is_final_the_event_goes_to_the_dead_letters(fake, outbox):
    fill(outbox, 3)
    fake.refuse_codes = {"HS1"}
    sender = Sender(outbox, make_client(fake))
    outcome = sender.send_batch()
    assert (outcome.delivered, outcome.dead) == (2, 1)
    assert outbox.stats().pending == 0
    assert outbox.dead_letters()[0]["error_code"] == "unknown_student"
    assert drain(sender)[-1].retry_in_s is None  # nothing is retried


def test_a_batch_over_the_size_limit_is_halved_and_nothing_is_dead_lettered(fake, outbox):
    events = fill(outbox, 4)
    fake.script = [("status", 413), ("status", 413)]
    sender = Sender(outbox, make_client(fake))
    drain(sender)
    assert fake.posts[:3] == [("/api/v1/checkins", 4), ("/api/v1/checkins", 2), ("/api/v1/checkins", 1)]
    assert outbox.stats().dead == 0
    assert set(fake.checkins) == {e.event_id for e in events}


def test_a_single_event_over_the_size_limit_waits_with_backoff(fake, outbox):
    fill(outbox, 1)
    fake.script = [("status", 413)] * 3
    status = AgentStatus()
    sender = Sender(outbox, make_client(fake), status, backoff=Backoff(base_s=1.0, rng=lambda: 1.0))
    assert [sender.send_batch().retry_in_s for _ in range(3)] == [1.0, 2.0, 4.0]
    assert (outbox.stats().pending, outbox.stats().dead) == (1, 0)
    assert "size limit" in status.last_error
    assert sender.send_batch().delivered == 1


@pytest.mark.parametrize("action", [("status", 400), ("status", 401), ("status", 403), ("status", 404),
                                    ("status", 405), ("status", 409), ("status", 410), ("status", 422),
                                    ("html", 404), ("html", 405)], ids=lambda action: f"{action[0]}-{action[1]}")
def test_a_batch_refused_as_a_whole_is_retried_with_backoff_never_dead_lettered(fake, outbox, action):
    events = fill(outbox, 4)
    fake.script = [action] * 3
    status = AgentStatus()
    sender = Sender(outbox, make_client(fake), status, backoff=Backoff(base_s=1.0, rng=lambda: 1.0))
    assert [sender.send_batch().retry_in_s for _ in range(3)] == [1.0, 2.0, 4.0]
    assert fake.posts == [("/api/v1/checkins", 4)] * 3  # the whole batch each time: no halving
    assert (outbox.stats().pending, outbox.stats().dead) == (4, 0)
    assert f"HTTP {action[1]}" in status.last_error
    body = build_heartbeat(status, outbox, version="1.0", backend="dlib", model_id="dlib_resnet_v1")
    assert f"HTTP {action[1]}" in body["last_error"]
    assert sender.send_batch().delivered == 4  # the refusal was fixed: everything goes through
    assert set(fake.checkins) == {e.event_id for e in events}


def test_a_wrong_server_url_path_keeps_the_whole_queue_and_says_what_to_check(fake, outbox):
    fill(outbox, 5)
    status = AgentStatus()
    client = DashboardClient(fake.url + "/attendance", TOKEN, timeout_s=2.0)  # the API is not under this prefix
    sender = Sender(outbox, client, status, batch_size=2, backoff=Backoff(rng=lambda: 0.0))
    outcomes = [sender.send_batch() for _ in range(8)]
    assert all(o.retry_in_s > 0 and o.dead == 0 for o in outcomes)
    assert (outbox.stats().pending, outbox.stats().dead) == (5, 0)
    assert "HTTP 404" in status.last_error and "server_url" in status.last_error
    fixed = Sender(outbox, make_client(fake), status, batch_size=2)
    assert drain(fixed)[-1].retry_in_s is None and len(fake.checkins) == 5


def test_a_refused_token_keeps_the_events(fake, outbox):
    fill(outbox, 1)
    status = AgentStatus()
    sender = Sender(outbox, make_client(fake, token="cam_wrong"), status)
    assert sender.send_batch().retry_in_s > 0
    assert outbox.stats().pending == 1 and outbox.stats().dead == 0
    assert "refused this camera's token" in status.last_error


def test_unknowns_go_to_their_own_endpoint(fake, outbox):
    fill(outbox, 2, kind="unknown")
    Sender(outbox, make_client(fake)).send_batch()
    assert len(fake.unknowns) == 2 and not fake.checkins


def test_the_sender_thread_delivers_what_is_recorded_while_it_runs(fake, outbox):
    sender = Sender(outbox, make_client(fake))
    stop = threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop,))
    thread.start()
    try:
        fill(outbox, 3)
        sender.wake.set()
        deadline = time.monotonic() + 5
        while len(fake.checkins) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        sender.wake.set()
        thread.join(5)
    assert len(fake.checkins) == 3


def gallery_document(version="v1", seeds=(1, 2)):
    students = [{"student_code": f"HS{s}", "full_name": f"Nguyễn Văn {s}", "class_code": "6A1",
                 "templates": [np.random.default_rng(s).normal(0, 0.1, 128).tolist()]} for s in seeds]
    return {"model_id": "dlib_resnet_v1", "metric": "euclidean", "dim": 128, "version": version, "students": students}


def test_gallery_sync_uses_the_etag_keeps_a_private_copy_and_swaps_in_updates(fake, tmp_path):
    fake.gallery = gallery_document("v1")
    cache = tmp_path / "gallery.json"
    sync = GallerySync(make_client(fake), "dlib_resnet_v1", 128, cache)
    assert sync.refresh() is True
    assert sync.current.version == "v1" and sync.current.student_count == 2
    assert sync.current.names["HS1"] == "Nguyễn Văn 1"
    if os.name == "posix":
        assert cache.stat().st_mode & 0o077 == 0
    assert sync.refresh() is False  # 304
    fake.gallery = gallery_document("v2", seeds=(1, 2, 3))
    first = sync.current
    assert sync.refresh() is True
    assert sync.current.student_count == 3 and first.student_count == 2  # the old one is untouched


def test_gallery_copy_on_disk_is_sealed_and_opens_only_with_the_key_the_dashboard_hands_out(fake, tmp_path):
    fake.gallery = gallery_document("v1")
    cache = tmp_path / "gallery.json"
    GallerySync(make_client(fake), "dlib_resnet_v1", 128, cache).refresh()
    sealed = cache.read_bytes()
    assert is_sealed(sealed) and b"HS1" not in sealed and "Nguyễn".encode() not in sealed  # a stolen disk
    port = fake.port
    fake.stop()
    offline = GallerySync(make_client(fake, timeout_s=0.5), "dlib_resnet_v1", 128, cache)
    assert offline.load_cached() is False  # the key lives only in the dashboard (and the agent's memory)
    assert offline.try_refresh() is False and offline.current is None
    back = FakeDashboard(gallery_document("v1"), port=port).start()  # the dashboard is back
    try:
        assert offline.try_refresh() is True and offline.current.version == "v1"  # the copy opens...
        assert offline.refresh() is False  # ...and its ETag is still current: 304, no download
        assert back.gets == []  # no full download at all
    finally:
        back.stop()


def test_a_copy_sealed_with_another_key_or_left_in_clear_is_not_used(fake, tmp_path):
    fake.gallery = gallery_document("v1")
    cache = tmp_path / "gallery.json"
    GallerySync(make_client(fake), "dlib_resnet_v1", 128, cache).refresh()
    fake.gallery_key = b"another-key-after-a-rotation!!!!"
    assert GallerySync(make_client(fake), "dlib_resnet_v1", 128, cache).load_cached() is False
    cache.write_text(json.dumps({"etag": None, "document": gallery_document("v1")}))  # an older agent's copy
    assert GallerySync(make_client(fake), "dlib_resnet_v1", 128, cache).load_cached() is False
    assert not cache.exists()  # children's templates in clear are deleted


def test_a_gallery_for_another_model_or_a_broken_one_is_refused(tmp_path):
    document = gallery_document()
    with pytest.raises(GalleryFormatError):
        parse_gallery({**document, "model_id": "other"}, "dlib_resnet_v1", 128)
    with pytest.raises(GalleryFormatError):
        parse_gallery({**document, "students": [{"student_code": "x", "templates": [[1.0, 2.0]]}]}, "dlib_resnet_v1", 128)
    (tmp_path / "g.json").write_text("{not json")
    assert GallerySync(None, "dlib_resnet_v1", 128, tmp_path / "g.json").load_cached() is False


def test_an_empty_gallery_is_reported_once_per_version_with_the_rebuild_command(fake, outbox, tmp_path, caplog):
    fake.gallery = gallery_document("v1", seeds=())
    status = AgentStatus()
    sync = GallerySync(make_client(fake), "dlib_resnet_v1", 128, tmp_path / "gallery.json", status)
    with caplog.at_level("WARNING", logger="camera_agent.gallery_sync"):
        assert sync.refresh() is True
        assert sync.refresh() is False  # 304: the same version, no second warning
        restarted = GallerySync(make_client(fake), "dlib_resnet_v1", 128, tmp_path / "gallery.json", status)
        restarted.load_cached()
        restarted.try_refresh()
    expected = ("the dashboard has no templates of model dlib_resnet_v1: "
                "run `attendance gallery rebuild --model dlib_resnet_v1` on the server")
    assert [r.getMessage() for r in caplog.records] == [expected, expected]  # once per version per process
    body = build_heartbeat(status, outbox, version="1.0", backend="dlib", model_id="dlib_resnet_v1")
    assert body["last_error"] == expected


def test_a_gallery_far_smaller_than_the_one_before_is_reported_once(fake, tmp_path, caplog):
    status = AgentStatus()
    sync = GallerySync(make_client(fake), "dlib_resnet_v1", 128, tmp_path / "gallery.json", status)
    fake.gallery = gallery_document("v1", seeds=range(1, 11))
    sync.refresh()
    assert status.last_error is None
    with caplog.at_level("WARNING", logger="camera_agent.gallery_sync"):
        fake.gallery = gallery_document("v2", seeds=(1, 2, 3))
        sync.refresh()
        fake.gallery = gallery_document("v3", seeds=(1, 2, 3, 4))  # growing again from there: no new warning
        sync.refresh()
    assert len(caplog.records) == 1
    assert "only 3 students (10 before)" in status.last_error
    assert "attendance gallery rebuild --model dlib_resnet_v1" in status.last_error


def test_a_new_models_thin_gallery_is_compared_with_the_old_models_copy_on_disk(fake, tmp_path):
    cache = tmp_path / "gallery.json"
    fake.gallery = gallery_document("v1", seeds=range(1, 21))
    GallerySync(make_client(fake), "dlib_resnet_v1", 128, cache).refresh()  # the agent ran dlib before
    fake.gallery = {**gallery_document("n1", seeds=(1, 2)), "model_id": "new_model_v1", "metric": "cosine"}
    status = AgentStatus()
    sync = GallerySync(make_client(fake), "new_model_v1", 128, cache, status)
    assert sync.load_cached() is False  # the copy is of another model...
    assert sync.refresh() is True
    assert "new_model_v1 for only 2 students (20 before)" in status.last_error  # ...but says what to expect


def test_heartbeat_reports_the_queue_and_health(fake, outbox):
    fill(outbox, 2)
    status = AgentStatus()
    status.count_frame()
    status.count_reconnect()
    status.report_error("the camera stopped giving frames; reconnecting")
    body = build_heartbeat(status, outbox, version="1.0", backend="dlib", model_id="dlib_resnet_v1")
    assert body["queue_depth"] == 2 and body["oldest_unsent_age_s"] >= 0
    assert body["frames_total"] == 1 and body["reconnects"] == 1 and body["last_error"].startswith("the camera")
    stop = threading.Event()
    stop.set()
    run_heartbeats(make_client(fake), stop, 30.0, lambda: body)
    assert fake.heartbeats == []  # stopped before the first
    stop.clear()
    thread = threading.Thread(target=run_heartbeats, args=(make_client(fake), stop, 30.0, lambda: body))
    thread.start()
    deadline = time.monotonic() + 5
    while not fake.heartbeats and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(5)
    assert set(fake.heartbeats[0]) >= {"fps", "queue_depth", "oldest_unsent_age_s", "last_error", "version",
                                       "backend", "model_id", "frames_total", "reconnects"}


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
