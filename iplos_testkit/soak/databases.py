"""The soak's databases: each service's SQLite file in its state folder (the default), or on PostgreSQL a fresh
database per service, as in production (``iplos soak --database postgresql``).

The PostgreSQL databases are made on the server at ``--postgres-url`` (an account that may create databases),
named ``iplos_soak_<time>_<random>_<service>`` so that a kept one can be found again, and dropped after the run
(even with connections left open by a killed service) unless ``keep`` is set.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url

from iplos_chain import Chain
from iplos_testkit.soak.result import Console

__all__ = ["DATABASES", "DEFAULT_POSTGRES_URL", "POSTGRES_URL_ENV", "registry_database_url", "soak_databases"]

DATABASES: Final = ("sqlite", "postgresql")
POSTGRES_URL_ENV: Final = "IPLOS_SOAK_POSTGRES_URL"
DEFAULT_POSTGRES_URL: Final = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_PREFIX: Final = {"gateway": "IPLOS_GATEWAY_", "tpf": "IPLOS_TPF_", "registry": "IPLOS_REGISTRY_"}


def postgres_server_url(given: str | None = None) -> str:
    """The server the soak makes its databases on: ``given``, else ``$IPLOS_SOAK_POSTGRES_URL``, else local."""
    return given or os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL


@contextmanager
def soak_databases(
    database: str, console: Console, *, server_url: str | None = None, keep: bool = False
) -> Iterator[dict[str, dict[str, str]]]:
    """Each service's database settings for the chain (``Chain(extra_env=...)``): none on SQLite, a fresh
    PostgreSQL database each otherwise, dropped afterwards unless ``keep``."""
    if database not in DATABASES:
        raise ValueError(f"database is one of {DATABASES}, not {database!r}")
    if database == "sqlite":
        yield {}
        return
    base = make_url(postgres_server_url(server_url))
    stem = f"iplos_soak_{dt.datetime.now(dt.UTC):%Y%m%dt%H%M%S}_{secrets.token_hex(3)}"
    names = {service: f"{stem}_{service}" for service in _PREFIX}
    admin = create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 10})
    made: list[str] = []
    try:
        with admin.connect() as conn:
            for name in names.values():
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
                made.append(name)
        console.print(f"soak: PostgreSQL databases {', '.join(made)} on {_shown(base)}")
        yield {
            service: {_PREFIX[service] + "DATABASE_URL": base.set(database=name).render_as_string(hide_password=False)}
            for service, name in names.items()
        }
    finally:
        if keep:
            console.print(f"soak: kept the databases {', '.join(made)}")
        else:
            with admin.connect() as conn:
                for name in made:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def registry_database_url(chain: Chain) -> str | None:
    """The registry's database URL when the chain gave it one (PostgreSQL); None: its SQLite file."""
    return chain.extra_env.get("registry", {}).get("IPLOS_REGISTRY_DATABASE_URL")


def _shown(url: URL) -> str:
    return url.set(database=None).render_as_string(hide_password=True)
