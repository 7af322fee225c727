"""Databases for the kit's storage tests: a SQLite file per test, and PostgreSQL for real.

PostgreSQL: one fresh database per session (``iplos_test_kit_<hex>``) on the server at
``IPLOS_TEST_POSTGRES_URL``, dropped at the end. When that variable is set (the Makefile exports it) or ``CI``
is, an unreachable server fails the run instead of skipping it: a configured PostgreSQL test never quietly
turns into a skip.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from keys.generate import DIRECTORY_FILE, init_keys
from services.kit.database import make_engine
from shared.keys import PartyKeys, PublicDirectory, load_party_keys

POSTGRES_URL_ENV = "IPLOS_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _must_run_postgres() -> bool:
    in_ci = os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}
    return in_ci or bool(os.environ.get(POSTGRES_URL_ENV))


@pytest.fixture(scope="session")
def kit_postgres_url() -> Iterator[str]:
    base = make_url(os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL)
    name = f"iplos_test_kit_{secrets.token_hex(6)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OperationalError as exc:
        admin.dispose()
        reason = f"PostgreSQL is not reachable at {base.render_as_string(hide_password=True)}: {exc.orig}"
        if _must_run_postgres():
            pytest.fail(f"{reason}; {POSTGRES_URL_ENV} or CI is set, so the PostgreSQL tests must run", pytrace=False)
        pytest.skip(reason)
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database on each backend, made the way the services make theirs (services.kit.database)."""
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    else:
        made = make_engine(request.getfixturevalue("kit_postgres_url"))
    yield made
    made.dispose()


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kit-keys") / "chain"
    init_keys(folder, ["0301"])
    return folder


@pytest.fixture(scope="session")
def directory(key_dir: Path) -> PublicDirectory:
    return PublicDirectory.load(key_dir / DIRECTORY_FILE)


@pytest.fixture(scope="session")
def tpf_keys(key_dir: Path) -> PartyKeys:
    return load_party_keys(key_dir / "tpf", "tpf")


@pytest.fixture(scope="session")
def registry_keys(key_dir: Path) -> PartyKeys:
    return load_party_keys(key_dir / "registry", "registry")
