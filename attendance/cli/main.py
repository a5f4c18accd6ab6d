"""The ``attendance`` command: one argparse tree, built from the core's command modules and plugins.

Each command module has ``register(subparsers, common)``; the dashboard adds its commands (``serve``,
``users``, ``cameras``, ``roll``) through the ``attendance.commands`` entry-point group, so the core never
imports the dashboard. Every handler takes ``(args, settings)`` and returns an exit status; errors the core
raises on purpose become one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import logging
import sys
from importlib.metadata import entry_points

from attendance.cli.common import load_cli_settings
from attendance.crypto import install_keyring, load_keyring
from attendance.errors import AttendanceError, SettingsError
from attendance.logsafe import install_safe_log_records

CORE_COMMAND_MODULES = (
    "attendance.cli.db_cmd", "attendance.cli.faces_cmd", "attendance.cli.enroll_cmd", "attendance.cli.models_cmd",
    "attendance.cli.gallery_cmd", "attendance.cli.students_cmd", "attendance.cli.calibrate_cmd",
    "attendance.cli.cards_cmd", "attendance.cli.keys_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree: core modules first, then every installed plugin."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="TOML settings file (default: $ATTENDANCE_CONFIG)")
    common.add_argument("--db", metavar="URL", help="database URL (default: the database_url setting)")
    parser = argparse.ArgumentParser(
        prog="attendance", parents=[common],
        description="Face-recognition morning attendance: enrollment, identification and the dashboard.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in CORE_COMMAND_MODULES:
        module = __import__(module_name, fromlist=["register"])
        module.register(subparsers, common)
    for entry in sorted(entry_points(group="attendance.commands"), key=lambda e: e.name):
        try:
            register = entry.load()
        except ImportError as err:  # a plugin whose module is missing must not break the core commands
            logging.getLogger(__name__).debug("command plugin %s not loaded: %s", entry.name, err)
            continue
        register(subparsers, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit status is 0 on success, 1 when the command reports a failure, 2 on error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_cli_settings(args)
        install_safe_log_records()
        logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("alembic").setLevel(logging.WARNING)
        install_keyring(load_keyring(settings))  # templates and photos are sealed at rest (attendance/crypto.py)
        return int(args.handler(args, settings) or 0)
    except SettingsError as err:
        print(f"attendance: {err.message}", file=sys.stderr)
        return 2
    except AttendanceError as err:
        print(f"attendance: {err.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("attendance: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
