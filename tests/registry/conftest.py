"""Databases for the registry's storage tests: SQLite (a file per test) and PostgreSQL (for real).

PostgreSQL: a fresh database per test session, named ``iplos_test_<random hex>``, created through the server
at ``IPLOS_TEST_POSTGRES_URL`` (default: the development machines' local server), migrated once with the real
Alembic migrations, emptied before each test, dropped at the end. If the server cannot be reached, the
PostgreSQL tests fail when ``IPLOS_TEST_POSTGRES_URL`` or ``CI`` is set (tests/postgres.py): never skipped in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from services.kit.database import make_engine, upgrade_database
from services.registry_intake.migrations import SCRIPT_LOCATION
from services.registry_intake.models import metadata
from tests.postgres import fresh_database


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database for this test session."""
    with fresh_database("iplos_test_") as url:
        yield url


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """Another empty PostgreSQL database, for one test that migrates it itself (dropped afterwards)."""
    with fresh_database(f"{make_url(postgres_url).database}_", postgres_url) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    upgrade_database(engine, SCRIPT_LOCATION)
    yield engine
    engine.dispose()


def head_revision() -> str:
    """The newest revision in the registry's migrations folder (one head: the revisions form a line)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def sqlite_engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine, SCRIPT_LOCATION)
    return engine


def bench_engines(folder: Path, postgres_url: str | None) -> list[tuple[str, Engine]]:
    """The benchmarks' databases: a fresh SQLite file in ``folder``, and with ``postgres_url`` that PostgreSQL
    database emptied (every table of the registry dropped) and migrated again."""
    engines = [("SQLite", sqlite_engine(folder / "registry.db"))]
    if postgres_url:
        engine = make_engine(postgres_url)
        with engine.begin() as conn:
            metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade_database(engine, SCRIPT_LOCATION)
        engines.append(("PostgreSQL", engine))
    return engines


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty registry database on each backend."""
    if request.param == "sqlite":
        engine = sqlite_engine(tmp_path / "registry.db")
        yield engine
        engine.dispose()
        return
    engine = request.getfixturevalue("postgres_engine")
    tables = ", ".join(table.name for table in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def unmigrated_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database without any migration applied, on each backend."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    else:
        engine = make_engine(request.getfixturevalue("fresh_postgres_url"))
    yield engine
    engine.dispose()
