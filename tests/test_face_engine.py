"""The face engine's steps: detect once (whole image or regions, on a scaled copy), landmarks from the
detector when it gives the embedder's scheme, align, embed in a batch; ``find_faces`` and the camera agent
both go through them. Fakes stand in for the models; the last test runs YuNet and an ArcFace-style model.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from attendance.errors import ModelError
from attendance.faces.engine import FaceEngine
from attendance.faces.landmarks import ARCFACE5, DLIB5
from attendance.faces.types import Detection

RELATIVE_POINTS = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]], np.float32)


class SquareDetector:
    """Each non-black grey level is a face; its five points sit at fixed places in the box (ARCFACE5)."""

    model_id = "square_detector"
    landmark_scheme = ARCFACE5

    def __init__(self):
        self.shapes = []

    def detect(self, image):
        self.shapes.append(image.shape)
        channel = image[..., 0] if image.ndim == 3 else image
        found = []
        for level in np.unique(channel):
            if level == 0:
                continue
            ys, xs = np.nonzero(channel == level)
            x1, y1, x2, y2 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
            points = RELATIVE_POINTS * np.float32([x2 - x1, y2 - y1]) + np.float32([x1, y1])
            found.append(Detection((x1, y1, x2, y2), 1.0, points.astype(np.float32)))
        return found


class CountingLandmarker:
    model_id = "counting_landmarks"

    def __init__(self, scheme):
        self.scheme = scheme
        self.calls = 0

    def locate(self, image, box):
        self.calls += 1
        x1, y1, x2, y2 = box
        return (RELATIVE_POINTS * np.float32([x2 - x1, y2 - y1]) + np.float32([x1, y1])).astype(np.float32)


class CropEmbedder:
    model_id = "crop_v1"
    dim = 4
    metric = "euclidean"
    chip_size = 16

    def __init__(self, scheme):
        self.landmark_scheme = scheme
        self.batches = []

    def align(self, image, landmarks, box):
        x1, y1, x2, y2 = box
        return np.ascontiguousarray(image[y1:y2, x1:x2])

    def embed(self, chips):
        self.batches.append(len(chips))
        return np.array([[float(c[..., 0].max()), 0, 0, 0] for c in chips], np.float32)


def engine_for(scheme=ARCFACE5):
    return FaceEngine(SquareDetector(), CountingLandmarker(scheme), CropEmbedder(scheme))


def two_faces():
    image = np.zeros((200, 400, 3), np.uint8)
    image[40:120, 40:120] = 100  # 80 px
    image[60:160, 240:340] = 200  # 100 px
    return image


def test_detect_on_a_scaled_copy_gives_boxes_and_points_in_the_images_pixels():
    engine = engine_for()
    found = engine.detect(two_faces(), scale=0.5)
    assert engine.detector.shapes == [(100, 200, 3)]  # one run, on the half-size copy
    assert sorted(d.box for d in found) == [(40, 40, 120, 120), (240, 60, 340, 160)]
    for detection in found:
        x1, y1, x2, y2 = detection.box
        expected = RELATIVE_POINTS * np.float32([x2 - x1, y2 - y1]) + np.float32([x1, y1])
        np.testing.assert_allclose(detection.landmarks, expected, atol=1.0)


def test_detect_in_regions_searches_only_there_and_places_the_faces_in_the_whole_image():
    engine = engine_for()
    found = engine.detect(two_faces(), scale=0.5, regions=[(230, 50, 350, 170)], region_margin=0.25, grey=True)
    assert [d.box for d in found] == [(240, 60, 340, 160)]
    assert engine.detector.shapes == [(90, 90, 3)]  # the grown region of the half-size copy, in colour
    np.testing.assert_allclose(found[0].landmarks[0], (240 + 0.3 * 100, 60 + 0.4 * 100), atol=1.0)
    assert engine.detect(two_faces(), regions=[]) == []  # no region: no search


def test_overlapping_regions_report_a_face_once():
    engine = engine_for()
    found = engine.detect(two_faces(), scale=1.0, regions=[(40, 40, 120, 120), (30, 30, 125, 125)], region_margin=0.3)
    assert [d.box for d in found] == [(40, 40, 120, 120)]


def test_the_detectors_points_are_used_when_they_are_the_embedders_scheme():
    engine = engine_for(ARCFACE5)
    image = two_faces()
    faces = [engine.locate(image, d) for d in engine.detect(image)]
    assert engine.landmarker.calls == 0
    assert all(f.chip is None and f.quality is None for f in faces)  # nothing aligned until asked

    other = engine_for(DLIB5)  # the embedder wants other points: the landmarker places them
    [other.locate(image, d) for d in other.detect(image)]
    assert other.landmarker.calls == 2


def test_a_step_skipped_is_a_model_error_naming_it_not_a_none_further_on():
    engine = engine_for()
    image = two_faces()
    located = engine.locate(image, engine.detect(image)[0])
    for require, step in ((located.require_quality, "aligned"), (located.require_chip, "aligned"),
                          (located.require_embedding, "embedded")):
        with pytest.raises(ModelError, match=f"never {step}"):
            require()
    with pytest.raises(ModelError, match="never aligned"):
        engine.embed([located])  # embedding needs the aligned chip
    aligned = engine.align(image, located)
    engine.embed([aligned])
    assert aligned.require_quality() is aligned.quality and aligned.require_chip() is aligned.chip
    assert aligned.require_embedding() is aligned.embedding


def test_find_faces_is_the_steps_in_a_row_largest_first_embedded_in_one_batch():
    engine = engine_for()
    image = two_faces()
    faces = engine.find_faces(image)
    assert [f.box for f in faces] == [(240, 60, 340, 160), (40, 40, 120, 120)]
    assert engine.embedder.batches == [2] and [f.embedding[0] for f in faces] == [200.0, 100.0]
    assert all(f.quality is not None and f.quality.face_px in (80.0, 100.0) for f in faces)
    by_steps = [engine.align(image, engine.locate(image, d)) for d in engine.detect(image)]
    engine.embed(by_steps)
    assert sorted((f.box, f.embedding[0]) for f in by_steps) == sorted((f.box, f.embedding[0]) for f in faces)


def test_the_agent_never_runs_the_landmarker_when_the_detector_gives_the_points():
    from camera_agent.pipeline import Pipeline, PipelineConfig
    from camera_agent.sources import Frame

    from attendance.gallery import OperatingPoint

    engine = engine_for(ARCFACE5)
    pipeline = Pipeline(engine, PipelineConfig(point=OperatingPoint(0.45, 0.04), detect_every_frames=3))
    start = dt.datetime(2026, 9, 7, tzinfo=dt.UTC)
    seen = [len(pipeline.process(Frame(n, two_faces(), start, n / 10), None).faces) for n in range(7)]
    assert seen == [2] * 7
    assert engine.landmarker.calls == 0
    assert len(engine.detector.shapes) == 3 + 4 * 2  # 3 full scans, then one run per track's region


@pytest.mark.realfaces
def test_yunet_with_an_arcface_model_runs_the_detector_once_per_window_in_the_agent():
    """On the Hamilton clip: every detector run is the pipeline's own (whole frame or a track's region);
    none is the landmarker finding the face again."""
    from conftest import SHARED_FACES, SHARED_MODELS, require_shared

    from attendance import models_manager
    from attendance.faces.video import open_video_file
    from attendance.faces.yunet import YunetDetector
    from attendance.faces.zoo import build_embedder, build_landmarker
    from attendance.gallery import OperatingPoint
    from camera_agent.pipeline import Pipeline, PipelineConfig
    from camera_agent.sources import Frame

    detector = YunetDetector(require_shared(SHARED_MODELS / "face_detection_yunet.onnx"))
    embedder = build_embedder(models_manager.get_entry("mobilefacenet_paddlex"),
                              require_shared(SHARED_MODELS / "mobilefacenet_paddlex.onnx"))
    engine = FaceEngine(detector, build_landmarker(detector, embedder), embedder)
    # The roll correction's own second pass (tilted faces only, when they are aligned) is tested in test_upright.
    engine.upright = None
    runs = []
    inner = detector.detect_at_scale
    detector.detect_at_scale = lambda image, scale: (runs.append(image.shape), inner(image, scale))[1]
    windows = []
    real_detect = engine.detect

    def detect(image, **options):
        regions = options.get("regions")
        windows.append(1 if regions is None else len(regions))
        return real_detect(image, **options)

    engine.detect = detect
    pipeline = Pipeline(engine, PipelineConfig(point=OperatingPoint(0.53, 0.05)))
    reader = open_video_file(str(require_shared(SHARED_FACES / "video" / "short_hamilton_clip.mp4")))
    start = dt.datetime(2026, 9, 7, tzinfo=dt.UTC)
    faces = 0
    for n in range(120):
        faces += len(pipeline.process(Frame(n, reader.read_rgb(), start, n / 30), None).faces)
    reader.release()
    assert faces > 100
    assert len(runs) == sum(windows)
