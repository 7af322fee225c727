"""Checks of the stack's mutual TLS that cost a second each: what deploy/prepare-secrets gave each container, and
that the registry's published port tells a connection without a client certificate apart from the TPF's.

* :func:`check_secrets`: each service's folder holds its own TLS certificate and key only (the gateway: its server
  certificate and each of its municipalities' client certificates), each key the one of its certificate, and
  nothing holds the CA's private key (which would let a service issue itself any party's certificate);
* :func:`check_without_client_certificate`: over TLS with no client certificate, ``/readyz`` answers (health
  checks and monitoring need no party) but ``POST /v1/deliveries`` is refused ``403 wrong-peer`` before the body
  is read (the registry takes deliveries only from the TPF's certificate; tests/e2e/test_peers.py).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Final

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from iplos_testkit.compose.engine import CommandFailed
from shared.keys import PublicDirectory, spki_pin

__all__ = ["check_secrets", "check_without_client_certificate"]

CA_KEY: Final = "ca-key.pem"
WRONG_PEER: Final = "urn:iplos-chain:problem:wrong-peer"
#: The name each service's own (server) certificate must carry: the host its peers reach it by.
HOSTS: Final = {"gateway": "gateway", "tpf": "tpf", "registry": "registry"}


def _spki(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def _tls_folder(folder: Path, service: str) -> x509.Certificate:
    """The certificate of a tls/ folder, whose key must be the certificate's."""
    cert = x509.load_pem_x509_certificate((folder / "cert.pem").read_bytes())
    key = serialization.load_pem_private_key((folder / "key.pem").read_bytes(), None)
    if _spki(key.public_key()) != _spki(cert.public_key()):
        raise CommandFailed(f"secrets/{service}: {folder} holds a key that is not its certificate's")
    return cert


def check_secrets(secrets: Path, directory: PublicDirectory) -> list[str]:
    """What each prepared folder holds, checked against the directory; one line per service for the log."""
    lines = []
    for service in ("gateway", "tpf", "registry", "postgres"):
        root = secrets / service
        files = [p for p in root.rglob("*") if p.is_file()]
        if any(p.name == CA_KEY for p in files) or any(p.name == "ca" for p in root.rglob("*") if p.is_dir()):
            raise CommandFailed(f"secrets/{service} holds the CA's private key folder or file")
        folders = sorted({p.parent for p in files if p.parent.name == "tls"})
        if service == "postgres":
            if folders:
                raise CommandFailed("secrets/postgres holds TLS keys: the database needs none of the chain's")
            lines.append(f"postgres: {len(files)} files, no TLS keys")
            continue
        own = root / "keys" / "tls"
        if own not in folders:
            raise CommandFailed(f"secrets/{service} has no keys/tls/ of its own")
        server = _tls_folder(own, service)
        names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        if HOSTS[service] not in names.get_values_for_type(x509.DNSName):
            raise CommandFailed(f"secrets/{service}: its certificate does not name the host {HOSTS[service]}")
        owner = directory.party_by_tls_pin(spki_pin(server))
        if service != "gateway" and (owner is None or owner.name != service):
            raise CommandFailed(f"secrets/{service}: its certificate is not pinned to it in the directory")
        if service == "gateway" and owner is not None:
            raise CommandFailed(f"secrets/gateway: its server certificate is {owner.name}'s")
        clients = []
        for folder in folders:
            if folder == own:
                continue
            # Only the gateway holds more than its own: keys/kommune-NNNN/tls, that municipality's client certificate.
            party = directory.party_by_tls_pin(spki_pin(_tls_folder(folder, service)))
            if (
                service != "gateway"
                or party is None
                or (party.role, party.name) != ("municipality", folder.parent.name)
            ):
                raise CommandFailed(f"secrets/{service}: {folder.relative_to(root)} is another party's certificate")
            clients.append(party.name)
        lines.append(
            f"{service}: its own certificate (names {HOSTS[service]}"
            + (", not a party's: a server certificate only)" if service == "gateway" else ", pinned to it)")
            + (f", client certificates of {', '.join(clients)}" if clients else "")
            + f"; no CA key ({len(files)} files)"
        )
    return lines


def check_without_client_certificate(registry: str, verify: ssl.SSLContext) -> str:
    """``verify`` trusts the CA and presents no certificate: /readyz 200, POST /v1/deliveries 403 wrong-peer."""
    ready = httpx.get(f"{registry}/readyz", verify=verify, timeout=10.0)
    if ready.status_code != 200:
        raise CommandFailed(f"/readyz without a client certificate answered {ready.status_code}, not 200")
    # An empty body: the peer check comes before the body is read, so nothing needs to be built to be refused.
    refused = httpx.post(f"{registry}/v1/deliveries", verify=verify, timeout=10.0)
    body = refused.json() if refused.headers.get("content-type", "").endswith("json") else {}
    if refused.status_code != 403 or body.get("type") != WRONG_PEER:
        raise CommandFailed(
            f"POST /v1/deliveries without a client certificate answered {refused.status_code}"
            f" {body.get('type', '')}, not 403 wrong-peer"
        )
    return "no client certificate: /readyz 200, POST /v1/deliveries 403 wrong-peer"
