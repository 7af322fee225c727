"""Registry intake settings, from environment variables prefixed ``IPLOS_REGISTRY_``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RegistrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IPLOS_REGISTRY_", extra="ignore")

    key_dir: Path
    """The registry's own key folder (encryption.pem, signing.pem)."""
    directory: Path
    """The public-key directory (directory.json)."""
    state_dir: Path
    """Everything the registry writes: database (by default), logs, temporary files."""
    database_url: str | None = None
    """SQLAlchemy URL; the default is a SQLite file in the state folder. PostgreSQL: postgresql+psycopg://..."""
    credentials_file: Path | None = None
    """Operators' and auditors' hashed bearer tokens (services.kit.credentials); without it the read
    endpoints refuse everyone."""
    max_body_bytes: int = 1 << 30
    max_message_age_days: float = 30.0
    """A delivery header signed longer ago than this is refused (timestamp-out-of-window)."""
    max_clock_skew_s: float = 300.0
    """How far in the future a signed timestamp may lie (the sender's clock running fast)."""
    hold_below_ratio: float = Field(default=0.5, ge=0.0, le=1.0)
    """A submission declaring fewer persons than this share of the active submission's is held, not applied: the
    active one stays until the municipality confirms the replacement. 0 applies every submission at once."""
    audit_checkpoint_interval_s: float = 60.0
    """How often a new checkpoint of the audit log is signed while it grows (one is also signed on request)."""
    log_level: str = "INFO"
    dashboard_now: dt.datetime | None = None
    """A fixed "now" for the operator dashboard's deadline arithmetic (days left, late, overdue), e.g.
    ``2025-03-02T12:00:00+01:00``; for demonstrations and browser tests. Default: the real clock."""
    metrics_token_required: bool = True
    """``GET /metrics`` (aggregate counts only) needs an operator's or auditor's bearer token from the credentials
    file; false serves it to anyone who can reach the port."""

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'registry.db'}"
