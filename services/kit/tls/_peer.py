"""The party on the other end of a request, as the public-key directory knows it, and refusing the wrong one.

A peer is known by the pin of its certificate's key (SHA-256 of its SubjectPublicKeyInfo) in ``directory.json``,
never by a name in the certificate: the CA vouches that a certificate is one of this deployment's, the directory
says whose. Endpoints ask for a role before they read a body (:func:`peer_with_role`), and the use case checks the
exact party once it knows whose the message is (:meth:`Peer.is_party`, :meth:`Peer.is_municipality`).

With ``plain_http`` (development only) there is no certificate to know anyone by: every check passes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from fastapi import Request

from services.kit.problems import Problem, ProblemType
from shared.keys import PartyInfo, PublicDirectory, pem_spki_pin

__all__ = ["TLS_EXTENSION", "Peer", "Peers", "peer_of", "peer_with_role", "tls_extension", "wrong_peer"]

TLS_EXTENSION: Final = "tls"


def tls_extension(client_cert_chain: Sequence[str], tls_version: int | None = 0x0304) -> dict[str, Any]:
    """The ASGI TLS extension (``scope["extensions"]["tls"]``) for a connection whose client presented
    ``client_cert_chain`` (PEM, the client's own certificate first; empty: none)."""
    return {
        "server_cert": None,
        "client_cert_chain": list(client_cert_chain),
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": tls_version,
        "cipher_suite": None,
    }


def wrong_peer() -> Problem:
    # No party name, no certificate detail: the answer says what is wrong, not who anyone is.
    return Problem(ProblemType.WRONG_PEER)


@dataclass(frozen=True)
class Peer:
    """The request's peer: its directory party (None: no certificate, or one the directory does not pin)."""

    party: PartyInfo | None
    enforced: bool = True
    """False under ``plain_http``: nobody can be told apart, every check passes."""

    def is_party(self, name: str) -> bool:
        return not self.enforced or (self.party is not None and self.party.name == name)

    def is_municipality(self, kommune_nr: str) -> bool:
        return not self.enforced or (
            self.party is not None and self.party.role == "municipality" and self.party.municipality == kommune_nr
        )

    def has_role(self, roles: Sequence[str]) -> bool:
        return not self.enforced or (self.party is not None and self.party.role in roles)


class Peers:
    """Knows peers by their certificate's pin (``app.state.peers``, set when the app starts)."""

    def __init__(self, directory: PublicDirectory, *, enforced: bool) -> None:
        self._directory = directory
        self.enforced = enforced

    def of(self, scope: dict[str, Any] | Any) -> Peer:
        if not self.enforced:
            return Peer(None, enforced=False)
        tls = (scope.get("extensions") or {}).get(TLS_EXTENSION) or {}
        chain = tls.get("client_cert_chain") or []
        if not chain:
            return Peer(None)
        try:
            pin = pem_spki_pin(chain[0])
        except ValueError:
            return Peer(None)
        return Peer(self._directory.party_by_tls_pin(pin))


def peer_of(request: Request) -> Peer:
    """The request's peer (refuses no one; see :func:`peer_with_role`)."""
    peers: Peers = request.app.state.peers
    return peers.of(request.scope)


def peer_with_role(*roles: str) -> Callable[[Request], Awaitable[Peer]]:
    """A dependency: the request's peer, which must be a party of one of ``roles`` (403 ``wrong-peer`` before
    the request's body is read otherwise)."""

    async def dependency(request: Request) -> Peer:
        peer = peer_of(request)
        if not peer.has_role(roles):
            raise wrong_peer()
        return peer

    return dependency
