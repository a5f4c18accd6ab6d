"""``attendance identify`` (who is in these photos) and ``attendance faces`` (what the engine sees)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from attendance.db import Database
from attendance.directory import find_school
from attendance.errors import ImageError, ModelError
from attendance.faces.factory import BACKENDS, build_face_engine, build_liveness_checker
from attendance.faces.image import load_image
from attendance.identify import identify_faces
from attendance.operating_points import school_operating_point
from attendance.recognition import load_gallery
from attendance.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    identify = subparsers.add_parser(
        "identify", parents=[common], help="name the enrolled students in photos",
        description="For each image and face: box, student code and name (or unknown), distance, margin.",
    )
    identify.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    identify.add_argument("--json", action="store_true", help="print a JSON array, one object per image")
    identify.add_argument("--school", metavar="CODE", help="school code (default: the only school)")
    identify.add_argument("--backend", choices=BACKENDS, help="face embedder backend (default: the setting)")
    identify.add_argument("--liveness", action="store_true",
                          help="add each face's live score (MiniFASNet; a signal for review, not proof)")
    identify.set_defaults(handler=run_identify)

    faces = subparsers.add_parser(
        "faces", parents=[common], help="show detections, quality and embeddings (a debugging aid)",
    )
    faces.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    faces.add_argument("--json", action="store_true", help="print JSON")
    faces.add_argument("--backend", choices=BACKENDS, help="face embedder backend (default: the setting)")
    faces.set_defaults(handler=run_faces)


def read_images(paths: list[Path], settings: Settings) -> Iterator[tuple[Path, np.ndarray | None, str]]:
    """(path, image, "") for each readable image, (path, None, why) for each that is not: the run goes on."""
    for path in paths:
        try:
            yield path, load_image(path, max_pixels=settings.max_image_pixels), ""
        except ImageError as err:
            yield path, None, err.message


def run_identify(args: argparse.Namespace, settings: Settings) -> int:
    """Exit status 0, or 1 when some image could not be read (the others are still reported)."""
    engine = build_face_engine(settings, args.backend)
    checker = build_liveness_checker(settings) if args.liveness else None
    if args.liveness and checker is None:
        raise ModelError("no liveness model is installed (run `attendance models convert-minifasnet --dir DIR`)")
    with Database.open(settings.resolved_database_url) as database, database.session() as session:
        school = find_school(session, args.school)
        point = school_operating_point(session, settings, school.id, engine.model_id)
        gallery, students = load_gallery(session, school.id, engine.model_id)
        results: list[dict[str, Any]] = []
        for path, image, error in read_images(args.images, settings):
            if image is None:
                results.append({"image": str(path), "error": error})
                continue
            try:
                found = identify_faces(engine, gallery, point, students, image)
            except ImageError as err:  # the engine could not process it: this image's error, the run goes on
                results.append({"image": str(path), "error": err.message})
                continue
            faces = [f.as_dict() for f in found]
            if checker is not None:
                for face, result in zip(faces, checker.fill(image, [f.face for f in found])):
                    face["liveness"] = result.as_dict()
            results.append({"image": str(path), "faces": faces})
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        print_identify_table(results)
    return 1 if any("error" in r for r in results) else 0


def print_identify_table(results: list[dict]) -> None:
    for result in results:
        if "error" in result:
            print(f"{result['image']}: error: {result['error']}", file=sys.stderr)
            continue
        if not result["faces"]:
            print(f"{result['image']}: no face")
        for face in result["faces"]:
            who = f"{face['student_code']} {face['name']}" if face["student_code"] else "unknown"
            distance = "-" if face["distance"] is None else f"{face['distance']:.3f}"
            margin = "-" if face["margin"] is None else f"{face['margin']:.3f}"
            live = ""
            if "liveness" in face:
                verdict = "live" if face["liveness"]["live"] else "SUSPECTED PHOTO/SCREEN"
                live = f"  liveness={face['liveness']['score']:.3f} {verdict}"
            print(f"{result['image']}: {who}  box={face['box']}  distance={distance}  margin={margin}{live}")


def run_faces(args: argparse.Namespace, settings: Settings) -> int:
    engine = build_face_engine(settings, args.backend)
    results: list[dict[str, Any]] = []
    for path, image, error in read_images(args.images, settings):
        if image is None:
            results.append({"image": str(path), "error": error})
            continue
        try:
            faces = engine.find_faces(image, embed=True)
        except ImageError as err:
            results.append({"image": str(path), "error": err.message})
            continue
        results.append({"image": str(path), "width": image.shape[1], "height": image.shape[0], "faces": [
            {"box": [int(v) for v in f.box], "detection_score": round(f.score, 3),
             "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in f.landmarks],
             "quality": f.require_quality().as_dict(), "model_id": engine.model_id,
             "embedding": [round(float(v), 5) for v in f.require_embedding()]}
            for f in faces
        ]})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for result in results:
            if "error" in result:
                print(f"{result['image']}: error: {result['error']}", file=sys.stderr)
                continue
            print(f"{result['image']}: {result['width']}x{result['height']}, {len(result['faces'])} face(s)")
            for face in result["faces"]:
                print(f"  box={face['box']} score={face['detection_score']} {face['quality']}")
    return 1 if any("error" in r for r in results) else 0
