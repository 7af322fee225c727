"""Alembic environment of the TPF: see services.kit.database.run_migrations_online."""

from services.kit.database import run_migrations_online
from services.tpf.models import metadata

run_migrations_online(metadata, "TPF")
