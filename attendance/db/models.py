"""The ORM: one school or a whole district's schools on one database.

Every class, student, camera, user and setting belongs to a school; a district admin (a user with no
school) sees them all. Times are aware UTC datetimes (``*_at``); ``school_date`` is the school-local date.
Tables are plural, classes singular. Deleting a student deletes their photos, templates, check-ins and
overrides with them (``ondelete=CASCADE`` and ORM cascades), so a deletion is complete.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Text,
    Time, TypeDecorator, UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from attendance.crypto import open_bytes, seal_bytes

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("district_admin", "school_admin", "teacher")
OVERRIDE_STATUSES = ("excused", "present")
REVIEW_STATUSES = ("pending", "confirmed", "rejected")  # CheckIn.review_status of a suspected attack
PHOTO_SOURCES = ("folder", "csv", "upload", "unknown_face", "cli")
# "review": an admin named an unknown face on the unknown-faces page; "qr": a signed card read at the gate
CHECKIN_SOURCES = ("camera", "review", "qr")
UNKNOWN_STATUSES = ("open", "assigned", "dismissed")
CONSENT_SCOPES = ("recognition", "snapshots", "photos")  # ConsentRecord's scope columns, one per use
DATA_REQUEST_KINDS = ("access", "correction", "deletion", "withdrawal", "other")


def utcnow() -> dt.datetime:
    """The current time as an aware UTC datetime."""
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every backend (SQLite drops the zone; this puts it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC datetime is required")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class SealedBytes(TypeDecorator):
    """Bytes encrypted at rest with the process's data key (AES-GCM, ``attendance/crypto.py``), bound to
    ``purpose``; reads open them, and plaintext written before encryption was on passes through."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: bytes | None, dialect: Any) -> bytes | None:
        return None if value is None else seal_bytes(bytes(value), self.purpose)

    def process_result_value(self, value: bytes | None, dialect: Any) -> bytes | None:
        return None if value is None else open_bytes(bytes(value), self.purpose)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class School(Base):
    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Ho_Chi_Minh")
    # ISO weekday numbers (1 = Monday) on which the roll is taken, e.g. "1,2,3,4,5".
    school_days: Mapped[str] = mapped_column(String(20), default="1,2,3,4,5")
    on_time_cutoff: Mapped[dt.time] = mapped_column(Time, default=dt.time(7, 0))
    absence_cutoff: Mapped[dt.time] = mapped_column(Time, default=dt.time(9, 0))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Signs the school's QR cards (attendance/cards.py): hex, made when the first card is printed; server-only.
    card_secret: Mapped[str | None] = mapped_column(String(64))

    holidays: Mapped[list[Holiday]] = relationship(back_populates="school", cascade="all, delete-orphan")
    classes: Mapped[list[SchoolClass]] = relationship(back_populates="school", cascade="all, delete-orphan")


