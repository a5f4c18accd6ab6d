"""Enrollment: a photo of a student becomes a stored face template, or a rejection with its reason.

A photo is refused when it cannot be read, shows no face, shows several faces with none clearly the main one
(by size, then by nearness to the centre), or when the face is too small, too blurry or turned too far. A face
closer to *another* student's template than ``duplicate_warn_distance`` is refused too (``LookalikeRejected``:
the same photo given to two students poisons the gallery and makes both unrecognisable), unless the caller
confirms it (twins, siblings), and then it is enrolled with a warning. A photo already enrolled for the student
(same content hash) is recognised and skipped, so re-running an enrollment is harmless.
The photo file itself is kept only when ``keep_enrollment_photos`` is on AND the student's current consent
covers keeping photos (``attendance.consent``); otherwise only the template (and the photo's hash) is stored.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from attendance.consent import current_record, current_scopes, scopes_of
from attendance.crypto import write_sealed_file
from attendance.db.models import EnrollmentPhoto, FaceTemplate, Student
from attendance.errors import ImageError, LookalikeRejected, PhotoRejected
from attendance.faces.engine import FaceEngine
from attendance.faces.image import decode_image, encode_jpeg
from attendance.faces.types import Face, box_iou
from attendance.recognition import bytes_to_vector, get_profile, vector_to_bytes
from attendance.settings import Settings

logger = logging.getLogger(__name__)

REJECT_REASONS = {
    "unreadable": "the file is not a readable image",
    "no_face": "no face found",
    "several_faces": "several faces and none clearly the main one",
    "face_too_small": "the face is too small",
    "too_blurry": "the photo is too blurry",
    "pose_not_frontal": "the head is turned too far from the camera",
    "looks_like_other": "the face is very close to another student's (the same photo twice, or a twin?)",
    "consent_refused": "the guardian refused or withdrew consent to face recognition",
}
# The main face of a photo, chosen the way a person would. A face whose side is under DOMINANT_FACE_RATIO of
# the largest face's is background, not a rival. Among rivals, the one nearest the centre is the main face if it
# is, against each other rival, clearly nearer the centre (by CENTRE_GAP, as a fraction of the photo's width
# and height) or clearly larger (the other's side at most CLEARLY_LARGER_RATIO of its own). LFW photos: the
# person's face sits within 0.1 of the centre, cut-off background faces 0.2-0.5 away and often as large.
DOMINANT_FACE_RATIO = 0.6
CLEARLY_LARGER_RATIO = 0.8
CENTRE_GAP = 0.15
# Uploaded photos are shrunk to this longest side while decoding: a face needs far fewer pixels, and ten
# 7700x7700 uploads must not take a server's memory from 190 MB to 1 GB.
UPLOAD_MAX_SIDE_PX = 2560


@dataclass
class EnrollResult:
    """What happened to one photo: ``enrolled`` or ``already_enrolled``, with warnings for the operator."""

    status: str
    student_code: str
    face: Face | None = None
    photo_id: int | None = None
    warnings: list[str] = field(default_factory=list)
    lookalike: Lookalike | None = None
    photo_kept: bool = False  # the photo file is stored (setting on and the consent's photo scope given)


def choose_main_face(faces: list[Face], image_shape: tuple[int, ...]) -> Face:
    """The face a photo is of: the clearly largest, else the largest near the centre (see DOMINANT_FACE_RATIO).

    ``faces`` as ``FaceEngine.find_faces`` gives them, ``image_shape`` (height, width, ...) of the photo.
    Raises ``PhotoRejected`` (``no_face``, or ``several_faces`` when two faces of about the same size are
    about as near the centre: two people side by side, or cheek to cheek).
    """
    if not faces:
        raise PhotoRejected("no_face")
    largest_px = max(face.require_quality().face_px for face in faces)
    rivals = [face for face in faces if face.require_quality().face_px >= DOMINANT_FACE_RATIO * largest_px]
    rivals.sort(key=lambda face: measure_centre_offset(face, image_shape))
    main, others = rivals[0], rivals[1:]
    for other in others:
        nearer = measure_centre_offset(other, image_shape) - measure_centre_offset(main, image_shape) >= CENTRE_GAP
        larger = other.require_quality().face_px <= CLEARLY_LARGER_RATIO * main.require_quality().face_px
        if not (nearer or larger):
            raise PhotoRejected("several_faces", f"{len(rivals)} faces of similar size, none clearly the main one")
    return main


def measure_centre_offset(face: Face, image_shape: tuple[int, ...]) -> float:
    """Distance of the face box's centre from the photo's, in fractions of its width and height (0 to ~0.7)."""
    height, width = image_shape[:2]
    x1, y1, x2, y2 = face.box
    return float(np.hypot((x1 + x2) / 2 / max(width, 1) - 0.5, (y1 + y2) / 2 / max(height, 1) - 0.5))


def pick_enrollment_face(faces: list[Face], settings: Settings, image_shape: tuple[int, ...]) -> Face:
    """The one face to enroll from a photo of ``image_shape``, or ``PhotoRejected`` with the reason."""
    main = choose_main_face(faces, image_shape)
    quality = main.require_quality()
    if quality.face_px < settings.min_face_px:
        raise PhotoRejected("face_too_small", f"{quality.face_px:.0f} px, need {settings.min_face_px} px")
    if quality.sharpness < settings.min_sharpness:
        raise PhotoRejected("too_blurry", f"sharpness {quality.sharpness:.0f}, need {settings.min_sharpness:.0f}")
    if abs(quality.yaw_deg) > settings.max_yaw_deg:
        raise PhotoRejected("pose_not_frontal", f"turned about {abs(quality.yaw_deg):.0f} degrees")
    return main


@dataclass(frozen=True)
class Lookalike:
    """Another student's template close to a new face: who, how close, and the photo it came from."""

    student_code: str
    student_id: int | None
    distance: float
    photo_id: int | None


