"""MiniFASNet: the legacy PyTorch reader, the ONNX converter against PyTorch's own outputs, installation, crops.

The reference outputs in tests/data/minifasnet_reference.json were computed once by PyTorch on the .pth files
(bench/minifasnet_fixture.py); no torch is needed here.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from attendance import models_manager
from attendance.errors import ModelError
from attendance.faces.image import load_image
from attendance.faces.liveness import LivenessChecker, MinifasnetNetwork, crop_for_liveness, crop_window
from bench.minifasnet_fixture import synthetic_crop
from models.errors import ModelFileError
from models.minifasnet_onnx import convert_minifasnet
from models.torch_legacy import LEGACY_MAGIC, LEGACY_PROTOCOL, TorchFormatError, read_legacy_state_dict
from conftest import SHARED_FACES, SHARED_MODELS, require_shared

FIXTURE = Path(__file__).parent / "data" / "minifasnet_reference.json"
V2_PTH = "minifasnet/2.7_80x80_MiniFASNetV2.pth"
V1SE_PTH = "minifasnet/4_0_0_80x80_MiniFASNetV1SE.pth"


@pytest.fixture(scope="session")
def onnx_pair(tmp_path_factory) -> dict[str, Path]:
    """Both networks converted once per run: {"v2": path, "v1se": path}."""
    folder = tmp_path_factory.mktemp("minifasnet")
    out = {}
    for name, rel in (("v2", V2_PTH), ("v1se", V1SE_PTH)):
        out[name] = folder / f"{name}.onnx"
        convert_minifasnet(require_shared(SHARED_MODELS / rel), out[name], name)
    return out


def test_reader_gives_the_state_dict_of_both_files():
    v2 = read_legacy_state_dict(require_shared(SHARED_MODELS / V2_PTH).read_bytes())
    v1se = read_legacy_state_dict(require_shared(SHARED_MODELS / V1SE_PTH).read_bytes())
    assert len(v2) == 334 and len(v1se) == 370  # V1SE adds 3 SE gates of 12 entries each
    assert v2["module.conv1.conv.weight"].shape == (32, 3, 3, 3)
    assert v2["module.conv_6_dw.conv.weight"].shape == (512, 1, 5, 5)
    assert v1se["module.conv_4.model.5.se_module.fc1.weight"].shape == (32, 128, 1, 1)
    assert v2["module.prob.weight"].dtype == np.float32


def _legacy_header() -> bytes:
    return (pickle.dumps(LEGACY_MAGIC, 2) + pickle.dumps(LEGACY_PROTOCOL, 2)
            + pickle.dumps({"protocol_version": LEGACY_PROTOCOL, "little_endian": True}, 2))


def test_reader_refuses_a_pickle_that_names_other_code():
    with pytest.raises(TorchFormatError, match="refusing pickle global"):
        read_legacy_state_dict(_legacy_header() + pickle.dumps(os.system, 2))


@pytest.mark.parametrize("data, message", [
    (b"PK\x03\x04 zip", "zip-format"),
    (pickle.dumps(12345, 2), "magic"),
    (b"", "corrupt"),
])
def test_reader_refuses_foreign_bytes(data, message):
    with pytest.raises(TorchFormatError, match=message):
        read_legacy_state_dict(data)


def test_reader_refuses_a_truncated_file():
    data = require_shared(SHARED_MODELS / V2_PTH).read_bytes()
    with pytest.raises(TorchFormatError, match=r"truncated|ends before"):
        read_legacy_state_dict(data[:-1000])


def test_converter_refuses_a_file_that_is_not_a_minifasnet(tmp_path):
    foreign = tmp_path / "foreign.pth"
    foreign.write_bytes(_legacy_header() + pickle.dumps({}, 2) + pickle.dumps([], 2))
    with pytest.raises(ModelFileError, match="has no conv1"):
        convert_minifasnet(foreign, tmp_path / "out.onnx")


def test_conversion_is_deterministic(onnx_pair, tmp_path):
    again = tmp_path / "again.onnx"
    digest = convert_minifasnet(SHARED_MODELS / V2_PTH, again, "v2")
    assert digest == hashlib.sha256(onnx_pair["v2"].read_bytes()).hexdigest()


def _fixture_crops(sample: dict, scale: float) -> np.ndarray:
    if "noise_seed" in sample:
        return synthetic_crop(sample["noise_seed"])
    image = load_image(require_shared(SHARED_FACES / sample["photo"]))
    return crop_for_liveness(image, tuple(sample["box"]), scale)


@pytest.mark.parametrize("name, scale", [("v2", 2.7), ("v1se", 4.0)])
def test_converted_network_gives_pytorchs_outputs(onnx_pair, name, scale):
    samples = json.loads(FIXTURE.read_text())["samples"]
    network = MinifasnetNetwork(onnx_pair[name], scale, providers=["CPUExecutionProvider"], threads=1)
    crops = np.stack([_fixture_crops(s, scale) for s in samples])
    probs = network.predict(crops)
    expected = np.array([s[f"{name}_probs"] for s in samples], dtype=np.float32)
    np.testing.assert_allclose(probs, expected, atol=1e-4)
    assert {int(np.argmax(p)) for p in expected} >= {0, 1}  # the fixture holds both spoof and real answers


def test_crop_window_grows_the_box_and_shifts_it_inside_the_image():
    # a 100 px face near the left edge of a 640x480 frame: 2.7x grows to 270 px, shifted right, not clipped
    left, top, right, bottom = crop_window((10, 100, 110, 200), 2.7, 640, 480)
    assert left == 0 and right - left == 270
    assert (top, bottom) == (15, 285)
    # a face too large for 4.0x: the scale shrinks to what the image holds
    left, top, right, bottom = crop_window((200, 100, 400, 380), 4.0, 640, 480)
    assert top == 0 and bottom == 479 and right - left == pytest.approx(479 / 280 * 200, abs=1)


@dataclass
class _FakeNetwork:
    """Stands in for an ONNX session: the live probability is the crop's mean brightness / 255."""

    scale: float

    def predict(self, crops_bgr: np.ndarray) -> np.ndarray:
        live = crops_bgr.reshape(len(crops_bgr), -1).mean(axis=1) / 255.0
        return np.stack([1 - live, live, np.zeros_like(live)], axis=1).astype(np.float32)


