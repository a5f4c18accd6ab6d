"""OpenVINO IR to ONNX: the reader, the converter's determinism and refusals, installing from IR, and parity.

Unit tests build a tiny IR here (no shared file). The rest read Intel's face-reidentification-retail-0095
from ../shared/models/intel; the parity test runs the same aligned chips of ../shared/faces (people/,
probes/ and 40 LFW photos, picked as tests/test_onnx_resnet.py picks them) through the ``openvino`` runtime
(a dev dependency: it must be installed) and through the converted ONNX file in ONNX Runtime.
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from attendance import models_manager
from attendance.errors import ImageError, ModelError
from attendance.faces.onnx_runtime import create_session
from attendance.settings import Settings, load_settings
from conftest import SHARED_FACES, SHARED_MODELS, require_shared
from models.errors import ModelFileError
from models.manifest import load_manifest
from models.openvino_ir import parse_ir, read_ir
from models.openvino_onnx import build_onnx_model, convert_openvino
from test_models_manager import run_cli
from test_onnx_resnet import _sample_images

MODEL_ID = "intel_reid_0095"
FP16_XML = "intel/face-reidentification-retail-0095.xml"
INT8_XML = "intel/face-reidentification-retail-0095-int8.xml"
PARITY_MAX_ABS_DIFF = 1e-4
PEOPLE = ("barack_obama", "joe_biden", "kit_harington", "rose_leslie")


# --- a tiny IR: f16 conv weights (Const -> Convert), bias Add, per-channel PReLU, global AvgPool ------------

def tiny_ir(extra_layer: str = "") -> tuple[bytes, bytes]:
    """(xml, bin) of a 1x2x4x4 -> 1x3x1x1 network with the patterns of Intel's IR."""
    rng = np.random.default_rng(7)
    weights = rng.normal(size=(3, 2, 3, 3)).astype(np.float16)
    bias = rng.normal(size=(1, 3, 1, 1)).astype(np.float32)
    slope = np.array([0.1, 0.2, 0.3], np.float16)
    blob = weights.tobytes() + bias.tobytes() + slope.tobytes()
    w_size, b_size = weights.nbytes, bias.nbytes

    def port(pid, dims, tag="port"):
        return f'<{tag} id="{pid}">' + "".join(f"<dim>{d}</dim>" for d in dims) + f"</{tag}>"

    layers = f"""
      <layer id="0" name="x" type="Parameter" version="opset1"><data shape="1,2,4,4" element_type="f32"/>
        <output>{port(0, (1, 2, 4, 4))}</output></layer>
      <layer id="1" name="w_compressed" type="Const" version="opset1">
        <data element_type="f16" shape="3, 2, 3, 3" offset="0" size="{w_size}"/><output>{port(0, (3, 2, 3, 3))}</output></layer>
      <layer id="2" name="w" type="Convert" version="opset1"><data destination_type="f32"/>
        <input>{port(0, (3, 2, 3, 3))}</input><output>{port(1, (3, 2, 3, 3))}</output></layer>
      <layer id="3" name="conv" type="Convolution" version="opset1">
        <data strides="1, 1" dilations="1, 1" pads_begin="1, 1" pads_end="1, 1" auto_pad="explicit"/>
        <input>{port(0, (1, 2, 4, 4))}{port(1, (3, 2, 3, 3))}</input><output>{port(2, (1, 3, 4, 4))}</output></layer>
      <layer id="4" name="b" type="Const" version="opset1">
        <data element_type="f32" shape="1, 3, 1, 1" offset="{w_size}" size="{b_size}"/><output>{port(0, (1, 3, 1, 1))}</output></layer>
      <layer id="5" name="add" type="Add" version="opset1"><data auto_broadcast="numpy"/>
        <input>{port(0, (1, 3, 4, 4))}{port(1, (1, 3, 1, 1))}</input><output>{port(2, (1, 3, 4, 4))}</output></layer>
      <layer id="6" name="s_compressed" type="Const" version="opset1">
        <data element_type="f16" shape="3" offset="{w_size + b_size}" size="6"/><output>{port(0, (3,))}</output></layer>
      <layer id="7" name="s" type="Convert" version="opset1"><data destination_type="f32"/>
        <input>{port(0, (3,))}</input><output>{port(1, (3,))}</output></layer>
      <layer id="8" name="prelu" type="PReLU" version="opset1">
        <input>{port(0, (1, 3, 4, 4))}{port(1, (3,))}</input><output>{port(2, (1, 3, 4, 4))}</output></layer>
      <layer id="9" name="pool" type="AvgPool" version="opset1">
        <data kernel="4, 4" strides="4, 4" pads_begin="0, 0" pads_end="0, 0" exclude-pad="true" auto_pad="explicit" rounding_type="floor"/>
        <input>{port(0, (1, 3, 4, 4))}</input><output>{port(1, (1, 3, 1, 1))}</output></layer>
      {extra_layer}
      <layer id="10" name="out" type="Result" version="opset1"><input>{port(0, (1, 3, 1, 1))}</input></layer>"""
    edges = [(0, 0, 3, 0), (1, 0, 2, 0), (2, 1, 3, 1), (3, 2, 5, 0), (4, 0, 5, 1), (6, 0, 7, 0), (5, 2, 8, 0),
             (7, 1, 8, 1), (8, 2, 9, 0), (9, 1, 10, 0)]
    edge_xml = "".join(f'<edge from-layer="{a}" from-port="{b}" to-layer="{c}" to-port="{d}"/>' for a, b, c, d in edges)
    xml = f'<?xml version="1.0"?><net name="tiny" version="11"><layers>{layers}</layers><edges>{edge_xml}</edges></net>'
    return xml.encode(), blob


