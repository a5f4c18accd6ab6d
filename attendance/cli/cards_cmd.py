"""``attendance cards``: print students' QR cards (a class's PDF sheet, one card as a PNG) and revoke them."""

from __future__ import annotations

import argparse
from pathlib import Path

from attendance.card_print import card_face_of, class_card_faces, find_class, find_card_font, render_card_png, render_sheet_pdf
from attendance.cards import revoke_card, rotate_school_secret
from attendance.db import Database
from attendance.directory import find_school, find_student
from attendance.errors import AttendanceError, NotFound
from attendance.settings import Settings
from attendance.users import record_audit


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    cards = subparsers.add_parser(
        "cards", parents=[common], help="print QR cards: a class's PDF sheet, or one student's card as a PNG",
        description="Each card carries the student's name, class, code and a QR code signed with the school's "
                    "card secret (kept on the server): the gate camera reads it as a check-in of source qr. "
                    "--revoke invalidates a student's printed cards; --rotate-secret every card of the school.",
    )
    cards.add_argument("student_code", nargs="?", metavar="CODE", help="one student's code (with --png)")
    cards.add_argument("--school", metavar="CODE", help="school code (default: the only school)")
    cards.add_argument("--class", dest="class_code", metavar="CLASS", help="a class code (with --pdf)")
    cards.add_argument("--pdf", metavar="FILE", help="write the class's sheet of cards as PDF")
    cards.add_argument("--png", metavar="FILE", help="write the student's card as PNG")
    cards.add_argument("--revoke", action="store_true", help="revoke CODE's printed cards (print the new one)")
    cards.add_argument("--rotate-secret", action="store_true", help="revoke every card of the school")
    cards.set_defaults(handler=run_cards)


def run_cards(args: argparse.Namespace, settings: Settings) -> int:
    """Exit status 0; errors (no such class or student, no font) go to the CLI's one-line handler."""
    if not (args.pdf and args.class_code) and not (args.png and args.student_code) \
            and not (args.revoke and args.student_code) and not args.rotate_secret:
        raise AttendanceError("give --class CLASS --pdf FILE, or CODE --png FILE, or CODE --revoke, or --rotate-secret")
    font = find_card_font(settings.card_font_path) if (args.pdf or args.png) else None
    with Database.open(settings.resolved_database_url) as database, database.session() as session:
        school = find_school(session, args.school)
        if args.rotate_secret:
            rotate_school_secret(session, school)
            record_audit(session, "cli", "cards.rotate_secret", school_id=school.id, target=f"school:{school.code}")
            print(f"{school.code}: every card printed before is revoked; print the classes' sheets again")
        student = None
        if args.student_code:
            student = find_student(session, school, args.student_code)
            if student is None:
                raise NotFound(f"no student {args.student_code!r} in school {school.code}")
        if args.revoke and student is not None:
            card = revoke_card(session, student)
            record_audit(session, "cli", "cards.revoke", school_id=school.id, target=f"student:{student.student_code}",
                         detail={"card_version": card.version})
            print(f"{student.student_code}: cards before version {card.version} are revoked")
        if args.png and student is not None and font is not None:
            Path(args.png).write_bytes(render_card_png(card_face_of(session, student), font))
            print(f"{student.student_code}: card written to {args.png}")
        if args.pdf and args.class_code and font is not None:
            faces = class_card_faces(session, find_class(session, school, args.class_code))
            Path(args.pdf).write_bytes(render_sheet_pdf(faces, font, title=f"{school.code} {args.class_code}"))
            print(f"{args.class_code}: {len(faces)} cards written to {args.pdf}")
        session.commit()
    return 0
