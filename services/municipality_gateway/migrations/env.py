"""Alembic environment of the gateway: see services.kit.database.run_migrations_online."""

from services.kit.database import run_migrations_online
from services.municipality_gateway.models import metadata

run_migrations_online(metadata, "gateway")
