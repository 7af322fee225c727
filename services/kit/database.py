"""Engines and migrations, the same way for every service.

SQLite (a file per service) is the embedded default, PostgreSQL the production database. Both get real
transactions here:

* SQLite: WAL journal, ``synchronous=NORMAL`` by default (the services open theirs ``FULL``: an answer must not
  outlive a power loss of its commit, services.kit.lifespan), foreign keys on, a busy timeout, and SQLAlchemy (not the
  ``sqlite3`` module) emits ``BEGIN``. A transaction begins with ``BEGIN IMMEDIATE``, so it takes the write lock
  up front and concurrent writers queue on the busy timeout instead of failing half-way with "database is
  locked". Read-only work can ask for a deferred ``BEGIN`` with the execution option
  ``sqlite_begin="DEFERRED"`` (see :data:`READ_ONLY`): in WAL mode readers then never wait for a writer.
* PostgreSQL (``postgresql+psycopg://``): a pooled engine with ``pool_pre_ping`` (a connection the server or a
  firewall dropped is replaced before use instead of failing a request), the pool's size, overflow and recycle
  age from the service's settings (:class:`Pool`).

Migrations: :func:`upgrade_database` runs Alembic ``upgrade head`` on a service's own ``migrations/`` folder
over a connection of the given engine; the folder's ``env.py`` takes it from
``config.attributes["connection"]``. On PostgreSQL it first takes a transaction-level advisory lock whose key
is fixed per service (:func:`migration_lock_key`), so that several processes starting together on one database
migrate it once: the others wait for the first one's commit and then find the schema at head.
:func:`schema_heads` and :func:`database_revisions` say whether a database is at the head of its migrations
(``/readyz``, services.kit.readiness).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

__all__ = [
    "READ_ONLY",
    "Pool",
    "as_utc",
    "database_revisions",
    "make_engine",
    "migration_lock_key",
    "run_migrations_online",
    "schema_heads",
    "upgrade_database",
]

#: Execution options for read-only work: on SQLite a deferred ``BEGIN`` (no write lock); ignored elsewhere.
READ_ONLY: Final[dict[str, Any]] = {"sqlite_begin": "DEFERRED"}

_SQLITE_BEGIN_MODES: Final = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A stored instant as an aware UTC datetime: SQLite hands back naive datetimes for what was stored as UTC,
    PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Pool:
    """A PostgreSQL engine's connection pool (SQLAlchemy's ``QueuePool``): ``size`` connections kept open,
    up to ``max_overflow`` more under load, each replaced once it is ``recycle_s`` old (before a server's or a
    firewall's idle timeout can cut it; -1: never)."""

    size: int = 5
    max_overflow: int = 10
    recycle_s: int = 1800


def make_engine(
    url: str, *, sqlite_busy_timeout_s: float = 30.0, sqlite_synchronous: str = "NORMAL", pool: Pool | None = None
) -> Engine:
    """An engine for ``url``, tuned for the backend (see the module docstring).

    ``sqlite_busy_timeout_s`` is how long a SQLite writer waits for another writer's transaction to end;
    ``pool`` sizes a PostgreSQL engine's connection pool (SQLite keeps SQLAlchemy's defaults: one file, one
    writer at a time, nothing to tune).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        pool = pool or Pool()
        # hide_parameters: a database error's text must not carry the statement's values (pseudonyms,
        # payload fields) into an exception message and from there into a log.
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=pool.size,
            max_overflow=pool.max_overflow,
            pool_recycle=pool.recycle_s,
            hide_parameters=True,
        )

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


def migration_lock_key(script_location: str | Path) -> int:
    """The advisory lock key of a service's migrations: a signed 64-bit number from the migrations' package
    (``tpf``, ``registry_intake``, ...), not from the folder's absolute path, so that processes installed in
    different places (two container images in a rolling update) still take the same lock."""
    name = f"iplos-chain:migrations:{Path(script_location).resolve().parent.name}"
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _alembic_config(script_location: str | Path) -> Config:
    config = Config()
    # Config values go through ConfigParser interpolation: a literal "%" must be doubled.
    config.set_main_option("script_location", str(script_location).replace("%", "%%"))
    return config


def upgrade_database(engine: Engine, script_location: str | Path) -> None:
    """Run Alembic ``upgrade head`` from ``script_location`` in one transaction on ``engine``.

    On PostgreSQL the transaction first takes :func:`migration_lock_key`'s advisory lock (released at its
    commit or rollback): a second process waits there, and once it has the lock it sees the first one's
    committed schema (read committed: each statement reads what was committed before it), so Alembic finds
    nothing left to do. SQLite needs no lock: ``BEGIN IMMEDIATE`` already lets one writer in at a time.
    """
    config = _alembic_config(script_location)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": migration_lock_key(script_location)})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_heads(script_location: str | Path) -> frozenset[str]:
    """The head revision(s) of the migrations in ``script_location`` (read from the files, no database)."""
    return frozenset(ScriptDirectory.from_config(_alembic_config(script_location)).get_heads())


def database_revisions(connection: Connection) -> frozenset[str]:
    """The revision(s) the database's ``alembic_version`` table records; raises if there is no such table."""
    return frozenset(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


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
