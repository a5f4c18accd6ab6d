"""The local outbox: every decision is stored in SQLite, durably, before anything is sent.

One transaction records a decision: it claims the decision's key (``checkin:<school date>:<student>``,
so a student is checked in once per school day per camera, or the unknown track's key), gives the event
a UUID4 and the next per-camera sequence number and stores it. The database runs in WAL mode with
``synchronous=FULL``, so a committed decision survives a power cut or ``kill -9``; an uncommitted one
never happened and is decided again from the same frames. The sender deletes an event only after the
server accepted it (or said it already had it); an event the server rejects moves to ``dead_letters``
(without its snapshot) so it is not retried for ever.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

KINDS = ("checkin", "unknown")
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the per-camera sequence number, never reused
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('checkin', 'unknown')),
    body TEXT NOT NULL,  -- the event's JSON fields other than event_id and seq
    created_at REAL NOT NULL,  -- unix time it was stored
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS decisions (
    dedup_key TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    school_date TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    error_code TEXT NOT NULL,
    error_message TEXT NOT NULL,
    failed_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class StoredEvent:
    """An event as it waits in the outbox. ``payload`` is what is posted (with ``event_id`` and ``seq``)."""

    seq: int
    event_id: str
    kind: str
    created_at: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    oldest_age_s: float  # 0 when nothing is pending
    dead: int


def checkin_key(school_date: str, student_code: str) -> str:
    """The decision key that makes a check-in unique per student, school day and camera."""
    return f"checkin:{school_date}:{student_code}"


class Outbox:
    """The SQLite outbox at ``path``; safe to share between the frame loop and the sender thread."""

    def __init__(self, path: str | os.PathLike[str], clock=time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        _restrict_permissions(self.path)  # children's snapshots may sit here until sent

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock: committed when the block ends, rolled back when it raises.

        A failed write (a full disk, an I/O error) must not leave the connection inside the transaction, or
        every later ``BEGIN IMMEDIATE`` fails and the agent can record nothing until it restarts.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite may have rolled back by itself (a full disk, an I/O error)
                    self._db.execute("ROLLBACK")
                raise

    def record(self, kind: str, body: dict[str, Any], dedup_key: str, school_date: str) -> StoredEvent | None:
        """Store a decision and its event in one transaction; None when ``dedup_key`` was already decided."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        event_id = str(uuid.uuid4())
        now = self._clock()
        with self._transaction() as db:
            claimed = db.execute(
                "INSERT OR IGNORE INTO decisions (dedup_key, event_id, school_date, created_at) VALUES (?, ?, ?, ?)",
                (dedup_key, event_id, school_date, now),
            ).rowcount
            if not claimed:  # nothing was written: the empty transaction commits
                return None
            seq = db.execute(
                "INSERT INTO events (event_id, kind, body, created_at) VALUES (?, ?, ?, ?)",
                (event_id, kind, json.dumps(body, separators=(",", ":")), now),
            ).lastrowid
            if seq is None:  # sqlite3 sets it after every INSERT; its type allows None
                raise sqlite3.DatabaseError("the outbox insert reported no row id")
        return StoredEvent(seq, event_id, kind, now, {"event_id": event_id, "seq": seq, **body})

    def next_batch(self, limit: int) -> list[StoredEvent]:
        """The oldest pending events, all of one kind (the kind of the oldest), in sequence order."""
        with self._lock:
            first = self._db.execute("SELECT kind FROM events ORDER BY seq LIMIT 1").fetchone()
            if first is None:
                return []
            rows = self._db.execute(
                "SELECT seq, event_id, kind, body, created_at FROM events WHERE kind = ? ORDER BY seq LIMIT ?",
                (first[0], limit),
            ).fetchall()
        return [StoredEvent(seq, event_id, kind, created_at, {"event_id": event_id, "seq": seq, **json.loads(body)})
                for seq, event_id, kind, body, created_at in rows]

    def delete(self, event_ids: list[str]) -> None:
        """Forget events the server has (created or duplicate)."""
        if not event_ids:
            return
        with self._transaction() as db:
            db.executemany("DELETE FROM events WHERE event_id = ?", [(e,) for e in event_ids])

    def dead_letter(self, event_id: str, error_code: str, error_message: str) -> None:
        """Move an event the server refused for good out of the queue (its snapshot is dropped)."""
        with self._transaction() as db:
            row = db.execute("SELECT seq, kind, body FROM events WHERE event_id = ?", (event_id,)).fetchone()
            if row is None:
                return
            body = json.loads(row[2])
            body.pop("snapshot_jpeg_b64", None)
            db.execute(
                "INSERT OR REPLACE INTO dead_letters (seq, event_id, kind, body, error_code, error_message, "
                "failed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (row[0], event_id, row[1], json.dumps(body), error_code[:100], error_message[:500], self._clock()),
            )
            db.execute("DELETE FROM events WHERE event_id = ?", (event_id,))

    def note_failure(self, event_ids: list[str], error: str) -> None:
        """Count a failed attempt on these events (for the operator; they stay queued)."""
        with self._lock:
            self._db.executemany("UPDATE events SET attempts = attempts + 1, last_error = ? WHERE event_id = ?",
                                 [(error[:500], e) for e in event_ids])

    def stats(self) -> OutboxStats:
        with self._lock:
            pending, oldest = self._db.execute("SELECT COUNT(*), MIN(created_at) FROM events").fetchone()
            dead = self._db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
        age = max(0.0, self._clock() - oldest) if oldest is not None else 0.0
        return OutboxStats(pending, age, dead)

    def dead_letters(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, kind, error_code, error_message FROM dead_letters ORDER BY seq").fetchall()
        return [dict(zip(("seq", "event_id", "kind", "error_code", "error_message"), row)) for row in rows]

    def prune_decisions(self, before_school_date: str) -> int:
        """Forget decision keys of school days before ``before_school_date`` (ISO date); returns how many."""
        with self._lock:
            return self._db.execute("DELETE FROM decisions WHERE school_date < ?", (before_school_date,)).rowcount


def _restrict_permissions(path: Path) -> None:
    try:
        os.chmod(path, 0o600)
    except OSError:  # Windows or a foreign file system: the folder's permissions have to do
        logger.debug("could not restrict permissions of %s", path)
