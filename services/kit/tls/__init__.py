"""Mutual TLS for the services: who is on the other end of a connection, by the key of its certificate.

* ``_contexts``: the server's SSLContext (asks for a client certificate, CERT_OPTIONAL, which must chain to the
  directory's CA; TLS 1.2 at least) and a client's (trusts the directory's CA, checks the host name, presents
  the sender's own certificate);
* ``_protocol``: the uvicorn HTTP protocol that hands the peer's certificate to the app in the ASGI TLS extension;
* ``_peer``: the request's peer as a directory party (its certificate's SubjectPublicKeyInfo pin), and the
  ``wrong-peer`` refusal.

Servers ask for a certificate without requiring one at the handshake: a browser on the pages has none, and an
endpoint that needs a party says so with its dependency. ``plain_http`` (a service setting, for development
only) serves without TLS and turns the peer checks off.
"""

from services.kit.tls._contexts import ServerContextFactory, client_context, server_context
from services.kit.tls._peer import (
    TLS_EXTENSION,
    Peer,
    Peers,
    peer_of,
    peer_with_role,
    tls_extension,
    wrong_peer,
)
from services.kit.tls._protocol import PeerCertProtocol

__all__ = [
    "TLS_EXTENSION",
    "Peer",
    "PeerCertProtocol",
    "Peers",
    "ServerContextFactory",
    "client_context",
    "peer_of",
    "peer_with_role",
    "server_context",
    "tls_extension",
    "wrong_peer",
]
