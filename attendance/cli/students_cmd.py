"""``attendance students photos|remove-photo``: a student's enrolled photos, and removing one completely."""

from __future__ import annotations

import argparse

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
