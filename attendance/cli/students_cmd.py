"""``attendance students photos|remove-photo|consent|withdraw-consent``: a student's enrolled photos, removing
one completely, their consent history, and withdrawing a guardian's consent (templates and photos deleted,
attendance kept)."""

from __future__ import annotations

import argparse

from attendance.consent import consent_history, has_recognition_consent, withdraw_consent
from attendance.db import Database
from attendance.directory import find_school, find_student
from attendance.errors import NotFound
from attendance.photos import list_photos, remove_photo
from attendance.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    students = subparsers.add_parser("students", help="students' enrolled photos").add_subparsers(
        dest="students_command", required=True, metavar="SUBCOMMAND")
    photos = students.add_parser("photos", parents=[common], help="list a student's enrolled photos")
    photos.add_argument("code", help="student code")
    photos.add_argument("--school", metavar="CODE", help="school code (default: the only school)")
    photos.set_defaults(handler=run_photos)
    remove = students.add_parser("remove-photo", parents=[common],
                                 help="delete one enrolled photo with its face templates and its file")
    remove.add_argument("code", help="student code")
    remove.add_argument("photo_id", type=int, help="the photo's id (see `attendance students photos CODE`)")
    remove.add_argument("--school", metavar="CODE", help="school code (default: the only school)")
    remove.set_defaults(handler=run_remove_photo)
    history = students.add_parser("consent", parents=[common], help="a student's consent records, newest first")
    history.add_argument("code", help="student code")
    history.add_argument("--school", metavar="CODE", help="school code (default: the only school)")
    history.set_defaults(handler=run_consent)
    withdraw = students.add_parser(
        "withdraw-consent", parents=[common],
        help="withdraw the student's consent: recognition stops at the next gallery sync, templates, photos and "
             "snapshots are deleted, attendance history stays (audited)")
    withdraw.add_argument("code", help="student code")
    withdraw.add_argument("--note", default="", help="how the withdrawal came (e.g. 'letter of 3 Nov')")
    withdraw.add_argument("--school", metavar="CODE", help="school code (default: the only school)")
    withdraw.set_defaults(handler=run_withdraw_consent)


def _student(session, args: argparse.Namespace):
    school = find_school(session, args.school)
    student = find_student(session, school, args.code.strip())
    if student is None:
        raise NotFound(f"school {school.code} has no student {args.code!r}")
    return student


def run_photos(args: argparse.Namespace, settings: Settings) -> int:
    with Database.open(settings.resolved_database_url) as database, database.session() as session:
        student = _student(session, args)
        photos = list_photos(session, student)
        print(f"# {student.student_code} {student.full_name}: {len(photos)} photo(s)")
        for photo in photos:
            templates = ", ".join(f"{model} x{count}" for model, count in sorted(photo.templates.items())) or "none"
            kept = "file kept" if photo.kept else "no file"
            print(f"{photo.photo_id}\t{photo.created_at.date().isoformat()}\t{photo.source}\t{kept}\t"
                  f"templates: {templates}\t{photo.original_name}")
    return 0


def run_remove_photo(args: argparse.Namespace, settings: Settings) -> int:
    with Database.open(settings.resolved_database_url) as database, database.session() as session:
        student = _student(session, args)
        removed = remove_photo(session, settings.instance_path, student, args.photo_id)
        print(f"removed photo {args.photo_id} of {student.student_code} and {removed} template(s)")
    return 0


def run_withdraw_consent(args: argparse.Namespace, settings: Settings) -> int:
    with Database.open(settings.resolved_database_url) as database, database.session() as session:
        student = _student(session, args)
        removal = withdraw_consent(session, settings.instance_path, student, actor="cli", note=args.note)
        print(f"consent of {student.student_code} withdrawn: removed {removal.templates} template(s), "
              f"{removal.photos} photo(s), {removal.photo_files + removal.snapshot_files} file(s); "
              "cameras stop recognising the student at their next gallery sync")
    return 0


def run_consent(args: argparse.Namespace, settings: Settings) -> int:
    with Database.open(settings.resolved_database_url) as database, database.session() as session:
        student = _student(session, args)
        records = consent_history(session, student)
        state = "recognised by the cameras" if has_recognition_consent(student) else "NOT recognised by the cameras"
        print(f"# {student.student_code} {student.full_name}: {len(records)} consent record(s); {state}")
        for record in records:
            scopes = ",".join(name for name in ("recognition", "snapshots", "photos") if getattr(record, name)) or "none"
            notice = f"notice v{record.notice.version}" if record.notice else "no notice"
            child = {True: "child agreed", False: "child refused", None: "child not asked"}[record.child_agreed]
            withdrawn = f"\twithdrawn {record.withdrawn_at.date().isoformat()}" if record.withdrawn_at else ""
            print(f"{record.id}\t{record.given_on.isoformat()}\t{record.guardian_name}\t{scopes}\t{notice}\t"
                  f"{child}{withdrawn}")
    return 0
