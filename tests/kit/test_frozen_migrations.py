"""Migrations are frozen history: each writes out the tables as they were at its revision, and none builds from the
live table definitions (changing those would rewrite what an old revision did). What keeps the two together: a
database migrated to head, from nothing, is exactly what each service's models describe, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, create_engine

from services.kit.database import make_engine, upgrade_database
from services.municipality_gateway import api as gateway_api
from services.municipality_gateway import models as gateway_models
from services.registry_intake import api as registry_api
from services.registry_intake import models as registry_models
from services.tpf import api as tpf_app
from services.tpf import models as tpf_models
from tests.postgres import fresh_database

SERVICES: dict[str, tuple[Path, MetaData]] = {
    "gateway": (gateway_api.MIGRATIONS, gateway_models.metadata),
    "tpf": (tpf_app.MIGRATIONS, tpf_models.metadata),
    "registry": (registry_api.MIGRATIONS, registry_models.metadata),
}
VERSIONS = ("municipality_gateway", "tpf", "registry_intake")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        engine.dispose()
        return
    with fresh_database("iplos_frozen_") as url:
        engine = create_engine(url)
        yield engine
        engine.dispose()


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_database_migrated_from_nothing_is_what_the_models_describe(empty: Engine, service: str) -> None:
    migrations, metadata = SERVICES[service]
    upgrade_database(empty, migrations)
    with empty.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, metadata) == []


@pytest.mark.parametrize("package", VERSIONS)
def test_no_migration_builds_from_the_live_table_definitions(package: str) -> None:
    versions = Path(__file__).resolve().parents[2] / "services" / package / "migrations" / "versions"
    for path in sorted(versions.glob("0*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        # Only Alembic, SQLAlchemy and the standard library: no project module whose definitions may change.
        assert [name for name in imported if name.split(".")[0] in {"services", "shared", "keys"}] == [], path.name
