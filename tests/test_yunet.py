"""YuNet: finds the faces of a real photo with landmarks in ARCFACE5 order, and lends them to the landmarker.

Real-face tests expect barack_obama (image-right) and joe_biden (image-left) in probes/obama_and_biden.jpg.
"""

from __future__ import annotations

import numpy as np
import pytest

from attendance.errors import ModelError
from attendance.faces.image import load_image
from attendance.faces.landmarks import ARCFACE5, eyes_and_nose
from attendance.faces.yunet import YunetDetector, YunetLandmarker, box_iou
from tests.conftest import SHARED_FACES, SHARED_MODELS, require_shared

pytestmark = pytest.mark.realfaces


@pytest.fixture(scope="module")
def yunet_path():
    return require_shared(SHARED_MODELS / "face_detection_yunet.onnx")


@pytest.fixture(scope="module")
def two_people():
    return load_image(require_shared(SHARED_FACES / "probes" / "obama_and_biden.jpg"))


def assert_frontal_arcface5(points: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Right eye (image-left), left eye, nose tip, right and left mouth corners of an upright face."""
    right_eye, left_eye, nose, mouth_right, mouth_left = points
    x1, y1, x2, y2 = box
    assert points.shape == (5, 2) and points.dtype == np.float32
    assert np.all((points[:, 0] >= x1) & (points[:, 0] <= x2) & (points[:, 1] >= y1) & (points[:, 1] <= y2))
    assert right_eye[0] < nose[0] < left_eye[0]
    assert mouth_right[0] < mouth_left[0]
    assert max(right_eye[1], left_eye[1]) < nose[1] < min(mouth_right[1], mouth_left[1])
    eye_distance = np.hypot(*(left_eye - right_eye))
    assert 0.2 * (x2 - x1) < eye_distance < 0.7 * (x2 - x1)


def test_finds_both_faces_with_landmarks_in_arcface5_order(yunet_path, two_people):
    detector = YunetDetector(yunet_path)
    assert detector.model_id == "yunet_2023mar" and detector.landmark_scheme == ARCFACE5
    found = detector.detect(two_people)
    assert len(found) >= 2
    assert found == sorted(found, key=lambda d: d.score, reverse=True)
    biden, obama = sorted(sorted(found, key=lambda d: d.box[2] - d.box[0])[-2:], key=lambda d: d.box[0])
    width = two_people.shape[1]
    assert biden.box[2] < width / 2 < obama.box[0]  # Biden stands on the image's left
    for face in (biden, obama):
        assert face.score > 0.9
        assert 150 < face.box[2] - face.box[0] < 260
        assert_frontal_arcface5(face.landmarks, face.box)


def test_a_scaled_input_size_finds_the_same_faces_in_the_original_pixels(yunet_path, two_people):
    full = YunetDetector(yunet_path).detect(two_people)
    scaled = YunetDetector(yunet_path, input_size=(640, 640)).detect(two_people)
    for face in full[:2]:
        twin = max(scaled, key=lambda d: box_iou(d.box, face.box))
        assert box_iou(twin.box, face.box) > 0.8
        assert np.abs(twin.landmarks - face.landmarks).max() < 0.1 * (face.box[2] - face.box[0])


def test_landmarker_reuses_the_detectors_points_and_finds_them_again_in_a_region(yunet_path, two_people):
    detector = YunetDetector(yunet_path)
    face = detector.detect(two_people)[0]
    landmarker = YunetLandmarker(detector)
    np.testing.assert_allclose(landmarker.locate(two_people, face.box), face.landmarks)

    # Another detector's box (not from the last call): YuNet runs again on the region.
    fresh = YunetLandmarker(YunetDetector(yunet_path))
    again = fresh.locate(two_people, face.box)
    eye_distance = np.hypot(*(face.landmarks[1] - face.landmarks[0]))
    assert np.abs(again - face.landmarks).max() < 0.15 * eye_distance
    assert_frontal_arcface5(again, face.box)


def test_landmarker_falls_back_to_template_points_where_there_is_no_face(yunet_path):
    blank = np.full((300, 300, 3), 128, np.uint8)
    points = YunetLandmarker(YunetDetector(yunet_path)).locate(blank, (100, 100, 200, 200))
    assert points.shape == (5, 2)
    assert_frontal_arcface5(points, (100, 100, 200, 200))


def test_eyes_and_nose_understands_both_schemes():
    arcface = np.array([[40, 50], [70, 50], [55, 70], [42, 90], [68, 90]], np.float32)
    left, right, nose = eyes_and_nose(arcface, ARCFACE5)
    assert tuple(left) == (40, 50) and tuple(right) == (70, 50) and tuple(nose) == (55, 70)
    dlib5 = np.array([[75, 50], [65, 50], [35, 50], [45, 50], [55, 75]], np.float32)  # dlib's corner order
    left, right, nose = eyes_and_nose(dlib5)
    assert tuple(left) == (40, 50) and tuple(right) == (70, 50) and tuple(nose) == (55, 75)
    with pytest.raises(ValueError):
        eyes_and_nose(arcface, "nine-points")


def test_missing_model_file_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        YunetDetector(tmp_path / "absent.onnx")
