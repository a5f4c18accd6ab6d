"""The migrations build exactly the schema the ORM models describe, on SQLite and on PostgreSQL."""

import datetime as dt
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text

from attendance.db import Database
from attendance.db.migrate import SchemaOutOfDate, current_revision, ensure_schema, head_revision, upgrade_database
from attendance.db.models import Base, ClassMembership
from attendance.db.session import create_db_engine, make_session_factory, normalise_url
from conftest import POSTGRES_URL


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


@pytest.fixture
def empty_url(tmp_path):
    """A database with no schema: a SQLite file, or a new PostgreSQL database when the suite runs there."""
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    name = f"attendance_old_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield normalise_url(POSTGRES_URL).rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrading_keeps_every_student_on_the_rolls_of_their_days(empty_url):
    """0003 (class history): an active student is in their class "since always"; a deactivated one stays on the
    rolls up to their last check-in, as the roll showed them before the upgrade."""
    engine = create_db_engine(empty_url)
    upgrade_database(engine, "0001")
    now = "2026-09-01 00:00:00"
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO schools (id, code, name, timezone, school_days, checkin_opens, on_time_cutoff, absence_cutoff,"
            " created_at) VALUES (1, 'S', 'S', 'Asia/Ho_Chi_Minh', '1,2,3,4,5', '05:30:00', '07:00:00', '09:00:00', :now)"),
            {"now": now})
        connection.execute(text("INSERT INTO school_classes (id, school_id, code, school_year) VALUES (1, 1, '6A1', '')"))
        connection.execute(text(
            "INSERT INTO cameras (id, school_id, name, location, token_hash, created_at) VALUES (1, 1, 'g', '', 'h', :now)"),
            {"now": now})
        for sid, active in ((1, 1), (2, 0), (3, 0)):
            connection.execute(text(
                "INSERT INTO students (id, school_id, class_id, student_code, full_name, active, consent_given, consent_by,"
                " created_at) VALUES (:id, 1, 1, :code, 'X', :active, :yes, '', :now)"),
                {"id": sid, "code": f"HS{sid}", "active": bool(active), "yes": True, "now": now})
        connection.execute(text(
            "INSERT INTO checkins (school_id, camera_id, student_id, event_id, seq, captured_at, school_date, model_id,"
            " received_at) VALUES (1, 1, 2, 'e1', 0, :now, '2026-09-07', '', :now)"), {"now": now})
    upgrade_database(engine)
    with Database(engine=engine, sessions=make_session_factory(engine)).session() as session:
        rows = {(m.student_id, m.class_id, m.from_date, m.until_date) for m in session.scalars(select(ClassMembership))}
        sources = set(session.scalars(text("SELECT source FROM checkins")))
    assert rows == {(1, 1, None, None), (2, 1, None, dt.date(2026, 9, 8))}  # HS3 left with no record: no roll
    assert sources == {"camera"}
    engine.dispose()


def test_0011_drops_checkin_opens_and_its_downgrade_puts_it_back_with_the_old_default(empty_url):
    from alembic import command

    from attendance.db.migrate import make_alembic_config

    engine = create_db_engine(empty_url)
    upgrade_database(engine, "0009")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO schools (id, code, name, timezone, school_days, checkin_opens, on_time_cutoff, absence_cutoff,"
            " created_at) VALUES (1, 'S', 'S', 'Asia/Ho_Chi_Minh', '1,2,3,4,5', '04:00:00', '07:00:00', '09:00:00',"
            " '2026-08-01 00:00:00')"))
        connection.execute(text("INSERT INTO school_classes (id, school_id, code, school_year) VALUES (1, 1, '6A1', '')"))
    upgrade_database(engine, "0011")
    assert "checkin_opens" not in {c["name"] for c in inspect(engine).get_columns("schools")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT code FROM schools")).scalar_one() == "S"
        # the rows below a school survive (a table copy on SQLite would have cascaded a delete to them)
        assert connection.execute(text("SELECT code FROM school_classes")).scalar_one() == "6A1"
    command.downgrade(make_alembic_config(engine), "0009")
    with engine.connect() as connection:
        opens = connection.execute(text("SELECT checkin_opens FROM schools WHERE id = 1")).scalar_one()
    assert str(opens).startswith("05:30")
    upgrade_database(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