def test_checker_averages_the_networks_and_fills_each_face():
    checker = LivenessChecker([_FakeNetwork(2.7), _FakeNetwork(4.0)], threshold=0.5)
    bright = np.full((120, 160, 3), 200, np.uint8)
    dark = np.full((120, 160, 3), 20, np.uint8)
    scores = checker.score_faces([(bright, (40, 30, 80, 70)), (dark, (40, 30, 80, 70))])
    assert scores == pytest.approx([200 / 255, 20 / 255], abs=1e-3)
    assert [checker.judge(s).live for s in scores] == [True, False]
    assert checker.score_faces([]).shape == (0,)


@dataclass(frozen=True)
class _Settings:
    instance_path: str


def test_install_checks_the_pth_sha256_converts_and_verifies(tmp_path):
    settings = _Settings(str(tmp_path / "instance"))
    with pytest.raises(ModelError, match="sha256"):
        models_manager.install_model(settings, "minifasnet_v2", require_shared(SHARED_MODELS / V1SE_PTH))
    result = models_manager.install_model(settings, "minifasnet_v2", SHARED_MODELS / V2_PTH)
    assert result.path.name == "minifasnet_v2_80x80.onnx" and not result.already_installed
    assert models_manager.install_model(settings, "minifasnet_v2", SHARED_MODELS / V2_PTH).already_installed
    [status] = [s for s in models_manager.verify_models(settings) if s.entry.id == "minifasnet_v2"]
    assert status.installed and status.problem == ""
    result.path.write_bytes(b"tampered")
    [status] = [s for s in models_manager.verify_models(settings) if s.entry.id == "minifasnet_v2"]
    assert "sha256" in status.problem
    assert [e.id for e in models_manager.liveness_entries(settings)] == ["minifasnet_v2"]


@pytest.mark.parametrize("value", ["0", "1.5", "-0.1"])
def test_a_live_threshold_outside_0_1_does_not_start(value):
    from attendance.errors import SettingsError
    from attendance.settings import Settings, load_settings
    from camera_agent.settings import AGENT_ENV_PREFIX, AgentSettings

    with pytest.raises(SettingsError, match="liveness_threshold"):
        load_settings(Settings, environ={"ATTENDANCE_LIVENESS_THRESHOLD": value})
    with pytest.raises(SettingsError, match="liveness_threshold"):
        load_settings(AgentSettings, prefix=AGENT_ENV_PREFIX, environ={f"{AGENT_ENV_PREFIX}LIVENESS_THRESHOLD": value})