class Holiday(Base):
    __tablename__ = "holidays"
    __table_args__ = (UniqueConstraint("school_id", "day", name="uq_holidays_school_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    day: Mapped[dt.date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200), default="")

    school: Mapped[School] = relationship(back_populates="holidays")


class ClassTeacher(Base):
    """A homeroom teacher (a user) of a class."""

    __tablename__ = "class_teachers"

    class_id: Mapped[int] = mapped_column(ForeignKey("school_classes.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class SchoolClass(Base):
    __tablename__ = "school_classes"
    __table_args__ = (
        UniqueConstraint("school_id", "code", "school_year", name="uq_school_classes_school_code_year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    grade: Mapped[int | None] = mapped_column(Integer)
    school_year: Mapped[str] = mapped_column(String(9), default="")  # "2026-2027"

    school: Mapped[School] = relationship(back_populates="classes")
    students: Mapped[list[Student]] = relationship(back_populates="school_class")
    teachers: Mapped[list[User]] = relationship(secondary="class_teachers", back_populates="classes")


class Student(Base):
    __tablename__ = "students"
    __table_args__ = (UniqueConstraint("school_id", "student_code", name="uq_students_school_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    class_id: Mapped[int | None] = mapped_column(
        ForeignKey("school_classes.id", ondelete="SET NULL"), index=True
    )
    student_code: Mapped[str] = mapped_column(String(32))
    full_name: Mapped[str] = mapped_column(String(200))  # NFC-normalised
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A summary of the current ConsentRecord, written only by ``attendance.consent``: its recognition scope
    # (what the cameras' one rule reads), the guardian's name and when it was recorded.
    consent_given: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_by: Mapped[str] = mapped_column(String(200), default="")  # guardian's name
    consent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The version on the student's current QR card; raising it revokes the cards printed before.
    card_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    school_class: Mapped[SchoolClass | None] = relationship(back_populates="students")
    photos: Mapped[list[EnrollmentPhoto]] = relationship(
        back_populates="student", cascade="all, delete-orphan", passive_deletes=True
    )
    templates: Mapped[list[FaceTemplate]] = relationship(
        back_populates="student", cascade="all, delete-orphan", passive_deletes=True
    )


class EnrollmentPhoto(Base):
    __tablename__ = "enrollment_photos"
    __table_args__ = (UniqueConstraint("student_id", "sha256", name="uq_enrollment_photos_student_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(20), default="folder")
    original_name: Mapped[str] = mapped_column(String(255), default="")
    kept: Mapped[bool] = mapped_column(Boolean, default=False)
    file_path: Mapped[str | None] = mapped_column(String(500))  # relative to the instance folder
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    student: Mapped[Student] = relationship(back_populates="photos")
    templates: Mapped[list[FaceTemplate]] = relationship(back_populates="photo", passive_deletes=True)


class FaceTemplate(Base):
    __tablename__ = "face_templates"
    __table_args__ = (Index("ix_face_templates_model_student", "model_id", "student_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("enrollment_photos.id", ondelete="CASCADE"))
    model_id: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes] = mapped_column(SealedBytes("template"))  # little-endian float32, sealed at rest
    quality: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    student: Mapped[Student] = relationship(back_populates="templates")
    photo: Mapped[EnrollmentPhoto | None] = relationship(back_populates="templates")


class SchoolOperatingPoint(Base):
    """A school's own operating point for one model, calibrated on its students (``attendance calibrate``).

    Used by identify and sent to the agents with the gallery, unless ``match_threshold``/``match_margin``
    override it; who set it and when is here and in the audit log.
    """

    __tablename__ = "school_operating_points"
    __table_args__ = (UniqueConstraint("school_id", "model_id", name="uq_school_operating_points_school_model"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[str] = mapped_column(String(64))
    threshold: Mapped[float] = mapped_column(Float)
    margin: Mapped[float] = mapped_column(Float)
    target_fpir: Mapped[float] = mapped_column(Float)
    expected_fpir: Mapped[float | None] = mapped_column(Float)
    expected_fnir: Mapped[float | None] = mapped_column(Float)
    students: Mapped[int] = mapped_column(Integer, default=0)
    photos: Mapped[int] = mapped_column(Integer, default=0)
    set_by: Mapped[str] = mapped_column(String(120))  # "user:alice", "cli"
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GalleryVersion(Base):
    """The version (ETag) of a school's gallery for one model: a random token replaced, in the same transaction,
    by every change to what the gallery export sends (``attendance.db.gallery_versions``), so an agent's
    unchanged poll is one primary-key read instead of a hash over every template row."""

    __tablename__ = "gallery_versions"

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(32))


class Camera(Base):
    __tablename__ = "cameras"
    __table_args__ = (UniqueConstraint("school_id", "name", name="uq_cameras_school_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    location: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the bearer token
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_heartbeat: Mapped[dict | None] = mapped_column(JSON)  # fps, queue depth, last error, version...
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CheckIn(Base):
    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("camera_id", "event_id", name="uq_checkins_camera_event"),
        Index("ix_checkins_school_date_student", "school_id", "school_date", "student_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    captured_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    school_date: Mapped[dt.date] = mapped_column(Date)
    distance: Mapped[float | None] = mapped_column(Float)
    margin: Mapped[float | None] = mapped_column(Float)
    votes: Mapped[int | None] = mapped_column(Integer)
    model_id: Mapped[str] = mapped_column(String(64), default="")
    liveness: Mapped[dict | None] = mapped_column(JSON)  # per-track cues: motion, size change, landmarks
    snapshot_path: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A suspected presentation attack kept for review: "pending", then "confirmed" or "rejected" by a teacher
    # (a rejected check-in does not count on the roll); None when nothing was suspected (REVIEW_STATUSES).
    review_status: Mapped[str | None] = mapped_column(String(12))
    source: Mapped[str] = mapped_column(String(12), default="camera", server_default="camera")  # CHECKIN_SOURCES


class UnknownFace(Base):
    """A track an agent could not name, kept (with its snapshot) until an admin assigns or dismisses it."""

    __tablename__ = "unknown_faces"
    __table_args__ = (UniqueConstraint("camera_id", "event_id", name="uq_unknown_faces_camera_event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    captured_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    school_date: Mapped[dt.date] = mapped_column(Date)
    best_distance: Mapped[float | None] = mapped_column(Float)
    snapshot_path: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(12), default="open")
    resolved_student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id", ondelete="SET NULL"))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A check-in refused as a suspected presentation attack (liveness_action = "refuse"): the flag, and the
    # student the agent named, for the admin who reviews it.
    flag: Mapped[str | None] = mapped_column(String(20))
    claimed_student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id", ondelete="SET NULL"))
    # The student the agent found nearest (but too far, or not enough ahead, to name): a hint for the admin,
    # and with the camera and time what groups repeated sightings of one face on the unknown-faces page.
    nearest_student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id", ondelete="SET NULL"))


class ClassMembership(Base):
    """A student on a class's roll from ``from_date`` (None: since before history was kept) until the day
    before ``until_date`` (None: still there). Kept by ``attendance.history`` whenever a student's class or
    active flag changes; the roll of a day lists exactly the memberships covering it."""

    __tablename__ = "class_memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("school_classes.id", ondelete="CASCADE"), index=True)
    from_date: Mapped[dt.date | None] = mapped_column(Date)
    until_date: Mapped[dt.date | None] = mapped_column(Date)

    student: Mapped[Student] = relationship()
    school_class: Mapped[SchoolClass] = relationship()


class SchoolRuleChange(Base):
    """A school's roll rules from ``effective_from`` (None: since before history was kept) until the next
    change. Written by ``attendance.history`` whenever a school's days or cutoffs change."""

    __tablename__ = "school_rule_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    school_days: Mapped[str] = mapped_column(String(20))
    on_time_cutoff: Mapped[dt.time] = mapped_column(Time)
    absence_cutoff: Mapped[dt.time] = mapped_column(Time)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RollOverride(Base):
    __tablename__ = "roll_overrides"
    __table_args__ = (UniqueConstraint("student_id", "school_date", name="uq_roll_overrides_student_date"),
                      Index("ix_roll_overrides_school_date", "school_date"))  # a day's marks, district-wide

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    school_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))  # OVERRIDE_STATUSES
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LeaveRequest(Base):
    """A student excused ahead of time for ``first_date``..``last_date`` (inclusive, school-local dates);
    the roll shows them excused on the school days of the range (``attendance.leave``). Cancelled ones stay,
    with who cancelled them and when."""

    __tablename__ = "leave_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    first_date: Mapped[dt.date] = mapped_column(Date)
    last_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(String(120), default="")  # "user:alice", "cli"
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class SchoolChange(Base):
    """A school's change counter: bumped in the same transaction as every stored check-in, override or leave
    request of the school (``attendance.db.changes``), so a live page asks one primary-key read "anything
    new?" from any server process."""

    __tablename__ = "school_changes"

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class ClassChange(Base):
    """A class's change counter, bumped with its school's for a check-in, override or leave request of one
    of its students (their class at the time), so an open class roll refetches only for its own class."""

    __tablename__ = "class_changes"

    class_id: Mapped[int] = mapped_column(ForeignKey("school_classes.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))  # ROLES
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Changes on logout and password change, which ends every session that carries the old value.
    session_token: Mapped[str] = mapped_column(String(64), default="")
    language: Mapped[str] = mapped_column(String(5), default="vi")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    classes: Mapped[list[SchoolClass]] = relationship(secondary="class_teachers", back_populates="teachers")


class ApiToken(Base):
    """A token for integrations that read the roll (not a camera: cameras have their own tokens)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))
    events: Mapped[str] = mapped_column(String(100), default="checkin,absence")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event waiting to be (or already) POSTed to a webhook, retried with backoff."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(32))
    event_key: Mapped[str] = mapped_column(String(100))  # dedupes e.g. one absence per student and date
    payload: Mapped[dict] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(500), default="")

    __table_args__ = (
        Index("ix_webhook_deliveries_pending", "delivered_at", "next_attempt_at"),
        UniqueConstraint("webhook_id", "event_key", name="uq_webhook_deliveries_hook_key"),
    )


class JobRun(Base):
    """When a background job shared by every dashboard process last ran: the hourly purge, a school's absence
    notices of a day (``attendance.jobs``). Read and written under the job's lock, so it runs once."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)  # "retention-purge", "absences:<school id>"
    period: Mapped[str] = mapped_column(String(32), default="")  # what the run covered: a school date, or ""
    ran_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentNotice(Base):
    """One published version of a school's privacy notice (Vietnamese and English), shown to guardians when
    consent is asked; a new text is a new version, never an edit, so each consent names what was read."""

    __tablename__ = "consent_notices"
    __table_args__ = (UniqueConstraint("school_id", "version", name="uq_consent_notices_school_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    text_vi: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    published_by: Mapped[str] = mapped_column(String(120), default="")  # "user:alice", "system"
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentRecord(Base):
    """A guardian's answer about one student, kept forever as history (a later answer is a new row).

    The student's latest row is the current one; a withdrawal sets ``withdrawn_at`` on it (then nothing is
    consented until a new row). ``child_agreed`` is the child's own agreement, asked from age 7 (None: under
    7 on ``given_on``, not asked). Each scope is one use of the child's face (CONSENT_SCOPES).
    """

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("consent_notices.id", ondelete="SET NULL"))
    guardian_name: Mapped[str] = mapped_column(String(200))
    guardian_relation: Mapped[str] = mapped_column(String(50), default="")  # "mother", "father", "grandmother"...
    child_agreed: Mapped[bool | None] = mapped_column(Boolean)
    given_on: Mapped[dt.date] = mapped_column(Date)  # the date on the signed form
    recognition: Mapped[bool] = mapped_column(Boolean, default=False)  # matched by the gate cameras
    snapshots: Mapped[bool] = mapped_column(Boolean, default=False)  # check-in snapshots kept
    photos: Mapped[bool] = mapped_column(Boolean, default=False)  # enrollment photos kept (not only templates)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(120), default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[str] = mapped_column(String(120), default="")
    withdrawal_note: Mapped[str] = mapped_column(Text, default="")

    notice: Mapped[ConsentNotice | None] = relationship()


class DataRequest(Base):
    """A data subject's request about a student (access, correction, deletion, withdrawal), with the date
    it was received, its deadline in working days and when it was answered. ``student_code`` stays when
    the student is erased, so the school can show the request was answered."""

    __tablename__ = "data_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id", ondelete="SET NULL"), index=True)
    student_code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(20))  # DATA_REQUEST_KINDS
    requested_by: Mapped[str] = mapped_column(String(200), default="")
    received_on: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id", ondelete="SET NULL"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(120))  # "user:alice", "camera:gate-1", "cli"
    action: Mapped[str] = mapped_column(String(64))  # "student.delete", "roll.override", ...
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
