"""What every command line of the core shares: settings read from ``--config`` and ``--db``.

Both ``attendance`` (``cli/main.py``) and ``enroll_faces.py`` (``cli/enroll_cmd.py``) read them here, so
a command module never imports the command tree that imports it.
"""

from __future__ import annotations

import argparse

from attendance.settings import Settings, load_settings


def load_cli_settings(args: argparse.Namespace) -> Settings:
    """Settings from the file and environment, with ``--db`` on top."""
    overrides = {"database_url": args.db} if getattr(args, "db", None) else {}
    return load_settings(Settings, config_file=getattr(args, "config", None), overrides=overrides)
