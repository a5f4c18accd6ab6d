"""The core's exceptions: each edge (API, web pages, CLI) translates these once, by type."""

from __future__ import annotations


class AttendanceError(Exception):
    """Base of every error the core raises on purpose. ``code`` is a stable, machine-readable name."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SettingsError(AttendanceError):
    """A setting has a bad value; ``key`` names it."""

    code = "bad_setting"

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"setting {key}: {problem}")
        self.key = key


class ImageError(AttendanceError):
    """A file could not be read as an image (missing, empty, truncated, not an image, too large)."""

    code = "bad_image"


class PhotoRejected(AttendanceError):
    """An enrollment photo was refused; ``reason`` is one of ``REJECT_REASONS``."""

    code = "photo_rejected"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class LookalikeRejected(PhotoRejected):
    """The photo's face is closer to *another* student than the duplicate distance: the same photo given
    to two students, or a twin or sibling. Refused unless an admin confirms it; carries what a person needs to
    decide: the other student, the distance, their closest photo (if kept) and this face's crop (a JPEG,
    never stored)."""

    def __init__(self, other_student_code: str, other_student_id: int | None, distance: float,
                 other_photo_id: int | None = None, face_jpeg: bytes = b"") -> None:
        super().__init__("looks_like_other", f"closest to student {other_student_code} (distance {distance:.2f})")
        self.other_student_code = other_student_code
        self.other_student_id = other_student_id
        self.distance = distance
        self.other_photo_id = other_photo_id
        self.face_jpeg = face_jpeg


class ModelError(AttendanceError):
    """A face model is missing, unknown, or its file does not match what the manifest says."""

    code = "model_error"


class NotFound(AttendanceError):
    """A school, class, student, camera or user named by the caller does not exist."""

    code = "not_found"


class Conflict(AttendanceError):
    """The request clashes with what is stored (a duplicate code, a name in use)."""

    code = "conflict"


class InvalidInput(AttendanceError):
    """The caller's input is malformed (a bad date, a bad CSV row, a bad field)."""

    code = "invalid_input"


class PermissionDenied(AttendanceError):
    """The caller may not do this."""

    code = "forbidden"
