"""Gateway settings, from environment variables prefixed ``IPLOS_GATEWAY_``."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IPLOS_GATEWAY_")
    database_file = "gateway.db"

    key_dir: Path
    """A folder holding one ``kommune-NNNN/`` key folder per municipality this gateway serves."""
    directory: Path
    """The public-key directory (directory.json): the TPF's and the registry's public keys."""
    state_dir: Path
    """Everything the gateway writes: database, outbox, logs, temporary files."""
    credentials_file: Path | None = None
    """Hashed bearer tokens (services.kit.credentials): ``operator`` for every served municipality,
    ``municipality`` bound to one kommuneNr. Without it every endpoint but the health route refuses (401)."""
    tpf_url: str = "http://127.0.0.1:8002"
    registry_url: str = "http://127.0.0.1:8003"
    """Where the gateway fetches control reports (sealed for the municipality; the receipt names the path)."""
    registry_token_file: Path | None = None
    """A file holding the gateway's own bearer token at the registry (role ``gateway`` in the registry's
    credentials file): the registry hands out control reports to that credential only. Without it the registry
    answers 401 and the gateway's report endpoint ``report-unavailable``."""
    max_body_bytes: int = 1 << 30
    """The largest export accepted (413 ``body-too-large``, counted while it streams in)."""
    max_uploads_per_caller: int = 2
    """Uploads one credential may have in flight at once (spooled, parsed, sealed); one more is answered 429
    ``too-many-uploads`` with Retry-After before a byte of it is read."""
    max_uploads: int = 4
    """Uploads in flight at once for all callers together: with ``max_body_bytes`` this bounds the disk they
    hold (each body spooled, plus its sealed parts: about twice its size) and their memory (below)."""
    upload_retry_after_s: int = 30
    """The Retry-After of a 429 ``too-many-uploads``."""
    max_person_xml_bytes: int = 8 * 1024 * 1024
    """The most XML read without a person starting or ending: one person's tree is built in memory (about ten
    times its XML), so this bounds an upload's memory whatever it holds (422 ``limit-exceeded``). A person whose
    record fits the registry's 1 MiB line limit is about a third of the default in XML."""
    max_message_bytes: int = 1 << 30
    """The largest sealed message the gateway sends on (422 ``limit-exceeded`` before 202): keep it at or below
    the TPF's and the registry's ``MAX_BODY_BYTES``."""
    max_report_bytes: int = 256 * 1024 * 1024
    """The largest control report read from the registry (counted while it streams in; 502 beyond it)."""
    delivery_max_attempts: int = 300
    """Failed attempts before a submission is parked as dead-letter (with backoff capped at 5 minutes, about
    a day of outage); POST /v1/submissions/{id}/retry puts it back in the queue."""
    delivery_backoff_s: float = 0.5
    delivery_backoff_max_s: float = 300.0
    delivery_timeout_s: float = 600.0
