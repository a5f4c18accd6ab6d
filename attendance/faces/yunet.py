"""YuNet (OpenCV Zoo, 2023): a small CNN face detector that also gives the 5 ARCFACE5 landmarks.

Run through ``cv2.FaceDetectorYN``, which feeds the network BGR 0-255 at the image's own size (padded to
a multiple of 32). YuNet finds faces from about 10 px to about 300 px across; larger faces are found by
detecting on a scaled copy (``input_size``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from attendance.errors import ModelError
from attendance.faces.landmarks import ARCFACE5, ARCFACE_TEMPLATE_112
from attendance.faces.types import Detection, box_iou

logger = logging.getLogger(__name__)

MODEL_ID = "yunet_2023mar"
# Box matching between the detector's last call and a box the engine asks landmarks for.
_REUSE_MIN_IOU = 0.9
# A face region is cropped with this much context on each side (fraction of the box side), at its own
# resolution unless the face is outside YuNet's comfortable range (then scaled into it).
_CROP_CONTEXT = 0.5
_CROP_FACE_PX = (64.0, 280.0)


class YunetDetector:
    """YuNet behind the ``Detector`` protocol; ``landmarks`` are ARCFACE5 points (5, 2).

    ``input_size`` (w, h): the image is scaled (up or down, aspect kept) to fit inside it before detection;
    None detects at the image's own size. ``score_threshold`` ~0.6-0.9 (0.7 finds partly turned faces);
    ``nms_threshold`` 0.3; ``top_k`` candidates kept before NMS.
    """

    model_id = MODEL_ID
    landmark_scheme = ARCFACE5

    def __init__(self, model_path: Path | str, input_size: tuple[int, int] | None = None,
                 score_threshold: float = 0.7, nms_threshold: float = 0.3, top_k: int = 5000) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"YuNet model file not found: {path} (run `attendance models download yunet_2023mar`)")
        self.input_size = input_size
        self.score_threshold = score_threshold
        try:
            # OpenCV 5 warns on every net it builds that its new graph engine ignores targets: noise, not news.
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
            self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold, nms_threshold, top_k)
        except cv2.error as err:
            raise ModelError(f"cannot load YuNet from {path}: {err}") from err
        self._net_size: tuple[int, int] = (320, 320)
        # The last call's detections and image shape, for YunetLandmarker to reuse without running again.
        self.last_detections: list[Detection] = []
        self.last_shape: tuple[int, int] = (0, 0)

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Faces in ``image_rgb`` (H, W, 3 uint8 RGB), strongest first; boxes and landmarks in its pixels."""
        height, width = image_rgb.shape[:2]
        scale = 1.0
        if self.input_size is not None:
            scale = min(self.input_size[0] / width, self.input_size[1] / height)
        found = self.detect_at_scale(image_rgb, scale)
        self.last_detections, self.last_shape = found, (height, width)
        return found

    def detect_at_scale(self, image_rgb: np.ndarray, scale: float) -> list[Detection]:
        """Faces found on ``image_rgb`` resized by ``scale``, in ``image_rgb``'s pixels, strongest first."""
        height, width = image_rgb.shape[:2]
        bgr = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
        if scale != 1.0:
            interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
            bgr = cv2.resize(bgr, (max(1, round(width * scale)), max(1, round(height * scale))),
                             interpolation=interpolation)
        found = [_to_detection(row, 1.0 / scale, width, height) for row in self._run(bgr)]
        found = [d for d in found if d.box[2] - d.box[0] >= 2 and d.box[3] - d.box[1] >= 2]
        return sorted(found, key=lambda d: d.score, reverse=True)

    def _run(self, bgr: np.ndarray) -> np.ndarray:
        size = (bgr.shape[1], bgr.shape[0])
        if size != self._net_size:
            self._net.setInputSize(size)
            self._net_size = size
        _, rows = self._net.detect(bgr)
        return np.zeros((0, 15), np.float32) if rows is None else rows


