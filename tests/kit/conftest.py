"""Databases for the kit's storage tests: a SQLite file per test, and PostgreSQL for real (one fresh database
per session, see tests/postgres.py: never quietly skipped when configured)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from keys.generate import DIRECTORY_FILE, init_keys
from services.kit.database import make_engine
from shared.keys import PartyKeys, PublicDirectory, load_party_keys
from tests.postgres import fresh_database


@pytest.fixture(scope="session")
def kit_postgres_url() -> Iterator[str]:
    with fresh_database("iplos_test_kit_") as url:
        yield url


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
