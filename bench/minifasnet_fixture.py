"""Make tests/data/minifasnet_reference.json: PyTorch's own outputs for a few crops, for the converter's test.

Three steps (the middle one in a throwaway torch environment, see bench/minifasnet_torch_reference.py):

    python -m bench.minifasnet_fixture crops /tmp/crops.npz /tmp/meta.json
    /tmp/torchvenv/bin/python bench/minifasnet_torch_reference.py /tmp/crops.npz /tmp/ref.npz V2.pth V1SE.pth
    python -m bench.minifasnet_fixture write /tmp/meta.json /tmp/ref.npz tests/data/minifasnet_reference.json

The fixture stores no image: for real faces only the photo's path under ../shared/faces and the face box
(the test crops it again), and for synthetic crops the seed of the noise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from attendance.faces.image import load_image
from attendance.faces.liveness import CROP_SIZE_PX, crop_for_liveness
from attendance.faces.yunet import YunetDetector

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
PHOTOS = (
    "nuaa/live/0001/0001_00_00_01_0.jpg",
    "nuaa/live/0005/" + "",  # first file of the folder, filled in below
    "nuaa/photo_attack/0001/0001_00_00_01_0.jpg",
    "nuaa/photo_attack/0006/" + "",
    "probes/obama-480p.jpg",
    "probes/kit_with_rose.jpg",
)
SCALES = (2.7, 4.0)
NOISE_SEEDS = (0, 1)


def synthetic_crop(seed: int) -> np.ndarray:
    """A reproducible 80x80x3 uint8 crop: uniform noise over a smooth gradient."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 200, CROP_SIZE_PX, dtype=np.float64)
    base = ramp[None, :, None] * 0.5 + ramp[:, None, None] * 0.3
    return np.clip(base + rng.uniform(0, 80, (CROP_SIZE_PX, CROP_SIZE_PX, 3)), 0, 255).astype(np.uint8)


def _photo_paths() -> list[str]:
    paths = []
    for rel in PHOTOS:
        if rel.endswith("/"):
            rel = rel + sorted(p.name for p in (SHARED / "faces" / rel).iterdir())[0]
        paths.append(rel)
    return paths


def make_crops(crops_path: str, meta_path: str) -> None:
    detector = YunetDetector(SHARED / "models" / "face_detection_yunet.onnx")
    samples, crops = [], {s: [] for s in SCALES}
    for rel in _photo_paths():
        image = load_image(SHARED / "faces" / rel)
        detections = detector.detect(image)
        best = max(detections, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
        box = tuple(int(v) for v in best.box)
        samples.append({"photo": rel, "box": list(box)})
        for scale in SCALES:
            crops[scale].append(crop_for_liveness(image, box, scale))
    for seed in NOISE_SEEDS:
        samples.append({"noise_seed": seed})
        for scale in SCALES:
            crops[scale].append(synthetic_crop(seed))
    np.savez(crops_path, **{f"crops_{s}": np.stack(crops[s]) for s in SCALES})
    Path(meta_path).write_text(json.dumps(samples))


def write_fixture(meta_path: str, ref_path: str, out_path: str) -> None:
    samples = json.loads(Path(meta_path).read_text())
    ref = np.load(ref_path)
    for index, sample in enumerate(samples):
        for name in ("v2", "v1se"):
            sample[f"{name}_logits"] = [round(float(v), 6) for v in ref[f"{name}_logits"][index]]
            sample[f"{name}_probs"] = [round(float(v), 7) for v in ref[f"{name}_probs"][index]]
    fixture = {
        "what": "PyTorch outputs of the MiniFASNet .pth files (bench/minifasnet_torch_reference.py) on crops made "
                "by attendance.faces.liveness.crop_for_liveness: v2 at scale 2.7, v1se at 4.0",
        "samples": samples,
    }
    Path(out_path).write_text(json.dumps(fixture, indent=1) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "crops":
        make_crops(sys.argv[2], sys.argv[3])
    else:
        write_fixture(sys.argv[2], sys.argv[3], sys.argv[4])
