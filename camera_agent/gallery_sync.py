"""The gallery on the gate PC: fetched from the dashboard with an ETag, kept on disk, swapped in without a restart.

The copy on disk saves a download at each start (the dashboard answers 304 while it is current). It holds
children's face templates, so it is sealed (AES-256-GCM) with a key the dashboard hands this camera
(``GET /api/v1/gallery/key``, derived from the server's data key and the camera's token) and kept in memory
only: a gate PC's disk taken away yields nothing, and revoking the camera's token closes the copy for good.
The price: an agent restarted while the dashboard is down cannot open its copy, and recognises no one until
the dashboard answers (QR cards are still read and queued). The copy is written 0600, atomically; a copy
in clear from an older agent is deleted. A new gallery replaces the old one in a single reference
assignment, so the frame loop sees either the old or the new one, never half of each.

A gallery with no students, or with less than half as many as the one before it (the copy on disk counts,
even when it is of another model), most likely means the server has no templates of this model yet: the
agent says so once per gallery version, in its log and in the heartbeat's ``last_error``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from attendance.crypto import DataKeyError, Keyring, is_sealed
from attendance.errors import InvalidInput
from attendance.gallery import Gallery, OperatingPoint
from attendance.recognition import combine_rule_for
from attendance.school_day import find_zone
from camera_agent.client import DashboardClient, DeliveryError
from camera_agent.status import AgentStatus

logger = logging.getLogger(__name__)

THIN_GALLERY_SHARE = 0.5  # a gallery under half the size of the one before it is reported


class GalleryFormatError(ValueError):
    """A gallery document does not have the shape the API promises, or is for another model."""


@dataclass(frozen=True)
class GallerySnapshot:
    """One version of the gallery: the matcher, each student's name for the preview, and the operating point
    to search it with (None: the agent's own; ``GallerySync`` resolves the school's calibrated point into it)."""

    gallery: Gallery
    version: str
    etag: str | None
    names: dict[str, str] = field(default_factory=dict)
    point: OperatingPoint | None = None
    timezone: str | None = None  # the school's IANA zone (None: an older dashboard's gallery, or a zone unknown here)

    @property
    def student_count(self) -> int:
        return len(self.gallery)


def parse_gallery(document: dict[str, Any], model_id: str, dim: int, etag: str | None = None) -> GallerySnapshot:
    """Build a ``GallerySnapshot`` from the API's gallery JSON; ``GalleryFormatError`` when it does not fit."""
    try:
        if document["model_id"] != model_id:
            raise GalleryFormatError(f"the gallery is for model {document['model_id']!r}, not {model_id!r}")
        if int(document.get("dim", dim)) != dim:
            raise GalleryFormatError(f"the gallery's vectors have {document['dim']} dimensions, not {dim}")
        vectors, keys, names = [], [], {}
        for student in document["students"]:
            code = str(student["student_code"])
            names[code] = str(student.get("full_name", ""))
            for template in student["templates"]:
                vectors.append(np.asarray(template, dtype=np.float32))
                keys.append(code)
        matrix = np.stack(vectors) if vectors else np.zeros((0, dim), np.float32)
        if matrix.shape[1:] != (dim,) or not np.isfinite(matrix).all():
            raise GalleryFormatError(f"the gallery's templates are not finite {dim}-D vectors")
        # The templates of a student combine as the model's operating point was measured (README, Accuracy).
        gallery = Gallery(model_id, str(document.get("metric", "euclidean")), matrix, keys,
                          combine=combine_rule_for(model_id))
        point = parse_point(document.get("operating_point"))
        timezone = parse_timezone(document.get("timezone"))
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, GalleryFormatError):
            raise
        raise GalleryFormatError(f"the gallery document is malformed: {type(err).__name__} {err}") from err
    return GallerySnapshot(gallery, str(document.get("version", "")), etag, names, point, timezone)


def parse_point(value: Any) -> OperatingPoint | None:
    """The school's calibrated ``{"threshold", "margin"}`` of a gallery document, or None when it has none."""
    if value is None:
        return None
    threshold, margin = float(value["threshold"]), float(value["margin"])
    if not (0.0 < threshold < 10.0 and 0.0 <= margin < 10.0):
        raise GalleryFormatError(f"the gallery's operating point ({threshold}, {margin}) is out of range")
    return OperatingPoint(threshold, margin)


def parse_timezone(value: Any) -> str | None:
    """The school's time zone of a gallery document, or None when it has none or this PC does not know it
    (then the agent keeps the zone it had: the gallery itself is still good)."""
    if value is None:
        return None
    try:
        find_zone(str(value))
    except InvalidInput:
        logger.warning("the dashboard's time zone %r is unknown on this PC (update the tzdata package)", value)
        return None
    return str(value)


def thin_gallery_problem(model_id: str, student_count: int, previous_count: int) -> str | None:
    """One line saying the gallery looks incomplete, or None: no students at all, or fewer than half of
    ``previous_count`` (the students of the gallery this agent had before; 0 when it had none)."""
    rebuild = f"run `attendance gallery rebuild --model {model_id}` on the server"
    if student_count == 0:
        return f"the dashboard has no templates of model {model_id}: {rebuild}"
    if student_count < previous_count * THIN_GALLERY_SHARE:
        return (f"the dashboard has templates of model {model_id} for only {student_count} students "
                f"({previous_count} before): if students are missing, {rebuild}")
    return None


