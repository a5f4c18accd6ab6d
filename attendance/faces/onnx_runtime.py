"""The one place that opens ONNX Runtime sessions for every ONNX model of the product.

Execution providers are tried in ``PROVIDER_PREFERENCE`` order, keeping those this onnxruntime build
offers: TensorRT, CUDA, OpenVINO, CoreML, DirectML, then CPU (always present).  A caller (or a
setting) may name the providers instead; naming one this build lacks is a ModelError, never a
silent fall back to the CPU.
"""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from attendance.errors import ModelError

PROVIDER_PREFERENCE: tuple[str, ...] = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "OpenVINOExecutionProvider",
    "CoreMLExecutionProvider",
    "DmlExecutionProvider",
    "CPUExecutionProvider",
)


def list_available_providers() -> list[str]:
    """Return the execution providers of this onnxruntime build, in our preference order."""
    available = set(ort.get_available_providers())
    preferred = [name for name in PROVIDER_PREFERENCE if name in available]
    return preferred + sorted(available - set(preferred))


def choose_providers(providers: list[str] | None = None) -> list[str]:
    """Return the providers a session should use: the requested ones (all must exist) or the preferred."""
    available = list_available_providers()
    if providers is None:
        return [name for name in available if name in PROVIDER_PREFERENCE] or ["CPUExecutionProvider"]
    if not providers:
        raise ModelError("no ONNX Runtime execution provider was requested")
    missing = [name for name in providers if name not in available]
    if missing:
        raise ModelError(
            f"ONNX Runtime execution provider {', '.join(missing)} is not available "
            f"(this onnxruntime offers: {', '.join(available)})"
        )
    return list(providers)


def create_session(
    model_path: Path | str,
    providers: list[str] | None = None,
    threads: int = 0,
    provider_options: dict[str, dict[str, str]] | None = None,
) -> ort.InferenceSession:
    """Open an inference session on model_path.

    ``providers``: execution providers in priority order (default: ``choose_providers()``).
    ``threads``: intra-op threads; 0 lets onnxruntime decide (one per physical core).
    ``provider_options``: per-provider options, e.g. ``{"CUDAExecutionProvider": {"use_tf32": "0"}}``.
    Raises ModelError for a missing or unreadable model file or an unavailable provider.
    """
    path = Path(model_path)
    if not path.is_file():
        raise ModelError(f"ONNX model file not found: {path}")
    if threads < 0:
        raise ModelError(f"threads must be >= 0, got {threads}")
    chosen = choose_providers(providers)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only: provider fallbacks are reported by us, not logged
    try:
        options_list = [dict((provider_options or {}).get(name, {})) for name in chosen]
        return ort.InferenceSession(str(path), sess_options=options, providers=chosen, provider_options=options_list)
    except Exception as exc:  # onnxruntime raises its own unrelated exception types for bad files
        raise ModelError(f"cannot load ONNX model {path}: {exc}") from exc
