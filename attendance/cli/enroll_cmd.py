"""``attendance enroll``: bulk enrollment of student photos from a folder or a CSV roster."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from attendance.db import Database
from attendance.db.models import utcnow
from attendance.consent import ConsentAnswer
from attendance.directory import get_or_create_class, get_or_create_school
from attendance.enrollment import REJECT_REASONS, DuplicateChecker, enroll_photo
from attendance.errors import AttendanceError, ImageError, InvalidInput, LookalikeRejected, PhotoRejected
from attendance.faces.factory import BACKENDS, build_enrollment_engines
from attendance.faces.image import read_image_bytes
from attendance.roster import RosterEntry, read_photo_folder, read_roster_csv
from attendance.settings import Settings
from attendance.students import get_or_create_student


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "enroll", parents=[common], help="enroll student photos from a folder or a CSV roster",
        description="Enroll photos laid out CLASS/STUDENT_CODE Full Name/photo.jpg, or a CSV roster "
                    "(student_code, full_name, class, photo). Exits 1 when any photo was rejected.",
    )
    add_enroll_arguments(parser)
    parser.set_defaults(handler=run_enroll)

BULK_CONSENT_NOTE = ("recorded by `attendance enroll` for a new student (without --no-consent): the school attests "
                     "it holds the signed forms, with the child's own agreement from age 7")


def add_enroll_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="photo folder, or a CSV roster file")
    parser.add_argument("--photos", type=Path, help="with a CSV: the folder its photo paths are relative to")
    parser.add_argument("--school", metavar="CODE", help="school code (default: the only school, or a new one)")
    parser.add_argument("--school-name", default="", help="name of the school, when it is created")
    parser.add_argument("--school-year", default="", help="school year of new classes, e.g. 2026-2027")
    parser.add_argument("--backend", choices=BACKENDS, help="face embedder backend (default: the setting)")
    parser.add_argument("--dry-run", action="store_true", help="check every photo, store nothing")
    parser.add_argument(
        "--no-consent", action="store_true",
        help="do not record guardian consent for new students (cameras ignore them until it is recorded); "
             "students already enrolled keep the consent on record",
    )
    parser.add_argument(
        "--allow-lookalikes", action="store_true",
        help="enroll a face very close to another student's (twins, siblings) with a warning; by default such "
             "a photo is refused, as the same photo under two students makes both unrecognisable",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def read_roster(source: Path, photos: Path | None) -> list[RosterEntry]:
    if source.is_file() and source.suffix.lower() == ".csv":
        return read_roster_csv(source, photos)
    if source.is_dir():
        return read_photo_folder(source)
    raise InvalidInput(f"{source}: give a photo folder or a .csv roster")


def run_enroll(args: argparse.Namespace, settings: Settings) -> int:
    roster = read_roster(args.source, args.photos)
    engine, *other_engines = build_enrollment_engines(settings, args.backend)
    database = Database.open(settings.resolved_database_url)
    outcomes: Counter[str] = Counter()
    students_done: set[str] = set()
    total_photos = sum(len(e.photos) for e in roster)
    bar = tqdm(total=total_photos, unit="photo", desc="enrolling", disable=args.quiet or None, file=sys.stderr)
    try:
        with database.session() as session:
            school = get_or_create_school(session, args.school, name=args.school_name, timezone=settings.timezone)
            duplicates = DuplicateChecker(session, school.id, engine.model_id, settings.duplicate_warn_distance)
            if args.dry_run:
                session.rollback()
        for entry in roster:
            with database.session() as session:
                school = get_or_create_school(session, args.school, timezone=settings.timezone)
                school_class = get_or_create_class(session, school, entry.class_code, args.school_year) if entry.class_code else None
                # Only for a new student: an existing one's consent (given or withdrawn) is the school's record.
                consent = None if args.no_consent else ConsentAnswer(
                    guardian_name="bulk enrollment", given_on=utcnow().date(), recognition=True, snapshots=True,
                    photos=True, require_child_agreement=False, note=BULK_CONSENT_NOTE)
                student, created = get_or_create_student(session, school, entry.student_code, entry.full_name,
                                                         school_class, consent=consent, actor="cli",
                                                         instance_path=settings.instance_path)
                if created and consent is not None:
                    outcomes["consent_recorded"] += 1
                if not entry.photos:
                    bar.write(f"warning: {entry.student_code} {entry.full_name}: no photos")
                for path in entry.photos:
                    outcome = enroll_one(session, [engine, *other_engines], settings, student, path, args.dry_run,
                                         duplicates, bar, allow_lookalike=args.allow_lookalikes)
                    outcomes[outcome] += 1
                    bar.update(1)
                students_done.add(entry.student_code)
                if args.dry_run:
                    session.rollback()
    finally:
        bar.close()
        database.close()
    print_summary(len(students_done), outcomes, args.dry_run)
    if outcomes["consent_recorded"] and not args.dry_run:
        print(f"guardian consent recorded for {outcomes['consent_recorded']} students (see README, Privacy)")
    return 1 if any(reason in outcomes for reason in REJECT_REASONS) else 0


def enroll_one(session, engines: list, settings: Settings, student, path: Path, dry_run: bool,
               duplicates: DuplicateChecker, bar: tqdm, allow_lookalike: bool = False) -> str:
    """Enroll one photo file with the engine in use (and the other installed models); returns "enrolled",
    "already_enrolled" or the rejection reason."""
    try:
        data = read_image_bytes(path)
        result = enroll_photo(session, engines[0], settings, student, data, source="folder", original_name=path.name,
                              dry_run=dry_run, duplicates=duplicates, other_engines=engines[1:],
                              allow_lookalike=allow_lookalike)
    except ImageError as err:
        bar.write(f"rejected {path}: {REJECT_REASONS['unreadable']} ({err.message})")
        return "unreadable"
    except LookalikeRejected as err:
        bar.write(f"rejected {path}: {REJECT_REASONS[err.reason]} ({err.detail}); if they are twins or siblings, "
                  "enroll again with --allow-lookalikes")
        return err.reason
    except PhotoRejected as err:
        detail = f" ({err.detail})" if err.detail else ""
        bar.write(f"rejected {path}: {REJECT_REASONS[err.reason]}{detail}")
        return err.reason
    for warning in result.warnings:
        bar.write(f"warning {path}: {warning}")
    return result.status


def print_summary(students: int, outcomes: Counter[str], dry_run: bool) -> None:
    rejected = sum(count for reason, count in outcomes.items() if reason in REJECT_REASONS)
    verb = "would enroll" if dry_run else "enrolled"
    print(f"{students} students; photos: {outcomes['enrolled']} {verb}, "
          f"{outcomes['already_enrolled']} already enrolled, {rejected} rejected")
    for reason in REJECT_REASONS:
        if outcomes[reason]:
            print(f"  rejected, {REJECT_REASONS[reason]}: {outcomes[reason]}")


def main(argv: list[str] | None = None) -> int:
    """``python enroll_faces.py DIR [--db URL] ...``: the same as ``attendance enroll``."""
    from attendance.cli.common import load_cli_settings
    from attendance.crypto import install_keyring, load_keyring

    parser = argparse.ArgumentParser(
        prog="enroll_faces.py",
        description="Enroll student photos laid out CLASS/STUDENT_CODE Full Name/photo.jpg, or a CSV roster.",
    )
    parser.add_argument("--config", metavar="FILE", help="TOML settings file")
    parser.add_argument("--db", metavar="URL", help="database URL (default: the database_url setting)")
    add_enroll_arguments(parser)
    args = parser.parse_args(argv)
    try:
        settings = load_cli_settings(args)
        install_keyring(load_keyring(settings))  # templates and kept photos are sealed at rest
        return run_enroll(args, settings)
    except AttendanceError as err:
        print(f"enroll_faces.py: {err.message}", file=sys.stderr)
        return 2
