"""The database: ORM models, engines and sessions, migrations. Only this package imports SQLAlchemy's engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from attendance.db import changes, history  # noqa: F401 (register the flush hooks: change counter, class and rule history)
from attendance.db import gallery_versions  # noqa: F401 (register the hooks that version the agents' galleries)
from attendance.db.migrate import ensure_schema
from attendance.db.session import create_db_engine, make_session_factory, session_scope


@dataclass
class Database:
    """An engine and its session factory for one database URL."""

    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def open(cls, url: str, *, create_schema: bool = True) -> Database:
        """Connect to ``url``; a new, empty database gets the schema (see ``ensure_schema``)."""
        engine = create_db_engine(url)
        if create_schema:
            ensure_schema(engine)
        return cls(engine=engine, sessions=make_session_factory(engine))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work that commits on success and rolls back on error."""
        with session_scope(self.sessions) as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