class DuplicateChecker:
    """Finds a new face very close to *another* student's template (a duplicate photo, a twin or a sibling)."""

    def __init__(self, session: Session, school_id: int, model_id: str, warn_distance: float) -> None:
        profile = get_profile(model_id)
        rows = session.execute(
            select(FaceTemplate.student_id, FaceTemplate.photo_id, FaceTemplate.vector, Student.student_code)
            .join(Student, Student.id == FaceTemplate.student_id)
            .where(Student.school_id == school_id, FaceTemplate.model_id == model_id)
        ).all()
        self.metric = profile.metric
        self.warn_distance = warn_distance
        self._vectors = [bytes_to_vector(r.vector) for r in rows]
        self._codes = [r.student_code for r in rows]
        self._sources = [(r.student_id, r.photo_id) for r in rows]

    def add(self, student_code: str, vector: np.ndarray, student_id: int | None = None,
            photo_id: int | None = None) -> None:
        self._vectors.append(np.asarray(vector, dtype=np.float32))
        self._codes.append(student_code)
        self._sources.append((student_id, photo_id))

    def find_lookalike(self, student_code: str, vector: np.ndarray) -> Lookalike | None:
        """The closest other student within the duplicate distance, or None."""
        others = [i for i, code in enumerate(self._codes) if code != student_code]
        if not others:
            return None
        matrix = np.stack([self._vectors[i] for i in others])
        if self.metric == "cosine":
            unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
            distances = 1.0 - unit @ (vector / np.linalg.norm(vector))
        else:
            distances = np.linalg.norm(matrix - vector, axis=1)
        best = int(np.argmin(distances))
        if distances[best] <= self.warn_distance:
            student_id, photo_id = self._sources[others[best]]
            return Lookalike(self._codes[others[best]], student_id, float(distances[best]), photo_id)
        return None


