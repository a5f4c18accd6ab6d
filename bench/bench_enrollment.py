"""Enrollment refusals per reason on the LFW split with YuNet: which photos would a school be told to retake?

Usage: ``python -m bench.bench_enrollment [--models-dir DIR ...] [--model ID] [--blur SIGMA] [--no-upright]``

Every photo of ``../shared/faces/lfw/split.csv`` goes through the enrollment checks (``pick_enrollment_face``
at the default settings) with YuNet and the given 112x112 model's alignment; nothing is embedded or stored.
Prints the refusals per reason for the ``enroll`` rows and for all rows, and how many enrolled identities
are left with no accepted photo. ``--blur SIGMA`` also runs the ``enroll`` rows blurred (Gaussian, SIGMA px)
to show the blur gate; ``--no-upright`` turns off the roll correction of YuNet's landmarks.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from attendance.enrollment import REJECT_REASONS, choose_main_face, pick_enrollment_face
from attendance.errors import PhotoRejected
from attendance.faces.engine import FaceEngine
from attendance.faces.image import load_image
from attendance.settings import Settings, load_settings
from bench.bench_models import SHARED_MODELS, find_model_file
from bench.lfw_cache import LFW_DIR, SplitRow, read_split
from models.manifest import load_manifest


def build_engine(dirs: list[Path], model_id: str, upright: bool) -> FaceEngine:
    """YuNet + ``model_id`` (a 112x112 ArcFace-style model) from the first of ``dirs`` that has the files."""
    from attendance.faces import zoo

    manifest = load_manifest()
    yunet_path = find_model_file(manifest["yunet_2023mar"].file, dirs)
    model_path = find_model_file(manifest[model_id].file, dirs)
    if yunet_path is None or model_path is None:
        raise SystemExit(f"YuNet or {model_id} not found in {', '.join(map(str, dirs))}")
    detector = zoo.build_detector(manifest["yunet_2023mar"], yunet_path)
    embedder = zoo.build_embedder(manifest[model_id], model_path, threads=1)
    engine = FaceEngine(detector, zoo.build_landmarker(detector, embedder), embedder)
    if not upright and hasattr(engine, "upright"):
        engine.upright = None
    return engine


def count_refusals(engine: FaceEngine, settings: Settings, rows: list[SplitRow],
                   blur_sigma_px: float = 0.0) -> tuple[Counter, set[str], list[float]]:
    """(outcome per photo: "accepted" or a refusal reason, identities with at least one accepted photo,
    sharpness of each photo's main face)."""
    outcomes: Counter = Counter()
    accepted: set[str] = set()
    sharpness: list[float] = []
    for row in rows:
        image = load_image(LFW_DIR / row.path)
        if blur_sigma_px > 0:
            image = cv2.GaussianBlur(image, (0, 0), blur_sigma_px)
        faces = engine.find_faces(image, embed=False)
        try:
            sharpness.append(choose_main_face(faces, image.shape).quality.sharpness)
            pick_enrollment_face(faces, settings, image.shape)
        except PhotoRejected as refusal:
            outcomes[refusal.reason] += 1
            continue
        outcomes["accepted"] += 1
        accepted.add(row.identity)
    return outcomes, accepted, sharpness


def format_table(columns: dict[str, tuple[Counter, int, list[float]]]) -> list[str]:
    """A markdown table: one row per outcome, one column per set of photos (count and share), and the
    main face's sharpness (5th percentile / median)."""
    names = list(columns)
    lines = ["| outcome | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for outcome in ["accepted", *REJECT_REASONS]:
        cells = []
        for name in names:
            counts, total, _ = columns[name]
            cells.append(f"{counts[outcome]} ({counts[outcome] / max(1, total):.1%})")
        lines.append(f"| {outcome} | " + " | ".join(cells) + " |")
    lines.append("| photos | " + " | ".join(str(columns[n][1]) for n in names) + " |")
    lines.append("| sharpness p5 / median | " + " | ".join(
        f"{np.percentile(columns[n][2], 5):.0f} / {np.median(columns[n][2]):.0f}" for n in names) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", action="append", type=Path, default=None)
    parser.add_argument("--model", default="mobilefacenet_paddlex", help="the 112x112 model whose chips are checked")
    parser.add_argument("--blur", type=float, default=0.0, help="also check the enroll rows blurred by SIGMA px")
    parser.add_argument("--no-upright", action="store_true", help="without the roll correction of the landmarks")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    dirs = args.models_dir or [Path("instance") / "models", SHARED_MODELS]
    engine = build_engine(dirs, args.model, upright=not args.no_upright)
    settings = load_settings(Settings, environ={})
    rows = read_split()
    enroll_rows = [r for r in rows if r.role == "enroll"]
    started = time.perf_counter()
    all_counts, _, all_sharpness = count_refusals(engine, settings, rows)
    enroll_counts, enrolled, enroll_sharpness = count_refusals(engine, settings, enroll_rows)
    columns = {"enroll rows": (enroll_counts, len(enroll_rows), enroll_sharpness),
               "all rows": (all_counts, len(rows), all_sharpness)}
    if args.blur > 0:
        blurred, _, blurred_sharpness = count_refusals(engine, settings, enroll_rows, args.blur)
        columns[f"enroll rows, blur {args.blur:g} px"] = (blurred, len(enroll_rows), blurred_sharpness)
    identities = {r.identity for r in enroll_rows}
    print("\n".join(format_table(columns)))
    print(f"\nidentities with no accepted enroll photo: {len(identities - enrolled)} of {len(identities)}"
          f" ({', '.join(sorted(identities - enrolled)) or '-'})")
    print(f"{(time.perf_counter() - started):.0f} s; YuNet + {args.model}, upright {'off' if args.no_upright else 'on'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
