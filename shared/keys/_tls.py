"""Pins of TLS certificate keys: the SHA-256 of a certificate's SubjectPublicKeyInfo, 64 lowercase hex digits.

A pin names a key, not a certificate: a certificate renewed for the same key keeps its pin, and a new key gets a
new one (listed beside the old in the directory while both are in use).
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

PIN_PATTERN: Final = re.compile(r"^[0-9a-f]{64}$")


def spki_pin(cert: x509.Certificate) -> str:
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def pem_spki_pin(pem: str) -> str:
    """The pin of a PEM certificate (as the ASGI TLS extension carries a peer's). ValueError if it is none."""
    return spki_pin(x509.load_pem_x509_certificate(pem.encode("ascii")))
