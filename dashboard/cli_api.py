"""``attendance cameras|roll|webhooks|api-tokens``: scripted set-up and the roll on the command line.

An ``attendance.commands`` plugin. Tokens and webhook secrets are printed once, on stdout, when made; they
are stored only as hashes (tokens) and never printed again. Without ``--school`` the only school is used.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from sqlalchemy import select

from attendance.cameras import (
    create_api_token,
    create_camera,
    find_api_token,
    find_camera,
    list_api_tokens,
    revoke_api_token,
    revoke_camera,
)
from attendance.contract import roll_entry_json
from attendance.db import Database
from attendance.db.models import Camera, School, SchoolClass, utcnow
from attendance.directory import find_school
from attendance.errors import InvalidInput, NotFound
from attendance.roll import compute_class_roll, school_local_date
from attendance.settings import Settings
from attendance.webhooks import create_webhook, list_webhooks, remove_webhook


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    school_help = "school code (default: the only school)"
    cameras = subparsers.add_parser("cameras", help="gate cameras and their tokens").add_subparsers(
        dest="cameras_command", required=True)
    add = cameras.add_parser("add", parents=[common], help="register a camera and print its token (once)")
    add.add_argument("name", help="a short name, unique in the school, e.g. gate-1")
    add.add_argument("--location", default="", help="where it is, e.g. 'Cổng chính'")
    add.add_argument("--school", metavar="CODE", help=school_help)
    add.set_defaults(handler=run_camera_add)
    revoke = cameras.add_parser("revoke", parents=[common], help="revoke a camera's token at once")
    revoke.add_argument("name")
    revoke.add_argument("--school", metavar="CODE", help=school_help)
    revoke.set_defaults(handler=run_camera_revoke)
    listing = cameras.add_parser("list", parents=[common], help="list cameras and when each was last seen")
    listing.add_argument("--school", metavar="CODE", help=school_help)
    listing.set_defaults(handler=run_camera_list)

    roll = subparsers.add_parser("roll", parents=[common], help="print the roll of a day")
    roll.add_argument("--date", metavar="YYYY-MM-DD", help="school date (default: today in the school's zone)")
    roll.add_argument("--class", dest="class_code", metavar="CODE", help="one class (default: every class)")
    roll.add_argument("--school", metavar="CODE", help=school_help)
    roll.add_argument("--json", action="store_true", help="one JSON object per student, one per line")
    roll.set_defaults(handler=run_roll)

    webhooks = subparsers.add_parser("webhooks", help="webhooks to other systems").add_subparsers(
        dest="webhooks_command", required=True)
    hook = webhooks.add_parser("add", parents=[common], help="register a webhook URL and print its secret (once)")
    hook.add_argument("url")
    hook.add_argument("--events", default="checkin,absence", help="checkin, absence or both (default: both)")
    hook.add_argument("--school", metavar="CODE", help=school_help)
    hook.set_defaults(handler=run_webhook_add)
    hooks = webhooks.add_parser("list", parents=[common], help="list webhooks (their secrets are never shown again)")
    hooks.add_argument("--school", metavar="CODE", help="one school (default: every school)")
    hooks.set_defaults(handler=run_webhook_list)
    unhook = webhooks.add_parser("remove", parents=[common], help="delete a webhook and its queued deliveries")
    unhook.add_argument("id", type=int, help="the id `webhooks list` shows")
    unhook.set_defaults(handler=run_webhook_remove)

    tokens = subparsers.add_parser("api-tokens", help="read-only tokens for integrations").add_subparsers(
        dest="tokens_command", required=True)
    token = tokens.add_parser("add", parents=[common], help="make an integration token and print it (once)")
    token.add_argument("name")
    scope = token.add_mutually_exclusive_group()
    scope.add_argument("--school", metavar="CODE", help=school_help)
    scope.add_argument("--district", action="store_true", help="a token that reads every school")
    token.set_defaults(handler=run_token_add)
    token_list = tokens.add_parser("list", parents=[common], help="list integration tokens (never the tokens)")
    token_list.add_argument("--school", metavar="CODE", help="one school's tokens (default: every token)")
    token_list.set_defaults(handler=run_token_list)
    token_revoke = tokens.add_parser("revoke", parents=[common], help="revoke an integration token at once")
    token_revoke.add_argument("id", type=int, help="the id `api-tokens list` shows")
    token_revoke.set_defaults(handler=run_token_revoke)


def _open(settings: Settings) -> Database:
    return Database.open(settings.resolved_database_url)


def run_camera_add(args: argparse.Namespace, settings: Settings) -> int:
    with _open(settings) as database, database.session() as session:
        school = find_school(session, args.school)
        camera, token = create_camera(session, school, args.name, args.location)
        name, code = camera.name, school.code
    print(f"camera {name} added to school {code}; its token (shown only now):", file=sys.stderr)
    print(token)
    return 0


def run_camera_revoke(args: argparse.Namespace, settings: Settings) -> int:
    with _open(settings) as database, database.session() as session:
        camera = find_camera(session, find_school(session, args.school), args.name)
        revoke_camera(session, camera, utcnow())
    print(f"camera {args.name} revoked")
    return 0


def run_camera_list(args: argparse.Namespace, settings: Settings) -> int:
    with _open(settings) as database, database.session() as session:
        school = find_school(session, args.school)
        cameras = session.scalars(select(Camera).where(Camera.school_id == school.id).order_by(Camera.name)).all()
        for camera in cameras:
            state = "revoked" if camera.revoked_at else "active"
            seen = camera.last_seen_at.isoformat(timespec="seconds") if camera.last_seen_at else "never"
            print(f"{camera.name}\t{state}\tlast seen {seen}\t{camera.location}")
    return 0


def run_roll(args: argparse.Namespace, settings: Settings) -> int:
    with _open(settings) as database, database.session() as session:
        school = find_school(session, args.school)
        now_at = utcnow()
        try:
            school_date = dt.date.fromisoformat(args.date) if args.date else school_local_date(school, now_at)
        except ValueError as err:
            raise InvalidInput(f"--date must be YYYY-MM-DD, got {args.date!r}") from err
        query = select(SchoolClass).where(SchoolClass.school_id == school.id)
        if args.class_code:
            query = query.where(SchoolClass.code == args.class_code)
        classes = sorted(session.scalars(query), key=lambda c: (c.code, c.school_year))
        if args.class_code and not classes:
            raise NotFound(f"school {school.code} has no class {args.class_code!r}")
        for school_class in classes:
            entries = compute_class_roll(session, school_class, school_date, now_at)
            _print_roll(school_class, school_date, entries, args.json, school)
    return 0


def _print_roll(school_class: SchoolClass, school_date: dt.date, entries, as_json: bool,
                school) -> None:
    if as_json:
        for e in entries:  # the API's shape of a roll entry, one per line
            print(json.dumps(roll_entry_json(e), ensure_ascii=False))
        return
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(school.timezone)
    print(f"# {school_class.code} {school_date.isoformat()}")
    for e in entries:
        seen = e.first_seen_at.astimezone(zone).strftime("%H:%M") if e.first_seen_at else "--:--"
        late = f" (+{e.minutes_late} min)" if e.minutes_late else ""
        arrived = f" (arrived from camera {e.camera_name} on {e.received_on.isoformat()})" if e.received_on else ""
        print(f"{e.student_code}\t{e.full_name}\t{seen}\t{e.status}{late}{arrived}")


def run_webhook_add(args: argparse.Namespace, settings: Settings) -> int:
    with _open(settings) as database, database.session() as session:
        school = find_school(session, args.school)
        _hook, secret = create_webhook(session, school, args.url, args.events)
        code = school.code
    print(f"webhook added to school {code}; its signing secret (shown only now):", file=sys.stderr)
    print(secret)
    return 0


def run_token_add(args: argparse.Namespace, settings: Settings) -> int:
    with _open(settings) as database, database.session() as session:
        school = None if args.district else find_school(session, args.school)
        _, token = create_api_token(session, args.name, school)
    print(f"integration token {args.name} made; it is shown only now:", file=sys.stderr)
    print(token)
    return 0


def _school_codes(session) -> dict[int, str]:
    return dict(session.execute(select(School.id, School.code)).all())


def run_token_list(args: argparse.Namespace, settings: Settings) -> int:
    with _open(settings) as database, database.session() as session:
        school = find_school(session, args.school) if args.school else None
        codes = _school_codes(session)
        for row in list_api_tokens(session, school):
            state = f"revoked {row.revoked_at.isoformat(timespec='seconds')}" if row.revoked_at else "active"
            scope = codes.get(row.school_id, "?") if row.school_id is not None else "district"
            print(f"{row.id}\t{row.name}\t{scope}\t{state}\tmade {row.created_at.isoformat(timespec='seconds')}")
    return 0


def run_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    with _open(settings) as database, database.session() as session:
        row = revoke_api_token(session, find_api_token(session, args.id), utcnow())
        name = row.name
    print(f"integration token {args.id} ({name}) revoked")
    return 0


def run_webhook_list(args: argparse.Namespace, settings: Settings) -> int:
    with _open(settings) as database, database.session() as session:
        school = find_school(session, args.school) if args.school else None
        codes = _school_codes(session)
        for hook in list_webhooks(session, school):
            state = "active" if hook.active else "paused"
            print(f"{hook.id}\t{codes.get(hook.school_id, '?')}\t{hook.url}\t{hook.events}\t{state}\t"
                  f"made {hook.created_at.isoformat(timespec='seconds')}")
    return 0


def run_webhook_remove(args: argparse.Namespace, settings: Settings) -> int:
    with _open(settings) as database, database.session() as session:
        hook = remove_webhook(session, args.id)
        url = hook.url
    print(f"webhook {args.id} ({url}) removed")
    return 0
