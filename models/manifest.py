"""The model manifest: every face model the product knows, loaded from ``manifest.toml`` and checked.

Pure standard library: the core (and ``attendance models list``) reads it without numpy, cv2 or a network.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.errors import ModelFileError

MANIFEST_PATH = Path(__file__).with_name("manifest.toml")
TASKS = ("detector", "landmarker", "embedder", "liveness")
INSTALL_KINDS = ("package", "convert", "download", "openvino")
METRICS = ("euclidean", "cosine")
LANDMARK_SCHEMES = ("", "dlib5", "arcface5")
CONVERTERS = ("", "minifasnet")  # what turns a downloaded source file into the installed file
# How ARCFACE5 points become a chip: "arcface" = the ArcFace 112 template scaled to the chip; "arcface_96x112" =
# the ArcFace template of a 96x112 crop (x - 8) stretched to a square chip (Intel's face recognition demo).
ALIGNMENTS = ("arcface", "arcface_96x112")
_OPENVINO_KEYS = {"xml_url", "xml_sha256", "xml_size_bytes", "bin_url", "bin_sha256", "bin_size_bytes"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PINNED_URL = re.compile(r"/[0-9a-f]{40}/")  # a full commit hash in the path


class ManifestError(ModelFileError):
    """The manifest file is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class AcceptedCopy:
    """Another byte-different copy of the same network, checked and measured here (``--path`` installs)."""

    sha256: str
    size_bytes: int
    origin: str


@dataclass(frozen=True)
class ModelEntry:
    """One model of the manifest; see the comments at the top of ``manifest.toml`` for each field."""

    id: str
    name: str
    task: str
    install: str
    rank: int
    licence: str
    training_data: str
    training_data_terms: str
    research_only: bool
    landmark_scheme: str = ""
    model_id: str = ""  # the embedding space (templates are shared by entries with the same model_id)
    file: str = ""
    size_bytes: int = 0
    sha256: str = ""
    url: str = ""
    source: str = ""
    package: str = ""
    convert_command: str = ""
    measured: bool = True
    embedding_size: int = 0
    metric: str = ""
    threshold: float = 0.0
    margin: float = 0.0
    combine: str = "nearest"  # how a student's templates make one distance (attendance/gallery.py)
    flip: bool = False  # embed each chip and its mirror image and average (112x112 embedders)
    threshold_source: str = ""
    chip_size_px: int = 0
    alignment: str = "arcface"  # ArcFace-style embedders: one of ALIGNMENTS
    openvino: dict[str, Any] = field(default_factory=dict)  # install = "openvino": the IR's pinned xml and bin
    input: dict[str, Any] = field(default_factory=dict)  # embedders: colour, mean, std, layout; detectors: text
    detector_options: dict[str, Any] = field(default_factory=dict)
    also_accepted: tuple[AcceptedCopy, ...] = ()
    notes: str = ""
    converter: str = ""  # the url / --path file is a source the installer converts into ``file`` (sha256: the source's)
    source_file: str = ""  # the source file's own name (``attendance models convert-minifasnet --dir`` looks for it)
    crop_scale: float = 0.0  # liveness: the face box is grown by this about its centre before cropping
    vendor_claim: str = ""  # the publisher's own figure, quoted, not measured here

    @property
    def accepted_sha256(self) -> tuple[str, ...]:
        """Every sha256 a file of this model may have: the pinned download's and the accepted copies'."""
        return tuple(h for h in (self.sha256, *(c.sha256 for c in self.also_accepted)) if h)

    @property
    def downloadable(self) -> bool:
        if self.install == "openvino":
            return bool(self.openvino.get("xml_url")) and bool(self.openvino.get("bin_url"))
        return self.install == "download" and bool(self.url) and bool(self.sha256)

    @property
    def needs_accepted_terms(self) -> bool:
        """Installing needs ``--accept-terms`` (research-only weights or training data)."""
        return self.research_only


_DETECTOR_OPTIONS = ("score_threshold", "nms_threshold", "top_k", "input_size")
_KNOWN_KEYS = set(ModelEntry.__dataclass_fields__) | set(_DETECTOR_OPTIONS)


def load_manifest(path: Path | str = MANIFEST_PATH) -> dict[str, ModelEntry]:
    """The manifest's entries by id, in file order. Raises ``ManifestError`` for any malformed entry."""
    try:
        with Path(path).open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ManifestError(f"cannot read the model manifest {path}: {err}") from err
    if data.get("schema") != 1:
        raise ManifestError(f"{path}: unsupported manifest schema {data.get('schema')!r}")
    return {model_id: _entry(model_id, table) for model_id, table in data.get("models", {}).items()}


