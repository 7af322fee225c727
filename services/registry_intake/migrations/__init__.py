"""The registry's Alembic migrations: run them with ``services.kit.database.upgrade_database``."""

from pathlib import Path
from typing import Final

__all__ = ["SCRIPT_LOCATION"]

#: The Alembic script location of the registry's schema.
SCRIPT_LOCATION: Final = Path(__file__).resolve().parent
