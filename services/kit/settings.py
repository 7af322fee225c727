"""The settings every service has, in one pydantic-settings base; each service subclasses it with its own
environment prefix and adds what is its own.

A service's class sets ``model_config = SettingsConfigDict(env_prefix="IPLOS_<SERVICE>_")`` (merged with the
base's ``extra="ignore"``) and ``database_file``, the SQLite file in its state folder when no database URL is
given. Fields whose meaning differs per service (what its key folder holds, say) are declared here with the
common meaning; a service may declare one again to say more. No default secrets: the key folder, the public-key
directory and the state folder are required.

``ReceiverSettings`` adds the window a signed header's timestamp must lie in, for the services that receive
signed messages (the TPF and the registry); its defaults are the format's (``shared.envelope.freshness``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import fields
from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kit.database import Pool
from services.kit.guards import TrafficLimits
from shared.envelope.freshness import DEFAULT_MAX_AGE, DEFAULT_MAX_SKEW, FreshnessWindow
from shared.keys import tls_files

__all__ = ["ReceiverSettings", "ServiceSettings"]

_DAY = dt.timedelta(days=1)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    database_file: ClassVar[str] = "service.db"
    """The SQLite file in ``state_dir`` when ``database_url`` is not set (``gateway.db``, ``tpf.db``, ...)."""

    key_dir: Path
    """The service's own key folder."""
    directory: Path
    """The public-key directory (directory.json)."""
    state_dir: Path
    """Everything the service writes: database (by default), logs, temporary files."""
    database_url: str | None = None
    """SQLAlchemy URL; the default is a SQLite file in the state folder. PostgreSQL: postgresql+psycopg://..."""
    database_pool_size: int = Field(default=Pool.size, ge=1)
    """PostgreSQL: connections the service keeps open (per process; SQLite ignores the pool settings)."""
    database_max_overflow: int = Field(default=Pool.max_overflow, ge=0)
    """PostgreSQL: connections opened beyond the pool under load, closed again when returned."""
    database_pool_recycle_s: int = Field(default=Pool.recycle_s, ge=-1)
    """PostgreSQL: a connection this old is replaced (keep it below any idle timeout between service and
    server); -1 never. Every connection is also pinged before use, so a dropped one costs a reconnect, not an
    error."""
    credentials_file: Path | None = None
    """Hashed bearer tokens (services.kit.credentials); without it every endpoint that needs one refuses (401)."""
    max_body_bytes: int = 1 << 30
    """The largest request body accepted (413 ``body-too-large``, counted while it streams in)."""
    audit_checkpoint_interval_s: float = 60.0
    """How often a new checkpoint of the audit log is signed while it grows (one is also signed on request)."""
    log_level: str = "INFO"
    metrics_token_required: bool = True
    """``GET /metrics`` (aggregate counts only) needs an operator's or auditor's bearer token from the credentials
    file; false serves it to anyone who can reach the port."""
    session_idle_timeout_s: float = Field(default=30 * 60, gt=0)
    """A pages' sign-in session without a request for this long has ended (services.kit.web: sign in again)."""
    session_max_age_s: float = Field(default=8 * 3600, gt=0)
    """A pages' sign-in session ends this long after the sign-in, however busy (one working day)."""
    tls_cert_file: Path | None = None
    """The service's TLS certificate (PEM), as a server and as a client; default ``<key_dir>/tls/cert.pem``."""
    tls_key_file: Path | None = None
    """Its private key (PEM, mode 0600); default ``<key_dir>/tls/key.pem``."""
    header_timeout_s: float = Field(default=TrafficLimits.header_timeout_s, gt=0)
    """A request's headers must be complete this long after the connection opened, or after its first byte
    following an answer (services.kit.guards: 408, the connection closed)."""
    body_idle_timeout_s: float = Field(default=TrafficLimits.body_idle_timeout_s, gt=0)
    """The longest wait for the next part of a request body (408 ``request-timeout``)."""
    body_min_rate_bytes_s: float = Field(default=TrafficLimits.body_min_rate_bytes_s, ge=0)
    """A body that has been arriving for ``body_idle_timeout_s`` must come at least this fast on average."""
    max_bodies: int = Field(default=TrafficLimits.max_bodies, ge=1)
    """Requests with a body in progress at once from callers with a TLS certificate, together (503
    ``service-busy``)."""
    max_bodies_without_certificate: int = Field(default=TrafficLimits.max_bodies_without_certificate, ge=1)
    """The same for callers without a certificate (browsers, scripts), a pool of its own."""
    max_bodies_per_caller: int = Field(default=TrafficLimits.max_bodies_per_caller, ge=1)
    """Requests with a body in progress at once from one caller, a TLS certificate or an address (429
    ``too-many-bodies``)."""
    requests_per_s_per_caller: float = Field(default=TrafficLimits.requests_per_s_per_caller, gt=0)
    """One caller's sustained request rate (429 ``rate-limited`` with ``Retry-After``)."""
    request_burst_per_caller: int = Field(default=TrafficLimits.request_burst_per_caller, ge=1)
    """Requests one caller may make at once before the rate applies."""
    plain_http: bool = False
    """Development only: serve plain HTTP and turn the peer checks off (anyone who reaches the port is taken for
    the party a message claims). Logged as a warning at start."""

    @property
    def traffic_limits(self) -> TrafficLimits:
        # Every number the guards take that a service may set is a setting of the same name (the rest keep the
        # guards' defaults): a limit added to both needs no third list here.
        return TrafficLimits(
            **{f.name: getattr(self, f.name) for f in fields(TrafficLimits) if f.name in type(self).model_fields}
        )

    @property
    def tls_cert_path(self) -> Path:
        return self.tls_cert_file or tls_files(self.key_dir)[0]

    @property
    def tls_key_path(self) -> Path:
        return self.tls_key_file or tls_files(self.key_dir)[1]

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / self.database_file}"

    @property
    def database_pool(self) -> Pool:
        return Pool(self.database_pool_size, self.database_max_overflow, self.database_pool_recycle_s)


class ReceiverSettings(ServiceSettings):
    max_message_age_days: float = DEFAULT_MAX_AGE / _DAY
    """A signed header signed longer ago than this is refused (timestamp-out-of-window)."""
    max_clock_skew_s: float = DEFAULT_MAX_SKEW.total_seconds()
    """How far in the future a signed timestamp may lie (the sender's clock running fast)."""

    @property
    def freshness_window(self) -> FreshnessWindow:
        return FreshnessWindow(
            max_age=dt.timedelta(days=self.max_message_age_days), max_skew=dt.timedelta(seconds=self.max_clock_skew_s)
        )
