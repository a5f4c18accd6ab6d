"""QR cards at the gate: read a card every few frames, and turn each new one into a ``source: "qr"`` check-in.

The agent does not verify the card's signature: the school's card secret stays on the dashboard (a secret
on every gate PC could be taken from any of them and used to forge cards). It checks the card's shape, and
keeps at most one check-in per card text and school day, so a card held up for ten seconds is one event;
the dashboard verifies the card and refuses a forged or revoked one (``bad_card``). The outbox key is the
whole card text: a forged card showing a student's code cannot use up that student's check-in of the day.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from attendance.cards import CardFormatError, parse_card
from attendance.faces.qr import QrReader
from camera_agent.outbox import Outbox, StoredEvent
from camera_agent.sources import Frame

logger = logging.getLogger(__name__)

MAX_REMEMBERED_CARDS = 4096  # (school day, card) pairs already queued: a school's cards for a day and more


@dataclass(frozen=True)
class CardSighting:
    """A card read in a frame: its text and the student code it names (not yet verified)."""

    payload: str
    student_code: str
    captured_at: dt.datetime


class CardReader:
    """Reads QR cards from every ``every_frames``-th frame (0: never) at ``scale``; counts the time spent."""

    def __init__(self, every_frames: int = 3, scale: float = 1.0) -> None:
        self.every_frames = every_frames
        self.reader = QrReader(scale) if every_frames > 0 else None
        self.decode_ms = 0.0
        self.decodes = 0
        self._frames = 0

    def read(self, frame: Frame) -> list[CardSighting]:
        """The cards in ``frame`` (empty on the frames that are skipped)."""
        number = self._frames
        self._frames += 1
        if self.reader is None or number % self.every_frames:
            return []
        started = time.perf_counter()
        texts = self.reader.read(frame.image)
        self.decode_ms += (time.perf_counter() - started) * 1000.0
        self.decodes += 1
        sightings = []
        for text in texts:
            try:
                card = parse_card(text)
            except CardFormatError:
                logger.debug("a QR code that is not an attendance card")
                continue
            sightings.append(CardSighting(card.payload, card.student_code, frame.captured_at))
        return sightings


class CardLedger:
    """Which cards were already queued today, in memory in front of the outbox's own once-per-key rule."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()

    def record(self, outbox: Outbox, sighting: CardSighting, school_date: str) -> StoredEvent | None:
        """Queue a ``source: "qr"`` check-in for a card not queued today; None when it was."""
        key = (school_date, sighting.payload)
        if key in self._seen:
            return None
        if len(self._seen) >= MAX_REMEMBERED_CARDS:
            self._seen.clear()  # the outbox's decision keys still hold: this only saves a transaction
        self._seen.add(key)
        body = {"captured_at": sighting.captured_at.isoformat(), "student_code": sighting.student_code,
                "source": "qr", "card": sighting.payload}
        return outbox.record("checkin", body, f"qr:{school_date}:{sighting.payload}", school_date)
