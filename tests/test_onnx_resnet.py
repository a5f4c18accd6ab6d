"""dlib ResNet to ONNX: the converter's output is valid and deterministic, and matches dlib on real faces."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest

from attendance.errors import ModelError
from attendance.faces.onnx_resnet import OnnxResnetEmbedder
from attendance.faces.onnx_runtime import PROVIDER_PREFERENCE, choose_providers, create_session
from models.dlib_onnx import convert_dlib_resnet, default_dat_path
from models.errors import ModelFileError

PARITY_MAX_ABS_DIFF = 1e-4
LFW_SAMPLE_SIZE = 40


def test_default_dat_path_points_at_the_installed_weights():
    assert default_dat_path().name == "dlib_face_recognition_resnet_model_v1.dat"
    assert default_dat_path().is_file()


def test_converted_model_passes_the_checker_and_has_the_documented_signature(converted):
    path, digest = converted
    onnx.checker.check_model(str(path))
    model = onnx.load(str(path))
    assert model.opset_import[0].version == 17
    (graph_input,) = model.graph.input
    assert graph_input.name == "chips"
    assert [d.dim_value or d.dim_param for d in graph_input.type.tensor_type.shape.dim] == ["N", 150, 150, 3]
    assert [o.name for o in model.graph.output] == ["embeddings"]
    assert {p.key: p.value for p in model.metadata_props}["model_id"] == "dlib_resnet_v1"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert path.with_name(path.name + ".sha256").read_text() == f"{digest}  {path.name}\n"


def test_conversion_is_deterministic(converted, tmp_path):
    path, digest = converted
    again = tmp_path / "again.onnx"
    assert convert_dlib_resnet(default_dat_path(), again) == digest
    assert again.read_bytes() == path.read_bytes()


def test_converter_rejects_a_file_that_is_not_the_face_resnet(tmp_path):
    with pytest.raises(ModelFileError):
        convert_dlib_resnet(tmp_path / "missing.dat", tmp_path / "out.onnx")
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(default_dat_path().read_bytes()[:5000])
    with pytest.raises(ModelFileError):
        convert_dlib_resnet(truncated, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


def test_create_session_reports_missing_files_bad_files_and_unknown_providers(converted, tmp_path):
    with pytest.raises(ModelError, match="not found"):
        create_session(tmp_path / "nothing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load"):
        create_session(garbage)
    with pytest.raises(ModelError, match="NoSuchExecutionProvider"):
        create_session(converted[0], providers=["NoSuchExecutionProvider"])
    assert choose_providers()[-1] == "CPUExecutionProvider"
    assert all(name in PROVIDER_PREFERENCE for name in choose_providers())


def test_embedder_mirrors_the_dlib_embedder_interface(converted):
    embedder = OnnxResnetEmbedder(converted[0], providers=["CPUExecutionProvider"], threads=1)
    interface = (embedder.model_id, embedder.dim, embedder.metric, embedder.chip_size)
    assert interface == ("dlib_resnet_v1", 128, "euclidean", 150)
    assert embedder.embed([]).shape == (0, 128)
    chips = [np.full((150, 150, 3), value, dtype=np.uint8) for value in (0, 128, 255)]
    vectors = embedder.embed(chips)
    assert vectors.shape == (3, 128) and vectors.dtype == np.float32
    np.testing.assert_array_equal(embedder.embed(chips[1:2])[0], vectors[1])
    with pytest.raises(ValueError):
        embedder.embed([np.zeros((100, 100, 3), dtype=np.uint8)])


def _load_rgb(path: Path) -> np.ndarray | None:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # also flattens 32-bit RGBA to 3 channels
    return None if image is None else np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def _sample_images(faces_dir: Path) -> list[Path]:
    """people/ and probes/ in full, plus an evenly spread, fixed sample of LFW."""
    suffixes = {".jpg", ".jpeg", ".png"}
    own = sorted(p for folder in ("people", "probes") for p in (faces_dir / folder).rglob("*")
                 if p.suffix.lower() in suffixes)
    lfw = sorted((faces_dir / "lfw").rglob("*.jpg"))
    step = max(1, len(lfw) // LFW_SAMPLE_SIZE)
    return own + lfw[::step][:LFW_SAMPLE_SIZE]


@pytest.mark.realfaces
def test_onnx_matches_dlib_on_real_faces(converted, faces_dir):
    import dlib

    from attendance.faces.dlib_models import locate_dlib_model

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(locate_dlib_model("shape_predictor_5_face_landmarks.dat")))
    reference = dlib.face_recognition_model_v1(str(default_dat_path()))
    embedder = OnnxResnetEmbedder(converted[0], providers=["CPUExecutionProvider"], threads=1)

    chips, expected, images_with_faces = [], [], 0
    for path in _sample_images(faces_dir):
        image = _load_rgb(path)
        if image is None:
            continue
        rects = detector(image, 1 if max(image.shape[:2]) < 640 else 0)
        images_with_faces += bool(rects)
        for rect in rects:
            shape = predictor(image, rect)
            chip = np.ascontiguousarray(dlib.get_face_chip(image, shape, size=150, padding=0.25))
            chips.append(chip)
            expected.append(np.array(reference.compute_face_descriptor(chip), dtype=np.float32))
            if len(chips) == 1:  # the embedder's own alignment gives the very same chip
                points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
                box = (rect.left(), rect.top(), rect.right(), rect.bottom())
                np.testing.assert_array_equal(embedder.align(image, points, box), chip)

    assert images_with_faces >= 50, f"only {images_with_faces} images with a detected face"
    diff = np.abs(embedder.embed(chips) - np.stack(expected))
    print(f"\nONNX vs dlib on {len(chips)} faces from {images_with_faces} images: "
          f"max abs diff {diff.max():.3g}, mean abs diff {diff.mean():.3g}")
    assert diff.max() <= PARITY_MAX_ABS_DIFF
