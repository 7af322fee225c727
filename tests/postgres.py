"""A fresh PostgreSQL database for a test session, on the server at ``IPLOS_TEST_POSTGRES_URL``.

When that variable is set (the Makefile exports it) or ``CI`` is, an unreachable server fails the run instead
of skipping it: a configured PostgreSQL test never quietly turns into a skip. Only a developer running pytest
by hand, with neither set and no server, gets skips.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

POSTGRES_URL_ENV = "IPLOS_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def must_run_postgres() -> bool:
    in_ci = os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}
    return in_ci or bool(os.environ.get(POSTGRES_URL_ENV))


def postgres_unreachable() -> str | None:
    """One line saying that the PostgreSQL tests need a server and how to give them one, where they must run and
    none answers; None where one answers or they need not run (a developer's pytest by hand: they skip)."""
    if not must_run_postgres():
        return None
    base = make_url(os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL)
    engine = create_engine(base, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except OperationalError:
        return (
            f"The PostgreSQL tests need a server, and none answers at {base.render_as_string(hide_password=True)}:"
            f" start one there, or point {POSTGRES_URL_ENV} at one (make test and CI run them; by hand,"
            " pytest -m 'not postgres' runs the rest)"
        )
    finally:
        engine.dispose()


@contextmanager
def fresh_database(prefix: str, base_url: str | None = None) -> Iterator[str]:
    """Create ``<prefix><random hex>``, yield its URL, drop it afterwards (even with open connections)."""
    base = make_url(base_url or os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL)
    name = f"{prefix}{secrets.token_hex(6)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OperationalError as exc:
        admin.dispose()
        reason = (
            f"PostgreSQL is not reachable at {base.render_as_string(hide_password=True)}"
            f" (set {POSTGRES_URL_ENV}): {exc.orig}"
        )
        if must_run_postgres():
            pytest.fail(f"{reason}; {POSTGRES_URL_ENV} or CI is set, so the PostgreSQL tests must run", pytrace=False)
        pytest.skip(reason)
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def postgres_server_url() -> str:
    """The test server's URL once it is known to answer (else a skip, or a failure where it must run, as for
    :func:`fresh_database`), for code that makes its own databases there (the soak)."""
    with fresh_database("iplos_test_probe_"):
        pass
    return os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL


#: The two databases a parametrised test runs on (PostgreSQL marked, so ``-m "not postgres"`` leaves it out).
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

_ENV_PREFIX = {"gateway": "IPLOS_GATEWAY_", "tpf": "IPLOS_TPF_", "registry": "IPLOS_REGISTRY_"}


@contextmanager
def service_databases(database: str, prefix: str) -> Iterator[dict[str, dict[str, str]]]:
    """Each service's database for a chain (``Chain(extra_env=...)``): nothing on SQLite (each service's file in
    its state folder), a fresh PostgreSQL database per service (``<prefix><service>_<hex>``, each service its
    own, as in production) otherwise, dropped afterwards."""
    if database == "sqlite":
        yield {}
        return
    with ExitStack() as stack:
        yield {
            service: {env + "DATABASE_URL": stack.enter_context(fresh_database(f"{prefix}{service}_"))}
            for service, env in _ENV_PREFIX.items()
        }


@contextmanager
def database_url(database: str, prefix: str, sqlite_file: Path) -> Iterator[str]:
    """One database on the backend ``database``: ``sqlite_file``, or a fresh PostgreSQL database (dropped after)."""
    if database == "sqlite":
        yield f"sqlite:///{sqlite_file}"
        return
    with fresh_database(prefix) as url:
        yield url
