"""Settings: defaults, then TOML, then environment; every bad key is named; every setting is documented."""

import re

import pytest

from attendance.errors import SettingsError
from attendance.settings import Settings, describe_settings, load_settings
from conftest import REPO_ROOT


def test_defaults_need_no_configuration():
    settings = load_settings(Settings, environ={})
    assert settings.timezone == "Asia/Ho_Chi_Minh"
    assert settings.face_backend == "dlib"
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("/instance/attendance.db")


def test_toml_then_environment_then_overrides(tmp_path):
    config = tmp_path / "attendance.toml"
    config.write_text('timezone = "Asia/Bangkok"\nmin_face_px = 60\nmatch_threshold = 0.5\n')
    settings = load_settings(Settings, config_file=config, environ={"ATTENDANCE_MIN_FACE_PX": "70"})
    assert settings.timezone == "Asia/Bangkok"
    assert settings.min_face_px == 70
    assert settings.match_threshold == 0.5
    settings = load_settings(Settings, environ={"ATTENDANCE_CONFIG": str(config)}, overrides={"min_face_px": 90})
    assert settings.min_face_px == 90


@pytest.mark.parametrize("environ, key", [
    ({"ATTENDANCE_MIN_FACE_PX": "big"}, "ATTENDANCE_MIN_FACE_PX"),
    ({"ATTENDANCE_KEEP_ENROLLMENT_PHOTOS": "maybe"}, "ATTENDANCE_KEEP_ENROLLMENT_PHOTOS"),
    ({"ATTENDANCE_FACE_BACKEND": "tensorflow"}, "face_backend"),
    ({"ATTENDANCE_TIMEZONE": "Mars/Olympus"}, "timezone"),
])
def test_bad_values_name_their_key(environ, key):
    with pytest.raises(SettingsError) as caught:
        load_settings(Settings, environ=environ)
    assert key in str(caught.value)


def test_unknown_toml_key_is_named(tmp_path):
    config = tmp_path / "attendance.toml"
    config.write_text("min_face_pxx = 60\n")
    with pytest.raises(SettingsError, match="min_face_pxx"):
        load_settings(Settings, config_file=config, environ={})


def test_wrong_toml_type_is_named(tmp_path):
    config = tmp_path / "attendance.toml"
    config.write_text('min_face_px = "sixty"\n')
    with pytest.raises(SettingsError, match="min_face_px"):
        load_settings(Settings, config_file=config, environ={})


def test_broken_toml_file_is_reported(tmp_path):
    config = tmp_path / "attendance.toml"
    config.write_text("min_face_px = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(Settings, config_file=config, environ={})


def test_every_setting_is_documented_in_the_readme():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(ATTENDANCE_[A-Z0-9_]+)`", readme))
    missing = [row["env"] for row in describe_settings(Settings) if row["env"] not in documented]
    assert not missing, f"settings missing from the README: {missing}"
