"""The ``camera-agent`` command line: settings from TOML, environment and flags; one-line errors; documentation."""

import re

import pytest
from conftest import REPO_ROOT

from attendance.errors import SettingsError
from attendance.settings import describe_settings
from camera_agent.__main__ import main, parse_args, read_settings
from camera_agent.engine import core_settings
from camera_agent.settings import AGENT_ENV_PREFIX, AgentSettings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("ATTENDANCE_"):
            monkeypatch.delenv(name)


def test_flags_override_the_environment_which_overrides_the_toml_file(tmp_path, monkeypatch):
    config = tmp_path / "agent.toml"
    config.write_text('[agent]\nsource = "rtsp://cam/1"\nscale = 0.5\nfps = 8\ntoken = "cam_from_file"\n'
                      '[dashboard]\nignored = true\n')
    monkeypatch.setenv("ATTENDANCE_AGENT_SCALE", "0.75")
    monkeypatch.setenv("ATTENDANCE_AGENT_TOKEN", "cam_from_env")
    settings = read_settings(parse_args(["--config", str(config), "--fps", "5", "--no-snapshots", "--threshold", "0.4"]))
    assert settings.source == "rtsp://cam/1"
    assert settings.scale == 0.75 and settings.fps == 5.0 and settings.token == "cam_from_env"
    assert settings.snapshots is False and settings.match_threshold == 0.4


def test_onnx_providers_and_threads_reach_the_core_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTENDANCE_AGENT_TOKEN", "cam_x")
    assert core_settings(read_settings(parse_args([]))).onnx_providers == ()  # empty: the best available
    monkeypatch.setenv("ATTENDANCE_AGENT_ONNX_PROVIDERS", "OpenVINOExecutionProvider, CPUExecutionProvider")
    monkeypatch.setenv("ATTENDANCE_AGENT_ONNX_THREADS", "2")
    core = core_settings(read_settings(parse_args([])))
    assert core.onnx_providers == ("OpenVINOExecutionProvider", "CPUExecutionProvider") and core.onnx_threads == 2
    monkeypatch.delenv("ATTENDANCE_AGENT_ONNX_PROVIDERS")
    config = tmp_path / "agent.toml"
    config.write_text('[agent]\nonnx_providers = ["CPUExecutionProvider"]\n')
    assert core_settings(read_settings(parse_args(["--config", str(config)]))).onnx_providers == ("CPUExecutionProvider",)


def test_a_missing_token_is_a_one_line_error(capsys):
    assert main(["--source", "video.mp4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("camera-agent: error: setting token") and "\n" not in err


def test_an_unknown_setting_or_a_bad_value_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    config = tmp_path / "agent.toml"
    config.write_text('[agent]\nsorce = "0"\n')
    assert main(["--config", str(config)]) == 2
    assert "sorce" in capsys.readouterr().err
    monkeypatch.setenv("ATTENDANCE_AGENT_FACE_BACKEND", "tensorflow")
    monkeypatch.setenv("ATTENDANCE_AGENT_TOKEN", "cam_x")
    assert main([]) == 2
    assert "backend" in capsys.readouterr().err


def test_a_source_that_does_not_exist_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ATTENDANCE_AGENT_TOKEN", "cam_x")
    assert main(["--source", str(tmp_path / "missing.mp4"), "--outbox", str(tmp_path / "o.sqlite3")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a camera index" in err[0]


def test_every_setting_has_help_and_is_in_the_agent_readme():
    readme = (REPO_ROOT / "camera_agent" / "README.md").read_text(encoding="utf-8")
    for row in describe_settings(AgentSettings, prefix=AGENT_ENV_PREFIX):
        assert row["help"], f"{row['name']} has no help text"
        assert row["env"] in readme, f"{row['env']} is missing from camera_agent/README.md"


def test_the_systemd_unit_runs_the_agent_and_restarts_it():
    unit = (REPO_ROOT / "camera_agent" / "camera-agent.service").read_text()
    assert re.search(r"^ExecStart=.*camera-agent", unit, re.MULTILINE)
    assert re.search(r"^Restart=always", unit, re.MULTILINE)
    assert re.search(r"^EnvironmentFile=", unit, re.MULTILINE)  # the token lives in a 0600 file...
    assert not re.search(r"^(Environment=|ExecStart=.*--token)", unit, re.MULTILINE)  # ...never in the unit itself


def test_settings_errors_name_the_setting():
    with pytest.raises(SettingsError, match="token"):
        read_settings(parse_args([]))
