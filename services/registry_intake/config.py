"""Registry intake settings, from environment variables prefixed ``IPLOS_REGISTRY_``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ReceiverSettings


class RegistrySettings(ReceiverSettings):
    model_config = SettingsConfigDict(env_prefix="IPLOS_REGISTRY_")
    database_file = "registry.db"

    key_dir: Path
    """The registry's own key folder (encryption.pem, signing.pem)."""
    directory: Path
    """The public-key directory (directory.json)."""
    state_dir: Path
    """Everything the registry writes: database (by default), logs, temporary files."""
    credentials_file: Path | None = None
    """Operators' and auditors' hashed bearer tokens (services.kit.credentials); without it the read
    endpoints refuse everyone."""
    hold_below_ratio: float = Field(default=0.5, ge=0.0, le=1.0)
    """A submission declaring fewer persons than this share of the active submission's is held, not applied: the
    active one stays until the municipality confirms the replacement. 0 applies every submission at once."""
    probe_below_persons: int = Field(default=10, ge=0)
    """A care submission of fewer persons than this is counted as suspicious, ``tiny``, in
    ``iplos_suspicious_submissions_total`` (a probe of chosen numbers is a few persons; issue 17)."""
    probe_below_register_share: float = Field(default=0.01, ge=0.0, le=1.0)
    """... as is one of fewer persons than this share of the persons the register's extract lists for its
    municipality and year (care recipients are some 5-10 % of a population)."""
    probe_below_previous_share: float = Field(default=0.5, ge=0.0, le=1.0)
    """... or than this share of the municipality's submission in effect for the year before."""
    probe_above_previous_ratio: float = Field(default=2.0, ge=1.0)
    """A care submission of more persons than this many times the year before's, or than the register lists for its
    municipality and year, is counted as ``oversized``."""
    probe_never_resident_records: int = Field(default=1, ge=1)
    """A care submission with at least this many records of persons who never lived in the municipality (K040) is
    counted as ``never-resident``, when it is stored or when an extract's decision flags it."""
    dashboard_now: dt.datetime | None = None
    """A fixed "now" for the operator dashboard's deadline arithmetic (days left, late, overdue), e.g.
    ``2025-03-02T12:00:00+01:00``; for demonstrations and browser tests. Default: the real clock."""
