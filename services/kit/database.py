"""Engines and migrations, the same way for every service.

SQLite (a file per service) is the embedded default, PostgreSQL the production database. Both get real
transactions here:

* SQLite: WAL journal, ``synchronous=NORMAL`` by default (the services open theirs ``FULL``: an answer must not
  outlive a power loss of its commit, services.kit.lifespan), foreign keys on, a busy timeout, and SQLAlchemy (not the
  ``sqlite3`` module) emits ``BEGIN``. A transaction begins with ``BEGIN IMMEDIATE``, so it takes the write lock
  up front and concurrent writers queue on the busy timeout instead of failing half-way with "database is
  locked". Read-only work can ask for a deferred ``BEGIN`` with the execution option
  ``sqlite_begin="DEFERRED"`` (see :data:`READ_ONLY`): in WAL mode readers then never wait for a writer.
* PostgreSQL (``postgresql+psycopg://``): a plain engine with ``pool_pre_ping``.

Migrations: :func:`upgrade_database` runs Alembic ``upgrade head`` on a service's own ``migrations/`` folder
over a connection of the given engine; the folder's ``env.py`` takes it from
``config.attributes["connection"]``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

__all__ = ["READ_ONLY", "as_utc", "make_engine", "run_migrations_online", "upgrade_database"]

#: Execution options for read-only work: on SQLite a deferred ``BEGIN`` (no write lock); ignored elsewhere.
READ_ONLY: Final[dict[str, Any]] = {"sqlite_begin": "DEFERRED"}

_SQLITE_BEGIN_MODES: Final = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A stored instant as an aware UTC datetime: SQLite hands back naive datetimes for what was stored as UTC,
    PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def make_engine(url: str, *, sqlite_busy_timeout_s: float = 30.0, sqlite_synchronous: str = "NORMAL") -> Engine:
    """An engine for ``url``, tuned for the backend (see the module docstring).

    ``sqlite_busy_timeout_s`` is how long a SQLite writer waits for another writer's transaction to end.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # hide_parameters: a database error's text must not carry the statement's values (pseudonyms,
        # payload fields) into an exception message and from there into a log.
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)

    if sqlite_synchronous not in ("NORMAL", "FULL"):
        raise ValueError("sqlite_synchronous is NORMAL or FULL")
    engine = create_engine(url, hide_parameters=True)
    busy_timeout_ms = int(sqlite_busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # sqlite3 must not issue BEGIN or COMMIT on its own: SQLAlchemy's "begin" event below does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA synchronous = {sqlite_synchronous}")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = str(connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")).upper()
        if mode not in _SQLITE_BEGIN_MODES:
            raise ValueError(f"sqlite_begin must be one of {sorted(_SQLITE_BEGIN_MODES)}, not {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def upgrade_database(engine: Engine, script_location: str | Path) -> None:
    """Run Alembic ``upgrade head`` from ``script_location`` in one transaction on ``engine``."""
    config = Config()
    # Config values go through ConfigParser interpolation: a literal "%" must be doubled.
    config.set_main_option("script_location", str(script_location).replace("%", "%%"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def run_migrations_online(metadata: MetaData, service: str) -> None:
    """The body of every service's Alembic ``env.py``: migrate over the connection the caller hands in.

    ``upgrade_database`` opens a transaction on the engine and passes its connection as
    ``config.attributes["connection"]``. There is no offline (SQL script) mode and no URL in a config file:
    the service's settings own the database URL.
    """
    from alembic import context

    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            f"the {service} migrations run on a connection passed in config.attributes['connection']: "
            "use services.kit.database.upgrade_database(engine, SCRIPT_LOCATION)"
        )
    if context.is_offline_mode():
        raise RuntimeError("offline (SQL script) migrations are not supported")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite's ALTER TABLE is limited: later migrations use batch mode there.
        render_as_batch=connection.dialect.name == "sqlite",
        # make_engine gives SQLite real transactions, so its DDL is transactional too.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()