def find_enrolled_photo(session: Session, student: Student, sha256: str, model_id: str) -> EnrollmentPhoto | None:
    """The student's photo with this content hash that already has a template for ``model_id``."""
    return session.scalar(
        select(EnrollmentPhoto)
        .join(FaceTemplate, FaceTemplate.photo_id == EnrollmentPhoto.id)
        .where(EnrollmentPhoto.student_id == student.id, EnrollmentPhoto.sha256 == sha256,
               FaceTemplate.model_id == model_id)
    )


def enroll_photo(session: Session, engine: FaceEngine, settings: Settings, student: Student, data: bytes, *,
                 source: str = "folder", original_name: str = "", dry_run: bool = False,
                 duplicates: DuplicateChecker | None = None,
                 other_engines: Sequence[FaceEngine] = (), allow_lookalike: bool = False,
                 max_side_px: int | None = None) -> EnrollResult:
    """Check one photo of ``student`` and store its face template (and the photo, if photos are kept).

    ``engine`` (the model in use) decides which face is enrolled and whether the photo is good enough;
    each of ``other_engines`` (the other installed models) adds its own template of that same face.
    Raises ``PhotoRejected`` (with ``reason`` one of ``REJECT_REASONS``) and stores nothing for a bad photo;
    ``LookalikeRejected`` for a face within the duplicate distance of another student's, unless
    ``allow_lookalike`` (an admin confirmed twins or siblings: then a warning, and ``result.lookalike``).
    A student whose current consent record refuses or withdrew recognition is refused (``consent_refused``):
    a template made then would undo the withdrawal. A student with no record yet may be enrolled (the
    cameras ignore them until consent is recorded).
    With ``dry_run`` every check runs but nothing is written. ``max_side_px`` shrinks a larger photo while
    decoding it (uploads: memory stays bounded whatever a phone sends).
    """
    if student.id is not None:
        record = current_record(session, student)
        if record is not None and not scopes_of(record).recognition:
            raise PhotoRejected("consent_refused")
    sha256 = hashlib.sha256(data).hexdigest()
    if student.id is not None and find_enrolled_photo(session, student, sha256, engine.model_id):
        return EnrollResult("already_enrolled", student.student_code)
    try:
        image = decode_image(data, max_pixels=settings.max_image_pixels, name=original_name or "photo",
                             max_side_px=max_side_px)
    except ImageError as err:
        raise PhotoRejected("unreadable", err.message) from err
    face = pick_enrollment_face(_find_faces(engine, image), settings, image.shape)
    result = EnrollResult("enrolled", student.student_code, face=face)
    if duplicates is not None:
        lookalike = duplicates.find_lookalike(student.student_code, face.require_embedding())
        if lookalike and not allow_lookalike:
            raise LookalikeRejected(lookalike.student_code, lookalike.student_id, lookalike.distance,
                                    lookalike.photo_id, face_jpeg=_face_jpeg(image, face))
        if lookalike:
            result.lookalike = lookalike
            result.warnings.append(f"looks very like student {lookalike.student_code} (distance "
                                   f"{lookalike.distance:.2f}): enrolled as confirmed (twins or siblings)")
    if dry_run:
        return result
    photo = session.scalar(
        select(EnrollmentPhoto).where(EnrollmentPhoto.student_id == student.id, EnrollmentPhoto.sha256 == sha256)
    )
    if photo is None:
        photo = EnrollmentPhoto(student_id=student.id, sha256=sha256, source=source,
                                original_name=original_name[:255], kept=False)
        session.add(photo)
        session.flush()
    session.add(FaceTemplate(student_id=student.id, photo_id=photo.id, model_id=engine.model_id,
                             vector=vector_to_bytes(face.require_embedding()),
                             quality=face.require_quality().sharpness))
    for other in other_engines:
        if template_exists(session, photo.id, other.model_id):
            continue
        same_face = find_same_face(_find_faces(other, image), face.box)
        if same_face is None:
            result.warnings.append(f"model {other.model_id} did not find the face: no template for it")
            continue
        session.add(FaceTemplate(student_id=student.id, photo_id=photo.id, model_id=other.model_id,
                                 vector=vector_to_bytes(same_face.require_embedding()),
                                 quality=same_face.require_quality().sharpness))
    session.flush()
    if (settings.keep_enrollment_photos and not photo.kept
            and current_scopes(session, [student.id])[student.id].photos):
        # written last, once every row is flushed: a photo refused on the way leaves no file behind
        photo.file_path = store_photo_file(settings, student, sha256, image)
        photo.kept = True
        session.flush()
    result.photo_kept = bool(photo.kept)
    if duplicates is not None:
        duplicates.add(student.student_code, face.require_embedding(), student.id, photo.id)
    result.photo_id = photo.id
    return result


