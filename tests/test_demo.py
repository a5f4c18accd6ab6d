"""``make demo``: the whole morning on sample data, and a clear message when the data cannot be had."""

import datetime as dt
import socket
import subprocess
import sys
import urllib.error
from zoneinfo import ZoneInfo

import pytest

from conftest import REPO_ROOT, SHARED_FACES, require_shared
from demo.__main__ import choose_clip_start
from demo.sample_data import SAMPLE_FILES, SampleDataError, check_data_folder, download_samples


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.realfaces
def test_demo_checks_in_lin_manuel_miranda_and_prints_the_login(tmp_path):
    data = require_shared(SHARED_FACES)
    result = subprocess.run(
        [sys.executable, "-m", "demo", "--data", str(data), "--port", str(free_port()),
         "--instance", str(tmp_path / "demo"), "--no-serve"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("HS")]
    miranda = [row for row in rows if "Lin Manuel Miranda" in row]
    assert len(miranda) == 1 and "on time, seen at" in miranda[0] and "on_time" not in result.stdout
    assert all(("not yet in" in row or "absent" in row) for row in rows if row not in miranda)
    assert "The clip shows Lin Manuel Miranda" in result.stdout
    assert "Login:     admin" in result.stdout and "Password:" in result.stdout
    assert result.stdout.count("http://127.0.0.1:") == 1  # the URL once, beside the login
    assert (tmp_path / "demo" / "admin-password.txt").stat().st_mode & 0o077 == 0


def test_missing_data_folder_is_named(tmp_path):
    with pytest.raises(SampleDataError, match="people"):
        check_data_folder(tmp_path)


def test_offline_download_says_what_to_do(tmp_path, monkeypatch):
    def refuse(url, timeout):
        raise urllib.error.URLError("Name or service not known")
    monkeypatch.setattr("urllib.request.urlopen", refuse)
    with pytest.raises(SampleDataError, match=r"offline.*--data"):
        download_samples(tmp_path, say=lambda message: None)


def test_a_file_with_the_wrong_hash_is_not_used(tmp_path, monkeypatch):
    import io

    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: io.BytesIO(b"not the photo"))
    with pytest.raises(SampleDataError, match="is not the pinned"):
        download_samples(tmp_path, say=lambda message: None)
    assert not (tmp_path / SAMPLE_FILES[0].local).exists()


def test_every_sample_is_pinned_to_a_commit_and_a_hash():
    for sample in SAMPLE_FILES:
        assert len(sample.commit) == 40 and len(sample.sha256) == 64
        assert sample.url.startswith("https://raw.githubusercontent.com/ageitgey/face_recognition/")


def test_clip_start_is_never_in_the_future():
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    late = dt.datetime(2026, 11, 30, 10, 0, tzinfo=zone)
    assert choose_clip_start(late) == dt.datetime(2026, 11, 30, 6, 50, tzinfo=zone)
    early = dt.datetime(2026, 11, 30, 0, 2, tzinfo=zone)
    assert choose_clip_start(early) == dt.datetime(2026, 11, 30, 0, 0, tzinfo=zone)


def test_a_port_in_use_is_detected_and_the_next_free_one_chosen(capsys):
    from demo.__main__ import choose_port

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        chosen = choose_port(taken)
    assert chosen != taken and chosen > taken
    assert f"port {taken} is in use" in capsys.readouterr().out


def test_no_free_port_says_what_to_do(monkeypatch):
    import demo.__main__ as demo_main

    monkeypatch.setattr(demo_main, "port_is_free", lambda port, host="127.0.0.1": False)
    with pytest.raises(SystemExit, match=r"all in use.*--port"):
        demo_main.choose_port(8000)


def test_the_printed_roll_uses_words():
    from demo.__main__ import describe_roll

    lines = describe_roll([
        {"student_code": "HS003", "full_name": "Lin Manuel Miranda", "status": "on_time",
         "first_seen_at": "2026-11-29T23:50:00+00:00", "camera": "gate-1", "minutes_late": None},
        {"student_code": "HS001", "full_name": "Alex Lacamoire", "status": "not_yet", "first_seen_at": None},
        {"student_code": "HS002", "full_name": "Barack Obama", "status": "late", "minutes_late": 4,
         "first_seen_at": "2026-11-30T00:04:00+00:00", "camera": "gate-1"},
    ])
    assert lines[0].endswith("on time, seen at 06:50 by camera gate-1")
    assert lines[1].endswith("not yet in") and "late by 4 min, seen at 07:04" in lines[2]
    assert not any("_" in line for line in lines)
