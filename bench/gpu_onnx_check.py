"""One-shot check on a GPU machine: convert dlib's ResNet, check parity with dlib on a provider, benchmark it.

Needs onnxruntime-gpu for CUDA.  TF32 is switched off on CUDA (``use_tf32=0``) so that the vectors
match dlib's float32 ones; ``--allow-tf32`` measures the faster TF32 mode instead (parity then ~1e-3).
Exits 1 when the provider silently fell back to another one or parity exceeds 1e-4, 2 when the
provider is missing from this onnxruntime build.

    python bench/gpu_onnx_check.py                                    # CUDAExecutionProvider
    python bench/gpu_onnx_check.py --provider CPUExecutionProvider    # dry run without a GPU
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from bench_onnx import (
    FACES_DIR,
    collect_chips,
    compute_dlib_descriptors,
    format_table,
    list_images,
    read_peak_rss_mib,
    time_per_face_ms,
)

PARITY_MAX_ABS_DIFF = 1e-4
GPU_BATCH_SIZES = (8, 32, 128)


def describe_gpu() -> str:
    """Return the GPU name and driver from nvidia-smi, or '' when there is none."""
    if shutil.which("nvidia-smi") is None:
        return ""
    result = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                            capture_output=True, text=True, check=False)
    return result.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    """Convert, check parity and benchmark on one execution provider; print markdown, optionally JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", default="CUDAExecutionProvider")
    parser.add_argument("--faces", type=Path, default=FACES_DIR)
    parser.add_argument("--lfw", type=int, default=40, help="LFW images to add to people/ + probes/")
    parser.add_argument("--out", type=Path, default=None, help="folder for the converted model (default: temporary)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--allow-tf32", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    import onnxruntime

    from attendance.errors import ModelError
    from attendance.faces.onnx_resnet import OnnxResnetEmbedder
    from models.dlib_onnx import ONNX_FILENAME, convert_dlib_resnet

    with tempfile.TemporaryDirectory() as temp:
        model_path = (args.out or Path(temp)) / ONNX_FILENAME
        started = time.perf_counter()
        digest = convert_dlib_resnet(None, model_path)
        convert_s = time.perf_counter() - started
        options = {} if args.allow_tf32 else {"CUDAExecutionProvider": {"use_tf32": "0"}}
        threads = 1 if args.provider == "CPUExecutionProvider" else 0
        try:
            embedder = OnnxResnetEmbedder(model_path, [args.provider], threads, options)
        except ModelError as exc:
            print(f"cannot run on {args.provider}: {exc}", file=sys.stderr)
            return 2
        chips = collect_chips(list_images(args.faces, args.lfw))
        started = time.perf_counter()
        expected = compute_dlib_descriptors(chips)
        dlib_ms = 1000.0 * (time.perf_counter() - started) / len(chips)
        used = embedder.providers[0]
        diff = np.abs(embedder.embed(list(chips)) - expected)
        label = f"onnx {used.replace('ExecutionProvider', '')}"
        sizes = GPU_BATCH_SIZES if args.provider != "CPUExecutionProvider" else GPU_BATCH_SIZES[:2]
        rows = [{"engine": "dlib CPU", "mode": "single", "ms_per_face": dlib_ms}]
        for size in (1, *sizes):
            ms_per_face = time_per_face_ms(embedder.embed, chips, size, args.rounds)
            mode = "single" if size == 1 else f"batch {size}"
            rows.append({"engine": label, "mode": mode, "ms_per_face": ms_per_face})
        peak = read_peak_rss_mib()
        for row in rows:
            row["peak_rss_mib"] = peak

    parity_ok = bool(diff.max() <= PARITY_MAX_ABS_DIFF)
    provider_ok = used == args.provider
    available = ", ".join(onnxruntime.get_available_providers())
    print(f"\nonnxruntime {onnxruntime.__version__}, providers available: {available}")
    print(f"GPU: {describe_gpu() or 'none found'}")
    print(f"converted in {convert_s:.1f} s, sha256 {digest}")
    fallback = "" if provider_ok else "  <-- FELL BACK"
    tf32 = "allowed" if args.allow_tf32 else "off"
    print(f"requested {args.provider}, session runs on {used}{fallback}; TF32 {tf32}")
    print(f"\n{len(chips)} face chips (people/ + probes/ + {args.lfw} LFW images)\n")
    print(format_table(rows, dlib_ms))
    print(f"\nparity {used} vs dlib: max abs diff {diff.max():.3g}, mean {diff.mean():.3g} "
          f"(limit {PARITY_MAX_ABS_DIFF:g}): {'PASS' if parity_ok else 'FAIL'}")
    if args.json:
        args.json.write_text(json.dumps({
            "provider": used, "sha256": digest, "faces": len(chips), "gpu": describe_gpu(), "rows": rows,
            "parity_max": float(diff.max()), "parity_mean": float(diff.mean()), "tf32": args.allow_tf32,
        }, indent=2))
    return 0 if parity_ok and provider_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
