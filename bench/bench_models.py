"""Every installed detector + embedder pair on the LFW open-set split, plus YuNet vs HOG on video frames.

Usage: ``python -m bench.bench_models [--models-dir DIR ...] [--extras] [--frames N] [--only TEXT ...]``

Model files are looked up by their manifest file name in each ``--models-dir`` (default: the instance's
``models`` folder, ``.cache/bench/models``, then ``../shared/models``); every installed embedder of the
manifest is measured (bench/pipelines.py). Decision rule: ``Gallery.search`` with the nearest-template
rule and ``OperatingPoint(threshold, margin)``. FNIR = known probes not named correctly (no face found
included); FPIR = unknown probes given any name. "at FPIR x" sweeps the threshold with margin 0.
One thread everywhere (the benchmark machine is shared). ``--extras`` adds the alignment-mismatch and
flip-averaging rows.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from attendance.faces.engine import FaceEngine
from attendance.gallery import Gallery, OperatingPoint
from bench.operating_point import rates, score_half, split_indices
from bench.lfw_cache import SHARED_FACES, embed_split, measure_stage_ms, read_split
from bench.pipelines import DEFAULT_MODEL_DIRS, Pipeline, build_pipelines, dlib_files, find_model_file
from models.manifest import load_manifest

VIDEO_DIR = SHARED_FACES / "video"
HAMILTON = VIDEO_DIR / "short_hamilton_clip.mp4"
FPIR_POINTS = (0.003, 0.01)


def build_pairs(dirs: list[Path], extras: bool) -> list[Pipeline]:
    """Every installed embedder's pipeline (bench/pipelines.py), plus the ``--extras`` variants."""
    from attendance.faces import zoo
    from attendance.faces.dlib_models import DlibHogDetector, DlibLandmarker

    pairs = build_pipelines(dirs)
    manifest = load_manifest()
    entry = manifest["mobilefacenet_paddlex"]
    yunet_path = find_model_file(manifest["yunet_2023mar"].file, dirs)
    path = find_model_file(entry.file, dirs)
    if not extras or path is None or yunet_path is None:
        return pairs
    yunet = zoo.build_detector(manifest["yunet_2023mar"], yunet_path)
    hog = DlibHogDetector(upsample=1)
    embedder = zoo.build_embedder(entry, path, threads=1)
    shape5, shape68 = dlib_files("shape_predictor_5_face_landmarks.dat", "shape_predictor_68_face_landmarks.dat")
    base = repr((entry.input, entry.flip, entry.chip_size_px))

    def add(name, detector, landmarker, variant_embedder, variant, files):
        settings = base + variant + repr(getattr(variant_embedder, "flip", ""))
        pairs.append(Pipeline(name, entry, FaceEngine(detector, landmarker, variant_embedder),
                              f"extra-{entry.id}{variant}", [path, *files], settings))

    add("  + flip averaging" if not entry.flip else "  without flip averaging", yunet,
        zoo.build_landmarker(yunet, embedder), zoo.build_embedder(entry, path, flip=not entry.flip, threads=1),
        "-noflip" if entry.flip else "-flip", [yunet_path])
    add(f"HOG + 68-pt landmarks + {entry.id}", hog, zoo.build_landmarker(hog, embedder), embedder, "-hog68", [shape68])
    add(f"HOG + YuNet-on-region landmarks + {entry.id}", hog, zoo.build_landmarker(hog, embedder, yunet_path),
        embedder, "-yunetregion", [yunet_path])
    add("  mismatch: dlib 5-pt chip resized to 112", hog, DlibLandmarker(), _DlibChipEmbedder(embedder),
        "-dlibchip", [shape5])
    add("  mismatch: eyes + nose base only (3 pts)", hog, DlibLandmarker(), _ThreePointEmbedder(embedder),
        "-3pt", [shape5])
    return pairs


class _DlibChipEmbedder:
    """A wrong alignment on purpose: dlib's 150 px chip (padding 0.25) shrunk to 112 px."""

    def __init__(self, inner) -> None:
        self.inner, self.model_id, self.dim, self.metric, self.chip_size = inner, inner.model_id, inner.dim, "cosine", 112

    def align(self, image_rgb, landmarks, box):
        from attendance.faces.dlib_models import align_dlib_chip

        return cv2.resize(align_dlib_chip(image_rgb, landmarks, box), (112, 112), interpolation=cv2.INTER_AREA)

    def embed(self, chips):
        return self.inner.embed(chips)


