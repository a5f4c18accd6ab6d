"""Tilted heads: YuNet's landmarks found again on the face turned upright, so chips are level and names right.

Real-face tests scale people/barack_obama, joe_biden, kit_harington and rose_leslie photos to a gate
camera's face size (80-120 px, where YuNet's own points follow a tilt least), turn them by +-20 degrees, and
expect their eye lines to follow the tilt, and enrollment of a tilted photo to name the person in their
other, upright photo (YuNet + mobilefacenet_paddlex from ../shared/models).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from attendance.enrollment import enroll_photo
from attendance.faces import zoo
from attendance.faces.engine import FaceEngine
from attendance.faces.image import encode_jpeg, load_image
from attendance.faces.landmarks import ARCFACE5, DLIB5, eyes_and_nose
from attendance.faces.upright import UprightLandmarks, build_upright, upright_crop_transform
from attendance.identify import identify_faces
from attendance.recognition import load_gallery, resolve_operating_point
from factories import make_class, make_school, make_student
from models.manifest import load_manifest
from tests.conftest import SHARED_FACES, SHARED_MODELS, require_shared

# (person, photo enrolled tilted, other photo identified upright)
PEOPLE = [
    ("barack_obama", "obama.jpg", "obama2.jpg"),
    ("joe_biden", "biden.jpg", "biden2.jpg"),
    ("kit_harington", "john1.jpeg", "john2.jpeg"),
    ("rose_leslie", "img1.jpg", "img2.jpg"),
]


def rotate_image(image_rgb: np.ndarray, angle_deg: float) -> np.ndarray:
    """``image_rgb`` turned counter-clockwise by ``angle_deg`` about its centre, on a canvas that holds it all."""
    height, width = image_rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle_deg, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(width * cos + height * sin), int(width * sin + height * cos)
    matrix[:, 2] += (new_w / 2 - width / 2, new_h / 2 - height / 2)
    return cv2.warpAffine(image_rgb, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR)


def measure_eye_roll(points: np.ndarray) -> float:
    left, right, _ = eyes_and_nose(points, ARCFACE5)
    return math.degrees(math.atan2(float(right[1] - left[1]), float(right[0] - left[0])))


def test_the_upright_crop_levels_a_tilted_box_and_keeps_the_face_in_the_middle():
    matrix, crop_px, face_box = upright_crop_transform((100, 200, 300, 400), 20.0)
    assert crop_px == 192  # the face scaled to 96 px, with half its side around it
    centre = matrix @ np.array([200.0, 300.0, 1.0])
    np.testing.assert_allclose(centre, [96.0, 96.0], atol=1e-6)
    np.testing.assert_allclose(face_box, (48.0, 48.0, 144.0, 144.0))
    # An eye line tilted +20 degrees (image-right eye lower) comes out level.
    tilt = math.radians(20)
    eyes = np.array([[160.0, 260.0, 1.0], [160.0 + 80 * math.cos(tilt), 260.0 + 80 * math.sin(tilt), 1.0]])
    left, right = eyes @ matrix.T
    assert abs(math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))) < 1e-6
    assert np.hypot(*(right - left)) == pytest.approx(80 * 96 / 200)


def test_only_engines_whose_points_come_from_yunet_are_corrected():
    class Plain:
        model_id = "plain"

    assert build_upright(Plain(), Plain(), DLIB5) is None
    assert build_upright(Plain(), Plain(), ARCFACE5) is None


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    manifest = load_manifest()
    detector = zoo.build_detector(manifest["yunet_2023mar"], require_shared(SHARED_MODELS / "face_detection_yunet.onnx"))
    entry = manifest["mobilefacenet_paddlex"]
    embedder = zoo.build_embedder(entry, require_shared(SHARED_MODELS / entry.file), threads=1)
    built = FaceEngine(detector, zoo.build_landmarker(detector, embedder), embedder)
    assert isinstance(built.upright, UprightLandmarks)
    return built


def photo(person: str, name: str, engine: FaceEngine, face_px: float) -> np.ndarray:
    """The photo scaled so that its largest face measures about ``face_px``."""
    image = load_image(require_shared(SHARED_FACES / "people" / person / name))
    scale = face_px / engine.find_faces(image, embed=False)[0].quality.face_px
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def measure_tilt_errors(engine: FaceEngine, person: str, name: str) -> list[float]:
    """How far the eye line of the largest face misses a +-20 degree turn of the photo (degrees, two values)."""
    image = photo(person, name, engine, face_px=80)
    upright_roll = measure_eye_roll(engine.find_faces(image, embed=False)[0].landmarks)
    errors = []
    for angle_deg in (-20, 20):
        face = engine.find_faces(rotate_image(image, angle_deg), embed=False)[0]
        # Turning the photo counter-clockwise by a degrees lowers the image-left eye: the roll falls by a.
        errors.append(measure_eye_roll(face.landmarks) - (upright_roll - angle_deg))
        assert face.quality.roll_deg == pytest.approx(measure_eye_roll(face.landmarks), abs=1e-3)
    return errors


@pytest.mark.realfaces
@pytest.mark.parametrize("person, name", [(p, enrolled) for p, enrolled, _ in PEOPLE])
def test_the_eye_line_of_a_tilted_head_follows_the_tilt(engine, person, name):
    assert np.abs(measure_tilt_errors(engine, person, name)).max() < 4.0


@pytest.mark.realfaces
def test_yunet_alone_hardly_follows_the_tilt_of_an_80_px_face(engine):
    """The reason for the correction: without it the same faces miss most of the turn."""
    saved, engine.upright = engine.upright, None
    try:
        errors = [e for person, name, _ in PEOPLE for e in measure_tilt_errors(engine, person, name)]
    finally:
        engine.upright = saved
    assert np.mean(np.abs(errors)) > 10.0


@pytest.mark.realfaces
def test_a_tilted_enrollment_photo_names_the_person_in_an_upright_one(engine, session, settings):
    school = make_school(session)
    school_class = make_class(session, school)
    students = {}
    for i, (person, enrolled, _) in enumerate(PEOPLE):
        student = make_student(session, school_class, code=f"HS{i}", full_name=person)
        tilted = rotate_image(photo(person, enrolled, engine, face_px=120), 20 if i % 2 else -20)
        result = enroll_photo(session, engine, settings, student, encode_jpeg(tilted, quality=95),
                              original_name=enrolled)
        assert result.status == "enrolled"
        students[person] = student
    gallery, by_id = load_gallery(session, school.id, engine.model_id)
    point = resolve_operating_point(settings, engine.model_id)
    for person, _, other in PEOPLE:
        (found,) = [f for f in identify_faces(engine, gallery, point, by_id, photo(person, other, engine, 120))
                    if f.student is not None]
        assert found.student.student_code == students[person].student_code
