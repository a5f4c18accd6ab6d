"""``attendance users ...`` and ``attendance serve [--workers N]``: the dashboard's commands (an
``attendance.commands`` plugin).

There is no default password anywhere: passwords come from a file (``--password-file``, first line) or are
typed twice at a prompt, and are never printed or logged.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys
from pathlib import Path
from typing import Any

from attendance.db import Database
from attendance.errors import InvalidInput, NotFound
from attendance.settings import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
SERVER_THREADS = 8
# Every open page keeps a connection (keep-alive between its polls of /live): waitress's default of 100
# would leave the 101st viewer waiting. poll() rather than select(), which stops at 1024 descriptors.
SERVER_CONNECTION_LIMIT = 2000
SERVER_OPTIONS: dict[str, Any] = {"threads": SERVER_THREADS, "ident": "attendance", "connection_limit": SERVER_CONNECTION_LIMIT,
                  "asyncore_use_poll": True}
MAX_WORKERS = 64


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    users = subparsers.add_parser("users", help="dashboard users").add_subparsers(dest="users_command",
                                                                                   required=True)
    admin = users.add_parser("create-admin", parents=[common],
                             help="create a school admin (or, with --district, a district admin)")
    admin.add_argument("--username", default="admin", help="login name (default: admin)")
    admin.add_argument("--full-name", default="", help="the person's name, shown in the dashboard")
    admin.add_argument("--password-file", metavar="FILE", help="read the password from the first line of FILE "
                       "(default: prompt twice)")
    admin.add_argument("--school", metavar="CODE", help="school code (created if missing; default: the only school, or a new one `school`)")
    admin.add_argument("--school-name", metavar="NAME", help="name of a school created by --school")
    admin.add_argument("--district", action="store_true", help="a district admin, who sees every school")
    admin.set_defaults(handler=run_create_admin)

    teacher = users.add_parser("add-teacher", parents=[common], help="create a homeroom teacher of some classes")
    teacher.add_argument("username")
    teacher.add_argument("--class", dest="classes", action="append", default=[], metavar="CODE",
                         help="a class the teacher is homeroom teacher of (repeat for several)")
    teacher.add_argument("--full-name", default="")
    teacher.add_argument("--password-file", metavar="FILE", help="default: prompt twice")
    teacher.add_argument("--school", metavar="CODE", help="school code (default: the only school)")
    teacher.set_defaults(handler=run_add_teacher)

    serve = subparsers.add_parser("serve", parents=[common], help="run the dashboard with waitress")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    serve.add_argument("--workers", type=parse_workers, default=1, metavar="N",
                       help="dashboard processes sharing the port (default: 1; more need PostgreSQL and Linux "
                       "or macOS)")
    serve.set_defaults(handler=run_serve)


def read_password(password_file: str | None) -> str:
    """The password from the file's first line, or typed twice at a prompt (never echoed)."""
    if password_file:
        try:
            lines = Path(password_file).read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise InvalidInput(f"cannot read the password file: {err.strerror}") from err
        return lines[0] if lines else ""
    if not sys.stdin.isatty():
        raise InvalidInput("no terminal to ask for a password: use --password-file FILE")
    first = getpass.getpass("Password (10 characters or more): ")
    if first != getpass.getpass("Password again: "):
        raise InvalidInput("the two passwords differ")
    return first


def run_create_admin(args: argparse.Namespace, settings: Settings) -> int:
    from attendance.directory import get_or_create_school
    from attendance.users import create_user, record_audit

    password = read_password(args.password_file)
    with Database.open(settings.resolved_database_url) as database, database.session() as session:
        school = None
        if not args.district:
            school = get_or_create_school(session, args.school, name=args.school_name or "",
                                          timezone=settings.timezone, create_default=False)
        role = "district_admin" if args.district else "school_admin"
        user = create_user(session, args.username, password, role, school.id if school else None,
                           full_name=args.full_name, language=settings.default_language)
        record_audit(session, "cli", "user.create", school_id=user.school_id, target=f"user:{user.username}",
                     detail={"role": role})
        where = "every school" if school is None else f"school {school.code} ({school.name})"
        print(f"created {role} {user.username} for {where}")
    return 0


