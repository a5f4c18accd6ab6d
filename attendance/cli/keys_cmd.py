"""``attendance keys``: the data keys that seal templates, photos and snapshots at rest (``rotate``, ``status``)."""

from __future__ import annotations

import argparse

from attendance.crypto import key_file_path, load_keyring
from attendance.db import Database
from attendance.key_rotation import finish_rotation, prepare_rotation, rotate_keys
from attendance.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    keys = subparsers.add_parser("keys", parents=[common], help="data keys: rotate them, show which are in use",
                                 description="Face templates, kept photos and snapshots are encrypted at rest "
                                             "(AES-256-GCM) with the data key: ATTENDANCE_DATA_KEY or the key file.")
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    rotate = actions.add_parser("rotate", parents=[common], help="re-encrypt everything with a new key",
                                description="With the key file: add a new key, re-encrypt every template, photo "
                                            "and snapshot with it, then drop the old keys (--keep-old keeps them). "
                                            "With ATTENDANCE_DATA_KEY: put the new key first in it, run this, then "
                                            "remove the old keys from the variable.")
    rotate.add_argument("--keep-old", action="store_true", help="keep the old keys in the key file")
    rotate.set_defaults(handler=run_rotate)
    status = actions.add_parser("status", parents=[common], help="the key ids in use and where they come from")
    status.set_defaults(handler=run_status)


def run_rotate(args: argparse.Namespace, settings: Settings) -> int:
    keyring = prepare_rotation(settings, load_keyring(settings, create=False))
    with Database.open(settings.resolved_database_url) as database:
        report = rotate_keys(database.sessions, settings.instance_path, keyring)
    if not args.keep_old:
        finish_rotation(settings, keyring, report)
    print(f"key {report.key_id}: re-encrypted {report.templates} templates and {report.files} files "
          f"({report.already_current} already current, {report.missing_files} files missing)")
    if settings.data_key and len(keyring.keys) > 1:
        print("remove the old keys from ATTENDANCE_DATA_KEY: only the first is needed now")
    elif report.old_keys_dropped:
        print(f"{report.old_keys_dropped} old key(s) removed from {key_file_path(settings)}")
    return 0


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    keyring = load_keyring(settings, create=False)
    where = "ATTENDANCE_DATA_KEY" if settings.data_key else str(key_file_path(settings))
    print(f"{len(keyring.keys)} key(s) from {where}; current key id {keyring.current_id.hex()}")
    return 0
