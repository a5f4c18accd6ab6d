"""Typed settings: defaults, then a TOML file, then ``ATTENDANCE_*`` environment variables.

Every setting is a dataclass field that carries its own help text, so the README's table and the
validation errors come from one place. Settings are read once at start-up (``load_settings``) and passed
down; nothing else in the product reads the environment.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attendance.errors import SettingsError
from attendance.recognition_config import RecognitionConfig, setting

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")

CONFIG_FILE_ENV = "ATTENDANCE_CONFIG"

logger = logging.getLogger(__name__)
_warned_renames: set[str] = set()


@dataclass(frozen=True)
class Settings(RecognitionConfig):
    """Everything the core, the dashboard and the CLI can be configured with (the recognition fields first)."""

    instance_path: str = setting(
        "instance", "Folder for the SQLite database, kept enrollment photos and snapshots."
    )
    database_url: str = setting(
        "", "SQLAlchemy URL of the database; empty means a SQLite file `attendance.db` in the instance folder. "
        "PostgreSQL: `postgresql+psycopg://user@host/dbname`."
    )
    timezone: str = setting("Asia/Ho_Chi_Minh", "Default time zone of a new school (IANA name).")
    detect_max_side_px: int = setting(
        1280, "Large photos are detected on a copy scaled down to this longest side; embedding uses full size.",
        low=64, high=20_000
    )
    max_image_pixels: int = setting(
        60_000_000, "Refuse images with more pixels than this (decompression bombs).", low=10_000, high=500_000_000
    )
    duplicate_warn_distance: float = setting(
        0.40, "Enrollment refuses a new face this close to another student's template (the same photo twice would "
              "make both unrecognisable), unless an admin confirms it: twins, siblings.",
        low=0.0, high=4.0
    )
    keep_enrollment_photos: bool = setting(
        True, "Keep accepted enrollment photos in the instance folder (needed to rebuild templates for a new "
        "model). Off: only embeddings are stored."
    )
    log_level: str = setting("INFO", "Log level.", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    secret_key: str = setting(
        "", "Dashboard session signing key; empty means one is generated once and kept in the instance folder.",
    )
    data_key: str = setting(
        "", "AES-256-GCM keys that encrypt face templates, kept photos and snapshots at rest: base64 of 32 random "
        "bytes, comma-separated, the current one first (older ones still decrypt during `attendance keys rotate`); "
        "empty means the key file. Never stored in the database.",
    )
    data_key_file: str = setting(
        "", "File of the data keys (one base64 key a line, the current one first); empty means `data_keys` in the "
        "instance folder, generated (0600) on the first start when there is no key. Back it up apart from the database."
    )
    session_cookie_secure: bool = setting(
        True, "Send the dashboard's session cookie over HTTPS only (turn off only for a local demo over HTTP)."
    )
    default_language: str = setting("vi", "Language of the dashboard for new users.", choices=("vi", "en"))
    max_request_mb: float = setting(16.0, "Largest request body the dashboard accepts, in MiB (photo uploads, batches).",
                                    low=0.1, high=1024.0)
    webhook_timeout_s: float = setting(5.0, "Timeout of one webhook POST, in seconds.", low=0.1, high=300.0)
    trusted_proxies: int = setting(
        0, "Reverse proxies in front of the dashboard whose X-Forwarded-For/-Proto it trusts (1 behind one nginx "
        "or Caddy); 0 trusts none. The login throttle counts failures per client address.", low=0, high=10
    )
    camera_offline_after_s: int = setting(120, "A camera with no heartbeat for this long is shown as offline.",
                                          low=10, high=604_800)
    checkin_max_age_days: int = setting(
        7, "Refuse check-ins and unknown faces captured more than this many days before they reach the server, "
        "or before their camera was registered (error `too_old`); 0 lifts the age limit.", low=0, high=3650
    )
    absence_notice_delay_min: int = setting(
        30, "Absence webhooks are queued this many minutes after the absence cutoff, and later while a camera "
        "of the school still reports unsent check-ins.", low=0, high=1440
    )
    snapshot_retention_days: int = setting(
        30, "Check-in snapshots (face crops) are deleted this many days after capture; 0 keeps them.", low=0, high=3650
    )
    unknown_retention_days: int = setting(
        7, "Unknown-face snapshots are deleted this many days after capture, with their rows unless assigned to "
        "a student; 0 keeps them.", low=0, high=3650
    )

    card_font_path: str = setting(
        "", "TrueType font for printed QR cards (Vietnamese names need its glyphs); empty means DejaVu Sans from "
        "the system (`fonts-dejavu-core`)."
    )

    liveness_action: str = setting(
        "flag", "What a suspected presentation attack does: `flag` stores the check-in marked for a teacher's "
        "review; `refuse` stores it as a flagged unknown face, with no check-in.", choices=("flag", "refuse"),
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL, with the default SQLite file in the instance folder filled in."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.instance_path).resolve() / 'attendance.db'}"


def env_name(prefix: str, field_name: str) -> str:
    """The environment variable of one setting, e.g. ``ATTENDANCE_DATABASE_URL``."""
    return f"{prefix}{field_name.upper()}"


def describe_settings(cls: type, prefix: str = "ATTENDANCE_") -> list[dict[str, Any]]:
    """Each setting of ``cls`` as ``{name, env, default, help, choices}``, for docs and ``--help``."""
    rows = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None  # a required setting: no default to show
        rows.append({
            "name": f.name, "env": env_name(prefix, f.name), "default": default,
            "help": f.metadata.get("help", ""), "choices": f.metadata.get("choices"),
        })
    return rows


def load_settings(
    cls: type[T] = Settings,  # type: ignore[assignment]
    *,
    prefix: str = "ATTENDANCE_",
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    toml_table: str | None = None,
) -> T:
    """Build ``cls`` from its defaults, then a TOML file, then environment variables, then ``overrides``.

    The TOML file is ``config_file`` or the path in ``ATTENDANCE_CONFIG``; ``toml_table`` picks a table of it
    (the agent reads ``[agent]``). A setting's former name (``cls.RENAMED_SETTINGS``: old -> new) is still
    read, from the file or the environment, with one warning logged; the new name wins when both are set.
    Raises ``SettingsError`` naming the bad key for an unknown key, a value of the wrong type, a value outside
    its choices or a number outside its bounds.
    """
    environ = os.environ if environ is None else environ
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}

    renamed: Mapping[str, str] = getattr(cls, "RENAMED_SETTINGS", {})
    path = config_file or environ.get(CONFIG_FILE_ENV)
    if path:
        values.update(_read_toml(Path(path), toml_table, fields, renamed))
    for old, new in renamed.items():
        raw = environ.get(env_name(prefix, old))
        if raw is not None:
            _warn_renamed(env_name(prefix, old), env_name(prefix, new))
            values[new] = _parse_env(env_name(prefix, old), raw, hints[new])
    for name in fields:
        raw = environ.get(env_name(prefix, name))
        if raw is not None:
            values[name] = _parse_env(env_name(prefix, name), raw, hints[name])
    for name, value in (overrides or {}).items():
        if name not in fields:
            raise SettingsError(name, "is not a setting")
        values[name] = value

    checked = {name: _check_value(name, value, hints[name], fields[name]) for name, value in values.items()}
    return cls(**checked)


def _warn_renamed(old: str, new: str) -> None:
    if old not in _warned_renames:
        _warned_renames.add(old)
        logger.warning("setting %s is deprecated and will be removed: use %s", old, new)


def _read_toml(path: Path, table: str | None, fields: Mapping[str, dataclasses.Field],
               renamed: Mapping[str, str]) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as err:
        raise SettingsError(str(path), f"cannot read the settings file: {err.strerror}") from err
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(str(path), f"is not valid TOML: {err}") from err
    if table:
        data = data.get(table, {})
    for old, new in renamed.items():
        if old in data:
            _warn_renamed(f"{old} (in {path})", new)
            data.setdefault(new, data.pop(old))
    unknown = [key for key in data if key not in fields and not isinstance(data[key], dict)]
    if unknown:
        raise SettingsError(unknown[0], f"is not a setting (in {path})")
    return {key: value for key, value in data.items() if key in fields}


def _parse_env(name: str, raw: str, hint: Any) -> Any:
    base = _base_type(hint)
    try:
        if base is bool:
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if base is int:
            return int(raw)
        if base is float:
            return float(raw)
        if base in (list, tuple):
            return base(item.strip() for item in raw.split(",") if item.strip())
    except ValueError as err:
        raise SettingsError(name, f"must be {base.__name__}, got {raw!r}") from err
    return raw


def _check_range(name: str, value: float, low: float | None, high: float | None) -> None:
    """A number within ``low``..``high`` (NaN and infinities never are), else ``SettingsError`` naming it."""
    if not math.isfinite(value):
        raise SettingsError(name, f"must be a finite number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise SettingsError(name, f"must be from {low} to {high}, got {value!r}")


def _base_type(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _base_type(args[0])
    return origin or hint


def _check_value(name: str, value: Any, hint: Any, f: dataclasses.Field) -> Any:
    base = _base_type(hint)
    if value is None and type(None) in typing.get_args(hint):
        return None
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if base is tuple and isinstance(value, list):
        value = tuple(value)
    if base in (list, tuple) and not all(isinstance(item, str) for item in value):
        raise SettingsError(name, "must be a list of strings")
    if (base is not Any and not isinstance(value, base)) or (base is int and isinstance(value, bool)):
        raise SettingsError(name, f"must be {base.__name__}, got {type(value).__name__}")
    if base in (int, float):
        _check_range(name, value, f.metadata.get("low"), f.metadata.get("high"))
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        raise SettingsError(name, f"must be one of {', '.join(choices)}, got {value!r}")
    if name == "liveness_threshold" and not 0.0 < value < 1.0:
        raise SettingsError(name, f"must be between 0 and 1 (a live score), got {value!r}")
    if name == "timezone" or name.endswith("_timezone"):
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as err:  # tzdata opens a file named by the value
            raise SettingsError(name, f"is not a known time zone: {value!r}") from err
    return value
