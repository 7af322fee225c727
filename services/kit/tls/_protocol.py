"""The uvicorn HTTP protocol that gives the app the peer's certificate (the ASGI TLS extension).

uvicorn 0.55 builds no ``scope["extensions"]["tls"]``. Its h11 protocol makes one instance per connection and
calls ``connection_made`` once the TLS handshake is done (asyncio's SSL transport calls it then), so that is where
the peer's certificate is known; the subclass wraps the app of this one connection so that every request's scope
carries it. Nothing else of uvicorn is changed. (``http="auto"`` would pick httptools if it were installed; the
services pass this class, so it is h11 either way.)
"""

from __future__ import annotations

import asyncio
import ssl

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from services.kit.tls._peer import TLS_EXTENSION, tls_extension

__all__ = ["PeerCertProtocol"]

_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


class PeerCertProtocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if isinstance(ssl_object, ssl.SSLObject):
            der = ssl_object.getpeercert(binary_form=True)  # verified against the CA, or None: no certificate
            chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
            extension = tls_extension(chain, _VERSIONS.get(ssl_object.version() or ""))
            self.app = _WithTls(self.app, extension)


class _WithTls:
    """The connection's app, with the TLS extension in each request's scope."""

    def __init__(self, app: ASGIApp, extension: dict[str, object]) -> None:
        self._app = app
        self._extension = extension

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope = {**scope, "extensions": {**(scope.get("extensions") or {}), TLS_EXTENSION: self._extension}}
        await self._app(scope, receive, send)
