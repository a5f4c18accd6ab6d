"""The migrations build exactly the schema the ORM models describe, on SQLite and on PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from attendance.db import Database
from attendance.db.migrate import SchemaOutOfDate, current_revision, ensure_schema, head_revision, upgrade_database
from attendance.db.models import Base
from attendance.db.session import create_db_engine


def test_migrated_schema_matches_the_models(database_url):
    engine = create_db_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_upgrade_is_idempotent(database_url):
    engine = create_db_engine(database_url)
    upgrade_database(engine)
    upgrade_database(engine)
    assert current_revision(engine) == head_revision()
    assert {"schools", "students", "face_templates", "checkins", "audit_log"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_a_new_sqlite_file_gets_the_schema(tmp_path):
    database = Database.open(f"sqlite:///{tmp_path / 'new' / 'school.db'}")
    assert current_revision(database.engine) == head_revision()
    database.close()


def test_an_old_schema_is_refused_with_the_fix(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE something (id INTEGER)")
    try:
        ensure_schema(engine)
    except SchemaOutOfDate as err:
        assert "attendance db upgrade" in err.message
    else:
        raise AssertionError("an unmigrated database was accepted")
    engine.dispose()


def test_db_upgrade_command(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    status, out, _ = cli("db", "upgrade", "--db", url)
    assert status == 0 and head_revision() in out
    status, out, _ = cli("db", "status", "--db", url)
    assert status == 0
