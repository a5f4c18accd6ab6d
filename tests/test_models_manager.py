"""The model manifest and manager: pinned downloads, terms before fetching, sha256 checks, verify, remove.

No test touches the network: downloads go through a fake ``fetch``; the real manifest's files are
installed with ``--path`` from ../shared/models.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from attendance import models_manager
from attendance.cli import models_cmd
from attendance.errors import ModelError
from attendance.gallery import OperatingPoint
from attendance.recognition import get_profile, resolve_operating_point
from attendance.settings import Settings, load_settings
from models.manifest import ManifestError, load_manifest
from conftest import REPO_ROOT, SHARED_MODELS, require_shared

PAYLOAD = b"a tiny stand-in for an ONNX model"
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
COMMIT = "0123456789abcdef0123456789abcdef01234567"

TEST_MANIFEST = f"""
schema = 1

[models.open_embedder]
name = "an open test embedder"
task = "embedder"
install = "download"
model_id = "open_embedder"
file = "open.onnx"
url = "https://example.invalid/owner/repo/raw/{COMMIT}/open.onnx"
sha256 = "{PAYLOAD_SHA256}"
size_bytes = {len(PAYLOAD)}
rank = 30
licence = "MIT"
training_data = "synthetic"
training_data_terms = "none"
research_only = false
landmark_scheme = "arcface5"
embedding_size = 128
metric = "cosine"
threshold = 0.5
margin = 0.05
chip_size_px = 112
[models.open_embedder.input]
colour = "RGB"
mean = [127.5, 127.5, 127.5]
std = [127.5, 127.5, 127.5]
layout = "NCHW"

[models.research_embedder]
name = "a research-only test embedder"
task = "embedder"
install = "download"
model_id = "research_embedder"
file = "research.onnx"
url = "https://example.invalid/owner/repo/raw/{COMMIT}/research.onnx"
sha256 = "{PAYLOAD_SHA256}"
rank = 40
licence = "Apache-2.0"
training_data = "celebrity photos"
training_data_terms = "NON-COMMERCIAL RESEARCH ONLY"
research_only = true
embedding_size = 128
metric = "cosine"
threshold = 0.5
margin = 0.05

[models.unpinned_detector]
name = "a detector with no pinned file"
task = "detector"
install = "download"
file = "unpinned.onnx"
rank = 5
licence = "MIT"
training_data = "synthetic"
training_data_terms = "none"
research_only = false