def run_add_teacher(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from attendance.db.models import SchoolClass
    from attendance.directory import find_school
    from attendance.users import create_user, record_audit, set_teacher_classes

    password = read_password(args.password_file)
    with Database.open(settings.resolved_database_url) as database, database.session() as session:
        school = find_school(session, args.school)
        class_ids = []
        for code in args.classes:
            school_class = session.scalars(select(SchoolClass).where(
                SchoolClass.school_id == school.id, SchoolClass.code == code.strip().upper())
                .order_by(SchoolClass.school_year.desc())).first()
            if school_class is None:
                raise NotFound(f"school {school.code} has no class {code!r}")
            class_ids.append(school_class.id)
        user = create_user(session, args.username, password, "teacher", school.id, full_name=args.full_name,
                           language=settings.default_language)
        set_teacher_classes(session, user, class_ids)
        record_audit(session, "cli", "user.create", school_id=school.id, target=f"user:{user.username}",
                     detail={"role": "teacher", "classes": [c.upper() for c in args.classes]})
        classes = ", ".join(c.code for c in user.classes) or "no class yet"
        print(f"created teacher {user.username} of {classes} in school {school.code}")
    return 0


def parse_workers(text: str) -> int:
    """``--workers``: a whole number of processes from 1 to MAX_WORKERS."""
    if not text.isdigit() or not 1 <= int(text) <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"a number of processes from 1 to {MAX_WORKERS}, got {text!r}")
    return int(text)


def check_workers(workers: int, database_url: str) -> None:
    """Refuse several processes where they cannot work: InvalidInput on SQLite (a school PC runs one
    process; its database lets one writer at a time) or without ``os.fork`` (Windows)."""
    if workers == 1:
        return
    if database_url.startswith("sqlite"):
        raise InvalidInput(f"--workers {workers} needs PostgreSQL (ATTENDANCE_DATABASE_URL): a school PC on "
                           "SQLite runs one dashboard process")
    if not hasattr(os, "fork"):
        raise InvalidInput(f"--workers {workers} needs Linux or macOS: on Windows run one dashboard process "
                           "per service, each on its own port, behind the proxy")


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    check_workers(args.workers, settings.resolved_database_url)
    if args.workers > 1:
        return serve_workers(args, settings)
    from waitress import serve

    from dashboard.app import create_app

    app = create_app(settings)
    announce(args, settings)
    serve(app, host=args.host, port=args.port, **SERVER_OPTIONS)
    return 0


def announce(args: argparse.Namespace, settings: Settings) -> None:
    url_host = f"[{args.host}]" if ":" in args.host else args.host
    processes = f" in {args.workers} processes" if args.workers > 1 else ""
    print(f"dashboard running at http://{url_host}:{args.port}/{processes} (Ctrl+C to stop)", flush=True)
    local = args.host in ("127.0.0.1", "localhost", "::1")
    if not settings.session_cookie_secure and not local:
        print("warning: session_cookie_secure is off: put HTTPS in front of the dashboard", file=sys.stderr)
    if settings.session_cookie_secure and not local:
        print("note: the session cookie is HTTPS-only; browse through your HTTPS proxy, or set "
              "ATTENDANCE_SESSION_COOKIE_SECURE=0 for a demo on a trusted network", file=sys.stderr)


def serve_workers(args: argparse.Namespace, settings: Settings) -> int:
    """``--workers N``: bind once, then N forked processes each build the app and serve (``dashboard.prefork``).

    What the processes must share is made here first, once: the session secret (``instance/secret_key``)
    and the schema of a new database; the data key is made by the CLI before any command. The app is built
    once here too, without its background thread, and thrown away: a setting or database it cannot use is
    one error now rather than children failing in turn, and the modules it imports are loaded before the
    fork (the children start faster and share those pages). Each child then builds its own app, with its
    own database engine, after the fork.
    """
    from waitress.server import create_server

    from dashboard.app import load_or_create_secret, create_app
    from dashboard.prefork import bind_socket, serve_forked

    try:  # bound first: connections made while the processes start wait in the backlog, none is refused
        sock = bind_socket(args.host, args.port)
    except OSError as err:
        raise InvalidInput(f"cannot listen on {args.host}:{args.port}: {err.strerror}") from err

    def run_child(listening: socket.socket) -> None:
        create_server(create_app(settings), sockets=[listening], **SERVER_OPTIONS).run()

    with sock:
        instance = Path(settings.instance_path).resolve()
        instance.mkdir(parents=True, exist_ok=True)
        if not settings.secret_key:
            load_or_create_secret(instance)
        with Database.open(settings.resolved_database_url) as database:  # a new database gets its schema
            create_app(settings, test_config={"TESTING": True}, database=database)
        announce(args, settings)
        return serve_forked(sock, args.workers, run_child)