def _face_jpeg(image_rgb: np.ndarray, face: Face, max_side_px: int = 240) -> bytes:
    """A small JPEG of the face with some margin, to show a person beside the face it resembles."""
    x1, y1, x2, y2 = face.box
    margin = max(x2 - x1, y2 - y1) // 4
    height, width = image_rgb.shape[:2]
    crop = image_rgb[max(0, y1 - margin):min(height, y2 + margin), max(0, x1 - margin):min(width, x2 + margin)]
    if crop.size == 0:
        return b""
    step = max(1, -(-max(crop.shape[:2]) // max_side_px))  # ceil: a thumbnail, not a copy of the photo
    return encode_jpeg(np.ascontiguousarray(crop[::step, ::step]), quality=85)


def _find_faces(engine: FaceEngine, image: np.ndarray) -> list[Face]:
    try:
        return engine.find_faces(image, embed=True)
    except ImageError as err:
        raise PhotoRejected("unreadable", err.message) from err


def template_exists(session: Session, photo_id: int, model_id: str) -> bool:
    """Whether the photo already has a template of ``model_id``."""
    return session.scalar(
        select(FaceTemplate.id).where(FaceTemplate.photo_id == photo_id, FaceTemplate.model_id == model_id).limit(1)
    ) is not None


def find_same_face(faces: list[Face], box: tuple[int, int, int, int], min_iou: float = 0.3) -> Face | None:
    """The face of ``faces`` that overlaps ``box`` most (another detector's box of the same face), if any."""
    best, best_iou = None, min_iou
    for face in faces:
        overlap = box_iou(face.box, box)
        if overlap >= best_iou:
            best, best_iou = face, overlap
    return best


def store_photo_file(settings: Settings, student: Student, sha256: str, image_rgb: np.ndarray) -> str:
    """Write the upright photo as a metadata-free JPEG, sealed with the data key (attendance/crypto.py); return
    its path relative to the instance folder."""
    relative = Path("photos") / str(student.school_id) / str(student.id) / f"{sha256[:32]}.jpg"
    write_sealed_file(Path(settings.instance_path) / relative, encode_jpeg(image_rgb, quality=92), "photo")
    return relative.as_posix()




_ENGINE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2)
def _cached_engines(settings: Settings) -> list[FaceEngine]:
    from attendance.faces.factory import build_enrollment_engines

    return build_enrollment_engines(settings)


def enroll_uploaded_photo(session: Session, settings: Settings, student: Student, data: bytes, filename: str,
                          source: str = "upload", allow_lookalike: bool = False) -> EnrollResult:
    """Enroll one photo uploaded through the dashboard (or assigned from an unknown face).

    Uses one face engine per process (built on first use) and serialises calls to it, since a web server
    runs several requests at once. Raises ``PhotoRejected`` like ``enroll_photo``.
    """
    with _ENGINE_LOCK:
        engine, *others = _cached_engines(settings)
        duplicates = DuplicateChecker(session, student.school_id, engine.model_id, settings.duplicate_warn_distance)
        return enroll_photo(session, engine, settings, student, data, source=source, original_name=filename,
                            duplicates=duplicates, other_engines=others, allow_lookalike=allow_lookalike,
                            max_side_px=UPLOAD_MAX_SIDE_PX)
