"""Installs a model published as OpenVINO IR: its ``.xml`` and ``.bin`` fetched or copied, checked, converted to ONNX.

ONNX Runtime is the product's only inference runtime, so installing such a model (``install = "openvino"`` in
the manifest) converts it with ``models/openvino_onnx.py`` (pure Python, no ``openvino`` package). Both IR
files must have the sha256 the manifest pins; the ONNX file lands at ``<instance>/models/<file>`` with its
``.sha256`` beside it, and the checked IR is kept beside it (``<stem>.xml``/``<stem>.bin``) so that
``attendance models convert-openvino`` can convert it again without a download.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from attendance.errors import ModelError
from attendance.model_files import (
    InstallResult, Progress, as_model_error, copy_local, download_url, file_sha256, models_dir, require_converter,
    sidecar_hashes,
)
from models.manifest import ModelEntry

logger = logging.getLogger(__name__)


def kept_ir_paths(settings, entry: ModelEntry) -> tuple[Path, Path]:
    """Where the checked ``.xml`` and ``.bin`` of ``entry`` are kept: beside its ONNX file."""
    folder = models_dir(settings)
    stem = Path(entry.file).stem
    return folder / f"{stem}.xml", folder / f"{stem}.bin"


def install_openvino(settings, entry: ModelEntry, xml_path: Path | str | None = None, *,
                     progress: Progress = lambda done, total: None, fetch=None):
    """Install ``entry`` from a local ``xml_path`` (its ``.bin`` beside it) or its pinned urls; convert to ONNX.

    A local copy is always checked (and converted again: the same bytes); without one, an installation whose
    files still match is left as it is. Returns an ``InstallResult`` whose sha256 is the ONNX file's.
    Raises ``ModelError`` when a file is missing,
    a download fails, or the xml or bin has another sha256 than the manifest's (nothing is installed then).
    """
    if entry.install != "openvino":
        raise ModelError(f"{entry.id} is not an OpenVINO IR model")
    target = models_dir(settings) / entry.file
    kept_xml, kept_bin = kept_ir_paths(settings, entry)
    current = _is_current(target, kept_xml, kept_bin, entry)
    if current and xml_path is None:
        return InstallResult(entry, target, file_sha256(target), already_installed=True)
    previous = file_sha256(target) if current else ""
    target.parent.mkdir(parents=True, exist_ok=True)
    temps = [_temp_file(target.parent, entry.file, suffix) for suffix in (".xml", ".bin")]
    try:
        if xml_path is not None:
            xml_source = Path(xml_path)
            sources: list[Path | str] = [xml_source, xml_source.with_suffix(".bin")]
        else:
            if not entry.downloadable:
                raise ModelError(f"{entry.id} has no pinned download; install it with --path FILE.xml")
            sources = [entry.openvino["xml_url"], entry.openvino["bin_url"]]
        for part, source, temp in zip(("xml", "bin"), sources, temps):
            if isinstance(source, Path):
                copy_local(source, temp, progress)
            else:
                most = int(entry.openvino[f"{part}_size_bytes"]) + (1 << 20)
                (fetch or download_url)(source, temp, progress, most)
            check_ir_file(entry, part, temp, str(source))
        digest = convert_checked_ir(entry, temps[0], temps[1], target)
        for temp, kept in zip(temps, (kept_xml, kept_bin)):
            os.chmod(temp, 0o644)
            os.replace(temp, kept)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)
    logger.info("installed model %s at %s (converted from OpenVINO IR)", entry.id, target)
    return InstallResult(entry, target, digest, already_installed=digest == previous)


def convert_installed(settings, entry: ModelEntry, xml_path: Path | str | None = None) -> tuple[Path, str]:
    """Convert ``entry``'s IR again (``xml_path``, or the kept copy) into its installed ONNX file.

    The IR must still have the manifest's sha256. Returns (ONNX path, its sha256). Raises ``ModelError``.
    """
    if entry.install != "openvino":
        raise ModelError(f"{entry.id} is not an OpenVINO IR model (nothing to convert)")
    if xml_path is not None:
        xml, weights = Path(xml_path), Path(xml_path).with_suffix(".bin")
    else:
        xml, weights = kept_ir_paths(settings, entry)
        if not xml.is_file():
            raise ModelError(f"{entry.id}: no OpenVINO IR at {xml}; install it with `attendance models download "
                             f"{entry.id} --path FILE.xml` or give --xml FILE")
    for part, path in (("xml", xml), ("bin", weights)):
        if not path.is_file():
            raise ModelError(f"{path} is not a file")
        check_ir_file(entry, part, path, str(path))
    target = models_dir(settings) / entry.file
    return target, convert_checked_ir(entry, xml, weights, target)


def kept_ir_problem(settings, entry: ModelEntry) -> str:
    """"" when the kept IR of an installed ``entry`` still has the manifest's sha256, else what is wrong."""
    for part, path in zip(("xml", "bin"), kept_ir_paths(settings, entry)):
        if not path.is_file():
            return f"the OpenVINO IR {path.name} it was converted from is missing"
        digest = file_sha256(path)
        if digest != entry.openvino[f"{part}_sha256"]:
            return f"the OpenVINO IR {path.name} has sha256 {digest}, expected {entry.openvino[f'{part}_sha256']}"
    return ""


def check_ir_file(entry: ModelEntry, part: str, path: Path, what: str) -> None:
    """Raise ``ModelError`` naming both hashes unless ``path`` has the manifest's ``<part>_sha256``."""
    expected = entry.openvino[f"{part}_sha256"]
    digest = file_sha256(path)
    if digest != expected:
        raise ModelError(f"{entry.id}: sha256 of {what} is {digest}, the manifest expects {expected} for the "
                         f"IR's .{part}; the model was not installed")


def convert_checked_ir(entry: ModelEntry, xml: Path, weights: Path, target: Path) -> str:
    """Convert the checked IR to ``target`` (and ``target.sha256``); returns the ONNX file's sha256."""
    require_converter()
    from models.openvino_onnx import convert_openvino

    with as_model_error():
        return convert_openvino(xml, target, entry.model_id, bin_path=weights)


def _is_current(target: Path, kept_xml: Path, kept_bin: Path, entry: ModelEntry) -> bool:
    if not (target.is_file() and kept_xml.is_file() and kept_bin.is_file()):
        return False
    return (file_sha256(kept_xml) == entry.openvino["xml_sha256"] and file_sha256(kept_bin) == entry.openvino["bin_sha256"]
            and file_sha256(target) in sidecar_hashes(target))


def _temp_file(folder: Path, name: str, suffix: str) -> Path:
    handle, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=f"{suffix}.partial", dir=folder)
    os.close(handle)
    return Path(temp_name)
