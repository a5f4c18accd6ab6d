"""Database engines and sessions: one engine per URL, SQLite tuned for a gate PC, PostgreSQL for a district."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from attendance.errors import SettingsError

logger = logging.getLogger(__name__)


def normalise_url(url: str) -> str:
    """Map ``postgresql://`` and ``postgres://`` to the psycopg 3 driver the package installs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def create_db_engine(url: str) -> Engine:
    """Create an engine for ``url``; a SQLite file's folder is created, and foreign keys are enforced."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise SettingsError("database_url", f"is not a database URL: {url!r}") from err
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    _cache_long_statements()
    return create_engine(url, pool_pre_ping=True)


# The agent's batch of 100 check-ins is one multi-row INSERT of 1,600 parameters (~45 kB of SQL), and its
# look-ups are IN lists of 100: psycopg caches its parse of a statement (placeholders to $n) only under 4 kB and
# 50 parameters, so it split each of these again on every batch: ~12 ms of a batch's ~35 ms of CPU. The agent sends
# 100 events a batch (the API takes up to 500: a longer batch is parsed each time, as before), so these
# statements have at most a hundred shapes; psycopg's cache stays at 128 entries.
LONG_STATEMENT_BYTES = 65_536
LONG_STATEMENT_PARAMS = 2_000


def _cache_long_statements() -> None:
    """Let psycopg cache its parse of the batches' long statements (see ``LONG_STATEMENT_BYTES``)."""
    try:
        from psycopg import _queries
    except ImportError:  # psycopg is the server extra's; without it there is no PostgreSQL engine anyway
        return
    if getattr(_queries, "MAX_CACHED_STATEMENT_LENGTH", None) is None:  # another psycopg: leave it as it is
        return
    _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, LONG_STATEMENT_BYTES)
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, LONG_STATEMENT_PARAMS)


def _tune_sqlite(dbapi_connection, connection_record) -> None:  # noqa: ANN001 (DB-API objects)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit (views render after committing)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
