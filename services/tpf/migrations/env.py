"""Alembic environment of the TPF: migrates over the connection the caller hands in.

Run through ``services.kit.database.upgrade_database(engine, SCRIPT_LOCATION)``, which opens a transaction on
the engine and passes its connection as ``config.attributes["connection"]``. There is no offline (SQL script)
mode and no URL in a config file: the service's settings own the database URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from services.tpf.models import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "the TPF migrations run on a connection passed in config.attributes['connection']: "
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
