"""Calibration checked on held-out faces: LFW people alone, and with East-Asian people (NUAA) among them.

Two "schools" are calibrated with ``attendance.calibration`` on their enrolment photos only: the first
``--lfw-people`` identities of ../shared/faces/lfw/split.csv (their 2 ``enroll`` photos), and the same
plus 6 of the 8 NUAA people (``--nuaa-frames`` frames each). The point chosen there is then measured on
faces calibration never saw: one ``probe_known`` photo per LFW person and other frames of the 6 NUAA
people (FNIR), ``--strangers`` LFW people never enrolled and all frames of the 2 NUAA people left out
(FPIR, each group on its own). The shipped default is measured beside it.

    python -m bench.bench_calibration [--lfw-people 120] [--strangers 200] [--nuaa-frames 4] [--target-fpir 0.001]

Vectors are cached in .cache/bench/ (keyed by the arguments and the model id); delete it to re-embed.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from attendance.calibration import calibrate
from attendance.gallery import Gallery, OperatingPoint
from attendance.recognition import get_profile

SHARED_FACES = Path(__file__).resolve().parents[1].parent / "shared" / "faces"
CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache" / "bench"
NUAA_STRANGERS = ("0007", "0008")


def pick_photos(lfw_people: int, strangers: int, nuaa_frames: int) -> list[tuple[str, str, str]]:
    """(path, identity, role) with role enroll, probe (held-out photo of an enrolled person) or stranger."""
    rows = list(csv.DictReader((SHARED_FACES / "lfw" / "split.csv").open(encoding="utf-8")))
    people = sorted({r["identity"] for r in rows if r["role"] == "enroll"})[:lfw_people]
    chosen = set(people)
    picked, probed = [], set()
    for row in rows:
        path = str(SHARED_FACES / "lfw" / row["path"])
        if row["identity"] in chosen and row["role"] == "enroll":
            picked.append((path, row["identity"], "enroll"))
        elif row["identity"] in chosen and row["role"] == "probe_known" and row["identity"] not in probed:
            probed.add(row["identity"])
            picked.append((path, row["identity"], "probe"))
    unknown = [r for r in rows if r["role"] == "probe_unknown"][:strangers]
    picked += [(str(SHARED_FACES / "lfw" / r["path"]), r["identity"], "stranger") for r in unknown]
    for person in sorted((SHARED_FACES / "nuaa" / "live").iterdir()):
        frames = sorted(person.glob("*.jpg"))
        step = max(1, len(frames) // (2 * nuaa_frames))
        spread = frames[::step][: 2 * nuaa_frames]
        identity = f"nuaa_{person.name}"
        if person.name in NUAA_STRANGERS:
            picked += [(str(f), identity, "nuaa_stranger") for f in spread]
        else:
            picked += [(str(f), identity, "nuaa_enroll") for f in spread[0::2]]
            picked += [(str(f), identity, "nuaa_probe") for f in spread[1::2]]
    return picked


def embed(photos: list[tuple[str, str, str]], cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of the main face of each photo (NaN rows where none was found), cached in ``cache``."""
    if cache.exists():
        saved = np.load(cache)
        return saved["vectors"], saved["found"]
    from attendance.faces.factory import build_face_engine
    from attendance.faces.image import load_image
    from attendance.settings import Settings, load_settings

    engine = build_face_engine(load_settings(Settings, environ={}, overrides={}))
    vectors, found = [], []
    for number, (path, _, _) in enumerate(photos, start=1):
        faces = engine.find_faces(load_image(path), embed=True)
        found.append(bool(faces))
        vectors.append(faces[0].embedding if faces else np.full(engine.embedder.dim, np.nan, np.float32))
        if number % 100 == 0:
            print(f"  embedded {number}/{len(photos)}", flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vectors=np.array(vectors, np.float32), found=np.array(found))
    return np.array(vectors, np.float32), np.array(found)


def measure(gallery: Gallery, point: OperatingPoint, vectors: np.ndarray, identities: list[str]) -> float:
    """Share of ``vectors`` named: as the wrong person for strangers, or not as themselves for probes."""
    matches = gallery.search(vectors, point)
    return float(np.mean([m.student_key is not None and m.student_key != who for m, who in zip(matches, identities)]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lfw-people", type=int, default=120)
    parser.add_argument("--strangers", type=int, default=200)
    parser.add_argument("--nuaa-frames", type=int, default=4)
    parser.add_argument("--target-fpir", type=float, default=0.001)
    parser.add_argument("--model", default="dlib_resnet_v1")
    args = parser.parse_args(argv)
    profile = get_profile(args.model)
    photos = pick_photos(args.lfw_people, args.strangers, args.nuaa_frames)
    cache = CACHE_DIR / f"calibration_{args.model}_{args.lfw_people}_{args.strangers}_{args.nuaa_frames}.npz"
    vectors, found = embed(photos, cache)
    roles = np.array([role for _, _, role in photos])
    identities = np.array([who for _, who, _ in photos])
    results = {}
    for school, enroll_roles in (("lfw_only", ("enroll",)), ("lfw_plus_nuaa", ("enroll", "nuaa_enroll"))):
        enrolled = np.isin(roles, enroll_roles) & found
        result = calibrate(args.model, profile.metric, profile.combine, vectors[enrolled], list(identities[enrolled]),
                           list(np.flatnonzero(enrolled)), current=profile.point, default=profile.point,
                           target_fpir=args.target_fpir)
        gallery = Gallery(args.model, profile.metric, vectors[enrolled], list(identities[enrolled]), combine=profile.combine)
        probes = np.isin(roles, ("probe", "nuaa_probe") if "nuaa_enroll" in enroll_roles else ("probe",)) & found
        row = {"students": result.students, "photos": result.photos, "recommended_threshold": round(result.threshold, 4),
               "expected_fpir": round(result.expected_fpir, 5), "expected_fnir": round(result.expected_fnir, 4),
               "default_expected_fpir": round(result.current_fpir, 5)}
        for name, point in (("default", profile.point), ("recommended", result.recommended)):
            matches = gallery.search(vectors[probes], point)
            row[f"{name}_heldout_fnir"] = round(float(np.mean(
                [m.student_key != who for m, who in zip(matches, identities[probes])])), 4)
            for group in ("stranger", "nuaa_stranger"):
                chosen = (roles == group) & found
                row[f"{name}_fpir_{group}s"] = round(measure(gallery, point, vectors[chosen], list(identities[chosen])), 4)
        row["heldout_probes"] = int(probes.sum())
        row["lfw_strangers"] = int(((roles == "stranger") & found).sum())
        row["nuaa_stranger_frames"] = int(((roles == "nuaa_stranger") & found).sum())
        results[school] = row
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
