"""The detector + embedder pipelines the benchmarks measure: one per installed embedder of the model manifest.

Generic on purpose: every ``task = "embedder"`` entry of ``models/manifest.toml`` whose file is found in one
of the model folders (and that ``attendance.faces.zoo`` can build) becomes a pipeline, so a newly added
model is measured and placed with no change here. dlib's ResNet from the package runs behind dlib's HOG
detector (the install that needs no download); every other embedder runs behind YuNet, with the landmarks
its manifest entry asks for (YuNet's own points for ArcFace-style chips, dlib's 5 points for the ResNet).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from attendance.faces.engine import FaceEngine
from bench.lfw_cache import REPO_ROOT, SHARED_FACES

SHARED_MODELS = SHARED_FACES.parent / "models"
DEFAULT_MODEL_DIRS = (REPO_ROOT / "instance" / "models", REPO_ROOT / ".cache" / "bench" / "models", SHARED_MODELS)
ALIASES = {"face_detection_yunet_2023mar.onnx": "face_detection_yunet.onnx"}  # the name in ../shared/models


@dataclass
class Pipeline:
    """One detector + landmarker + embedder, with what keys its cached vectors."""

    name: str
    entry: object  # the embedder's ModelEntry
    engine: FaceEngine
    cache_name: str
    model_files: list[Path]
    settings: str  # manifest values that change the vectors (input convention, flip, detector options)


def find_model_file(file_name: str, dirs: list[Path]) -> Path | None:
    """The first ``file_name`` (or its alias) found in ``dirs``, else None."""
    for folder in dirs:
        for name in (file_name, ALIASES.get(file_name, file_name)):
            if (Path(folder) / name).is_file():
                return Path(folder) / name
    return None


def dlib_files(*names: str) -> list[Path]:
    from attendance.faces.dlib_models import locate_dlib_model

    return [locate_dlib_model(name) for name in names]


def build_pipelines(dirs: list[Path], only: set[str] | None = None, log=print) -> list[Pipeline]:
    """A pipeline per installed embedder entry (``only``: those manifest ids); skipped ones are logged."""
    from attendance.errors import ModelError
    from attendance.faces import zoo
    from attendance.faces.dlib_models import DlibHogDetector, DlibLandmarker
    from models.manifest import load_manifest

    manifest = load_manifest()
    yunet_entry = manifest["yunet_2023mar"]
    yunet_path = find_model_file(yunet_entry.file, dirs)
    yunet = zoo.build_detector(yunet_entry, yunet_path) if yunet_path else None
    pipelines = []
    for entry in manifest.values():
        if entry.task != "embedder" or (only and entry.id not in only):
            continue
        settings = repr((entry.input, entry.flip, entry.chip_size_px))
        if entry.install == "package":
            engine = FaceEngine(DlibHogDetector(upsample=1), DlibLandmarker(), zoo.build_embedder(entry))
            files = dlib_files("shape_predictor_5_face_landmarks.dat", entry.file)
            pipelines.append(Pipeline(f"dlib HOG + {entry.id}", entry, engine, f"pipe-hog-{entry.id}", files, settings))
            continue
        path = find_model_file(entry.file, dirs)
        if path is None or yunet is None:
            log(f"skipped {entry.id}: {'YuNet' if yunet is None else entry.file} not found in {[str(d) for d in dirs]}")
            continue
        try:
            embedder = zoo.build_embedder(entry, path, threads=1)
        except ModelError as err:
            log(f"skipped {entry.id}: {err}")
            continue
        landmarker = zoo.build_landmarker(yunet, embedder)
        files = [yunet_path, path]
        if isinstance(landmarker, DlibLandmarker):
            files += dlib_files("shape_predictor_5_face_landmarks.dat")
        flipped = " (flip-averaged)" if entry.flip else ""
        pipelines.append(Pipeline(f"YuNet + {entry.id}{flipped}", entry, FaceEngine(yunet, landmarker, embedder),
                                  f"pipe-yunet-{entry.id}", files, settings + repr(yunet_entry.detector_options)))
    return pipelines
