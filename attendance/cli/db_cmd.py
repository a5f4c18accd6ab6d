"""``attendance db upgrade|revision``: apply the schema migrations."""

from __future__ import annotations

import argparse

from attendance.db.migrate import current_revision, head_revision, upgrade_database
from attendance.db.session import create_db_engine
from attendance.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    db = subparsers.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", parents=[common], help="apply the migrations (safe to repeat)")
    upgrade.set_defaults(handler=run_upgrade)
    status = db.add_parser("status", parents=[common], help="print the schema revision")
    status.set_defaults(handler=run_status)


def run_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    engine = create_db_engine(settings.resolved_database_url)
    upgrade_database(engine)
    print(f"database at revision {current_revision(engine)}")
    return 0


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    engine = create_db_engine(settings.resolved_database_url)
    current = current_revision(engine)
    print(f"database revision: {current or 'none'}; newest: {head_revision()}")
    return 0 if current == head_revision() else 1
