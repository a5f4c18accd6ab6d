"""The files of the models folder: where they live, their sha256 (pinned or in a ``.sha256`` sidecar), and
fetching or copying one in. Shared by the manifest's installer (``models_manager``) and the OpenVINO one
(``models_openvino``), so the OpenVINO installer does not import the manager that dispatches to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from attendance.errors import ModelError
from models.errors import ModelFileError
from models.manifest import ModelEntry

MODELS_DIRNAME = "models"
DOWNLOAD_TIMEOUT_S = 60.0
CHUNK_BYTES = 1 << 20
SIDECAR_SUFFIX = ".sha256"  # "<hash>  <file>\n" beside a file the manifest cannot pin (converted, user-pinned)

Progress = Callable[[int, int], None]  # (bytes done, bytes expected or 0)
Fetch = Callable[[str, Path, Progress, int], None]  # (url, destination, progress, most bytes)


@dataclass(frozen=True)
class InstallResult:
    """What one install did: the file now at ``path`` has ``sha256`` (the ONNX file's, for a converted model)."""

    entry: ModelEntry
    path: Path
    sha256: str
    already_installed: bool = False


@contextlib.contextmanager
def as_model_error() -> Iterator[None]:
    """Turn a ``models`` layer error (a model file unreadable, foreign or not convertible) into ``ModelError``."""
    try:
        yield
    except ModelFileError as err:
        raise ModelError(str(err)) from err


def models_dir(settings) -> Path:
    """``<instance_path>/models``: where downloaded and converted model files live."""
    return Path(settings.instance_path) / MODELS_DIRNAME


def file_sha256(path: Path) -> str:
    """Lowercase hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_url(url: str, destination: Path, progress: Progress, most_bytes: int) -> None:
    """Stream ``url`` (https only) into ``destination``; a ``ModelError`` for any network or size failure."""
    import urllib.error
    import urllib.request

    if not url.startswith("https://"):
        raise ModelError(f"refusing a download that is not https: {url}")
    request = urllib.request.Request(url, headers={"User-Agent": "school-attendance-models"})
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response, destination.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(CHUNK_BYTES):
                done += len(chunk)
                if done > most_bytes:
                    raise ModelError(f"download of {url} is larger than the manifest says; stopped")
                out.write(chunk)
                progress(done, total)
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise ModelError(f"download of {url} failed: {err}") from err


def copy_local(source: Path, destination: Path, progress: Progress) -> None:
    """Copy the file ``source`` to ``destination``, reporting progress; a ``ModelError`` when it is not a file."""
    if not source.is_file():
        raise ModelError(f"{source} is not a file")
    total, done = source.stat().st_size, 0
    with source.open("rb") as src, destination.open("wb") as out:
        for chunk in iter(lambda: src.read(CHUNK_BYTES), b""):
            out.write(chunk)
            done += len(chunk)
            progress(done, total)


def sidecar_hashes(path: Path) -> tuple[str, ...]:
    """The sha256 written in ``<path>.sha256`` (converted or user-pinned files), or () without one."""
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return ()
    text = sidecar.read_text().split()
    return (text[0].lower(),) if text else ()


def require_converter() -> None:
    """Raise ``ModelError`` when the model converters cannot run here: they build ONNX graphs with the
    ``onnx`` package, which ``pip install 'school-attendance[convert]'`` adds (a gate PC's install has none)."""
    if importlib.util.find_spec("onnx") is None:
        raise ModelError("converting a model needs the onnx package: pip install 'school-attendance[convert]'")
