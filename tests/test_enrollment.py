"""Enrollment rules: which face is taken and why a photo is refused.

Synthetic faces (no model) pin the rules; one real-face test (YuNet + mobilefacenet_paddlex from
../shared/models) expects people/ photos of barack_obama and rose_leslie accepted sharp and refused blurred.
"""

import cv2
import numpy as np
import pytest

from attendance.enrollment import choose_main_face, pick_enrollment_face
from attendance.errors import PhotoRejected
from attendance.faces.types import Face, FaceQuality
from attendance.settings import Settings, load_settings
from tests.conftest import SHARED_FACES, SHARED_MODELS, require_shared

SETTINGS = load_settings(Settings, environ={})
PHOTO = (1000, 1000, 3)  # height, width, channels of the synthetic photo the faces are placed in


def make_face(side=200, sharpness=150.0, yaw=0.0, centre=(500, 500)):
    """A face of ``side`` px whose box is centred on ``centre`` (x, y) in a 1000x1000 photo."""
    quality = FaceQuality(face_px=side, sharpness=sharpness, yaw_deg=yaw, roll_deg=0.0, pitch_ratio=0.7)
    x, y = centre
    box = (x - side // 2, y - side // 2, x + side // 2, y + side // 2)
    return Face(box=box, score=1.0, landmarks=np.zeros((5, 2), np.float32), quality=quality)


def test_one_good_face_is_taken():
    face = make_face()
    assert pick_enrollment_face([face], SETTINGS, PHOTO) is face


def test_a_large_face_with_small_background_faces_is_taken_wherever_it_is():
    main = make_face(300, centre=(300, 400))
    assert pick_enrollment_face([main, make_face(90, centre=(800, 200)), make_face(60)], SETTINGS, PHOTO) is main


@pytest.mark.parametrize("others", [
    [make_face(230, centre=(60, 450))],  # a cut-off face at the edge, nearly as large (LFW's typical refusal)
    [make_face(260, centre=(900, 120)), make_face(200, centre=(100, 880))],  # larger ones in two corners
    [make_face(170, centre=(640, 420))],  # close by, but clearly smaller and less central (a friend behind)
])
def test_the_central_face_is_taken_among_similar_faces_at_the_edges(others):
    main = make_face(220, centre=(510, 480))
    faces = sorted([main, *others], key=lambda f: f.area_px, reverse=True)
    assert choose_main_face(faces, PHOTO) is main
    assert pick_enrollment_face(faces, SETTINGS, PHOTO) is main


@pytest.mark.parametrize("faces", [
    [make_face(200, centre=(430, 500)), make_face(190, centre=(590, 500))],  # cheek to cheek in the middle
    [make_face(200, centre=(250, 450)), make_face(200, centre=(750, 450))],  # side by side, neither central
    [make_face(200, centre=(450, 450)), make_face(170, centre=(600, 560)), make_face(40, centre=(50, 50))],
    [make_face(200, centre=(560, 500)), make_face(150, centre=(500, 500))],  # the larger one a little off centre
])
def test_two_similar_faces_equally_central_are_refused(faces):
    with pytest.raises(PhotoRejected) as caught:
        choose_main_face(faces, PHOTO)
    assert caught.value.reason == "several_faces"


@pytest.mark.parametrize("faces, reason", [
    ([], "no_face"),
    ([make_face(200, centre=(300, 500)), make_face(180, centre=(700, 500))], "several_faces"),
    ([make_face(50)], "face_too_small"),
    ([make_face(sharpness=5.0)], "too_blurry"),
    ([make_face(yaw=60.0)], "pose_not_frontal"),
    ([make_face(yaw=-60.0)], "pose_not_frontal"),
    # the quality checks apply to the face chosen, not to the largest
    ([make_face(240, centre=(50, 500)), make_face(200, sharpness=5.0)], "too_blurry"),
])
def test_bad_photos_are_refused_with_their_reason(faces, reason):
    with pytest.raises(PhotoRejected) as caught:
        pick_enrollment_face(faces, SETTINGS, PHOTO)
    assert caught.value.reason == reason


@pytest.fixture(scope="module")
def yunet_engine():
    from attendance.faces import zoo
    from attendance.faces.engine import FaceEngine
    from models.manifest import load_manifest

    manifest = load_manifest()
    detector = zoo.build_detector(manifest["yunet_2023mar"], require_shared(SHARED_MODELS / "face_detection_yunet.onnx"))
    entry = manifest["mobilefacenet_paddlex"]
    embedder = zoo.build_embedder(entry, require_shared(SHARED_MODELS / entry.file), threads=1)
    return FaceEngine(detector, zoo.build_landmarker(detector, embedder), embedder)


@pytest.mark.realfaces
@pytest.mark.parametrize("path", ["barack_obama/obama.jpg", "rose_leslie/img1.jpg"])
def test_a_blurred_copy_is_refused_as_too_blurry_with_yunet_and_112_px_chips(yunet_engine, path):
    """Scaled so the face measures about 120 px (an LFW-size face), then blurred by sigma 3 px."""
    from attendance.faces.image import load_image

    image = load_image(require_shared(SHARED_FACES / "people" / path))
    scale = 120 / yunet_engine.find_faces(image, embed=False)[0].quality.face_px
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    sharp = pick_enrollment_face(yunet_engine.find_faces(image, embed=False), SETTINGS, image.shape)
    assert sharp.quality.sharpness > 2 * SETTINGS.min_sharpness
    blurred = cv2.GaussianBlur(image, (0, 0), 3.0)
    with pytest.raises(PhotoRejected) as caught:
        pick_enrollment_face(yunet_engine.find_faces(blurred, embed=False), SETTINGS, blurred.shape)
    assert caught.value.reason == "too_blurry"
    assert "sharpness" in caught.value.message
