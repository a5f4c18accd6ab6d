"""``attendance gallery rebuild``: templates for a newly installed model from the kept enrollment photos."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from attendance import models_manager
from attendance.db import Database
from attendance.directory import find_school
from attendance.faces.factory import build_face_engine
from attendance.rebuild import rebuild_templates
from attendance.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    gallery = subparsers.add_parser("gallery", help="face templates").add_subparsers(
        dest="gallery_command", required=True, metavar="SUBCOMMAND")
    rebuild = gallery.add_parser(
        "rebuild", parents=[common], help="compute a model's templates from the kept enrollment photos",
        description="For every kept enrollment photo without a template of the model, compute one. Without "
                    "--model: every installed embedder. Lists students whose photos were not kept.",
    )
    rebuild.add_argument("--model", metavar="ID", help="model id (see `attendance models list`)")
    rebuild.add_argument("--school", metavar="CODE", help="one school only (default: every school)")
    rebuild.add_argument("--quiet", action="store_true", help="no progress bar")
    rebuild.set_defaults(handler=run_rebuild)


def run_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    """Exit status 0, or 1 when some photo gave no template or some student has no kept photo."""
    models = [args.model] if args.model else [e.id for e in models_manager.installed_embedders(settings)]
    incomplete = False
    with Database.open(settings.resolved_database_url) as database:
        for model in models:
            engine = build_face_engine(settings, model=model)
            with database.session() as session:
                school_id = find_school(session, args.school).id if args.school else None
                with tqdm(desc=f"rebuilding {engine.model_id}", unit="photo", disable=args.quiet or None,
                          file=sys.stderr) as bar:
                    def show(done: int, total: int) -> None:
                        bar.total = total
                        bar.update(done - bar.n)
                    report = rebuild_templates(session, engine, settings.instance_path, school_id=school_id,
                                               progress=show)
            print(f"{report.model_id}: {report.templates_added} templates added")
            for line in report.photos_failed:
                print(f"  no template from {line}")
            if report.students_without_kept_photos:
                print(f"  {len(report.students_without_kept_photos)} students have no kept photo for this model "
                      "(enroll a new photo of each):")
                for student in report.students_without_kept_photos:
                    print(f"    {student}")
            incomplete |= bool(report.photos_failed or report.students_without_kept_photos)
    return 1 if incomplete else 0
