"""The SSLContexts of a service: as a server (uvicorn's) and as a client (httpx's)."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.keys import read_private_file

__all__ = ["ServerContextFactory", "client_context", "server_context"]


def _trusting(context: ssl.SSLContext, ca_pems: Sequence[str]) -> ssl.SSLContext:
    if not ca_pems:
        raise ValueError("the public-key directory names no TLS CA (tls_ca); add it with 'iplos keys init'")
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cadata="\n".join(ca_pems))
    return context


def _own_certificate(context: ssl.SSLContext, cert_file: Path, key_file: Path) -> None:
    read_private_file(key_file)  # refuses a key group or others can read (KeyFileError says how to fix it)
    context.load_cert_chain(certfile=cert_file, keyfile=key_file)


def server_context(cert_file: Path, key_file: Path, ca_pems: Sequence[str]) -> ssl.SSLContext:
    """A server's context: its certificate, and a client certificate asked for (not required: browsers have
    none) that must chain to one of ``ca_pems`` if presented. Which party the client is, is the app's question
    (services.kit.tls._peer)."""
    context = _trusting(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), ca_pems)
    _own_certificate(context, cert_file, key_file)
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


def client_context(
    ca_pems: Sequence[str], cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """A client's context: the server must chain to one of ``ca_pems`` and match the URL's host name; with
    ``cert_file`` and ``key_file``, that certificate is presented (the sender's party)."""
    context = _trusting(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), ca_pems)  # CERT_REQUIRED, check_hostname
    if cert_file is not None and key_file is not None:
        _own_certificate(context, cert_file, key_file)
    return context


@dataclass(frozen=True)
class ServerContextFactory:
    """uvicorn's ``ssl_context_factory`` for :func:`server_context`: a plain picklable value, so that a worker
    process uvicorn spawns builds the same context."""

    cert_file: Path
    key_file: Path
    ca_pems: tuple[str, ...]

    def __call__(self, config: Any, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return server_context(self.cert_file, self.key_file, self.ca_pems)
