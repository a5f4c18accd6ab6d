"""Enrollment rules on synthetic faces (no model): which face is taken and why a photo is refused."""

import numpy as np
import pytest

from attendance.enrollment import pick_enrollment_face
from attendance.errors import PhotoRejected
from attendance.faces.types import Face, FaceQuality
from attendance.settings import Settings, load_settings

SETTINGS = load_settings(Settings, environ={})


def make_face(side=200, sharpness=150.0, yaw=0.0, x=0):
    quality = FaceQuality(face_px=side, sharpness=sharpness, yaw_deg=yaw, roll_deg=0.0, pitch_ratio=0.7)
    return Face(box=(x, 0, x + side, side), score=1.0, landmarks=np.zeros((5, 2), np.float32), quality=quality)


def test_one_good_face_is_taken():
    face = make_face()
    assert pick_enrollment_face([face], SETTINGS) is face


def test_a_large_face_with_small_background_faces_is_taken():
    main = make_face(300)
    assert pick_enrollment_face([main, make_face(90, x=400), make_face(60, x=600)], SETTINGS) is main


@pytest.mark.parametrize("faces, reason", [
    ([], "no_face"),
    ([make_face(200), make_face(180, x=300)], "several_faces"),
    ([make_face(50)], "face_too_small"),
    ([make_face(sharpness=5.0)], "too_blurry"),
    ([make_face(yaw=60.0)], "pose_not_frontal"),
    ([make_face(yaw=-60.0)], "pose_not_frontal"),
])
def test_bad_photos_are_refused_with_their_reason(faces, reason):
    with pytest.raises(PhotoRejected) as caught:
        pick_enrollment_face(faces, SETTINGS)
    assert caught.value.reason == reason