class GallerySync:
    """Holds the current gallery and refreshes it from the dashboard; ``current`` is None until one is loaded."""

    def __init__(self, client: DashboardClient, model_id: str, dim: int, cache_path: Path,
                 status: AgentStatus | None = None,
                 resolve_point: Callable[[OperatingPoint | None], OperatingPoint] | None = None) -> None:
        """``resolve_point`` turns the school's calibrated point into the one to search with (the installer's
        ``match_threshold``/``match_margin`` win); without it the calibrated point is used as sent. A gallery
        without a calibrated point leaves ``point`` None: the pipeline keeps the agent's own."""
        self.client = client
        self.resolve_point = resolve_point
        self.model_id = model_id
        self.dim = dim
        self.cache_path = Path(cache_path)
        self.status = status or AgentStatus()
        self.current: GallerySnapshot | None = None
        self._previous_count = 0  # students in the gallery before the current one
        self._warned_version: str | None = None
        self._keyring: Keyring | None = None  # the copy's key: from the dashboard, in memory only

    def fetch_key(self) -> bool:
        """Ask the dashboard for this camera's gallery-copy key; True when it is held. Never logged."""
        return self._held_key() is not None

    def _held_key(self) -> Keyring | None:
        """The gallery-copy key, asked of the dashboard until it answers; None while it does not."""
        if self._keyring is None:
            try:
                self._keyring = Keyring([self.client.get_gallery_key()])
            except DeliveryError as err:
                logger.info("no key for the gallery copy yet (%s): it stays closed until the dashboard answers", err)
        return self._keyring

    def load_cached(self) -> bool:
        """Load the copy on disk, if there is a good one and the dashboard gave its key; True when loaded."""
        try:
            blob = self.cache_path.read_bytes()
            if not is_sealed(blob):
                self.cache_path.unlink()
                logger.warning("deleted a gallery copy that was not sealed (an older agent's): %s", self.cache_path)
                return False
            keyring = self._held_key()
            if keyring is None:
                return False
            saved = json.loads(keyring.open(blob, "gallery"))
            # The copy of the model this agent ran before sets what to expect of a newly installed one.
            self._previous_count = len(saved["document"]["students"])
            loaded = parse_gallery(saved["document"], self.model_id, self.dim, saved.get("etag"))
            self._swap(loaded)
        except FileNotFoundError:
            return False
        except DataKeyError:
            logger.warning("ignoring the gallery copy %s: sealed with another key (the server's data key was "
                           "rotated, or this camera's token changed)", self.cache_path)
            return False
        except (OSError, ValueError, KeyError, TypeError) as err:
            logger.warning("ignoring the gallery copy %s: %s", self.cache_path, err)
            return False
        logger.info("gallery %s loaded from disk: %d students", loaded.version, loaded.student_count)
        return True

    def refresh(self) -> bool:
        """Ask the dashboard for a newer gallery; True when one was swapped in. Raises ``DeliveryError``."""
        if self.current is None and self._keyring is None and self.load_cached():
            return True  # the dashboard is back: the copy opens, and the next poll asks with its ETag
        etag = self.current.etag if self.current else None
        response = self.client.get_gallery(self.model_id, etag)
        if response.body is None:
            return False
        try:
            snapshot = parse_gallery(response.body, self.model_id, self.dim, response.etag)
        except GalleryFormatError as err:
            raise DeliveryError(f"unusable gallery from the dashboard: {err}", retry=True) from err
        self._save(response.body, response.etag)
        self._swap(snapshot)
        logger.info("gallery %s from the dashboard: %d students", snapshot.version, snapshot.student_count)
        return True

    def run(self, stop: threading.Event, interval_s: float) -> None:
        """Refresh every ``interval_s`` until ``stop`` is set; failures are reported and retried next time."""
        while not stop.wait(timeout=interval_s):
            self.try_refresh()

    def try_refresh(self) -> bool:
        try:
            return self.refresh()
        except DeliveryError as err:
            logger.info("gallery refresh failed: %s", err)
            self.status.report_error(f"gallery: {err}")
            return False

    def _swap(self, snapshot: GallerySnapshot) -> None:
        if snapshot.timezone and (self.current is None or self.current.timezone != snapshot.timezone):
            logger.info("school days are decided in the school's time zone, %s", snapshot.timezone)
        if self.resolve_point is not None and snapshot.point is not None:
            snapshot = replace(snapshot, point=self.resolve_point(snapshot.point))
        if self.current is None or self.current.point != snapshot.point:
            point = snapshot.point
            logger.info("operating point for gallery %s: %s", snapshot.version,
                        f"threshold {point.threshold:.3f}, margin {point.margin:.3f}" if point else "the agent's own")
        self.current = snapshot  # one reference assignment: atomic for the frame loop
        self.status.gallery_version = snapshot.version
        self._report_if_thin(snapshot)
        self._previous_count = snapshot.student_count

    def _report_if_thin(self, snapshot: GallerySnapshot) -> None:
        if snapshot.version == self._warned_version:
            return
        problem = thin_gallery_problem(self.model_id, snapshot.student_count, self._previous_count)
        if problem is None:
            return
        self._warned_version = snapshot.version
        logger.warning("%s", problem)
        self.status.report_error(problem)

    def _save(self, document: dict[str, Any], etag: str | None) -> None:
        keyring = self._held_key()
        if keyring is None:  # never in clear: without the key there is no copy
            return
        sealed = keyring.seal(json.dumps({"etag": etag, "document": document}).encode("utf-8"), "gallery")
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".gallery-", dir=self.cache_path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(sealed)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.cache_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
