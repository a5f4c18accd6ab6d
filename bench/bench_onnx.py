"""Benchmark dlib's ResNet descriptor against its ONNX conversion, one thread, on real face chips.

Chips: every face dlib's HOG detector finds in ../shared/faces/people/ and probes/, aligned with
dlib.get_face_chip(size=150, padding=0.25).  Each engine runs in its own process and reports its
own peak resident memory (VmHWM, which exec resets; not ru_maxrss, which inherits the parent's).
Prints a markdown table and the parity (max/mean abs diff).

    python bench/bench_onnx.py [--rounds 3] [--model PATH.onnx] [--json OUT.json]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one thread, before numpy/dlib load
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
FACES_DIR = REPO_ROOT.parent / "shared" / "faces"
BATCH_SIZES = (8, 32)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def list_images(faces_dir: Path, lfw_sample: int = 0) -> list[Path]:
    """people/ and probes/ images, plus ``lfw_sample`` LFW images spread evenly over the sorted list."""
    own = sorted(p for d in ("people", "probes") for p in (faces_dir / d).rglob("*")
                 if p.suffix.lower() in IMAGE_SUFFIXES)
    if lfw_sample <= 0:
        return own
    lfw = sorted((faces_dir / "lfw").rglob("*.jpg"))
    return own + lfw[:: max(1, len(lfw) // lfw_sample)][:lfw_sample]


def collect_chips(images: list[Path]) -> np.ndarray:
    """Return (n, 150, 150, 3) uint8 RGB chips of every face found (HOG + 5 points + get_face_chip)."""
    import cv2
    import dlib

    from attendance.faces.dlib_models import locate_dlib_model

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(locate_dlib_model("shape_predictor_5_face_landmarks.dat")))
    chips = []
    for path in images:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        image = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        for rect in detector(image, 1 if max(image.shape[:2]) < 640 else 0):
            chips.append(dlib.get_face_chip(image, predictor(image, rect), size=150, padding=0.25))
    return np.stack(chips).astype(np.uint8)


def read_peak_rss_mib() -> float:
    """Return this process's own peak resident memory in MiB.

    Linux: ``VmHWM`` of /proc/self/status, the high-water mark of this process's address space since its
    exec. Not ``ru_maxrss``: exec carries the forking parent's high-water mark into it, so every worker
    spawned by a parent holding dlib and the chips would report at least the parent's peak. Elsewhere
    ``ru_maxrss`` (bytes on macOS, KiB on the BSDs), which may include the parent's.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def time_per_face_ms(run, chips: np.ndarray, batch_size: int, rounds: int) -> float:
    """Return milliseconds per face for ``run(list_of_chips)`` over full batches cycled from ``chips``."""
    n_batches = max(1, -(-len(chips) // batch_size))
    index = np.arange(n_batches * batch_size) % len(chips)
    batches = [list(chips[index[i : i + batch_size]]) for i in range(0, len(index), batch_size)]
    run(batches[0])  # warm-up: first-run allocations, kernel selection
    start = time.perf_counter()
    for _ in range(rounds):
        for batch in batches:
            run(batch)
    return 1000.0 * (time.perf_counter() - start) / (rounds * len(index))


def compute_dlib_descriptors(chips: np.ndarray) -> np.ndarray:
    """Return dlib's descriptors (n, 128) float32, one compute_face_descriptor call per chip."""
    import dlib

    from models.dlib_onnx import default_dat_path

    model = dlib.face_recognition_model_v1(str(default_dat_path()))
    return np.array([np.array(model.compute_face_descriptor(np.ascontiguousarray(c))) for c in chips], dtype=np.float32)


def run_dlib_worker(chips: np.ndarray, rounds: int) -> tuple[dict, np.ndarray]:
    """Time dlib one face per call and all faces in one call; return (results, descriptors)."""
    import dlib

    from models.dlib_onnx import default_dat_path

    model = dlib.face_recognition_model_v1(str(default_dat_path()))

    def run_one_by_one(batch):
        return [model.compute_face_descriptor(np.ascontiguousarray(c)) for c in batch]

    def run_batched(batch):
        return model.compute_face_descriptor([np.ascontiguousarray(c) for c in batch])

    rows = [
        {"engine": "dlib", "mode": "single", "ms_per_face": time_per_face_ms(run_one_by_one, chips, 1, rounds)},
        {"engine": "dlib", "mode": f"batch {len(chips)}",
         "ms_per_face": time_per_face_ms(run_batched, chips, len(chips), rounds)},
    ]
    return {"rows": rows, "peak_rss_mib": read_peak_rss_mib()}, compute_dlib_descriptors(chips)


def run_onnx_worker(
    chips: np.ndarray, rounds: int, model_path: Path, provider: str, options: dict
) -> tuple[dict, np.ndarray]:
    """Time the ONNX embedder single and batched on ``provider`` (1 thread on CPU)."""
    from attendance.faces.onnx_resnet import OnnxResnetEmbedder

    embedder = OnnxResnetEmbedder(model_path, providers=[provider], threads=1, provider_options=options)
    label = f"onnx {embedder.providers[0].replace('ExecutionProvider', '')}"
    rows = [{"engine": label, "mode": "single", "ms_per_face": time_per_face_ms(embedder.embed, chips, 1, rounds)}]
    for size in BATCH_SIZES:
        ms_per_face = time_per_face_ms(embedder.embed, chips, size, rounds)
        rows.append({"engine": label, "mode": f"batch {size}", "ms_per_face": ms_per_face})
    return {"rows": rows, "peak_rss_mib": read_peak_rss_mib()}, embedder.embed(list(chips))


def format_table(rows: list[dict], reference_ms: float) -> str:
    """Return the markdown table of the timing rows, speed-up relative to ``reference_ms`` per face."""
    lines = [
        "| engine | mode | ms/face | faces/s | speed-up vs dlib single | peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        ms = row["ms_per_face"]
        lines.append(f"| {row['engine']} | {row['mode']} | {ms:.2f} | {1000 / ms:.1f} | {reference_ms / ms:.1f}x"
                     f" | {row['peak_rss_mib']:.0f} |")
    return "\n".join(lines)


def _spawn_worker(
    engine: str, work_dir: Path, args: argparse.Namespace, model_path: Path
) -> tuple[list[dict], np.ndarray]:
    command = [sys.executable, __file__, "--worker", engine, "--work-dir", str(work_dir),
               "--rounds", str(args.rounds), "--model", str(model_path)]
    subprocess.run(command, check=True)
    result = json.loads((work_dir / f"{engine}.json").read_text())
    for row in result["rows"]:
        row["peak_rss_mib"] = result["peak_rss_mib"]
    return result["rows"], np.load(work_dir / f"{engine}.npy")


def _run_worker(args: argparse.Namespace) -> None:
    chips = np.load(args.work_dir / "chips.npy")
    if args.worker == "dlib":
        result, vectors = run_dlib_worker(chips, args.rounds)
    else:
        result, vectors = run_onnx_worker(chips, args.rounds, args.model, "CPUExecutionProvider", {})
    np.save(args.work_dir / f"{args.worker}.npy", vectors)
    (args.work_dir / f"{args.worker}.json").write_text(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    """Collect chips, run both engines in their own processes, print the table and the parity."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=FACES_DIR)
    parser.add_argument("--model", type=Path, default=None, help="converted ONNX model (default: convert now)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    parser.add_argument("--worker", choices=("dlib", "onnx"), help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _run_worker(args)
        return 0
    with tempfile.TemporaryDirectory() as temp:
        work_dir = Path(temp)
        model_path = args.model
        if model_path is None:
            from models.dlib_onnx import convert_dlib_resnet

            model_path = work_dir / "dlib_resnet_v1.onnx"
            convert_dlib_resnet(None, model_path)
        chips = collect_chips(list_images(args.faces))
        np.save(work_dir / "chips.npy", chips)
        dlib_rows, dlib_vectors = _spawn_worker("dlib", work_dir, args, model_path)
        onnx_rows, onnx_vectors = _spawn_worker("onnx", work_dir, args, model_path)
    diff = np.abs(onnx_vectors - dlib_vectors)
    reference_ms = dlib_rows[0]["ms_per_face"]
    print(f"\n{len(chips)} face chips from {args.faces} (people/ + probes/), 1 thread, {args.rounds} rounds\n")
    print(format_table(dlib_rows + onnx_rows, reference_ms))
    print(f"\nparity ONNX vs dlib: max abs diff {diff.max():.3g}, mean abs diff {diff.mean():.3g} (limit 1e-4)")
    best_ms = min(row["ms_per_face"] for row in onnx_rows)
    print(f"best ONNX speed-up: {reference_ms / best_ms:.1f}x (goal >= 5x)")
    if args.json:
        summary = {"faces": len(chips), "rows": dlib_rows + onnx_rows,
                   "parity_max": float(diff.max()), "parity_mean": float(diff.mean())}
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if diff.max() <= 1e-4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
