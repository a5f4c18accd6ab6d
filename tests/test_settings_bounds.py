"""Every numeric setting has bounds, checked at start-up with an error that names the key."""

import dataclasses

import pytest

from attendance.errors import SettingsError
from attendance.settings import Settings, load_settings
from camera_agent.settings import AgentSettings


@pytest.mark.parametrize("cls", [Settings, AgentSettings])
def test_every_numeric_setting_has_bounds_that_hold_its_default(cls):
    for f in dataclasses.fields(cls):
        if isinstance(f.default, (int, float)) and not isinstance(f.default, bool):
            low, high = f.metadata.get("low"), f.metadata.get("high")
            assert low is not None and high is not None, f.name
            assert low <= f.default <= high, f.name


@pytest.mark.parametrize("cls, env, value", [
    (Settings, "ATTENDANCE_SNAPSHOT_RETENTION_DAYS", "-30"),
    (Settings, "ATTENDANCE_UNKNOWN_RETENTION_DAYS", "-1"),
    (Settings, "ATTENDANCE_MAX_REQUEST_MB", "nan"),
    (Settings, "ATTENDANCE_WEBHOOK_TIMEOUT_S", "inf"),
    (Settings, "ATTENDANCE_MAX_YAW_DEG", "720"),
    (Settings, "ATTENDANCE_CHECKIN_MAX_AGE_DAYS", "99999999"),
    (AgentSettings, "CAMERA_AGENT_MIN_VOTE_SHARE", "7"),
    (AgentSettings, "CAMERA_AGENT_BATCH_SIZE", "501"),
    (AgentSettings, "CAMERA_AGENT_TRACK_MIN_IOU", "-0.1"),
])
def test_a_value_out_of_range_does_not_start(cls, env, value):
    prefix = "ATTENDANCE_" if cls is Settings else env[:env.index("_", 7) + 1]
    with pytest.raises(SettingsError) as err:
        load_settings(cls, prefix=prefix, environ={env: value})
    key = env[len(prefix):].lower()
    assert err.value.key == env or err.value.key == key
    assert key in str(err.value).lower()


def test_a_toml_value_out_of_range_is_refused(tmp_path):
    config = tmp_path / "attendance.toml"
    config.write_text("snapshot_retention_days = -30\n")
    with pytest.raises(SettingsError, match="snapshot_retention_days"):
        load_settings(Settings, config_file=config, environ={})


def test_values_within_range_are_accepted():
    settings = load_settings(Settings, environ={"ATTENDANCE_SNAPSHOT_RETENTION_DAYS": "0",
                                                "ATTENDANCE_MAX_REQUEST_MB": "2.5"})
    assert settings.snapshot_retention_days == 0 and settings.max_request_mb == 2.5
