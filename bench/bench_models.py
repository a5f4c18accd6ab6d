"""Every installed detector + embedder pair on the LFW open-set split, plus YuNet vs HOG on video frames.

Usage: ``python -m bench.bench_models [--models-dir DIR ...] [--extras] [--frames N] [--only TEXT ...]``

Model files are looked up by their manifest file name in each ``--models-dir`` (default: the instance's
``models`` folder, then ``../shared/models``). Decision rule: ``Gallery.search`` with the nearest-template
rule and ``OperatingPoint(threshold, margin)``. FNIR = known probes not named correctly (no face found
included); FPIR = unknown probes given any name. "at FPIR x" sweeps the threshold with margin 0.
One thread everywhere (the benchmark machine is shared). ``--extras`` adds the alignment-mismatch and
flip-averaging rows.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from attendance.faces.engine import FaceEngine
from attendance.gallery import Gallery, OperatingPoint
from bench.lfw_cache import SHARED_FACES, embed_split, read_split
from models.manifest import load_manifest

SHARED_MODELS = SHARED_FACES.parent / "models"
ALIASES = {"face_detection_yunet_2023mar.onnx": "face_detection_yunet.onnx"}  # the name in ../shared/models
VIDEO_DIR = SHARED_FACES / "video"
HAMILTON = VIDEO_DIR / "short_hamilton_clip.mp4"
FPIR_POINTS = (0.003, 0.01)


@dataclass
class Pair:
    name: str
    engine: FaceEngine
    threshold: float
    margin: float
    cache_name: str


def find_model_file(file_name: str, dirs: list[Path]) -> Path | None:
    for folder in dirs:
        for name in (file_name, ALIASES.get(file_name, file_name)):
            if (folder / name).is_file():
                return folder / name
    return None


def build_pairs(dirs: list[Path], extras: bool) -> list[Pair]:
    """The engines to measure, skipping models that are not installed."""
    from attendance.faces import zoo
    from attendance.faces.dlib_models import DlibHogDetector, DlibLandmarker

    manifest = load_manifest()
    yunet_path = find_model_file(manifest["yunet_2023mar"].file, dirs)
    pairs = []

    def add(name, detector, landmarker, embedder, entry, variant=""):
        engine = FaceEngine(detector, landmarker, embedder)
        if getattr(embedder, "flip", False) and "-flip" not in variant:
            variant += "-flip"
        cache = f"models-{detector.model_id}-{landmarker.model_id}-{embedder.model_id}{variant}"
        pairs.append(Pair(name, engine, entry.threshold, entry.margin, cache))

    hog = DlibHogDetector(upsample=1)
    resnet = manifest["dlib_resnet_v1"]
    add("dlib HOG + dlib ResNet", hog, DlibLandmarker(), zoo.build_embedder(resnet), resnet)
    if yunet_path is None:
        return pairs
    yunet = zoo.build_detector(manifest["yunet_2023mar"], yunet_path)
    onnx_entry = manifest["dlib_resnet_v1_onnx"]
    onnx_path = find_model_file(onnx_entry.file, dirs)
    if onnx_path is not None:
        add("YuNet + dlib ResNet (ONNX)", yunet, DlibLandmarker(), zoo.build_embedder(onnx_entry, onnx_path, threads=1),
            onnx_entry, "-onnx")
    else:
        add("YuNet + dlib ResNet", yunet, DlibLandmarker(), zoo.build_embedder(resnet), resnet)
    for model_id in ("sface_2021dec", "mobilefacenet_foamliu", "mobilefacenet_paddlex", "intel_reid_0095"):
        entry = manifest[model_id]
        path = find_model_file(entry.file, dirs)
        if path is None:
            continue
        embedder = zoo.build_embedder(entry, path, threads=1)
        flipped = " (flip-averaged)" if entry.flip else ""
        add(f"YuNet + {model_id}{flipped}", yunet, zoo.build_landmarker(yunet, embedder), embedder, entry)
        if extras and model_id == "mobilefacenet_paddlex":
            add("  + flip averaging" if not entry.flip else "  without flip averaging", yunet,
                zoo.build_landmarker(yunet, embedder), zoo.build_embedder(entry, path, flip=not entry.flip, threads=1),
                entry)
            add(f"HOG + 68-pt landmarks + {model_id}", hog, zoo.build_landmarker(hog, embedder), embedder, entry)
            add(f"HOG + YuNet-on-region landmarks + {model_id}", hog,
                zoo.build_landmarker(hog, embedder, yunet_path), embedder, entry, "-yunetregion")
            add("  mismatch: dlib 5-pt chip resized to 112", hog, DlibLandmarker(), _DlibChipEmbedder(embedder),
                entry, "-dlibchip")
            add("  mismatch: eyes + nose base only (3 pts)", hog, DlibLandmarker(), _ThreePointEmbedder(embedder),
                entry, "-3pt")
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
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    dirs = args.models_dir or [Path("instance") / "models", SHARED_MODELS]
    rows = read_split()
    frames = read_frames(HAMILTON, min(args.frames, 60))
    table = ["| pair | no face | FNIR @ FPIR 0.3% | FNIR @ FPIR 1% | default (t, m) | FNIR | FPIR | ms/face | ms per 640x360 frame |",
             "|---|---|---|---|---|---|---|---|---|"]
    pairs = [p for p in build_pairs(dirs, args.extras) if not args.only or any(t in p.name for t in args.only)]
    for pair in pairs:
        vectors, found, stage_ms = embed_split(pair.engine, rows, pair.cache_name)
        curve, fnir, fpir, decisions = open_set(vectors, found, rows, pair.engine, pair.threshold, pair.margin)
        if args.grid:
            around = np.arange(pair.threshold - 0.1, pair.threshold + 0.1001, 0.01)
            print(pair.name, "\n" + "\n".join(threshold_grid(decisions, around)))
        per_face = stage_ms["landmarks_align_ms_per_face"] + stage_ms["embed_ms_per_face"]
        frame_ms = ms_per_frame(pair.engine, frames)
        table.append(f"| {pair.name} | {1 - found.mean():.1%} | {curve[0.003]:.1%} | {curve[0.01]:.1%} | "
                     f"({pair.threshold:g}, {pair.margin:g}) | {fnir:.1%} | {fpir:.2%} | {per_face:.1f} | {frame_ms:.0f} |")
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
