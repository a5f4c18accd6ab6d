"""One recognition config: the core's and the agent's settings embed the same fields; old agent names still work."""

import dataclasses
import logging

import pytest

from attendance import settings as settings_module
from attendance.recognition_config import RecognitionConfig
from attendance.settings import Settings, load_settings
from camera_agent.engine import core_settings
from camera_agent.settings import AGENT_ENV_PREFIX, AGENT_TOML_TABLE, AgentSettings

RECOGNITION_FIELDS = [f.name for f in dataclasses.fields(RecognitionConfig)]
AGENT_VIDEO_DEFAULTS = {"detect_upsample": 0, "min_face_px": 60, "min_sharpness": 0.0, "max_yaw_deg": 45.0}


def _field(cls, name):
    return next(f for f in dataclasses.fields(cls) if f.name == name)


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(settings_module, "_warned_renames", set())


def test_the_recognition_fields_are_twelve_and_defined_once():
    assert len(RECOGNITION_FIELDS) == 12
    for cls in (Settings, AgentSettings):
        assert issubclass(cls, RecognitionConfig)
        for name in RECOGNITION_FIELDS:  # same help, choices and bounds: the metadata is the core's
            assert _field(cls, name).metadata == _field(RecognitionConfig, name).metadata, (cls, name)
    assert "backend" not in {f.name for f in dataclasses.fields(AgentSettings)}


def test_the_agent_keeps_video_defaults_and_the_core_enrollment_defaults():
    agent = load_settings(AgentSettings, prefix=AGENT_ENV_PREFIX, environ={})
    core = load_settings(Settings, environ={})
    for name, value in AGENT_VIDEO_DEFAULTS.items():
        assert getattr(agent, name) == value
        assert getattr(core, name) == getattr(RecognitionConfig(), name) != value


def test_the_agent_hands_every_recognition_field_to_the_core():
    agent = load_settings(AgentSettings, prefix=AGENT_ENV_PREFIX, environ={}, overrides={
        "face_backend": "onnx", "onnx_threads": 3, "match_threshold": 0.5, "min_face_px": 70,
        "onnx_providers": ("CPUExecutionProvider",), "instance_path": "/srv/gate"})
    core = core_settings(agent)
    assert core.recognition == agent.recognition
    assert core.instance_path == "/srv/gate"


def test_the_old_backend_variable_is_read_with_one_warning(caplog):
    caplog.set_level(logging.WARNING, logger="attendance.settings")
    environ = {"ATTENDANCE_AGENT_BACKEND": "onnx"}
    for _ in range(2):
        settings = load_settings(AgentSettings, prefix=AGENT_ENV_PREFIX, environ=environ)
        assert settings.face_backend == "onnx"
    warnings = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert warnings == ["setting ATTENDANCE_AGENT_BACKEND is deprecated and will be removed: "
                        "use ATTENDANCE_AGENT_FACE_BACKEND"]


def test_the_new_name_wins_over_the_old_one():
    environ = {"ATTENDANCE_AGENT_BACKEND": "onnx", "ATTENDANCE_AGENT_FACE_BACKEND": "dlib"}
    assert load_settings(AgentSettings, prefix=AGENT_ENV_PREFIX, environ=environ).face_backend == "dlib"


def test_the_old_backend_key_in_the_agent_table_is_read(tmp_path, caplog):
    config = tmp_path / "attendance.toml"
    config.write_text('[agent]\nbackend = "onnx"\n')
    settings = load_settings(AgentSettings, prefix=AGENT_ENV_PREFIX, config_file=config, environ={},
                             toml_table=AGENT_TOML_TABLE)
    assert settings.face_backend == "onnx"
    assert any("backend" in r.getMessage() and "deprecated" in r.getMessage() for r in caplog.records)


def test_an_old_name_with_a_bad_value_is_still_refused():
    with pytest.raises(settings_module.SettingsError, match="face_backend"):
        load_settings(AgentSettings, prefix=AGENT_ENV_PREFIX, environ={"ATTENDANCE_AGENT_BACKEND": "tensorflow"})


def test_the_core_has_no_old_names():
    with pytest.raises(settings_module.SettingsError, match="backend"):
        load_settings(Settings, environ={}, overrides={"backend": "onnx"})


def test_a_time_zone_name_too_long_for_a_file_is_a_bad_setting_not_a_crash():
    with pytest.raises(settings_module.SettingsError, match="timezone"):
        load_settings(Settings, environ={"ATTENDANCE_TIMEZONE": "Nguyễn " * 300})