class _ThreePointEmbedder(_DlibChipEmbedder):
    """A wrong alignment on purpose: dlib's eye centres and nose *base* put on the template's eyes and nose tip."""

    def align(self, image_rgb, landmarks, box):
        from attendance.faces.arcface import similarity_transform
        from attendance.faces.landmarks import ARCFACE_TEMPLATE_112, eyes_and_nose

        left, right, nose = eyes_and_nose(landmarks)
        matrix = similarity_transform(np.stack([left, right, nose]), ARCFACE_TEMPLATE_112[:3])
        return cv2.warpAffine(image_rgb, matrix, (112, 112), flags=cv2.INTER_LINEAR)


def open_set(vectors, found, rows, engine, threshold, margin):
    """FNIR at each FPIR point (threshold sweep, margin 0) and (FNIR, FPIR) at the default point; templates
    combine as the model's manifest entry says (mean template for dlib's ResNet, nearest for the others)."""
    from attendance.recognition import combine_rule_for

    enroll = [i for i, r in enumerate(rows) if r.role == "enroll" and found[i]]
    gallery = Gallery(engine.embedder.model_id, engine.embedder.metric, vectors[enroll],
                      [rows[i].identity for i in enroll], combine=combine_rule_for(engine.embedder.model_id))
    known = np.array([i for i, r in enumerate(rows) if r.role == "probe_known"])
    unknown = np.array([i for i, r in enumerate(rows) if r.role == "probe_unknown"])

    def decide(indices):
        ok = found[indices]
        matches = gallery.search(vectors[indices[ok]], OperatingPoint(float("inf"), 0.0))
        dist = np.full(len(indices), np.inf)
        gap = np.zeros(len(indices))
        right = np.zeros(len(indices), bool)
        dist[ok] = [m.distance for m in matches]
        gap[ok] = [m.margin for m in matches]
        right[ok] = [m.best_key == rows[i].identity for m, i in zip(matches, indices[ok])]
        return dist, gap, right

    k_dist, k_gap, k_right = decide(known)
    u_dist, u_gap, _ = decide(unknown)
    curve = {}
    for fpir in FPIR_POINTS:
        allowed = int(np.floor(fpir * len(unknown)))
        ordered = np.sort(u_dist)
        t = np.nextafter(ordered[allowed], -np.inf) if allowed < len(ordered) else np.inf
        curve[fpir] = 1.0 - float(np.mean(k_right & (k_dist <= t)))
    named_known = k_right & (k_dist <= threshold) & (k_gap >= margin)
    named_unknown = (u_dist <= threshold) & (u_gap >= margin)
    return curve, 1.0 - float(named_known.mean()), float(named_unknown.mean()), (k_dist, k_gap, k_right, u_dist, u_gap)


def threshold_grid(decisions, thresholds, margins=(0.0, 0.02, 0.035, 0.05, 0.08)) -> list[str]:
    """FNIR / FPIR (in %) over a grid of thresholds (rows) and margins (columns), for choosing a default."""
    k_dist, k_gap, k_right, u_dist, u_gap = decisions
    lines = ["threshold | " + " | ".join(f"m={m:g} FNIR/FPIR" for m in margins)]
    for t in thresholds:
        cells = []
        for m in margins:
            fnir = 1.0 - np.mean(k_right & (k_dist <= t) & (k_gap >= m))
            fpir = np.mean((u_dist <= t) & (u_gap >= m))
            cells.append(f"{fnir:6.1%} / {fpir:5.2%}")
        lines.append(f"{t:.3f} | " + " | ".join(cells))
    return lines


