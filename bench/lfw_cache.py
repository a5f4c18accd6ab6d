"""Embeds face photo sets (the LFW open-set split and the other folders of ../shared/faces) once per pipeline.

The cache holds vectors only, in ``.cache/bench/<name>-<key>.npz``; the key is a hash of the photo list, of
every model file the pipeline reads (its bytes' sha256), of the code that turns a photo into a vector
(``attendance/faces/*.py`` and this module's face-picking functions) and of the caller's ``settings`` text
(input convention, flip, detector options). Change any of them and the photos are embedded again. Timings
are never cached: ``measure_stage_ms`` measures them fresh on a sample each run.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FACES = REPO_ROOT.parent / "shared" / "faces"
LFW_DIR = SHARED_FACES / "lfw"
CACHE_DIR = REPO_ROOT / ".cache" / "bench"
FACE_CODE_DIR = REPO_ROOT / "attendance" / "faces"


@dataclass
class SplitRow:
    path: str  # relative to the set's folder (``LFW_DIR`` for the split)
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


def pick_largest_face(faces, image_shape):
    """Webcam frames with bystanders (NUAA): the face of the photo is the largest."""
    if not faces:
        return None
    return max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


def pad_image(image: np.ndarray, pad_fraction: float) -> np.ndarray:
    """Tight face crops (five_celebrity, bbt_grayscale) get a border of edge pixels so detectors see a face."""
    if pad_fraction <= 0:
        return image
    pad = int(round(max(image.shape[:2]) * pad_fraction))
    return np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")


PICKERS: dict[str, Callable] = {"central": pick_central_face, "largest": pick_largest_face}


def file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.cache
def code_sha256() -> str:
    """Hash of the code that turns a photo into a vector: the face engine's modules and the pickers here."""
    digest = hashlib.sha256()
    for path in sorted(FACE_CODE_DIR.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for function in (pick_central_face, pick_largest_face, pad_image, _embed_one):
        digest.update(inspect.getsource(function).encode())
    return digest.hexdigest()


def cache_key(rows: Sequence[SplitRow], model_files: Sequence[Path | str], settings: str = "",
              pick: str = "central", pad_fraction: float = 0.0) -> str:
    """The cache key: photos, model files' bytes, code, settings text, face choice and padding."""
    digest = hashlib.sha256()
    digest.update("\n".join(f"{r.path}\t{r.identity}" for r in rows).encode())
    for path in sorted(str(p) for p in model_files):
        digest.update(b"\0model\0" + file_sha256(path).encode())
    digest.update(b"\0code\0" + code_sha256().encode())
    digest.update(f"\0{settings}\0{pick}\0{pad_fraction}".encode())
    return digest.hexdigest()[:16]


def _embed_one(engine, image: np.ndarray, pick: Callable):
    faces = engine.find_faces(image, embed=False)
    face = pick(faces, image.shape)
    if face is None:
        return None
    return engine.embedder.embed([face.chip])[0]


def embed_split(engine, rows: list[SplitRow], cache_name: str, lfw_dir: Path = LFW_DIR, progress: bool = True,
                *, model_files: Sequence[Path | str] = (), settings: str = "", pick: str = "central",
                pad_fraction: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(vectors (n, dim) with NaN rows where no face was found, found mask (n,)) for ``rows`` under ``lfw_dir``.

    ``model_files`` are every file the pipeline reads (they key the cache with ``settings``); ``pick`` is
    ``central`` or ``largest``; ``pad_fraction`` pads each photo's sides by that share of its size.
    """
    from attendance.faces.image import load_image

    key = cache_key(rows, model_files, settings, pick, pad_fraction)
    cache = CACHE_DIR / f"{cache_name}-{key}.npz"
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        return data["vectors"], data["found"]
    vectors = np.full((len(rows), engine.embedder.dim), np.nan, dtype=np.float32)
    found = np.zeros(len(rows), dtype=bool)
    iterator = rows
    if progress:
        from tqdm import tqdm
        iterator = tqdm(rows, desc=f"embedding ({cache_name})", unit="photo")
    for i, row in enumerate(iterator):
        vector = _embed_one(engine, pad_image(load_image(lfw_dir / row.path), pad_fraction), PICKERS[pick])
        if vector is not None:
            vectors[i], found[i] = vector, True
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vectors=vectors, found=found)
    return vectors, found


def measure_stage_ms(engine, rows: list[SplitRow], lfw_dir: Path = LFW_DIR, sample: int = 40) -> dict[str, float]:
    """Fresh per-stage times on ``sample`` photos spread over ``rows`` (after one warm-up photo), this run.

    Keys: ``detect_ms_per_photo``, ``landmarks_align_ms_per_face``, ``embed_ms_per_face``, ``photos``.
    """
    from attendance.faces.image import load_image

    chosen = rows[:: max(1, len(rows) // max(1, sample))][:sample]
    images = [load_image(lfw_dir / r.path) for r in chosen]
    _embed_one(engine, images[0], pick_central_face)
    engine.times.__init__()
    faces = 0
    for image in images:
        found = engine.find_faces(image, embed=False)
        face = pick_central_face(found, image.shape)
        if face is None:
            continue
        started = time.perf_counter()
        engine.embedder.embed([face.chip])
        engine.times.add("embed", started)
        faces += 1
    faces = max(1, faces)
    return {
        "detect_ms_per_photo": engine.times.ms["detect"] / len(images),
        "landmarks_align_ms_per_face": engine.times.ms["landmarks"] / faces,
        "embed_ms_per_face": engine.times.ms["embed"] / faces,
        "photos": float(len(images)),
    }