def reference_tiny(ir_xml: bytes, blob: bytes, x: np.ndarray) -> np.ndarray:
    """The tiny network in numpy, from the same weights (float32 arithmetic)."""
    weights = np.frombuffer(blob, np.float16, 54).reshape(3, 2, 3, 3).astype(np.float32)
    bias = np.frombuffer(blob, np.float32, 3, offset=108).reshape(1, 3, 1, 1)
    slope = np.frombuffer(blob, np.float16, 3, offset=120).astype(np.float32).reshape(1, 3, 1, 1)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((len(x), 3, 4, 4), np.float32)
    for i, j in itertools.product(range(4), range(4)):
        out[:, :, i, j] = np.einsum("nchw,ochw->no", padded[:, :, i:i + 3, j:j + 3], weights)
    out = out + bias
    out = np.where(out >= 0, out, out * slope)
    return out.mean(axis=(2, 3), keepdims=True)


def test_the_reader_reads_layers_edges_and_f16_constants():
    xml, blob = tiny_ir()
    ir = parse_ir(xml, blob)
    assert ir.version == "11" and [layer.id for layer in ir.layers][:2] == [0, 1]
    assert ir.op_types() == ["Add", "AvgPool", "Const", "Convert", "Convolution", "PReLU", "Parameter", "Result"]
    const = next(layer for layer in ir.layers if layer.name == "w_compressed")
    array = ir.const_array(const)
    assert array.dtype == np.float16 and array.shape == (3, 2, 3, 3)
    conv = next(layer for layer in ir.layers if layer.type == "Convolution")
    assert ir.sources(conv) == [(0, 0), (2, 1)]


def test_the_converted_tiny_network_computes_what_the_ir_says(tmp_path):
    xml, blob = tiny_ir()
    (tmp_path / "tiny.xml").write_bytes(xml)
    (tmp_path / "tiny.bin").write_bytes(blob)
    digest = convert_openvino(tmp_path / "tiny.xml", tmp_path / "tiny.onnx", "tiny")
    session = create_session(tmp_path / "tiny.onnx", providers=["CPUExecutionProvider"], threads=1)
    x = np.random.default_rng(3).normal(size=(2, 2, 4, 4)).astype(np.float32)  # batch 2: the batch axis is free
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(got, reference_tiny(xml, blob, x), rtol=1e-5, atol=1e-5)
    assert (tmp_path / "tiny.onnx.sha256").read_text() == f"{digest}  tiny.onnx\n"


