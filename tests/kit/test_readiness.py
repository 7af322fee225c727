"""``/readyz`` is honest about the database: not ready while it does not answer or its schema is not at the
migrations' head, ready again once it is (services.kit.readiness). In-process on both backends, and a real TPF
process on PostgreSQL whose database stops taking connections."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from iplos_chain import Chain, ensure_keys, free_port
from services.kit.database import make_engine, upgrade_database
from services.kit.readiness import OK, SCHEMA_NOT_AT_HEAD, UNREACHABLE, Readiness
from services.tpf.api import MIGRATIONS as TPF_MIGRATIONS
from tests.postgres import fresh_database


@pytest.fixture
def migrated(engine: Engine) -> Engine:
    """The kit's ``engine`` fixture (an empty database on each backend) with the TPF's migrations applied."""
    upgrade_database(engine, TPF_MIGRATIONS)
    return engine


def _database(engine: Engine) -> str:
    return asyncio.run(Readiness(engine, lambda: None).expecting_schema(TPF_MIGRATIONS).checks())["database"]


def test_a_database_at_head_is_ready_and_one_behind_or_ahead_is_not(migrated: Engine) -> None:
    assert _database(migrated) == OK
    with migrated.begin() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        for other in ("0001", "9999_from_a_newer_release"):
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": other})
            assert _database(migrated) == OK  # not committed yet: the check reads what is committed
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    for other in ("0001", "9999_from_a_newer_release"):
        with migrated.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": other})
        assert _database(migrated) == SCHEMA_NOT_AT_HEAD
    with migrated.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert _database(migrated) == OK


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_database_no_migration_made_is_not_ready(backend: str, tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        url = (
            f"sqlite:///{tmp_path / 'empty.db'}"
            if backend == "sqlite"
            else stack.enter_context(fresh_database("iplos_test_empty_"))
        )
        engine = make_engine(url)
        stack.callback(engine.dispose)
        assert _database(engine) == SCHEMA_NOT_AT_HEAD


def test_without_an_expected_schema_only_the_answer_counts(engine: Engine) -> None:
    assert asyncio.run(Readiness(engine, lambda: None).checks())["database"] == OK


# --- a real TPF process on PostgreSQL -----------------------------------------------------------------------


@pytest.fixture
def tpf_on_postgres(tmp_path: Path) -> Iterator[tuple[Chain, str]]:
    with fresh_database("iplos_test_readyz_") as url:
        ensure_keys(tmp_path, ["0301"])
        ports = {s: free_port() for s in ("gateway", "tpf", "registry")}
        chain = Chain(tmp_path, ports=ports, extra_env={"tpf": {"IPLOS_TPF_DATABASE_URL": url}})
        try:
            chain.start("tpf")
            yield chain, url
        finally:
            chain.stop_all()


def _readyz(chain: Chain) -> httpx.Response:
    return httpx.get(chain.url("tpf") + "/readyz", timeout=10, verify=chain.verify)


def _until(chain: Chain, status: int, timeout_s: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while (response := _readyz(chain)).status_code != status:
        assert time.monotonic() < deadline, response.text
        time.sleep(0.1)
    return response


def test_readyz_of_a_service_whose_postgresql_database_stops_answering_turns_503_and_back(
    tpf_on_postgres: tuple[Chain, str],
) -> None:
    chain, url = tpf_on_postgres
    name = url.rsplit("/", 1)[1]
    assert _readyz(chain).json()["checks"]["database"] == OK
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            # The database refuses new connections, and the service's open ones are cut.
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
            down = _until(chain, 503)
            assert down.headers["content-type"].startswith("application/problem+json")
            problem = down.json()
            assert problem["type"] == "urn:iplos-chain:problem:not-ready"
            assert problem["checks"]["database"] == UNREACHABLE
            assert problem["checks"]["keys"] == OK
            assert name not in down.text  # no database name, no server address
            assert "127.0.0.1" not in down.text
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        assert _until(chain, 200).json()["checks"]["database"] == OK
        # A schema another release moved on (or a restore from an old backup) is not ready either, and named so.
        tpf = make_engine(url)
        try:
            with tpf.begin() as conn:
                head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
                conn.execute(text("UPDATE alembic_version SET version_num = '9999_newer'"))
            assert _until(chain, 503).json()["checks"]["database"] == SCHEMA_NOT_AT_HEAD
            with tpf.begin() as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
            assert _until(chain, 200).json()["status"] == "ready"
        finally:
            tpf.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
