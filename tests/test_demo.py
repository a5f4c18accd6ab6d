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
    rows = [line.split("\t") for line in result.stdout.splitlines() if line.startswith("HS")]
    statuses = {row[1]: row[-1] for row in rows}
    assert statuses.pop("Lin Manuel Miranda") == "on_time"
    assert set(statuses.values()) <= {"not_yet", "absent"}
    assert "Login:     admin" in result.stdout and "Password:" in result.stdout
    assert (tmp_path / "demo" / "admin-password.txt").stat().st_mode & 0o077 == 0


def test_missing_data_folder_is_named(tmp_path):
    with pytest.raises(SampleDataError, match="people"):
        check_data_folder(tmp_path)


def test_offline_download_says_what_to_do(tmp_path, monkeypatch):
    def refuse(url, timeout):
        raise urllib.error.URLError("Name or service not known")
    monkeypatch.setattr("urllib.request.urlopen", refuse)
    with pytest.raises(SampleDataError, match="offline.*--data"):
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
