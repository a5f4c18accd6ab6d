"""The recognition config both the core and the camera agent embed, and the ``setting()`` field it is declared with.

A setting is a dataclass field that carries its default, one line of help, its choices or numeric bounds;
``attendance.settings`` loads any such dataclass from a TOML file and ``ATTENDANCE_*`` variables.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


def setting(default: Any, help: str, choices: tuple[str, ...] | None = None,
            low: float | None = None, high: float | None = None) -> Any:
    """Declare one setting: its default, a one-line help text, (for strings) the allowed values and (for
    numbers) the smallest and largest accepted, ``low`` and ``high``: every numeric setting has both."""
    metadata = {"help": help, "choices": choices, "low": low, "high": high}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def with_default(cls: type, name: str, default: Any) -> Any:
    """Redeclare the inherited setting ``name`` of ``cls`` with another default, keeping its help and bounds
    (the agent embeds video frames, whose gates sit lower than an enrollment photo's)."""
    base = next(f for f in dataclasses.fields(cls) if f.name == name)
    return field(default=default, metadata=base.metadata)


@dataclass(frozen=True)
class RecognitionConfig:
    """How faces are detected, embedded, matched and checked for liveness: one definition, embedded by the
    core's ``Settings`` (``ATTENDANCE_*``) and the camera agent's (``ATTENDANCE_AGENT_*``). The quality gates
    are the dashboard's for enrollment photos; the agent redeclares their defaults for video frames."""

    face_backend: str = setting(
        "dlib", "Face embedder backend: `dlib` (the installed ResNet) or `onnx` (the same network in ONNX Runtime).",
        choices=("dlib", "onnx"),
    )
    recognition_model: str = setting(
        "auto", "Face embedder: `auto` (the most accurate installed model, by the manifest's rank, among those whose "
        "terms need no --accept-terms) or a model id from `attendance models list` (name a research-only model "
        "here to use it); after installing one, run `attendance gallery rebuild` (the dashboard must have the "
        "agent's model's templates)."
    )
    detector_model: str = setting(
        "auto", "Face detector: `auto` (YuNet when installed, else dlib's HOG) or `dlib_hog` / `yunet_2023mar`."
    )
    onnx_providers: tuple = setting(
        (), "ONNX Runtime execution providers to use, best first (e.g. `CUDAExecutionProvider,CPUExecutionProvider`); "
        "empty means the best available in the order TensorRT, CUDA, OpenVINO, CoreML, DirectML, CPU."
    )
    onnx_threads: int = setting(0, "Threads per ONNX Runtime session; 0 lets ONNX Runtime choose.", low=0, high=256)
    match_threshold: float = setting(
        0.0, "Largest distance at which a face may be named; 0 means the school's calibrated point (`attendance "
        "calibrate --apply`, sent to the agents with the gallery), else the model's measured default (0.388 for "
        "dlib ResNet 128-D). Applies to the model `recognition_model` names (with `auto`, to dlib's only).",
        low=0.0, high=4.0
    )
    match_margin: float = setting(
        -1.0, "Smallest gap between the best student's distance and the next student's; negative means the "
        "school's calibrated point, else the model's measured default (0.01 for dlib ResNet 128-D).", low=-1.0, high=2.0
    )
    detect_upsample: int = setting(
        1, "Times dlib's HOG detector upsamples the (scaled) image: 1 finds faces down to about 40 px (the "
        "dashboard's default, for photos); 0 is four times faster and enough for faces of 70 px or more "
        "(the agent's default, for video).", low=0, high=4
    )
    min_face_px: int = setting(
        80, "Smallest face (side of the detected face box, full-resolution pixels) that is embedded: 80 for an "
        "enrollment photo, 60 on the agent.", low=8, high=4096
    )
    min_sharpness: float = setting(
        100.0, "Smallest sharpness (variance of the Laplacian of the aligned face at 64x64) that is embedded: "
        "clean photos score 140-1300, out-of-focus video chips 2-13; 0 (the agent's default) turns the gate off.",
        low=0.0, high=100_000.0
    )
    max_yaw_deg: float = setting(
        35.0, "Largest head turn (yaw) that is embedded, in degrees: 35 for an enrollment photo, 45 on the agent.",
        low=0.0, high=90.0
    )
    liveness_threshold: float = setting(
        0.05, "Liveness (MiniFASNet, when installed): a face whose live score (0-1, both networks averaged) is "
        "below this counts as a suspected photo or screen. Chosen on NUAA subjects 0001-0004 "
        "(python -m bench.bench_liveness).", low=0.0, high=1.0
    )

    @property
    def recognition(self) -> RecognitionConfig:
        """Only the recognition fields, as a plain ``RecognitionConfig`` (what an agent and the core share)."""
        names = [f.name for f in dataclasses.fields(RecognitionConfig)]
        return RecognitionConfig(**{name: getattr(self, name) for name in names})