def read_frames(path: Path, limit: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < limit:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def ms_per_frame(engine: FaceEngine, frames: list[np.ndarray]) -> float:
    engine.find_faces(frames[0])  # warm-up
    started = time.perf_counter()
    for frame in frames:
        engine.find_faces(frame)
    return (time.perf_counter() - started) * 1000.0 / len(frames)


def detection_table(detectors, limit: int) -> list[str]:
    clips = sorted((VIDEO_DIR / "intel").glob("*.mp4")) + [HAMILTON]
    lines = ["| clip | frames | detector | frames with a face | faces per frame | ms per frame |", "|---|---|---|---|---|---|"]
    for clip in clips:
        frames = read_frames(clip, limit)
        for name, detector in detectors:
            detector.detect(frames[0])
            started = time.perf_counter()
            counts = [len(detector.detect(f)) for f in frames]
            ms = (time.perf_counter() - started) * 1000.0 / len(frames)
            lines.append(f"| {clip.name} | {len(frames)} | {name} | {np.mean(np.array(counts) > 0):.0%} | "
                         f"{np.mean(counts):.2f} | {ms:.1f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", action="append", type=Path, default=None)
    parser.add_argument("--extras", action="store_true", help="alignment-mismatch and flip-averaging rows")
    parser.add_argument("--frames", type=int, default=300, help="most frames per clip for the timing rows")
    parser.add_argument("--grid", action="store_true", help="FNIR/FPIR over thresholds and margins, per pair")
    parser.add_argument("--only", action="append", default=None, metavar="TEXT",
                        help="measure only the pairs whose name contains TEXT (repeatable); skips the detector table")
    parser.add_argument("--time-sample", type=int, default=40, help="photos timed fresh per pair")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    dirs = args.models_dir or list(DEFAULT_MODEL_DIRS)
    rows = read_split()
    identities, roles = [r.identity for r in rows], [r.role for r in rows]
    half_b = split_indices(identities)["B"]
    frames = read_frames(HAMILTON, min(args.frames, 60))
    print("FNIR @ FPIR x: the threshold chosen on the whole LFW split and measured on it (an oracle, optimistic).")
    print("default: the manifest's point, chosen on LFW half A (bench/operating_point.py), measured on half B.")
    print(f"ms: measured in this run on {args.time_sample} photos (never cached), one thread.")
    table = ["| pair | no face | FNIR @ FPIR 0.3% (oracle) | FNIR @ FPIR 1% (oracle) | default (t, m) | FNIR (half B) | "
             "FPIR (half B) | ms/face | ms per 640x360 frame |", "|---|---|---|---|---|---|---|---|---|"]
    pairs = [p for p in build_pairs(dirs, args.extras) if not args.only or any(t in p.name for t in args.only)]
    for pair in pairs:
        entry = pair.entry
        vectors, found = embed_split(pair.engine, rows, pair.cache_name, model_files=pair.model_files,
                                     settings=pair.settings)
        curve, _, _, decisions = open_set(vectors, found, rows, pair.engine, entry.threshold, entry.margin)
        held_out = rates(score_half(vectors, found, identities, roles, half_b, entry.metric, entry.combine),
                         OperatingPoint(entry.threshold, entry.margin))
        if args.grid:
            around = np.arange(entry.threshold - 0.1, entry.threshold + 0.1001, 0.01)
            print(pair.name, "\n" + "\n".join(threshold_grid(decisions, around)))
        stage_ms = measure_stage_ms(pair.engine, rows, sample=args.time_sample)
        per_face = stage_ms["landmarks_align_ms_per_face"] + stage_ms["embed_ms_per_face"]
        frame_ms = ms_per_frame(pair.engine, frames)
        table.append(f"| {pair.name} | {1 - found.mean():.1%} | {curve[0.003]:.1%} | {curve[0.01]:.1%} | "
                     f"({entry.threshold:g}, {entry.margin:g}) | {held_out['fnir']:.1%} | {held_out['fpir']:.2%} | "
                     f"{per_face:.1f} | {frame_ms:.0f} |")
        print(table[-1], file=sys.stderr, flush=True)
    print("\n".join(table))
    if args.only:
        return 0
    from attendance.faces.dlib_models import DlibHogDetector

    manifest = load_manifest()
    yunet_path = find_model_file(manifest["yunet_2023mar"].file, dirs)
    detectors = [("dlib HOG (upsample 1)", DlibHogDetector(upsample=1))]
    if yunet_path is not None:
        from attendance.faces.zoo import build_detector

        detectors.append(("YuNet", build_detector(manifest["yunet_2023mar"], yunet_path)))
    print()
    print("\n".join(detection_table(detectors, args.frames)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
