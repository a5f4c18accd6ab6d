"""Embeds the LFW open-set split once per model and caches the vectors, so benchmarks re-run in seconds."""

from __future__ import annotations

import csv
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SHARED_FACES = Path(__file__).resolve().parents[1].parent / "shared" / "faces"
LFW_DIR = SHARED_FACES / "lfw"
CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache" / "bench"


@dataclass
class SplitRow:
    path: str
    identity: str
    role: str  # enroll, probe_known, probe_unknown


def read_split(lfw_dir: Path = LFW_DIR) -> list[SplitRow]:
    """The rows of ``split.csv``: path (relative to the LFW folder), identity, role."""
    with (lfw_dir / "split.csv").open(newline="") as fh:
        return [SplitRow(r["path"], r["identity"], r["role"]) for r in csv.DictReader(fh)]


def pick_central_face(faces, image_shape):
    """LFW's convention: the face of the photo is the one nearest the centre."""
    if not faces:
        return None
    cy, cx = image_shape[0] / 2, image_shape[1] / 2
    return min(faces, key=lambda f: ((f.box[0] + f.box[2]) / 2 - cx) ** 2 + ((f.box[1] + f.box[3]) / 2 - cy) ** 2)


def embed_split(engine, rows: list[SplitRow], cache_name: str, lfw_dir: Path = LFW_DIR,
                progress: bool = True) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """(vectors (n, dim) with NaN rows where no face was found, found mask (n,), stage ms per face).

    Cached in ``.cache/bench/<cache_name>-<hash of the split>.npz``.
    """
    from attendance.faces.image import load_image

    key = hashlib.sha256("\n".join(r.path for r in rows).encode()).hexdigest()[:12]
    cache = CACHE_DIR / f"{cache_name}-{key}.npz"
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        stage_ms = dict(zip(data["stage_names"].tolist(), data["stage_ms"].tolist()))
        return data["vectors"], data["found"], stage_ms
    vectors = np.full((len(rows), engine.embedder.dim), np.nan, dtype=np.float32)
    found = np.zeros(len(rows), dtype=bool)
    engine.times.__init__()
    started = time.perf_counter()
    iterator = rows
    if progress:
        from tqdm import tqdm
        iterator = tqdm(rows, desc=f"embedding LFW ({cache_name})", unit="photo")
    for i, row in enumerate(iterator):
        image = load_image(lfw_dir / row.path)
        faces = engine.find_faces(image, embed=False)
        face = pick_central_face(faces, image.shape)
        if face is None:
            continue
        t0 = time.perf_counter()
        face.embedding = engine.embedder.embed([face.chip])[0]
        engine.times.add("embed", t0)
        vectors[i] = face.embedding
        found[i] = True
    total_s = time.perf_counter() - started
    n_faces = max(1, int(found.sum()))
    stage_ms = {
        "detect_ms_per_photo": engine.times.ms["detect"] / len(rows),
        "landmarks_align_ms_per_face": engine.times.ms["landmarks"] / n_faces,
        "embed_ms_per_face": engine.times.ms["embed"] / n_faces,
        "total_s": total_s,
    }
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vectors=vectors, found=found, stage_names=np.array(list(stage_ms)),
             stage_ms=np.array(list(stage_ms.values())))
    return vectors, found, stage_ms
