"""``attendance calibrate``: the operating point a school's own students call for, and applying it."""

from __future__ import annotations

import argparse
import json

from attendance import models_manager
from attendance.calibration import DEFAULT_TARGET_FPIR
from attendance.calibration_chart import write_chart
from attendance.db import Database
from attendance.directory import find_school
from attendance.operating_points import (
    apply_calibration, calibrate_school, calibration_document, reset_school_point,
)
from attendance.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    calibrate = subparsers.add_parser(
        "calibrate", parents=[common], help="recommend (and apply) a school's threshold from its own students",
        description="Measure how close photos of the same student and of different students come, for one "
                    "model, and recommend the threshold that keeps the expected rate of naming the wrong "
                    "person under --target-fpir for this school's size. --apply stores it (audited); "
                    "identify and the camera agents then use it unless match_threshold/match_margin are set.",
    )
    calibrate.add_argument("--school", metavar="CODE", help="school code (default: the only school)")
    calibrate.add_argument("--model", metavar="ID", help="model id (default: the model in use)")
    calibrate.add_argument("--target-fpir", type=float, default=DEFAULT_TARGET_FPIR, metavar="RATE",
                           help=f"largest expected share of people named as someone else (default {DEFAULT_TARGET_FPIR})")
    calibrate.add_argument("--json", action="store_true", help="print one JSON object")
    action = calibrate.add_mutually_exclusive_group()
    action.add_argument("--apply", action="store_true", help="store the recommended point for the school")
    action.add_argument("--reset", action="store_true",
                        help="remove the school's stored point: back to the model's default")
    calibrate.add_argument("--chart", metavar="FILE", help="write the distributions chart (.svg or .png)")
    calibrate.set_defaults(handler=run_calibrate)


def run_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    """Exit status 0; 2 (one line on stderr) when --apply finds too few students or an input is wrong."""
    model_id = args.model or models_manager.model_in_use(settings).model_id
    with Database.open(settings.resolved_database_url) as database, database.session() as session:
        school = find_school(session, args.school)
        if args.reset:
            removed = reset_school_point(session, school, model_id, actor="cli")
            session.commit()
            print(f"{school.code} / {model_id}: " + ("the school's point removed, the model's default applies"
                                                     if removed else "no point was stored, nothing to remove"))
            return 0
        calibration, students = calibrate_school(session, settings, school, model_id, args.target_fpir)
        document = calibration_document(school, calibration, students)
        if args.chart:
            write_chart(calibration, args.chart)
        if args.apply:
            apply_calibration(session, school, calibration, actor="cli")
            session.commit()
            document["applied"] = True
    if args.json:
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print_report(document)
    return 0


def print_report(document: dict) -> None:
    def rate(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.2f}%"

    print(f"{document['school']} / {document['model']}: {document['students']} students, {document['photos']} photos")
    print(f"  {document['message']}")
    print(f"  current:     threshold {document['current_threshold']:.3f}  margin {document['current_margin']:.3f}  "
          f"expected FPIR {rate(document['current_expected_fpir'])}  FNIR {rate(document['current_expected_fnir'])}  "
          f"(photos named as another student: {rate(document['current_observed_fpir'])})")
    print(f"  recommended: threshold {document['threshold']:.3f}  margin {document['margin']:.3f}  "
          f"expected FPIR {rate(document['expected_fpir'])}  FNIR {rate(document['expected_fnir'])}  "
          f"(photos named as another student: {rate(document['observed_fpir'])})")
    if document["closest_pairs"]:
        print("  closest pairs of different students (siblings, twins or duplicate enrolments?):")
        for pair in document["closest_pairs"]:
            print(f"    {pair['distance']:.3f}  {pair['student_a']} {pair['name_a']} (photo {pair['photo_a']})"
                  f"  ~  {pair['student_b']} {pair['name_b']} (photo {pair['photo_b']})")
    if document.get("applied"):
        print("  applied: identify and the camera agents now use the recommended point")
