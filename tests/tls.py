"""In-process TLS for the apps under a TestClient or an httpx ASGITransport, which have no TLS connection.

uvicorn, with services.kit.tls.PeerCertProtocol, puts the peer's certificate into each request's ASGI TLS extension;
:class:`AsPeer` does the same for an app in the test process, with the real certificate of a party that
``iplos keys init`` issued (so the app's pin lookup in the directory is the real one). ``party=None`` is a TLS
connection without a client certificate. The app's own checks run unchanged; only the handshake is skipped.

The party can be changed while the app runs (:func:`acting_as`): the same as the next request coming over a
connection with another certificate.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from iplos_chain import Chain
from iplos_chain.state import KEYS_FOLDER
from iplos_chain.supervisor import trust
from keys.generate import DIRECTORY_FILE, MUNICIPALITIES_FOLDER, POPULATION_REGISTER_FOLDER
from services.kit.tls import TLS_EXTENSION, client_context, tls_extension
from shared.keys import POPULATION_REGISTER, PublicDirectory, tls_files


def _tls_files(key_dir: Path, party: str) -> tuple[Path, Path]:
    """Where ``iplos keys init`` put ``party``'s TLS certificate and key under ``key_dir`` (tpf, registry,
    kommune-NNNN, folkeregister)."""
    if party.startswith("kommune-"):
        folder = key_dir / MUNICIPALITIES_FOLDER / party
    elif party == POPULATION_REGISTER:
        folder = key_dir / POPULATION_REGISTER_FOLDER / party
    else:
        folder = key_dir / party
    return tls_files(folder)


def certificate_file(key_dir: Path, party: str) -> Path:
    return _tls_files(key_dir, party)[0]


class AsPeer:
    """``app`` as reached over a TLS connection from ``party`` (a directory party name, or None for no client
    certificate). Attributes other than ``party`` are the app's (``client.app.state`` works as before)."""

    def __init__(self, app: ASGIApp, key_dir: Path, party: str | None) -> None:
        self.app = app
        self.key_dir = key_dir
        self.party = party

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            chain = [] if self.party is None else [certificate_file(self.key_dir, self.party).read_text()]
            extensions = {**(scope.get("extensions") or {}), TLS_EXTENSION: tls_extension(chain)}
            scope = {**scope, "extensions": extensions}
        await self.app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


@contextmanager
def acting_as(client: Any, party: str | None) -> Iterator[None]:
    """Requests of ``client`` (a TestClient over an :class:`AsPeer`) come from ``party`` inside the block."""
    peer: AsPeer = client.app
    before, peer.party = peer.party, party
    try:
        yield
    finally:
        peer.party = before


_BUNDLE = Path(tempfile.mkdtemp(prefix="iplos-test-cas-")) / "cas.pem"


def trust_chain(chain: Chain) -> None:
    """Trust ``chain``'s development CA in this test process, for every HTTP client that trusts the environment
    (httpx's default, ``SSL_CERT_FILE``): the tests talk to the real services over https as any client would,
    without each call naming the CA. The CAs of every chain of the session go into one bundle."""
    with _BUNDLE.open("a", encoding="ascii") as bundle:
        bundle.write(chain.ca_file.read_text(encoding="ascii"))
    os.environ["SSL_CERT_FILE"] = str(_BUNDLE)


def tls_as(chain: Chain, party: str | None) -> ssl.SSLContext:
    """A client's TLS context for ``chain`` presenting ``party``'s certificate (None: no client certificate)."""
    if party is None:
        return trust(chain.state_dir)
    key_dir = chain.state_dir / KEYS_FOLDER
    return client_context(PublicDirectory.load(key_dir / DIRECTORY_FILE).tls_ca, *_tls_files(key_dir, party))
