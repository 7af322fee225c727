"""TPF settings, from environment variables prefixed ``IPLOS_TPF_``. No default secrets: key paths are required."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ReceiverSettings


class TpfSettings(ReceiverSettings):
    model_config = SettingsConfigDict(env_prefix="IPLOS_TPF_")
    database_file = "tpf.db"

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
    accept_register_extracts: bool = True
    """Take the population register's extracts (issue 14, docs/population-register.md)? On: the registry stores
    them. Off for a TPF whose registry does not (one from before migration 0008): the TPF must not forward what the
    registry cannot take (docs/envelope-v1.md 10.1)."""
    registry_url: str = "http://127.0.0.1:8003"
    forward_timeout_s: float = 300.0
    delivery_max_attempts: int = 300
    """Failed deliveries to the registry before a message is parked as dead-letter (backoff capped at
    ``delivery_backoff_max_s``: about a day of outage). The municipality's re-delivery takes it afresh."""
    delivery_backoff_s: float = 0.5
    delivery_backoff_max_s: float = 300.0
    credentials_file: Path | None = None
    """Bearer credentials (services.kit.credentials) of the people who may read the audit log: operators and
    auditors. No file: nobody reads it."""