def _entry(model_id: str, table: dict[str, Any]) -> ModelEntry:
    unknown = sorted(set(table) - _KNOWN_KEYS)
    if unknown:
        raise ManifestError(f"model {model_id}: unknown field {unknown[0]!r}")
    values = {k: v for k, v in table.items() if k not in _DETECTOR_OPTIONS and k not in ("also_accepted", "input")}
    raw_input = table.get("input", {})
    try:
        entry = ModelEntry(
            id=model_id, **values,
            input=raw_input if isinstance(raw_input, dict) else {"text": str(raw_input)},
            detector_options={k: table[k] for k in _DETECTOR_OPTIONS if k in table},
            also_accepted=tuple(AcceptedCopy(**copy) for copy in table.get("also_accepted", [])),
        )
    except TypeError as err:
        raise ManifestError(f"model {model_id}: {err}") from err
    _check(entry)
    return entry


def _check(entry: ModelEntry) -> None:
    def fail(problem: str) -> None:
        raise ManifestError(f"model {entry.id}: {problem}")

    if entry.task not in TASKS:
        fail(f"task must be one of {', '.join(TASKS)}, got {entry.task!r}")
    if entry.install not in INSTALL_KINDS:
        fail(f"install must be one of {', '.join(INSTALL_KINDS)}, got {entry.install!r}")
    if entry.landmark_scheme not in LANDMARK_SCHEMES:
        fail(f"unknown landmark_scheme {entry.landmark_scheme!r}")
    for digest in entry.accepted_sha256:
        if not _SHA256.match(digest):
            fail(f"sha256 must be 64 lowercase hex digits, got {digest!r}")
    if entry.install == "download":
        if not entry.file:
            fail("a downloaded model needs a file name")
        if entry.url and not _PINNED_URL.search(entry.url):
            fail("the download url must be pinned to a full commit hash")
        if entry.url and not entry.sha256:
            fail("a download url needs its pinned sha256")
    if entry.converter not in CONVERTERS:
        fail(f"converter must be one of {', '.join(c for c in CONVERTERS if c)}, got {entry.converter!r}")
    if entry.task == "liveness" and (entry.crop_scale <= 1.0 or not entry.converter):
        fail("a liveness model needs crop_scale > 1 and its converter")
    if entry.install == "openvino":
        _check_openvino(entry, fail)
    if entry.alignment not in ALIGNMENTS:
        fail(f"alignment must be one of {', '.join(ALIGNMENTS)}, got {entry.alignment!r}")
    if entry.install == "convert" and not (entry.file and entry.convert_command):
        fail("a converted model needs a file name and its convert_command")
    if not entry.licence or not entry.training_data or not entry.training_data_terms:
        fail("licence, training_data and training_data_terms are required")
    if entry.task == "embedder":
        if entry.metric not in METRICS:
            fail(f"metric must be one of {', '.join(METRICS)}")
        if entry.combine not in ("nearest", "mean", "centroid"):
            fail(f"combine must be nearest, mean or centroid, got {entry.combine!r}")
        if entry.embedding_size <= 0 or entry.threshold <= 0 or entry.margin < 0:
            fail("an embedder needs embedding_size, threshold > 0 and margin >= 0")
        if not entry.model_id:
            fail("an embedder needs model_id (the embedding space its templates belong to)")
        if entry.landmark_scheme == "arcface5" and entry.chip_size_px and set(entry.input) != {
                "colour", "mean", "std", "layout"}:
            fail("an ArcFace-style embedder needs an [input] table with colour, mean, std and layout")


def _check_openvino(entry: ModelEntry, fail) -> None:
    """An OpenVINO IR model: the ONNX file it becomes, and its xml and bin each pinned by url, sha256 and size."""
    if not entry.file.endswith(".onnx"):
        fail("an OpenVINO model's file is the ONNX file it is converted to (*.onnx)")
    if set(entry.openvino) != _OPENVINO_KEYS:
        fail(f"an OpenVINO model needs an [openvino] table with exactly {', '.join(sorted(_OPENVINO_KEYS))}")
    for part in ("xml", "bin"):
        if not _SHA256.match(str(entry.openvino[f"{part}_sha256"])):
            fail(f"openvino.{part}_sha256 must be 64 lowercase hex digits")
        if not _PINNED_URL.search(str(entry.openvino[f"{part}_url"])):
            fail(f"openvino.{part}_url must be pinned to a full commit hash")
        if int(entry.openvino[f"{part}_size_bytes"]) <= 0:
            fail(f"openvino.{part}_size_bytes must be positive")
