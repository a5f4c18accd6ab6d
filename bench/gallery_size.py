"""How FPIR and misidentification grow with the number of enrolled people, per installed embedder.

    python -m bench.gallery_size [--models-dir DIR ...] [--only ID ...] [--sizes 25,50,100,200,0] [--draws 20]

People: every identity in ../shared/faces with two or more photos (LFW's 244 enrolled people of
split.csv, people/, five_celebrity/, bbt_grayscale/, nuaa/live/ with at most ``NUAA_FRAMES`` frames spread
over each person's sessions). Each gallery of N people is a random draw (``--draws`` per size, seeded;
size 0 = everyone, one draw); a person is enrolled from two photos (LFW: its ``enroll`` rows) and the rest
are that person's probes. Strangers: the 800 people of LFW's ``probe_unknown`` rows, the same set at every
size. Decision: each model's shipped point from models/manifest.toml (placed on LFW half A by
bench/operating_point.py), so these figures re-use half A's people: they show the growth, not a held-out rate.

FPIR: strangers given a name. Misidentified: a known person's probe named as someone else. The slope is a
least-squares line through the origin (per 100 people enrolled; FNIR: an ordinary line, it starts above 0).
The 2,000 column is **extrapolated**, not measured: ``1 - (1 - p)^2000`` with the per-person rate ``p``
fitted to the measured sizes, and, beside it, the tail model of bench/operating_point.py (step 4) on every
impostor comparison of the largest gallery.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attendance.gallery import Gallery, OperatingPoint
from bench.lfw_cache import LFW_DIR, SHARED_FACES, SplitRow, embed_split, read_split
from bench.operating_point import TailModel
from bench.pipelines import DEFAULT_MODEL_DIRS, build_pipelines

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
NUAA_FRAMES = 12
SCHOOL_SIZE = 2000
CHOSEN_ON = "LFW split.csv half A (bench/operating_point.py), the manifest's shipped point"


@dataclass
class FaceSet:
    """One folder of ../shared/faces: rows relative to ``root``, how to pick the face and pad the photo."""

    name: str
    root: Path
    rows: list[SplitRow]
    pick: str = "central"
    pad_fraction: float = 0.0


def list_folder_set(name: str, folder: str, pick: str = "central", pad_fraction: float = 0.0,
                    most: int = 0) -> FaceSet:
    """A ``<folder>/<identity>/<photo>`` set; people with fewer than two photos are left out."""
    root = SHARED_FACES / folder
    rows = []
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        photos = sorted(p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if most and len(photos) > most:
            photos = [photos[i] for i in np.linspace(0, len(photos) - 1, most).round().astype(int)]
        if len(photos) >= 2:
            rows += [SplitRow(str(p.relative_to(root)), f"{name}/{person.name}", "person") for p in photos]
    return FaceSet(name, root, rows, pick, pad_fraction)


def collect_sets() -> list[FaceSet]:
    lfw = [SplitRow(r.path, r.identity, "person" if r.role != "probe_unknown" else "stranger")
           for r in read_split()]
    return [
        FaceSet("lfw", LFW_DIR, lfw),
        list_folder_set("people", "people"),
        list_folder_set("five_celebrity", "five_celebrity", pad_fraction=0.5),
        list_folder_set("bbt_grayscale", "bbt_grayscale", pad_fraction=0.5),
        list_folder_set("nuaa", "nuaa/live", pick="largest", most=NUAA_FRAMES),
    ]


def embed_sets(pipe, sets: list[FaceSet]) -> tuple[np.ndarray, list[str], list[str], np.ndarray]:
    """(vectors of faces found, identities, kinds ('person'/'stranger'), enroll mask) over every set."""
    enroll_paths = {r.path for r in read_split() if r.role == "enroll"}
    vectors, identities, kinds, enroll = [], [], [], []
    for face_set in sets:
        # LFW shares bench.place_points' cache (same photos, same key); the other sets get their own.
        cache_name = pipe.cache_name if face_set.name == "lfw" else f"{pipe.cache_name}-{face_set.name}"
        found_vectors, found = embed_split(
            pipe.engine, face_set.rows, cache_name, face_set.root, progress=False, model_files=pipe.model_files,
            settings=pipe.settings, pick=face_set.pick, pad_fraction=face_set.pad_fraction)
        seen: dict[str, int] = {}
        for row, vector, ok in zip(face_set.rows, found_vectors, found):
            if not ok:
                continue
            vectors.append(vector)
            identities.append(row.identity)
            kinds.append(row.role)
            if face_set.name == "lfw":
                enroll.append(row.path in enroll_paths)
            else:
                seen[row.identity] = seen.get(row.identity, 0) + 1
                enroll.append(seen[row.identity] <= 2)
    return np.array(vectors, dtype=np.float32), identities, kinds, np.array(enroll)


def measure_size(vectors, identities, kinds, enroll, people: list[str], entry, point: OperatingPoint):
    """FPIR, misidentified share and FNIR with ``people`` enrolled; and the impostor distances seen."""
    identities = np.asarray(identities)
    kinds = np.asarray(kinds)
    enrolled = np.isin(identities, people)
    gallery_rows = enrolled & enroll
    gallery = Gallery(entry.model_id, entry.metric, vectors[gallery_rows], list(identities[gallery_rows]),
                      combine=entry.combine)
    probe_rows = (enrolled & ~enroll) | (kinds == "stranger")
    distances = gallery.student_distances(vectors[probe_rows])
    order = np.argsort(distances, axis=1)
    idx = np.arange(len(distances))
    best = distances[idx, order[:, 0]]
    margin = distances[idx, order[:, 1]] - best
    keys = np.array(gallery.student_keys)
    named = (best <= point.threshold) & (margin >= point.margin)
    probe_ids = identities[probe_rows]
    right = keys[order[:, 0]] == probe_ids
    known = kinds[probe_rows] == "person"
    impostor = distances[keys[None, :] != probe_ids[:, None]]
    return {
        "fpir": float(np.mean(named[~known])),
        "misidentified": float(np.mean(named[known] & ~right[known])),
        "fnir": float(1.0 - np.mean(named[known] & right[known])),
    }, impostor


def fit_per_person_rate(sizes: list[int], rates: list[float]) -> float:
    """``p`` of ``rate(N) = 1 - (1 - p)^N``, least squares on ``-ln(1 - rate) = N * -ln(1 - p)``."""
    n = np.array(sizes, dtype=float)
    y = -np.log1p(-np.minimum(np.array(rates), 0.999999))
    slope = float(np.dot(n, y) / np.dot(n, n))
    return 1.0 - math.exp(-slope)


def slope_per_100(sizes: list[int], rates: list[float]) -> float:
    """Percentage points per 100 people enrolled: a least-squares line through the origin."""
    n = np.array(sizes, dtype=float)
    return float(np.dot(n, rates) / np.dot(n, n)) * 100 * 100


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", action="append", type=Path, default=None)
    parser.add_argument("--only", action="append", default=None)
    parser.add_argument("--sizes", default="25,50,100,200,0", help="gallery sizes; 0 = every person")
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)
    sets = collect_sets()
    dirs = args.models_dir or list(DEFAULT_MODEL_DIRS)
    print(f"operating point chosen on: {CHOSEN_ON}")
    print("measured on: every identity of ../shared/faces with 2+ photos as the enrolled people (LFW enrolled "
          "people, people/, five_celebrity/, bbt_grayscale/, nuaa/live/), LFW's 800 never-enrolled people "
          "as strangers; random galleries per size")
    for pipe in build_pipelines(dirs, set(args.only) if args.only else None, log=lambda m: print(m, file=sys.stderr)):
        entry = pipe.entry
        from attendance.recognition import get_profile

        point = get_profile(entry.model_id).point
        vectors, identities, kinds, enroll = embed_sets(pipe, sets)
        everyone = sorted({i for i, k, e in zip(identities, kinds, enroll) if k == "person" and e})
        rng = np.random.default_rng(args.seed)
        sizes = [int(s) or len(everyone) for s in args.sizes.split(",")]
        results = []
        for size in sizes:
            draws = 1 if size >= len(everyone) else args.draws
            measured = [measure_size(vectors, identities, kinds, enroll,
                                     list(rng.choice(everyone, size=min(size, len(everyone)), replace=False)),
                                     entry, point) for _ in range(draws)]
            results.append({k: float(np.mean([m[0][k] for m in measured])) for k in measured[0][0]})
            impostor = measured[-1][1]
        strangers = sum(k == "stranger" for k in kinds)
        print(f"\n{pipe.name}: point ({point.threshold:g}, {point.margin:g}), {len(everyone)} people with 2+ photos, "
              f"{strangers} strangers, {args.draws} draws per size")
        header = " | ".join(f"{min(s, len(everyone))} enrolled" for s in sizes)
        print(f"| rate | {header} | slope per 100 enrolled | {SCHOOL_SIZE:,} (extrapolated, fitted p) | "
              f"{SCHOOL_SIZE:,} (extrapolated, tail model) |")
        print("|---" * (len(sizes) + 4) + "|")
        tail = TailModel(np.sort(impostor))
        n_used = [min(s, len(everyone)) for s in sizes]
        for key, label in (("fpir", "FPIR (strangers named)"), ("misidentified", "misidentified (named as another)"),
                           ("fnir", "FNIR (enrolled not named)")):
            values = [r[key] for r in results]
            cells = " | ".join(f"{v:.2%}" for v in values)
            if key == "fnir":  # misses do not start from zero: an ordinary line, with its intercept
                fnir_slope = float(np.polyfit(n_used, values, 1)[0]) * 100 * 100
                print(f"| {label} | {cells} | {fnir_slope:+.2f} pp | - | - |")
                continue
            p = fit_per_person_rate(n_used, values)
            fitted = 1 - (1 - p) ** SCHOOL_SIZE
            modelled = tail.expected_fpir(point.threshold, point.margin, SCHOOL_SIZE) if key == "fpir" else float("nan")
            modelled_cell = f"{modelled:.1%}" if key == "fpir" else "-"
            print(f"| {label} | {cells} | {slope_per_100(n_used, values):+.3f} pp | {fitted:.1%} (p = {p:.1e}) | "
                  f"{modelled_cell} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
