"""services.kit.database on PostgreSQL: migrations run once when several processes start together (the advisory
lock), and the pool settings reach the engine."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from services.kit.database import (
    Pool,
    database_revisions,
    make_engine,
    migration_lock_key,
    schema_heads,
    upgrade_database,
)
from services.kit.settings import ServiceSettings
from services.municipality_gateway.api import MIGRATIONS as GATEWAY_MIGRATIONS
from services.registry_intake.api import MIGRATIONS as REGISTRY_MIGRATIONS
from services.tpf.api import MIGRATIONS as TPF_MIGRATIONS
from tests.postgres import fresh_database

MIGRATIONS = {"gateway": GATEWAY_MIGRATIONS, "tpf": TPF_MIGRATIONS, "registry": REGISTRY_MIGRATIONS}
PROCESSES = 4

# One process: wait for the common start instant, then migrate (as a service's lifespan does).
_MIGRATE = textwrap.dedent(
    """
    import sys, time
    from services.kit.database import make_engine, upgrade_database
    url, migrations, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
    engine = make_engine(url)
    time.sleep(max(0.0, start_at - time.time()))
    upgrade_database(engine, migrations)
    engine.dispose()
    """
)


@pytest.mark.postgres
@pytest.mark.parametrize("service", sorted(MIGRATIONS))
def test_several_processes_migrating_one_fresh_database_at_once_migrate_it_once(service: str) -> None:
    migrations = MIGRATIONS[service]
    with fresh_database(f"iplos_test_migrate_{service}_") as url:
        # Interpreter and imports take about a second; all of them then start within milliseconds of each other.
        start_at = time.time() + 3.0
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", _MIGRATE, url, str(migrations), repr(start_at)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for _ in range(PROCESSES)
        ]
        outputs = [p.communicate(timeout=120)[0].decode(errors="replace") for p in processes]
        assert [p.returncode for p in processes] == [0] * PROCESSES, "\n---\n".join(outputs)
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
                assert len(rows) == 1
                assert database_revisions(conn) == schema_heads(migrations)
                assert "audit_log" in inspect(conn).get_table_names()
        finally:
            engine.dispose()


@pytest.mark.postgres
def test_a_migration_waits_for_the_lock_another_process_holds() -> None:
    """The lock is really taken: while someone else holds the service's key, the migration does not start."""
    with fresh_database("iplos_test_migrate_lock_") as url:
        holder, engine = make_engine(url), make_engine(url)
        done = threading.Event()
        errors: list[BaseException] = []

        def migrate() -> None:
            try:
                upgrade_database(engine, TPF_MIGRATIONS)
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)
            finally:
                done.set()

        try:
            with holder.begin() as conn:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": migration_lock_key(TPF_MIGRATIONS)})
                worker = threading.Thread(target=migrate)
                worker.start()
                assert not done.wait(1.5)  # still waiting for the lock
                with engine.connect() as probe:
                    assert "alembic_version" not in inspect(probe).get_table_names()
            # The holder's transaction ended: the lock is free and the migration runs.
            assert done.wait(60)
            worker.join()
            assert errors == []
            with engine.connect() as conn:
                assert database_revisions(conn) == schema_heads(TPF_MIGRATIONS)
        finally:
            holder.dispose()
            engine.dispose()


def test_each_service_has_its_own_lock_key_whatever_folder_it_is_installed_in(tmp_path: Path) -> None:
    keys = {migration_lock_key(m) for m in MIGRATIONS.values()}
    assert len(keys) == 3
    assert all(-(2**63) <= key < 2**63 for key in keys)  # PostgreSQL's bigint
    elsewhere = tmp_path / "site-packages" / "services" / "tpf" / "migrations"
    assert migration_lock_key(elsewhere) == migration_lock_key(TPF_MIGRATIONS)


def test_the_pool_settings_reach_a_postgresql_engine() -> None:
    settings = ServiceSettings(
        key_dir=Path("k"),
        directory=Path("d"),
        state_dir=Path("s"),
        database_url="postgresql+psycopg://u@127.0.0.1:1/none",
        database_pool_size=3,
        database_max_overflow=2,
        database_pool_recycle_s=60,
    )
    assert settings.database_pool == Pool(3, 2, 60)
    engine = make_engine(settings.effective_database_url, pool=settings.database_pool)  # connects lazily
    try:
        pool = engine.pool
        assert (pool.size(), pool._max_overflow, pool._recycle, pool._pre_ping) == (3, 2, 60, True)  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_the_pool_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="database_pool_size"):
        ServiceSettings(key_dir=Path("k"), directory=Path("d"), state_dir=Path("s"), database_pool_size=0)
