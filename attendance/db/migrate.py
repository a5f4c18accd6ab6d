"""Alembic migrations, run from code: ``attendance db upgrade`` and the automatic set-up of a new database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from attendance.errors import AttendanceError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class SchemaOutOfDate(AttendanceError):
    """The database was made by an older version: ``attendance db upgrade`` brings it up to date."""

    code = "schema_out_of_date"


def make_alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs this package's migrations on ``engine``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` (idempotent)."""
    command.upgrade(make_alembic_config(engine), revision)


def head_revision() -> str:
    """The newest migration's revision id."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return script.get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for a database with no migrations applied."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def ensure_schema(engine: Engine) -> None:
    """Create the schema of an empty database; refuse one that is behind (it needs ``attendance db upgrade``).

    A database with no tables at all is new, and is migrated to the newest revision at once, so that
    ``enroll_faces.py DIR --db sqlite:///school.db`` works on a file that does not exist yet.
    """
    if not inspect(engine).get_table_names():
        upgrade_database(engine)
        return
    current = current_revision(engine)
    if current != head_revision():
        raise SchemaOutOfDate(
            f"the database schema is at {current or 'no revision'}, this version needs {head_revision()}: "
            "run `attendance db upgrade`"
        )
