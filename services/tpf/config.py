"""TPF settings, from environment variables prefixed ``IPLOS_TPF_``. No default secrets: key paths are required."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class TpfSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IPLOS_TPF_", extra="ignore")

    key_dir: Path
    """The TPF's own key folder (encryption.pem, signing.pem, pseudonym-v*.key): nothing of the registry's."""
    directory: Path
    """The public-key directory (directory.json)."""
    state_dir: Path
    """Everything the TPF writes: database, logs, temporary files."""
    pseudonym_key_version: int = 1
    """The pseudonym key in use. Never picked from whatever key files are present: a new key changes every
    pseudonym and breaks longitudinal statistics, so switching is an explicit, audited configuration change
    (with an old -> new translation for the registry)."""
    accept_synthetic_numbers: bool = False
    """Pseudonymise synthetic test numbers (Tenor month + 80)? Off in production, where such a number in real
    data is an error; on for development and test chains, whose data is synthetic by rule."""
    database_url: str | None = None
    registry_url: str = "http://127.0.0.1:8003"
    max_body_bytes: int = 1 << 30
    max_message_age_days: float = 30.0
    """A submission header signed longer ago than this is refused (timestamp-out-of-window)."""
    max_clock_skew_s: float = 300.0
    """How far in the future a signed timestamp may lie (the sender's clock running fast)."""
    forward_timeout_s: float = 300.0
    delivery_max_attempts: int = 300
    """Failed deliveries to the registry before a message is parked as dead-letter (backoff capped at
    ``delivery_backoff_max_s``: about a day of outage). The municipality's re-delivery takes it afresh."""
    delivery_backoff_s: float = 0.5
    delivery_backoff_max_s: float = 300.0
    credentials_file: Path | None = None
    """Bearer credentials (services.kit.credentials) of the people who may read the audit log: operators and
    auditors. No file: nobody reads it."""
    audit_checkpoint_interval_s: float = 60.0
    """How often a new checkpoint of the audit log is signed while it grows (one is also signed on request)."""
    log_level: str = "INFO"
    metrics_token_required: bool = True
    """``GET /metrics`` (aggregate counts only) needs an operator's or auditor's bearer token from the credentials
    file; false serves it to anyone who can reach the port."""

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'tpf.db'}"