def test_the_same_ir_gives_the_same_bytes(tmp_path):
    xml, blob = tiny_ir()
    (tmp_path / "tiny.xml").write_bytes(xml)
    (tmp_path / "tiny.bin").write_bytes(blob)
    first = convert_openvino(tmp_path / "tiny.xml", tmp_path / "a.onnx", "tiny")
    second = convert_openvino(tmp_path / "tiny.xml", tmp_path / "b.onnx", "tiny")
    assert first == second and (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()
    assert hashlib.sha256((tmp_path / "a.onnx").read_bytes()).hexdigest() == first


def test_an_unknown_operation_type_is_refused_by_name():
    gelu = ('<layer id="11" name="g" type="Gelu" version="opset7"><input><port id="0"><dim>1</dim></port></input>'
            '<output><port id="1"><dim>1</dim></port></output></layer>')
    xml, blob = tiny_ir(gelu)
    with pytest.raises(ModelFileError, match=r"operation type.*Gelu.*cannot be converted"):
        build_onnx_model(parse_ir(xml, blob), "tiny")


def test_malformed_irs_are_refused(tmp_path):
    xml, blob = tiny_ir()
    with pytest.raises(ModelFileError, match="outside the weights"):
        build_onnx_model(parse_ir(xml, blob[:100]), "tiny")
    with pytest.raises(ModelFileError, match="not well-formed"):
        parse_ir(xml[:200], blob)
    with pytest.raises(ModelFileError, match="version"):
        parse_ir(xml.replace(b'version="11"', b'version="7"', 1), blob)
    with pytest.raises(ModelFileError, match="cannot read"):
        read_ir(tmp_path / "missing.xml")


# --- Intel's IR -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def intel_onnx(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("intel") / "intel_reid_0095.onnx"
    convert_openvino(require_shared(SHARED_MODELS / FP16_XML), out, MODEL_ID)
    return out


def test_intel_ir_converts_to_a_valid_deterministic_onnx_model(intel_onnx, tmp_path):
    onnx.checker.check_model(str(intel_onnx))
    model = onnx.load(str(intel_onnx))
    dims = lambda value: [d.dim_value or d.dim_param for d in value.type.tensor_type.shape.dim]  # noqa: E731
    assert dims(model.graph.input[0]) == ["N", 3, 128, 128] and dims(model.graph.output[0]) == ["N", 256, 1, 1]
    props = {p.key: p.value for p in model.metadata_props}
    entry = load_manifest()[MODEL_ID]
    assert props == {"model_id": MODEL_ID, "source_xml_sha256": entry.openvino["xml_sha256"],
                     "source_bin_sha256": entry.openvino["bin_sha256"]}
    assert {init.data_type for init in model.graph.initializer} == {onnx.TensorProto.FLOAT}  # f16 decompressed
    again = tmp_path / "again.onnx"
    convert_openvino(SHARED_MODELS / FP16_XML, again, MODEL_ID)
    assert again.read_bytes() == intel_onnx.read_bytes()


def test_the_manifest_pins_both_ir_files_of_the_shared_copy():
    entry = load_manifest()[MODEL_ID]
    for part in ("xml", "bin"):
        path = require_shared(SHARED_MODELS / FP16_XML).with_suffix(f".{part}")
        assert models_manager.file_sha256(path) == entry.openvino[f"{part}_sha256"]
        assert path.stat().st_size == entry.openvino[f"{part}_size_bytes"]
        assert "93a6a9503d2ec545502a496f64ec2f7df45db312" in entry.openvino[f"{part}_url"]
    assert not entry.research_only and entry.chip_size_px == 128 and entry.alignment == "arcface_96x112"
    assert "split-half-tail" in entry.threshold_source  # placed by bench/operating_point.py, reported on held-out people


@pytest.fixture
def settings(tmp_path) -> Settings:
    return load_settings(Settings, environ={}, overrides={"instance_path": str(tmp_path / "instance")})


def test_installing_from_ir_checks_both_files_converts_and_is_used_by_auto(settings, tmp_path, capsys):
    xml = require_shared(SHARED_MODELS / FP16_XML)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(xml, mixed / "model.xml")
    shutil.copy(SHARED_MODELS / INT8_XML.replace(".xml", ".bin"), mixed / "model.bin")  # the wrong weights
    with pytest.raises(ModelError) as caught:
        models_manager.install_model(settings, MODEL_ID, mixed / "model.xml")
    entry = load_manifest()[MODEL_ID]
    assert entry.openvino["bin_sha256"] in caught.value.message and "not installed" in caught.value.message
    folder = Path(settings.instance_path) / "models"
    assert sorted(p.name for p in folder.iterdir()) == []  # nothing left behind, not even a partial file

    assert run_cli(settings, "models", "download", MODEL_ID, "--path", str(xml)) == 0
    out = capsys.readouterr().out
    assert "VGGFace2" in out.split("installed")[0]  # the training data's terms were shown before installing
    assert sorted(p.name for p in folder.iterdir()) == [
        "intel_reid_0095.bin", "intel_reid_0095.onnx", "intel_reid_0095.onnx.sha256", "intel_reid_0095.xml"]
    assert models_manager.model_in_use(settings, "embedder").id == MODEL_ID
    assert run_cli(settings, "models", "verify") == 0 and f"{MODEL_ID}: ok" in capsys.readouterr().out
    kept_bin = folder / "intel_reid_0095.bin"
    damaged = bytearray(kept_bin.read_bytes())
    damaged[-1] ^= 0xFF
    kept_bin.write_bytes(bytes(damaged))
    assert run_cli(settings, "models", "verify") == 1 and "intel_reid_0095.bin has sha256" in capsys.readouterr().out
    models_manager.install_model(settings, MODEL_ID, xml)  # a local copy is always checked and put back
    assert run_cli(settings, "models", "list") == 0
    assert any(line.startswith(MODEL_ID) and "in use" in line for line in capsys.readouterr().out.splitlines())

    onnx_bytes = (folder / "intel_reid_0095.onnx").read_bytes()
    (folder / "intel_reid_0095.onnx").write_bytes(b"damaged")
    assert run_cli(settings, "models", "convert-openvino", MODEL_ID) == 0  # from the kept, checked IR
    assert (folder / "intel_reid_0095.onnx").read_bytes() == onnx_bytes
    with pytest.raises(ModelError, match="sha256"):
        run_cli(settings, "models", "convert-openvino", MODEL_ID, "--xml", str(SHARED_MODELS / INT8_XML))
    models_manager.remove_model(settings, MODEL_ID)
    assert list(folder.iterdir()) == []


def test_a_download_fetches_both_pinned_files_and_checks_them(settings):
    entry = load_manifest()[MODEL_ID]
    served = {entry.openvino["xml_url"]: require_shared(SHARED_MODELS / FP16_XML).read_bytes(),
              entry.openvino["bin_url"]: (SHARED_MODELS / FP16_XML).with_suffix(".bin").read_bytes()}
    fetched = []

    def fetch(url, destination, progress, most_bytes):
        fetched.append(url)
        assert len(served[url]) < most_bytes
        destination.write_bytes(served[url])

    result = models_manager.install_model(settings, MODEL_ID, fetch=fetch)
    assert fetched == [entry.openvino["xml_url"], entry.openvino["bin_url"]] and not result.already_installed
    assert models_manager.install_model(settings, MODEL_ID, fetch=fetch).already_installed and len(fetched) == 2
    models_manager.remove_model(settings, MODEL_ID)
    served[entry.openvino["bin_url"]] = b"tampered"
    with pytest.raises(ModelError, match=r"sha256 of https://.*bin is"):
        models_manager.install_model(settings, MODEL_ID, fetch=fetch)
    assert not (Path(settings.instance_path) / "models" / entry.file).exists()


def test_a_research_only_model_that_ranks_higher_does_not_displace_it(settings):
    models_manager.install_model(settings, MODEL_ID, require_shared(SHARED_MODELS / FP16_XML))
    paddlex = require_shared(SHARED_MODELS / "mobilefacenet_paddlex.onnx")
    models_manager.install_model(settings, "mobilefacenet_paddlex", paddlex, accept_terms=True)
    assert load_manifest()["mobilefacenet_paddlex"].rank > load_manifest()[MODEL_ID].rank
    assert models_manager.model_in_use(settings, "embedder").id == MODEL_ID
    named = load_settings(Settings, environ={}, overrides={"instance_path": settings.instance_path,
                                                           "recognition_model": "mobilefacenet_paddlex"})
    assert models_manager.model_in_use(named, "embedder").id == "mobilefacenet_paddlex"


# --- real faces -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def yunet():
    from attendance.faces.yunet import YunetDetector

    return YunetDetector(require_shared(SHARED_MODELS / "face_detection_yunet.onnx"), input_size=(640, 640))


@pytest.fixture(scope="module")
def intel_embedder(intel_onnx):
    from attendance.faces.zoo import build_embedder

    return build_embedder(load_manifest()[MODEL_ID], intel_onnx, threads=1)


@pytest.mark.realfaces
def test_onnx_runtime_matches_openvino_on_real_faces(intel_embedder, yunet):
    import openvino

    from attendance.faces.image import load_image

    # f32 inference: both sides then run the same decompressed weights (a CPU with bf16 would round more).
    compiled = openvino.Core().compile_model(str(SHARED_MODELS / FP16_XML), "CPU",
                                             {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1})
    chips, images_with_faces = [], 0
    for path in _sample_images(require_shared(SHARED_FACES)):
        try:
            image = load_image(path)
        except ImageError:  # an unreadable sample is skipped, as in the dlib parity test
            continue
        detections = yunet.detect(image)
        images_with_faces += bool(detections)
        chips += [intel_embedder.align(image, d.landmarks, d.box) for d in detections]
    assert images_with_faces >= 50, f"only {images_with_faces} images with a detected face"
    assert chips[0].shape == (128, 128, 3)
    tensor = intel_embedder.convention.to_tensor(chips)
    reference = np.stack([np.asarray(compiled(tensor[i:i + 1])[0]).reshape(-1) for i in range(len(tensor))])
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    diff = np.abs(intel_embedder.embed(chips) - reference)
    print(f"\nONNX Runtime vs OpenVINO on {len(chips)} faces from {images_with_faces} images: "
          f"max abs diff {diff.max():.3g}, mean {diff.mean():.3g}")
    assert diff.max() <= PARITY_MAX_ABS_DIFF


@pytest.mark.realfaces
def test_same_person_is_nearer_than_anyone_else_and_the_threshold_splits_them(intel_embedder, yunet):
    from attendance.faces.image import load_image

    faces = []
    for name in PEOPLE:
        for path in sorted((require_shared(SHARED_FACES / "people") / name).iterdir())[:2]:
            image = load_image(path)
            detection = max(yunet.detect(image), key=lambda d: d.box[2] - d.box[0])
            faces.append((name, intel_embedder.align(image, detection.landmarks, detection.box)))
    vectors = intel_embedder.embed([chip for _, chip in faces])
    same, different = [], []
    for (i, a), (j, b) in itertools.combinations(enumerate(faces), 2):
        (same if a[0] == b[0] else different).append(1.0 - float(vectors[i] @ vectors[j]))
    threshold = load_manifest()[MODEL_ID].threshold
    assert max(same) < threshold < min(different)
