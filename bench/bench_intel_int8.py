"""Intel's face-reidentification-retail-0095: the FP16 and INT8 IR copies, converted to ONNX, side by side.

Usage: ``python -m bench.bench_intel_int8 [--models DIR]`` (DIR: ../shared/models by default, holding
``face_detection_yunet.onnx`` and ``intel/face-reidentification-retail-0095{,-int8}.xml``).

For each copy: the largest per-component difference of the L2-normalised vectors between ONNX Runtime
(the converted file) and the ``openvino`` runtime (f32 inference) on the LFW split's faces; ms per face
in each runtime (one thread, batch 1, median of 3 runs of 200 on one chip); and FNIR/FPIR on
``../shared/faces/lfw/split.csv`` with YuNet and the manifest's operating point, in ONNX Runtime. Decides
whether an INT8 manifest entry is worth having (it is not when ONNX Runtime runs it no faster).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from attendance.faces.engine import FaceEngine
from bench.bench_models import open_set
from bench.lfw_cache import SHARED_FACES, embed_split, read_split
from models.manifest import load_manifest
from models.openvino_onnx import convert_openvino

COPIES = (("fp16", "intel/face-reidentification-retail-0095.xml"),
          ("int8", "intel/face-reidentification-retail-0095-int8.xml"))


def time_ms(run, repeats: int = 200) -> float:
    """Median over 3 runs of the mean ms of ``run()``, after 10 warm-up calls."""
    for _ in range(10):
        run()
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeats):
            run()
        runs.append((time.perf_counter() - started) * 1000.0 / repeats)
    return float(np.median(runs))


def main(argv: list[str] | None = None) -> int:
    import openvino

    from attendance.faces import zoo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=SHARED_FACES.parent / "models")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    manifest = load_manifest()
    entry = manifest["intel_reid_0095"]
    detector = zoo.build_detector(manifest["yunet_2023mar"], args.models / "face_detection_yunet.onnx")
    rows = read_split()
    core = openvino.Core()
    lines = ["| copy | max abs diff ORT vs OpenVINO | ms/face ORT | ms/face OpenVINO | FNIR @ FPIR 0.3% | "
             "FNIR @ FPIR 1% | default (t, m) | FNIR | FPIR |", "|---|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as folder:
        for name, xml in COPIES:
            onnx_path = Path(folder) / f"intel_{name}.onnx"
            convert_openvino(args.models / xml, onnx_path, entry.model_id)
            embedder = zoo.build_embedder(entry, onnx_path, threads=1)
            engine = FaceEngine(detector, zoo.build_landmarker(detector, embedder), embedder)
            vectors, found, _ = embed_split(engine, rows, f"intel-{name}-{onnx_path.stat().st_size}", progress=False)
            curve, fnir, fpir, _ = open_set(vectors, found, rows, engine, entry.threshold, entry.margin)
            compiled = core.compile_model(str(args.models / xml), "CPU",
                                          {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1})
            chips = _sample_chips(engine, rows[:200])
            tensor = embedder.convention.to_tensor(chips)
            reference = np.stack([np.asarray(compiled(tensor[i:i + 1])[0]).reshape(-1) for i in range(len(tensor))])
            reference /= np.linalg.norm(reference, axis=1, keepdims=True)
            diff = float(np.abs(embedder.embed(chips) - reference).max())
            # Both from an aligned chip to a vector: the same input conversion, then each runtime.
            ort_ms = time_ms(lambda: embedder.embed(chips[:1]))
            ov_ms = time_ms(lambda: compiled(embedder.convention.to_tensor(chips[:1])))
            lines.append(f"| {name} | {diff:.2g} ({len(chips)} faces) | {ort_ms:.1f} | {ov_ms:.1f} | {curve[0.003]:.1%} | "
                         f"{curve[0.01]:.1%} | ({entry.threshold:g}, {entry.margin:g}) | {fnir:.1%} | {fpir:.2%} |")
            print(lines[-1], flush=True)
    print("\n".join(lines))
    return 0


def _sample_chips(engine: FaceEngine, rows) -> list[np.ndarray]:
    from attendance.faces.image import load_image
    from bench.lfw_cache import LFW_DIR

    chips = []
    for row in rows:
        for face in engine.find_faces(load_image(LFW_DIR / row.path), embed=False)[:1]:
            chips.append(face.chip)
    return chips


if __name__ == "__main__":
    raise SystemExit(main())
