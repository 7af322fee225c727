"""Pins of TLS certificate keys: the SHA-256 of a certificate's SubjectPublicKeyInfo, 64 lowercase hex digits; and
where ``iplos keys init`` puts a party's TLS certificate and key, and the development CA (one layout, read by the
services, the development chain and the command line alike).

A pin names a key, not a certificate: a certificate renewed for the same key keeps its pin, and a new key gets a
new one (listed beside the old in the directory while both are in use).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

PIN_PATTERN: Final = re.compile(r"^[0-9a-f]{64}$")

TLS_FOLDER: Final = "tls"
TLS_CERT_FILE: Final = "cert.pem"
TLS_KEY_FILE: Final = "key.pem"
CA_FOLDER: Final = "ca"
CA_CERT_FILE: Final = "ca.pem"
CA_KEY_FILE: Final = "ca-key.pem"


def tls_files(party_folder: Path) -> tuple[Path, Path]:
    """A party's TLS certificate and private key under its key folder: ``<folder>/tls/cert.pem``, ``key.pem``."""
    folder = party_folder / TLS_FOLDER
    return folder / TLS_CERT_FILE, folder / TLS_KEY_FILE


def ca_certificate_file(key_dir: Path) -> Path:
    """The development CA's certificate under a folder ``iplos keys init`` made (public, unlike the key beside it)."""
    return key_dir / CA_FOLDER / CA_CERT_FILE


def spki_pin(cert: x509.Certificate) -> str:
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def pem_spki_pin(pem: str) -> str:
    """The pin of a PEM certificate (as the ASGI TLS extension carries a peer's). ValueError if it is none."""
    return spki_pin(x509.load_pem_x509_certificate(pem.encode("ascii")))
