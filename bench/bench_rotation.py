"""Recognition of tilted heads: FNIR/FPIR on LFW probes rotated in the image plane, enrolled from upright photos.

Usage: ``python -m bench.bench_rotation [--models-dir DIR ...] [--angles -20 -10 0 10 20] [--every N]
[--no-upright] [--follow N]``

Gallery: the ``enroll`` rows of ../shared/faces/lfw/split.csv, upright. Probes: ``probe_known`` and
``probe_unknown`` rows rotated by each angle (degrees, counter-clockwise, about the image centre, same size,
black corners). Detector YuNet; each 112x112 model found (mobilefacenet_paddlex, mobilefacenet_foamliu) is
scored at its shipped threshold and margin from models/manifest.toml, with its shipped flip averaging, and
with the decision rule of bench_models (nearest template, FNIR counts faces not found). One detection per
photo serves every model (the landmarks do not depend on the model). ``--no-upright`` turns off the roll
correction of YuNet's landmarks; ``--every N`` keeps every Nth probe for a quick look; ``--follow N``
prints instead how much of each tilt the eye line follows on N probe photos. One thread.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import cv2
import numpy as np

from attendance.faces import zoo
from attendance.faces.engine import FaceEngine
from attendance.faces.image import load_image
from attendance.faces.landmarks import ARCFACE5, eyes_and_nose
from bench.bench_models import SHARED_MODELS, find_model_file, open_set
from bench.lfw_cache import LFW_DIR, SplitRow, pick_central_face, read_split
from models.manifest import load_manifest

MODELS = ("mobilefacenet_paddlex", "mobilefacenet_foamliu")


def rotate_image(image_rgb: np.ndarray, angle_deg: float) -> np.ndarray:
    """``image_rgb`` turned by ``angle_deg`` counter-clockwise about its centre, same size, black corners."""
    if angle_deg == 0:
        return image_rgb
    height, width = image_rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle_deg, 1.0)
    return cv2.warpAffine(image_rgb, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


class UprightMeter:
    """Wraps the engine's roll correction to time its two steps (bench-only bookkeeping): dlib's roll, paid by
    every face, and YuNet run again on the upright crop, paid by tilted faces only."""

    def __init__(self, engine: FaceEngine) -> None:
        self.upright = getattr(engine, "upright", None)
        self.reset()
        if self.upright is not None:
            self.upright.measure_roll = self._timed(self.upright.measure_roll, "roll")
            self.upright._detect_upright = self._timed(self.upright._detect_upright, "redetect")

    def reset(self) -> None:
        self.calls = {"roll": 0, "redetect": 0}
        self.ms = {"roll": 0.0, "redetect": 0.0}

    def _timed(self, inner, step: str):
        def timed(*args):
            started = time.perf_counter()
            try:
                return inner(*args)
            finally:
                self.ms[step] += (time.perf_counter() - started) * 1000.0
                self.calls[step] += 1
        return timed

    def describe(self) -> tuple[str, str]:
        """("re-detected of faces", "ms roll / ms re-detection") for the table."""
        if self.upright is None:
            return "off", "-"
        roll, redetect = self.calls["roll"], self.calls["redetect"]
        return (f"{redetect} of {roll}",
                f"{self.ms['roll'] / max(1, roll):.1f} / {self.ms['redetect'] / max(1, redetect):.1f}")


def embed_rows(engine: FaceEngine, embedders: dict, rows: list[SplitRow], angle_deg: float) -> dict:
    """{model id: (vectors (n, dim) NaN where no face, found (n,))} for ``rows`` rotated by ``angle_deg``."""
    out = {m: (np.full((len(rows), e.dim), np.nan, np.float32), np.zeros(len(rows), bool)) for m, e in embedders.items()}
    for i, row in enumerate(rows):
        image = rotate_image(load_image(LFW_DIR / row.path), angle_deg)
        face = pick_central_face(engine.find_faces(image, embed=False), image.shape)
        if face is None:
            continue
        for model_id, embedder in embedders.items():
            vectors, found = out[model_id]
            vectors[i] = embedder.embed([embedder.align(image, face.landmarks, face.box)])[0]
            found[i] = True
    return out


def measure_eye_roll(points: np.ndarray) -> float:
    """The eye line's angle in degrees (positive: the image-right eye lower) of ARCFACE5 points."""
    (lx, ly), (rx, ry), _ = eyes_and_nose(points, ARCFACE5)
    return math.degrees(math.atan2(ry - ly, rx - lx))


