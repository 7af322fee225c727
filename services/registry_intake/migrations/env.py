"""Alembic environment of the registry: see services.kit.database.run_migrations_online."""

from services.kit.database import run_migrations_online
from services.registry_intake.models import metadata

run_migrations_online(metadata, "registry")
