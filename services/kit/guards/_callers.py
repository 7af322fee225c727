"""Who a request comes from, as the limits count callers: the TLS client certificate if the connection has one,
else the client's address.

A certificate names a party however many connections or addresses it uses (a gateway's outbox, the TPF); a
browser or a script without one is counted by its address. The key is a digest, never the certificate or a
name from it: it goes into no answer and no log line, only into the limits' own tables.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
from typing import Any

from services.kit.tls import TLS_EXTENSION

__all__ = ["caller_of", "has_certificate"]


def caller_of(scope: dict[str, Any] | Any) -> str:
    """The caller's key for the per-caller limits: ``cert:<digest>``, ``addr:<IPv4 address>`` or
    ``addr:<IPv6 /64>``."""
    tls = (scope.get("extensions") or {}).get(TLS_EXTENSION) or {}
    chain = tls.get("client_cert_chain") or []
    if chain:
        return "cert:" + hashlib.sha256(chain[0].encode()).hexdigest()[:32]
    client = scope.get("client")
    if not client:
        return "addr:unknown"
    host = str(client[0])
    if ":" in host:
        # An IPv6 host is given a /64 (or more) by its provider: counted by address, it would be billions of callers.
        with contextlib.suppress(ValueError):
            return f"addr:{ipaddress.ip_network(f'{host}/64', strict=False)}"
    return f"addr:{host}"


def has_certificate(caller: str) -> bool:
    """Whether the caller showed a TLS client certificate (one of the deployment's: the handshake checked it)."""
    return caller.startswith("cert:")