def follow_table(engine: FaceEngine, rows: list[SplitRow], angles: list[float]) -> list[str]:
    """How much of a tilt the eye line of the central face follows, YuNet alone and corrected (mean and sd of
    the change of its roll from the upright photo's, as a share of the tilt)."""
    upright = engine.upright
    lines = ["| tilt | YuNet alone | corrected | dlib's 5 points (the roll used) |", "|---|---|---|---|"]
    base: dict[str, tuple[float, float, float]] = {}
    for row in rows:
        image = load_image(LFW_DIR / row.path)
        engine.upright = None
        alone = pick_central_face(engine.find_faces(image, embed=False), image.shape)
        engine.upright = upright
        fixed = pick_central_face(engine.find_faces(image, embed=False), image.shape)
        if alone is not None and fixed is not None:
            base[row.path] = (measure_eye_roll(alone.landmarks), measure_eye_roll(fixed.landmarks),
                              upright.measure_roll(image, fixed.box))
    for angle in [a for a in angles if a != 0]:
        changes: list[tuple[float, float, float]] = []
        for row in rows:
            if row.path not in base:
                continue
            image = rotate_image(load_image(LFW_DIR / row.path), angle)
            engine.upright = None
            alone = pick_central_face(engine.find_faces(image, embed=False), image.shape)
            engine.upright = upright
            fixed = pick_central_face(engine.find_faces(image, embed=False), image.shape)
            if alone is None or fixed is None:
                continue
            now = (measure_eye_roll(alone.landmarks), measure_eye_roll(fixed.landmarks),
                   upright.measure_roll(image, fixed.box))
            # Turning the photo counter-clockwise by a degrees lowers the image-left eye: the roll falls by a.
            changes.append(tuple((before - after) / angle for before, after in zip(base[row.path], now)))
        share = np.array(changes)
        cells = [f"{share[:, i].mean():.0%} (sd {share[:, i].std():.0%})" for i in range(3)]
        lines.append(f"| {angle:+g} deg ({len(share)} faces) | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", action="append", type=Path, default=None)
    parser.add_argument("--angles", type=float, nargs="+", default=[-20, -10, 0, 10, 20])
    parser.add_argument("--every", type=int, default=1, help="keep every Nth probe (1: all)")
    parser.add_argument("--no-upright", action="store_true", help="without the roll correction of the landmarks")
    parser.add_argument("--follow", type=int, default=0,
                        help="instead: how much of each tilt the eye line follows, on N probe_known photos")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    dirs = args.models_dir or [Path("instance") / "models", SHARED_MODELS]
    manifest = load_manifest()
    yunet_path = find_model_file(manifest["yunet_2023mar"].file, dirs)
    if yunet_path is None:
        raise SystemExit("YuNet not found")
    embedders = {}
    for model_id in MODELS:
        path = find_model_file(manifest[model_id].file, dirs)
        if path is not None:
            embedders[model_id] = zoo.build_embedder(manifest[model_id], path, threads=1)
    detector = zoo.build_detector(manifest["yunet_2023mar"], yunet_path)
    first = next(iter(embedders.values()))
    engine = FaceEngine(detector, zoo.build_landmarker(detector, first), first)
    if args.no_upright and hasattr(engine, "upright"):
        engine.upright = None
    meter = UprightMeter(engine)

    rows = read_split()
    if args.follow:
        known = [r for r in rows if r.role == "probe_known"]
        print("\n".join(follow_table(engine, known[::max(1, len(known) // args.follow)][:args.follow], args.angles)))
        return 0
    enroll = [r for r in rows if r.role == "enroll"]
    probes = [r for r in rows if r.role != "enroll"][::args.every]
    gallery = embed_rows(engine, embedders, enroll, 0.0)
    lines = ["| model | angle | no face | FNIR | FPIR | faces turned upright | ms: detection per photo / roll / "
             "re-detection per face |", "|---|---|---|---|---|---|---|"]
    for angle in args.angles:
        meter.reset()
        engine.times.__init__()
        started = time.perf_counter()
        embedded = embed_rows(engine, embedders, probes, angle)
        elapsed_s = time.perf_counter() - started
        for model_id, embedder in embedders.items():
            vectors = np.concatenate([gallery[model_id][0], embedded[model_id][0]])
            found = np.concatenate([gallery[model_id][1], embedded[model_id][1]])
            pair_engine = FaceEngine(detector, engine.landmarker, embedder)
            entry = manifest[model_id]
            _, fnir, fpir, _ = open_set(vectors, found, enroll + probes, pair_engine, entry.threshold, entry.margin)
            corrected, per_call = meter.describe()
            per_call = f"{engine.times.ms['detect'] / max(1, engine.times.images):.1f} / {per_call}"
            lines.append(f"| {model_id} (t {entry.threshold:g}, m {entry.margin:g}) | {angle:+g} | "
                         f"{1 - embedded[model_id][1].mean():.1%} | {fnir:.1%} | {fpir:.2%} | {corrected} | {per_call} |")
            print(lines[-1], f"({elapsed_s:.0f} s)", flush=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
