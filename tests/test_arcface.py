"""112x112 ArcFace-style embedders: alignment, each model's input convention, batching, and real faces.

Unit tests use a fake ONNX Runtime session that records the tensor it is given (no model file). Real-face
tests expect people/barack_obama, joe_biden, kit_harington and rose_leslie (two photos each) to be
nearer to their own other photo than to anyone else's, on each MobileFaceNet in ../shared/models.
"""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest

from attendance.errors import ModelError
from attendance.faces.arcface import (
    ArcfaceEmbedder,
    InputConvention,
    align_arcface,
    alignment_template,
    similarity_transform,
)
from attendance.faces.dlib_models import Dlib68ArcfaceLandmarker
from attendance.faces.image import load_image
from attendance.faces.landmarks import ARCFACE_TEMPLATE_112
from models.manifest import load_manifest
from tests.conftest import SHARED_FACES, SHARED_MODELS, require_shared

# A chip whose every pixel is R=200, G=100, B=50: the channel order shows in the tensor.
RGB_CHIP = np.broadcast_to(np.array([200, 100, 50], np.uint8), (112, 112, 3)).copy()
PEOPLE = ("barack_obama", "joe_biden", "kit_harington", "rose_leslie")


class FakeSession:
    """Stands in for onnxruntime.InferenceSession: records inputs, answers fixed or seeded vectors."""

    def __init__(self, shape=("N", 3, 112, 112), dim=128, name="x") -> None:
        self._input = SimpleNamespace(name=name, shape=list(shape))
        self.dim = dim
        self.calls: list[np.ndarray] = []

    def get_inputs(self):
        return [self._input]

    def run(self, outputs, feeds):
        (tensor,) = feeds.values()
        self.calls.append(tensor.copy())
        # A vector that depends on the chip's content, so a mirrored chip gives a different one.
        flat = tensor.reshape(len(tensor), -1)
        base = np.arange(1, self.dim + 1, dtype=np.float32)
        return [np.stack([base * (1 + float(row[: len(row) // 2].sum() - row[len(row) // 2:].sum())) for row in flat])]


def manifest_convention(model_id: str) -> InputConvention:
    return InputConvention.from_mapping(load_manifest()[model_id].input)


def test_similarity_transform_is_the_identity_for_points_on_the_template():
    matrix = similarity_transform(ARCFACE_TEMPLATE_112, ARCFACE_TEMPLATE_112)
    np.testing.assert_allclose(matrix, [[1, 0, 0], [0, 1, 0]], atol=1e-9)


def test_similarity_transform_recovers_a_rotation_scale_and_shift():
    angle, scale, shift = math.radians(20), 2.5, np.array([40.0, -12.0])
    rotation = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    moved = ARCFACE_TEMPLATE_112 @ rotation.T + shift
    matrix = similarity_transform(moved, ARCFACE_TEMPLATE_112)
    back = moved @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(back, ARCFACE_TEMPLATE_112, atol=1e-4)


def test_landmarks_on_the_template_give_the_image_itself():
    image = np.random.default_rng(1).integers(0, 256, (112, 112, 3), dtype=np.uint8)
    chip = align_arcface(image, ARCFACE_TEMPLATE_112)
    assert chip.shape == (112, 112, 3) and chip.dtype == np.uint8
    assert np.abs(chip.astype(int) - image.astype(int)).max() <= 1


def test_a_rotated_and_enlarged_face_is_brought_back_onto_the_template():
    import cv2

    noise = np.random.default_rng(2).integers(0, 256, (112, 112, 3), dtype=np.uint8)
    image = cv2.GaussianBlur(noise, (0, 0), 3)  # smooth, so two resamplings change little
    image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX)
    forward = cv2.getRotationMatrix2D((56, 56), 25, 2.0)
    forward[:, 2] += (100, 100)
    big = cv2.warpAffine(image, forward, (400, 400), flags=cv2.INTER_LINEAR)
    landmarks = ARCFACE_TEMPLATE_112 @ forward[:, :2].T + forward[:, 2]
    chip = align_arcface(big, landmarks)
    inner = slice(20, 92)
    assert np.abs(chip[inner, inner].astype(int) - image[inner, inner].astype(int)).mean() < 4
    assert np.abs(chip[inner, inner].astype(int) - image[inner, inner][::-1].astype(int)).mean() > 20


@pytest.mark.parametrize("model_id, expected_rgb_values", [
    # (R, G, B) = (200, 100, 50) as the model's first, second and third channel
    ("mobilefacenet_paddlex", [(50 - 127.5) / 127.5, (100 - 127.5) / 127.5, (200 - 127.5) / 127.5]),
    ("mobilefacenet_foamliu", [(200 / 255 - 0.485) / 0.229, (100 / 255 - 0.456) / 0.224, (50 / 255 - 0.406) / 0.225]),
    ("sface_2021dec", [200.0, 100.0, 50.0]),
])
def test_each_model_gets_its_own_input_convention(model_id, expected_rgb_values):
    session = FakeSession()
    embedder = ArcfaceEmbedder(None, model_id, manifest_convention(model_id), session=session)
    embedder.embed([RGB_CHIP])
    (tensor,) = session.calls
    assert tensor.dtype == np.float32 and tensor.shape == (1, 3, 112, 112)  # NCHW
    np.testing.assert_allclose(tensor[0, :, 5, 7], expected_rgb_values, rtol=1e-5)


def test_a_batch_one_model_is_run_once_per_chip_and_a_dynamic_one_once():
    fixed = FakeSession(shape=(1, 3, 112, 112))
    vectors = ArcfaceEmbedder(None, "m", InputConvention(), session=fixed).embed([RGB_CHIP] * 3)
    assert [c.shape[0] for c in fixed.calls] == [1, 1, 1] and vectors.shape == (3, 128)
    dynamic = FakeSession(shape=("batch", 3, 112, 112))
    ArcfaceEmbedder(None, "m", InputConvention(), session=dynamic).embed([RGB_CHIP] * 3)
    assert [c.shape[0] for c in dynamic.calls] == [3]


def test_vectors_are_unit_length_and_flip_adds_the_mirror_image():
    session = FakeSession()
    chip = np.random.default_rng(3).integers(0, 256, (112, 112, 3), dtype=np.uint8)
    vectors = ArcfaceEmbedder(None, "m", InputConvention(), session=session, flip=True).embed([chip, RGB_CHIP])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    (tensor,) = session.calls
    assert tensor.shape[0] == 4
    np.testing.assert_array_equal(tensor[2], tensor[0][:, :, ::-1])  # chip, then its mirror (width axis)
    assert ArcfaceEmbedder(None, "m", InputConvention(), session=FakeSession()).embed([]).shape == (0, 128)


def test_a_model_that_does_not_match_the_manifest_is_refused():
    with pytest.raises(ModelError, match="input shape"):
        ArcfaceEmbedder(None, "m", InputConvention(), session=FakeSession(shape=(1, 3, 160, 160)))
    with pytest.raises(ModelError, match="512-D"):
        ArcfaceEmbedder(None, "m", InputConvention(), session=FakeSession(dim=512)).embed([RGB_CHIP])
    with pytest.raises(ModelError, match="colour"):
        InputConvention(colour="YUV")


def test_intels_template_is_the_arcface_96x112_crop_stretched_to_the_chip():
    template = alignment_template("arcface_96x112", 128)
    np.testing.assert_allclose(template[0], [(38.2946 - 8) / 96 * 128, 51.6963 / 112 * 128])
    np.testing.assert_allclose(template[:, 1], ARCFACE_TEMPLATE_112[:, 1] * 128 / 112)
    np.testing.assert_allclose(alignment_template("arcface", 128), ARCFACE_TEMPLATE_112 * 128 / 112)
    with pytest.raises(ModelError, match="unknown alignment"):
        alignment_template("dlib", 112)


def test_chip_size_and_alignment_come_from_the_manifest():
    entry = load_manifest()["intel_reid_0095"]
    session = FakeSession(shape=(1, 3, 128, 128), dim=256)
    embedder = ArcfaceEmbedder(None, entry.model_id, InputConvention.from_mapping(entry.input), dim=256,
                               session=session, chip_size=entry.chip_size_px, alignment=entry.alignment)
    image = np.random.default_rng(4).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    chip = embedder.align(image, alignment_template(entry.alignment, 128), (0, 0, 128, 128))
    assert chip.shape == (128, 128, 3) and np.abs(chip.astype(int) - image.astype(int)).max() <= 1
    embedder.embed([chip])
    np.testing.assert_array_equal(session.calls[0][0, :, 3, 5], image[3, 5, ::-1])  # BGR, 0-255, unscaled
    with pytest.raises(ModelError, match="input shape"):  # a 112 model given a 128 network, and back
        ArcfaceEmbedder(None, "m", InputConvention(), session=FakeSession(shape=(1, 3, 128, 128)))
    with pytest.raises(ModelError, match="input shape"):
        ArcfaceEmbedder(None, "m", InputConvention(), session=FakeSession(), chip_size=128)
    assert ArcfaceEmbedder(None, "m", InputConvention(), session=FakeSession()).chip_size == 112


@pytest.fixture(scope="module")
def people_faces():
    """(identity, image, YuNet detection of the largest face) for two photos of each of PEOPLE."""
    from attendance.faces.yunet import YunetDetector

    detector = YunetDetector(require_shared(SHARED_MODELS / "face_detection_yunet.onnx"), input_size=(640, 640))
    faces = []
    for name in PEOPLE:
        for path in sorted((require_shared(SHARED_FACES / "people") / name).iterdir())[:2]:
            image = load_image(path)
            detection = max(detector.detect(image), key=lambda d: d.box[2] - d.box[0])
            faces.append((name, image, detection))
    return faces


@pytest.mark.realfaces
@pytest.mark.parametrize("model_id", ["mobilefacenet_paddlex", "mobilefacenet_foamliu"])
def test_same_person_is_nearer_than_anyone_else_and_the_default_threshold_splits_them(model_id, people_faces):
    entry = load_manifest()[model_id]
    embedder = ArcfaceEmbedder(require_shared(SHARED_MODELS / entry.file), model_id,
                               InputConvention.from_mapping(entry.input), threads=1)
    vectors = embedder.embed([embedder.align(image, d.landmarks, d.box) for _, image, d in people_faces])
    same, different = [], []
    for (i, a), (j, b) in itertools.combinations(enumerate(people_faces), 2):
        distance = 1.0 - float(vectors[i] @ vectors[j])
        (same if a[0] == b[0] else different).append(distance)
    assert max(same) < min(different)
    assert max(same) < entry.threshold < min(different)


@pytest.mark.realfaces
def test_dlib_68_points_give_the_same_arcface5_points_as_yunet(people_faces):
    landmarker = Dlib68ArcfaceLandmarker()
    for _, image, detection in people_faces[:4]:
        points = landmarker.locate(image, detection.box)
        eye_distance = float(np.hypot(*(detection.landmarks[1] - detection.landmarks[0])))
        assert np.abs(points - detection.landmarks).max() < 0.25 * eye_distance