[models.package_embedder]
name = "comes with a package"
task = "embedder"
install = "package"
package = "numpy"
model_id = "package_embedder"
rank = 1
licence = "BSD"
training_data = "none"
training_data_terms = "none"
research_only = false
embedding_size = 128
metric = "euclidean"
threshold = 0.4
margin = 0.03
"""


@dataclass(frozen=True)
class ModelSettings:
    """Settings with the fields the lead will add (recognition_model, detector_model)."""

    instance_path: str
    recognition_model: str = "auto"
    detector_model: str = "auto"
    face_backend: str = "dlib"


@pytest.fixture
def test_manifest(tmp_path, monkeypatch):
    path = tmp_path / "manifest.toml"
    path.write_text(TEST_MANIFEST)
    entries = load_manifest(path)
    monkeypatch.setattr(models_manager, "manifest_entries", lambda: entries)
    return entries


@pytest.fixture
def model_settings(tmp_path) -> ModelSettings:
    return ModelSettings(instance_path=str(tmp_path / "instance"))


def fake_fetch(payload: bytes = PAYLOAD):
    calls = []

    def fetch(url, destination, progress, most_bytes):
        calls.append(url)
        destination.write_bytes(payload)
        progress(len(payload), len(payload))

    fetch.calls = calls
    return fetch


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.exists() else []


# --- the real manifest ------------------------------------------------------------------------------------

def test_the_real_manifest_pins_every_download_and_states_its_terms():
    entries = load_manifest()
    assert {"dlib_hog", "dlib_resnet_v1", "dlib_resnet_v1_onnx", "yunet_2023mar", "sface_2021dec",
            "mobilefacenet_paddlex", "mobilefacenet_foamliu"} <= set(entries)
    assert entries["dlib_resnet_v1_onnx"].model_id == "dlib_resnet_v1"
    assert entries["dlib_resnet_v1_onnx"].file == "dlib_resnet_v1.onnx"
    for entry in entries.values():
        if entry.install == "download":
            assert entry.downloadable and len(entry.sha256) == 64 and entry.size_bytes > 0, entry.id
        if entry.task == "embedder":
            assert entry.metric in ("cosine", "euclidean") and entry.threshold > 0 and entry.margin > 0
    assert entries["mobilefacenet_paddlex"].research_only and entries["mobilefacenet_foamliu"].research_only
    best = max((e for e in entries.values() if e.task == "embedder"), key=lambda e: e.rank)
    assert best.id == "mobilefacenet_paddlex"


def test_the_test_copies_in_shared_models_are_accepted_by_the_manifest():
    entries = load_manifest()
    for model_id, name in [("yunet_2023mar", "face_detection_yunet.onnx"),
                           ("mobilefacenet_paddlex", "mobilefacenet_paddlex.onnx"),
                           ("mobilefacenet_foamliu", "mobilefacenet_foamliu.onnx")]:
        digest = models_manager.file_sha256(require_shared(SHARED_MODELS / name))
        assert digest in entries[model_id].accepted_sha256


def test_a_malformed_manifest_names_the_entry_and_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(TEST_MANIFEST.replace(f"raw/{COMMIT}/open.onnx", "raw/main/open.onnx"))
    with pytest.raises(ManifestError, match=r"open_embedder.*pinned to a full commit"):
        load_manifest(bad)
    bad.write_text(TEST_MANIFEST.replace('task = "detector"', 'task = "classifier"'))
    with pytest.raises(ManifestError, match=r"unpinned_detector.*task"):
        load_manifest(bad)


# --- install ----------------------------------------------------------------------------------------------

def test_download_shows_the_terms_first_then_verifies_and_renames_into_place(test_manifest, model_settings):
    shown, fetch = [], fake_fetch()
    result = models_manager.install_model(model_settings, "open_embedder", notify=shown.append, fetch=fetch)
    assert "licence:       MIT" in shown[0] and fetch.calls == [test_manifest["open_embedder"].url]
    target = Path(model_settings.instance_path) / "models" / "open.onnx"
    assert result.path == target and target.read_bytes() == PAYLOAD and result.sha256 == PAYLOAD_SHA256
    assert leftovers(target.parent) == []
    again = models_manager.install_model(model_settings, "open_embedder", fetch=fake_fetch())
    assert again.already_installed


def test_a_download_with_the_wrong_sha256_is_refused_and_leaves_nothing(test_manifest, model_settings):
    with pytest.raises(ModelError) as caught:
        models_manager.install_model(model_settings, "open_embedder", fetch=fake_fetch(b"tampered"))
    assert hashlib.sha256(b"tampered").hexdigest() in caught.value.message
    assert PAYLOAD_SHA256 in caught.value.message
    folder = Path(model_settings.instance_path) / "models"
    assert not (folder / "open.onnx").exists() and leftovers(folder) == []


def test_a_local_file_with_the_wrong_sha256_is_refused_naming_both_hashes(test_manifest, model_settings, tmp_path):
    wrong = tmp_path / "wrong.onnx"
    wrong.write_bytes(b"not the model")
    with pytest.raises(ModelError) as caught:
        models_manager.install_model(model_settings, "open_embedder", wrong)
    message = caught.value.message
    assert str(wrong) in message and hashlib.sha256(b"not the model").hexdigest() in message
    assert PAYLOAD_SHA256 in message and "not installed" in message
    assert not (Path(model_settings.instance_path) / "models" / "open.onnx").exists()


def test_research_only_needs_accepted_terms_and_is_refused_before_fetching(test_manifest, model_settings):
    shown, fetch = [], fake_fetch()
    with pytest.raises(ModelError, match="accept-terms"):
        models_manager.install_model(model_settings, "research_embedder", notify=shown.append, fetch=fetch)
    assert "NON-COMMERCIAL RESEARCH ONLY" in shown[0] and "RESEARCH ONLY" in shown[0]
    assert fetch.calls == []
    result = models_manager.install_model(model_settings, "research_embedder", accept_terms=True, fetch=fetch)
    assert result.path.read_bytes() == PAYLOAD


def test_a_model_without_a_pinned_sha256_is_never_downloaded(test_manifest, model_settings, tmp_path):
    fetch = fake_fetch()
    with pytest.raises(ModelError, match=r"no pinned sha256.*--path FILE --sha256"):
        models_manager.install_model(model_settings, "unpinned_detector", fetch=fetch)
    assert fetch.calls == []
    local = tmp_path / "mine.onnx"
    local.write_bytes(PAYLOAD)
    result = models_manager.install_model(model_settings, "unpinned_detector", local, expected_sha256=PAYLOAD_SHA256)
    assert result.path.with_name("unpinned.onnx.sha256").read_text().startswith(PAYLOAD_SHA256)
    assert all(not s.problem for s in models_manager.verify_models(model_settings))


def test_package_and_unknown_models_are_not_downloaded(test_manifest, model_settings):
    with pytest.raises(ModelError, match="comes with the numpy package"):
        models_manager.install_model(model_settings, "package_embedder")
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        models_manager.install_model(model_settings, "nope")


def test_download_url_refuses_plain_http(tmp_path):
    with pytest.raises(ModelError, match="not https"):
        models_manager.download_url("http://example.invalid/model.onnx", tmp_path / "x", lambda d, t: None, 10)


def test_the_manager_imports_no_network_library():
    code = ("import sys, attendance.models_manager, attendance.cli.models_cmd; "
            "bad = [m for m in ('urllib.request', 'requests', 'http.client', 'cv2', 'onnxruntime', 'dlib') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# --- verify, remove, model in use ----------------------------------------------------------------------------

def test_verify_reports_a_changed_file_and_remove_deletes_it(test_manifest, model_settings):
    models_manager.install_model(model_settings, "open_embedder", fetch=fake_fetch())
    target = Path(model_settings.instance_path) / "models" / "open.onnx"
    assert [s.problem for s in models_manager.verify_models(model_settings) if s.entry.id == "open_embedder"] == [""]
    target.write_bytes(b"corrupted on disk")
    (problem,) = [s.problem for s in models_manager.verify_models(model_settings) if s.entry.id == "open_embedder"]
    assert PAYLOAD_SHA256 in problem
    assert models_manager.remove_model(model_settings, "open_embedder") == target and not target.exists()
    with pytest.raises(ModelError, match="not installed"):
        models_manager.remove_model(model_settings, "open_embedder")
    with pytest.raises(ModelError, match="cannot be removed"):
        models_manager.remove_model(model_settings, "package_embedder")


def test_model_in_use_is_the_best_installed_or_the_one_the_setting_names(test_manifest, model_settings):
    assert models_manager.model_in_use(model_settings).id == "package_embedder"
    models_manager.install_model(model_settings, "open_embedder", fetch=fake_fetch())
    assert models_manager.model_in_use(model_settings).id == "open_embedder"
    models_manager.install_model(model_settings, "research_embedder", accept_terms=True, fetch=fake_fetch())
    # It ranks higher, but its terms needed accepting: "auto" keeps the open model until the school names it.
    assert models_manager.model_in_use(model_settings).id == "open_embedder"
    assert [e.id for e in models_manager.installed_embedders(model_settings)] == [
        "research_embedder", "open_embedder", "package_embedder"]
    named = ModelSettings(model_settings.instance_path, recognition_model="research_embedder")
    assert models_manager.model_in_use(named).id == "research_embedder"
    pinned = ModelSettings(model_settings.instance_path, recognition_model="open_embedder")
    assert models_manager.model_in_use(pinned).id == "open_embedder"
    with pytest.raises(ModelError, match=r"not a embedder|is a detector"):
        models_manager.model_in_use(ModelSettings(model_settings.instance_path, recognition_model="unpinned_detector"))
    models_manager.remove_model(model_settings, "open_embedder")
    with pytest.raises(ModelError, match="not installed"):
        models_manager.model_in_use(pinned)
    assert models_manager.model_in_use(model_settings).id == "package_embedder"  # open terms, lowest rank


def test_auto_uses_a_research_only_model_only_when_nothing_else_is_installed(test_manifest, model_settings,
                                                                            monkeypatch):
    monkeypatch.setattr(models_manager, "is_installed", lambda settings, entry: entry.id == "research_embedder")
    assert models_manager.model_in_use(model_settings).id == "research_embedder"


def test_operating_point_overrides_follow_only_an_explicitly_named_model(tmp_path):
    tuned = {"instance_path": str(tmp_path), "match_threshold": 0.3, "match_margin": 0.01}
    auto = load_settings(Settings, environ={}, overrides=tuned)
    assert resolve_operating_point(auto, "dlib_resnet_v1") == OperatingPoint(0.3, 0.01)
    paddlex = get_profile("mobilefacenet_paddlex").point
    assert resolve_operating_point(auto, "mobilefacenet_paddlex") == paddlex
    named = load_settings(Settings, environ={}, overrides={**tuned, "recognition_model": "mobilefacenet_paddlex"})
    assert resolve_operating_point(named, "mobilefacenet_paddlex") == OperatingPoint(0.3, 0.01)
    assert resolve_operating_point(named, "dlib_resnet_v1") == get_profile("dlib_resnet_v1").point


def test_real_manifest_installs_the_shared_copies_by_path(model_settings):
    paddlex = require_shared(SHARED_MODELS / "mobilefacenet_paddlex.onnx")
    with pytest.raises(ModelError, match="accept-terms"):
        models_manager.install_model(model_settings, "mobilefacenet_paddlex", paddlex)
    models_manager.install_model(model_settings, "mobilefacenet_paddlex", paddlex, accept_terms=True)
    models_manager.install_model(model_settings, "yunet_2023mar", require_shared(SHARED_MODELS / "face_detection_yunet.onnx"))
    with pytest.raises(ModelError, match="sha256"):  # the right file for the wrong model
        models_manager.install_model(model_settings, "mobilefacenet_foamliu", paddlex, accept_terms=True)
    # PaddleX outranks dlib's ResNet, but its terms needed accepting: "auto" keeps the open model.
    assert models_manager.model_in_use(model_settings, "embedder").id == "dlib_resnet_v1"
    named = ModelSettings(model_settings.instance_path, recognition_model="mobilefacenet_paddlex")
    assert models_manager.model_in_use(named, "embedder").id == "mobilefacenet_paddlex"
    assert models_manager.model_in_use(model_settings, "detector").id == "yunet_2023mar"
    assert all(not s.problem for s in models_manager.verify_models(model_settings) if s.installed)


# --- the CLI ----------------------------------------------------------------------------------------------

def run_cli(settings, *argv: str) -> int:
    common = argparse.ArgumentParser(add_help=False)
    parser = argparse.ArgumentParser(prog="attendance")
    models_cmd.register(parser.add_subparsers(dest="command", required=True), common)
    args = parser.parse_args(list(argv))
    return args.handler(args, settings)


def test_cli_download_list_verify_remove(test_manifest, tmp_path, capsys):
    settings: Settings = load_settings(Settings, environ={}, overrides={"instance_path": str(tmp_path / "inst")})
    local = tmp_path / "copy.onnx"
    local.write_bytes(PAYLOAD)
    with pytest.raises(ModelError, match="accept-terms"):
        run_cli(settings, "models", "download", "research_embedder", "--path", str(local))
    out = capsys.readouterr().out
    assert "NON-COMMERCIAL RESEARCH ONLY" in out  # the terms were printed before the refusal
    assert run_cli(settings, "models", "download", "research_embedder", "--path", str(local), "--accept-terms") == 0
    assert "installed" in capsys.readouterr().out
    assert run_cli(settings, "models", "list") == 0
    listing = capsys.readouterr().out
    assert "research_embedder" in listing and "in use" in listing and "research-only" in listing
    assert run_cli(settings, "models", "verify") == 0
    assert "research_embedder: ok" in capsys.readouterr().out
    (Path(settings.instance_path) / "models" / "research.onnx").write_bytes(b"changed")
    assert run_cli(settings, "models", "verify") == 1
    assert "BAD" in capsys.readouterr().out
    assert run_cli(settings, "models", "remove", "research_embedder") == 0


def test_cli_group_accepts_extra_subcommands(monkeypatch):
    def add_hello(models_sub, common):
        models_sub.add_parser("hello", parents=[common]).set_defaults(handler=lambda args, settings: 7)

    monkeypatch.setattr(models_cmd, "SUBCOMMANDS", [*models_cmd.SUBCOMMANDS, add_hello])
    assert run_cli(None, "models", "hello") == 7