class YunetLandmarker:
    """ARCFACE5 landmarks for a face box, from YuNet.

    When the engine asks for a box the detector has just found (same frame, scaled), its landmarks are
    reused at no cost. Otherwise (a dlib HOG box) YuNet runs on a crop around the box and the detection
    that overlaps the box best gives the points; if YuNet finds nothing there, the template's points
    placed in the box are a rough fallback.
    """

    model_id = "yunet_2023mar_landmarks"
    scheme = ARCFACE5

    def __init__(self, detector: YunetDetector) -> None:
        self.detector = detector

    def locate(self, image_rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The 5 ARCFACE5 points (5, 2) float32 of the face in ``box``, in ``image_rgb``'s pixels."""
        reused = self._reuse(image_rgb.shape[:2], box)
        if reused is not None:
            return reused
        return self._detect_in_region(image_rgb, box)

    def _reuse(self, shape: tuple[int, ...], box: tuple[int, int, int, int]) -> np.ndarray | None:
        last_h, last_w = self.detector.last_shape
        if not last_w or not last_h:
            return None
        factor_x, factor_y = shape[1] / last_w, shape[0] / last_h
        if abs(factor_x - factor_y) > 0.02 * max(factor_x, factor_y):
            return None  # not the same frame
        best: np.ndarray | None = None  # the landmarks of the best-overlapping detection
        best_iou = _REUSE_MIN_IOU
        for detection in self.detector.last_detections:
            if detection.landmarks is None:
                continue
            scaled = tuple(v * factor_x for v in detection.box)
            overlap = box_iou(scaled, box)
            if overlap >= best_iou:
                best, best_iou = detection.landmarks, overlap
        return None if best is None else (best * np.float32(factor_x)).astype(np.float32)

    def _detect_in_region(self, image_rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        height, width = image_rgb.shape[:2]
        x1, y1, x2, y2 = box
        side = max(x2 - x1, y2 - y1, 1)
        pad = side * _CROP_CONTEXT
        cx1, cy1 = max(0, int(x1 - pad)), max(0, int(y1 - pad))
        cx2, cy2 = min(width, int(x2 + pad)), min(height, int(y2 + pad))
        crop = image_rgb[cy1:cy2, cx1:cx2]
        local_box = (x1 - cx1, y1 - cy1, x2 - cx1, y2 - cy1)
        scale = min(max(side, _CROP_FACE_PX[0]), _CROP_FACE_PX[1]) / side
        candidates = self.detector.detect_at_scale(crop, scale)
        best = max(candidates, key=lambda d: box_iou(d.box, local_box), default=None)
        if best is None or best.landmarks is None or box_iou(best.box, local_box) < 0.3:
            logger.debug("YuNet found no face in the region of box %s; template landmarks used", box)
            return _template_in_box(box)
        return (best.landmarks + np.array([cx1, cy1], dtype=np.float32)).astype(np.float32)


def _to_detection(row: np.ndarray, factor: float, width: int, height: int) -> Detection:
    """One FaceDetectorYN row (x, y, w, h, 5 x (px, py), score) as a Detection in the original pixels."""
    x, y, w, h = (float(v) * factor for v in row[:4])
    box = (max(0, round(x)), max(0, round(y)), min(width, round(x + w)), min(height, round(y + h)))
    landmarks = (np.asarray(row[4:14], dtype=np.float32).reshape(5, 2) * np.float32(factor)).astype(np.float32)
    return Detection(box=box, score=float(row[14]), landmarks=landmarks)


def _template_in_box(box: tuple[int, int, int, int]) -> np.ndarray:
    """The ArcFace template's points stretched over a detector box: a last-resort guess."""
    x1, y1, x2, y2 = box
    unit = ARCFACE_TEMPLATE_112 / 112.0
    return (unit * np.array([x2 - x1, y2 - y1], dtype=np.float32) + np.array([x1, y1], dtype=np.float32)).astype(np.float32)
