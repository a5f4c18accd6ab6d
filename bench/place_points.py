"""Places every installed embedder's shipped operating point by the rule of bench/operating_point.py.

    python -m bench.place_points [--models-dir DIR ...] [--only ID ...] [--write] [--time-sample 40]

For each pipeline of bench/pipelines.py (one per installed embedder of models/manifest.toml): the LFW split's
vectors (cached, keyed by model files and code), the point chosen on LFW half A and the rates on half B,
the reverse fold, the manifest's current point measured on half B, and ms per face measured now on a
sample of photos (never from a cache). ``--write`` stores each chosen point and its ``threshold_source`` in
models/manifest.toml. Entries sharing an embedding space (``model_id``) share one point: the product reads
the first entry of a space, so the others get that entry's point, and the table says so.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from attendance.gallery import OperatingPoint
from bench.lfw_cache import embed_split, measure_stage_ms, read_split
from bench.operating_point import (
    FPIR_BUDGET, RULE_NAME, describe_source, place_point, rates, score_half, split_indices,
)
from bench.pipelines import DEFAULT_MODEL_DIRS, build_pipelines
from models.manifest import MANIFEST_PATH

CHOSEN_ON = "LFW split.csv, identity half A (sha256 of the name, even first byte)"
MEASURED_ON = "LFW split.csv, identity half B (people and strangers never used to choose)"


def write_point(text: str, entry_id: str, point: OperatingPoint, source: str) -> str:
    """``text`` (manifest.toml) with ``[models.<entry_id>]``'s threshold, margin and threshold_source replaced
    (added at the end of the entry's table when it has none yet). Raises KeyError for an unknown entry."""
    header = re.search(rf"^\[models\.{re.escape(entry_id)}\]\s*$", text, flags=re.M)
    if header is None:
        raise KeyError(entry_id)
    end = re.compile(r"^\[", flags=re.M).search(text, header.end())
    stop = end.start() if end else len(text)
    section = text[header.end():stop]
    escaped = source.replace("\\", "\\\\").replace('"', '\\"')
    for key, value in (("threshold", f"{point.threshold:g}"), ("margin", f"{point.margin:g}"),
                       ("threshold_source", f'"{escaped}"')):
        section, count = re.subn(rf"^{key} = .*$", lambda _: f"{key} = {value}", section, count=1, flags=re.M)
        if count != 1:  # an entry without that line yet: add it at the end of the entry's own table
            body = section.rstrip("\n")
            section = f"{body}\n{key} = {value}\n" + "\n" * (len(section) - len(body) - 1)
    return text[:header.end()] + section + text[stop:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", action="append", type=Path, default=None)
    parser.add_argument("--only", action="append", default=None, help="manifest ids to place (default: all installed)")
    parser.add_argument("--write", action="store_true", help="store the chosen points in models/manifest.toml")
    parser.add_argument("--time-sample", type=int, default=40, help="photos timed fresh per pipeline (0: no times)")
    args = parser.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)
    dirs = args.models_dir or list(DEFAULT_MODEL_DIRS)
    rows = read_split()
    identities = [r.identity for r in rows]
    roles = [r.role for r in rows]
    halves = split_indices(identities)
    print(f"rule: {RULE_NAME}, FPIR budget {FPIR_BUDGET:.1%} (half of it used when choosing)")
    print(f"operating point chosen on: {CHOSEN_ON}")
    print(f"rates measured on: {MEASURED_ON}")
    for half, idx in halves.items():
        people = {identities[i] for i in idx if roles[i] == "enroll"}
        strangers = sum(roles[i] == "probe_unknown" for i in idx)
        known = sum(roles[i] == "probe_known" for i in idx)
        print(f"  half {half}: {len(people)} people enrolled, {known} known probes, {strangers} strangers")
    table = ["| pipeline | threshold | margin | dev FNIR (A) | dev FPIR (A) | test FNIR (B) | test FPIR (B) | "
             "test misidentified (B) | reverse fold: point chosen on B, FNIR / FPIR on A | manifest's old point: "
             "FNIR / FPIR on B | ms per face |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    manifest_text = MANIFEST_PATH.read_text()
    space_points: dict[str, tuple[str, OperatingPoint]] = {}
    for pipe in build_pipelines(dirs, set(args.only) if args.only else None, log=lambda m: print(m, file=sys.stderr)):
        entry = pipe.entry
        vectors, found = embed_split(pipe.engine, rows, pipe.cache_name, model_files=pipe.model_files,
                                     settings=pipe.settings)
        placement = place_point(vectors, found, identities, roles, entry.metric, entry.combine)
        choice, test = placement.folds["A"]
        note = ""
        shared = space_points.get(entry.model_id)
        if shared is not None and shared[1] != choice.point:
            note = f" (own choice {choice.point.threshold:g}/{choice.point.margin:g}; ships {shared[0]}'s point)"
            test_b = score_half(vectors, found, identities, roles, halves["B"], entry.metric, entry.combine)
            test_a = score_half(vectors, found, identities, roles, halves["A"], entry.metric, entry.combine)
            point = shared[1]
            test, dev_rates = rates(test_b, point), rates(test_a, point)
        else:
            point, dev_rates = choice.point, choice.dev
            space_points.setdefault(entry.model_id, (entry.id, point))
        reverse, reverse_test = placement.folds["B"]
        old = rates(score_half(vectors, found, identities, roles, halves["B"], entry.metric, entry.combine),
                    OperatingPoint(entry.threshold, entry.margin))
        ms = ""
        if args.time_sample > 0:
            stage = measure_stage_ms(pipe.engine, rows, sample=args.time_sample)
            ms = f"{stage['landmarks_align_ms_per_face'] + stage['embed_ms_per_face']:.1f}"
        table.append(
            f"| {pipe.name}{note} | {point.threshold:g} | {point.margin:g} | {dev_rates['fnir']:.1%} | "
            f"{dev_rates['fpir']:.2%} ({dev_rates['strangers_named']}/{dev_rates['strangers']}) | {test['fnir']:.1%} | "
            f"{test['fpir']:.2%} ({test['strangers_named']}/{test['strangers']}) | {test['misidentified']:.2%} | "
            f"({reverse.point.threshold:g}, {reverse.point.margin:g}): {reverse_test['fnir']:.1%} / "
            f"{reverse_test['fpir']:.2%} | ({entry.threshold:g}, {entry.margin:g}): {old['fnir']:.1%} / "
            f"{old['fpir']:.2%} | {ms} |")
        print(table[-1], file=sys.stderr, flush=True)
        if args.write:
            source = describe_source(placement, pipe.name) if not note else (
                f"as {shared[0]} (same embedding space); {pipe.name} on LFW half B at that point: "
                f"FNIR {test['fnir']:.1%}, FPIR {test['fpir']:.2%}")
            manifest_text = write_point(manifest_text, entry.id, point, source)
    print("\n" + "\n".join(table))
    if args.time_sample > 0:
        print(f"\nms per face: landmarks + alignment + embedding, one thread, measured in this run on "
              f"{args.time_sample} LFW photos per pipeline (no cached timings)")
    if args.write:
        MANIFEST_PATH.write_text(manifest_text)
        print(f"wrote the chosen points to {MANIFEST_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
