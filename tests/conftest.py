"""Shared fixtures in the Flask-tutorial style: settings on a temporary database, ``app``, ``client``, factories.

The database is SQLite unless ``ATTENDANCE_TEST_DATABASE_URL`` names another (CI runs the suite a second
time on PostgreSQL). Each test gets an empty, fully migrated database: a copy of a migrated SQLite file,
or the same PostgreSQL database truncated.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from attendance.crypto import Keyring, decode_keys, install_keyring
from attendance.db import Database
from attendance.db.migrate import upgrade_database
from attendance.db.models import Base
from attendance.db.session import create_db_engine, normalise_url
from attendance.settings import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
SHARED_FACES = SHARED / "faces"
# dlib's shipped point (models/manifest.toml) is placed by bench/operating_point.py for a gallery of 135 people.
# The same rule allows 0.48 for the six people of people/ that the real-face tests enroll (expected FPIR at
# 0.45 / 0.06: 0.06% for six people, 1.4% for 135, 12% for 2,000), so those tests run dlib at 0.45 / 0.06.
SIX_PEOPLE_DLIB_POINT = {"threshold": "0.45", "margin": "0.06"}
SHARED_MODELS = SHARED / "models"
POSTGRES_URL = os.environ.get("ATTENDANCE_TEST_DATABASE_URL", "")
TEST_DATA_KEY = "dGVzdC1kYXRhLWtleS1ub3QtZm9yLXByb2R1Y3Rpb24="  # 32 bytes: the tests' data key


def require_shared(path: Path) -> Path:
    """``path`` under ../shared, or a skip; under CI (``CI`` set) a missing path fails the test instead."""
    if path.exists():
        return path
    message = f"test data missing: {path} (see ../shared/faces/README.md)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def _hermetic_environment(tmp_path_factory):
    """No test reads the developer's own instance folder (installed models, photos) or ATTENDANCE_* settings."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("ATTENDANCE_") and k != "ATTENDANCE_TEST_DATABASE_URL"}
    for key in saved:
        del os.environ[key]
    os.environ["ATTENDANCE_INSTANCE_PATH"] = str(tmp_path_factory.mktemp("default-instance"))
    os.environ["ATTENDANCE_DATA_KEY"] = TEST_DATA_KEY  # the CLI run in-process seals with the tests' key
    install_keyring(Keyring(decode_keys(TEST_DATA_KEY)))  # for module fixtures, set up before _test_keyring
    yield
    del os.environ["ATTENDANCE_INSTANCE_PATH"]
    del os.environ["ATTENDANCE_DATA_KEY"]
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _test_keyring():
    """Templates, photos and snapshots are sealed in tests too, with the tests' key (a test that rotates or
    loads another key leaves no trace in the next)."""
    install_keyring(Keyring(decode_keys(TEST_DATA_KEY)))
    yield
    install_keyring(Keyring(decode_keys(TEST_DATA_KEY)))


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    return require_shared(SHARED_FACES)


@pytest.fixture(scope="session")
def converted(tmp_path_factory) -> tuple[Path, str]:
    """dlib's ResNet converted to ONNX once per run, from the installed package's weights: (path, sha256).

    The file lies where ``attendance models convert-dlib`` puts it: ``<instance>/models/dlib_resnet_v1.onnx``.
    """
    from models.dlib_onnx import convert_dlib_resnet

    out = tmp_path_factory.mktemp("onnx-instance") / "models" / "dlib_resnet_v1.onnx"
    return out, convert_dlib_resnet(None, out)


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory) -> str:
    """A migrated database made once per run: a SQLite file to copy, or a fresh PostgreSQL database."""
    if POSTGRES_URL:
        admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
        name = f"attendance_test_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = normalise_url(POSTGRES_URL).rsplit("/", 1)[0] + f"/{name}"
        engine = create_db_engine(url)
        upgrade_database(engine)
        engine.dispose()
        yield url
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    engine.dispose()
    yield str(path)


@pytest.fixture
def database_url(_migrated_template, tmp_path) -> str:
    """The URL of an empty, migrated database for this test."""
    if POSTGRES_URL:
        engine = create_db_engine(_migrated_template)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return _migrated_template
    path = tmp_path / "attendance.db"
    shutil.copy(_migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    """Settings for a test: a temporary instance folder and database, no environment read."""
    return load_settings(Settings, environ={}, overrides={
        "instance_path": str(tmp_path / "instance"), "database_url": database_url,
        "secret_key": "test-secret", "session_cookie_secure": False, "data_key": TEST_DATA_KEY,
    })


@pytest.fixture
def instance(settings) -> Path:
    """The test's instance folder (created), for code that writes photos and snapshots."""
    path = Path(settings.instance_path).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def db(settings):
    database = Database.open(settings.resolved_database_url)
    yield database
    database.close()


@pytest.fixture
def session(db):
    with db.session() as s:
        yield s


def make_embedding(seed: int, dim: int = 128, scale: float = 0.1) -> np.ndarray:
    """A deterministic fake face vector: the same seed gives the same 'person'."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(dim) * scale).astype(np.float32)


@pytest.fixture
def app(settings, db):
    """The dashboard on the test database (CSRF off here; the browser test keeps it on)."""
    from dashboard import create_app

    return create_app(settings, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False}, database=db)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(settings, monkeypatch, capsys):
    """Run ``attendance ARGS...`` against the test settings; returns (exit status, stdout, stderr)."""
    from attendance.cli.main import main

    monkeypatch.setenv("ATTENDANCE_INSTANCE_PATH", settings.instance_path)
    monkeypatch.setenv("ATTENDANCE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ATTENDANCE_DATA_KEY", TEST_DATA_KEY)

    def run(*argv: str) -> tuple[int, str, str]:
        status = main(list(argv))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run
