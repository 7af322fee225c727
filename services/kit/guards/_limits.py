"""The numbers the guards work with, read from a service's settings (``services.kit.settings``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TrafficLimits"]


@dataclass(frozen=True)
class TrafficLimits:
    header_timeout_s: float = 10.0
    """From a connection's first byte (or its opening) to the end of a request's headers; past it: 408, closed."""
    body_idle_timeout_s: float = 30.0
    """The longest wait for the next part of a request body."""
    body_min_rate_bytes_s: float = 1024.0
    """The slowest mean rate a body may arrive at, once it has been arriving for ``body_idle_timeout_s``."""
    max_bodies: int = 64
    """Requests with a body in progress at once from callers with a TLS client certificate (the parties: a
    gateway, the TPF), all together (past it: 503 ``service-busy``)."""
    max_bodies_without_certificate: int = 16
    """The same for callers without one (browsers, scripts), all together: a pool of its own, so that anonymous
    callers cannot take the slots the parties' messages and deliveries need."""
    max_bodies_per_caller: int = 16
    """Requests with a body in progress at once from one caller (past it: 429 ``too-many-bodies``)."""
    requests_per_s_per_caller: float = 50.0
    """One caller's sustained request rate (past it: 429 ``rate-limited``)."""
    request_burst_per_caller: int = 200
    """How many requests one caller may make at once before the rate applies."""
    busy_retry_after_s: int = 5
    """``Retry-After`` of a ``too-many-bodies`` or ``service-busy`` answer."""
