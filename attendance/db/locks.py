"""Locks that let several dashboard processes share one database: advisory locks and row claims.

On PostgreSQL a district runs several dashboard processes, each with its own background thread, so a job
must be taken by one of them only:

- ``try_advisory_lock(session, name)`` takes a transaction-level advisory lock
  (``pg_try_advisory_xact_lock``) without waiting: False means another process holds it right now and the
  caller skips the job. The lock ends with the transaction (commit or rollback), so a process that dies
  cannot leave it held.
- ``skip_locked(statement)`` adds ``FOR UPDATE SKIP LOCKED`` to a SELECT, so two processes claiming rows
  from one queue each get different rows and neither waits for the other.

A school PC runs one process on SQLite, which has neither: SQLite lets one writer at a time, so the lock
is always "taken" and the SELECT is left as it is. The choice is made from the session's dialect.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


def is_postgresql(session: Session) -> bool:
    """True when ``session`` talks to PostgreSQL (several processes possible), False on SQLite."""
    return session.get_bind().dialect.name == "postgresql"


def advisory_key(name: str) -> int:
    """The signed 64-bit key of lock ``name``: the same in every process and across restarts."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


def try_advisory_lock(session: Session, name: str) -> bool:
    """Take the advisory lock ``name`` (e.g. ``"retention-purge"``) for the rest of the session's transaction
    if no other transaction holds it; True when taken (always on SQLite), False when held elsewhere."""
    if not is_postgresql(session):
        return True
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(advisory_key(name)))))


def skip_locked(session: Session, statement: Select, *of: Any) -> Select:
    """``statement`` with ``FOR UPDATE [OF ...] SKIP LOCKED`` on PostgreSQL (rows another transaction has
    locked are left out, not waited for); unchanged on SQLite. ``of`` names the tables whose rows to lock."""
    if not is_postgresql(session):
        return statement
    return statement.with_for_update(skip_locked=True, of=list(of) or None)
