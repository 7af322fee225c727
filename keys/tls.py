"""The development CA and every party's TLS certificate (ECDSA P-256, ``cryptography.x509``).

Layout, beside the key pairs ``keys.generate`` writes::

    DIR/ca/ca.pem                              the CA certificate (public; its PEM is in directory.json too)
    DIR/ca/ca-key.pem                          the CA's private key (0600): signs certificates, never given to a
                                               service
    DIR/tpf/tls/{cert,key}.pem                 the TPF: server (SAN localhost, tpf, 127.0.0.1) and client
    DIR/registry/tls/{cert,key}.pem            the registry: server (SAN localhost, registry, 127.0.0.1), client
    DIR/municipalities/tls/{cert,key}.pem      the gateway's server certificate (SAN localhost, gateway, 127.0.0.1)
    DIR/municipalities/kommune-NNNN/tls/...    that municipality's client certificate (CN = its party name)

Every file is made once: :func:`ensure_tls` on a folder that has some of them keeps those and adds the rest
(an older key folder gets its certificates). A party's certificate key is pinned in the directory by the SHA-256
of its SubjectPublicKeyInfo (:func:`spki_pin`), so a service knows a peer by its key, not by a name the CA wrote.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.keys import (
    CA_CERT_FILE,
    CA_FOLDER,
    CA_KEY_FILE,
    POPULATION_REGISTER,
    TLS_CERT_FILE,
    TLS_FOLDER,
    TLS_KEY_FILE,
    spki_pin,
    tls_files,
    write_private_file,
)

__all__ = [
    "CA_CERT_FILE",
    "CA_FOLDER",
    "CA_KEY_FILE",
    "TLS_CERT_FILE",
    "TLS_FOLDER",
    "TLS_KEY_FILE",
    "Issued",
    "TlsSubject",
    "ensure_tls",
    "private_pem",
    "spki_pin",
]

_CA_DAYS: Final = 3650
_LEAF_DAYS: Final = 825  # what browsers accept for a server certificate
_LOCAL = ("localhost",)


@dataclass(frozen=True)
class TlsSubject:
    """One certificate to issue: its folder (``<folder>/tls/``), common name, host names and what it is for."""

    folder: Path
    common_name: str
    dns: tuple[str, ...] = ()
    server: bool = False
    client: bool = False
    party: str | None = None
    """The directory party whose certificate this is (pinned in directory.json); None for the gateway's server
    certificate, which no peer pins (a client checks the gateway by the CA and its host name)."""


@dataclass(frozen=True)
class Issued:
    """What :func:`ensure_tls` leaves: the CA's PEM, and each party's pin of its certificate key."""

    ca_pem: str
    pins: dict[str, str]


def private_pem(key: PrivateKeyTypes) -> bytes:
    """A private key as ``iplos keys init`` writes every one: PKCS#8 PEM, unencrypted (the file is 0600)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> dt.datetime:
    # A minute back: a peer whose clock runs a little behind must not find the certificate not yet valid.
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)


def _ensure_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_file, key_file = folder / CA_CERT_FILE, folder / CA_KEY_FILE
    if cert_file.exists() and key_file.exists():
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(cert_file.read_bytes()), key
    if cert_file.exists() or key_file.exists():
        raise FileExistsError(f"{folder} holds half a CA ({CA_CERT_FILE} or {CA_KEY_FILE} alone); remove it or restore")
    folder.mkdir(parents=True, exist_ok=True)
    # Readable: ca.pem is public (the key beside it is 0600).
    os.chmod(folder, 0o755)  # noqa: S103
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "iplos-chain development CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + dt.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private_file(key_file, private_pem(key))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _issue(subject: TlsSubject, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """The subject's certificate: the one in its folder, or a new one with a new key (0600)."""
    cert_file, key_file = tls_files(subject.folder)
    folder = cert_file.parent
    if cert_file.exists() and key_file.exists():
        return x509.load_pem_x509_certificate(cert_file.read_bytes())
    if cert_file.exists() or key_file.exists():
        raise FileExistsError(f"{folder} holds half a certificate; remove it (a new one is issued) or restore it")
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] * subject.server + [ExtendedKeyUsageOID.CLIENT_AUTH] * subject.client
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject.common_name)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + dt.timedelta(days=_LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )  # digitalSignature: ECDHE key exchange signs, it never encrypts to the key
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if subject.server:
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in subject.dns]
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    write_private_file(key_file, private_pem(key))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert


def subjects(
    directory: Path, municipalities_folder: str, parties: dict[str, str | None], *, register: str | None = None
) -> list[TlsSubject]:
    """The certificates a key folder needs: the TPF's, the registry's, the gateway's server certificate, one
    client certificate per municipality party (``parties``: name -> kommuneNr for the municipalities) and, with
    ``register`` (the register's zone folder), the population register's client certificate and its gateway's
    server certificate."""
    found = [
        TlsSubject(directory / "tpf", "tpf", (*_LOCAL, "tpf"), server=True, client=True, party="tpf"),
        TlsSubject(
            directory / "registry", "registry", (*_LOCAL, "registry"), server=True, client=True, party="registry"
        ),
        TlsSubject(directory / municipalities_folder, "gateway", (*_LOCAL, "gateway"), server=True),
    ]
    for name, kommune_nr in sorted(parties.items()):
        if kommune_nr is not None:
            found.append(TlsSubject(directory / municipalities_folder / name, name, client=True, party=name))
    if register is not None:
        zone = directory / register
        found.append(TlsSubject(zone, "register-gateway", (*_LOCAL, "register-gateway"), server=True))
        found.append(
            TlsSubject(zone / POPULATION_REGISTER, POPULATION_REGISTER, client=True, party=POPULATION_REGISTER)
        )
    return found


def ensure_tls(directory: Path, wanted: list[TlsSubject]) -> Issued:
    """The CA and every wanted certificate under ``directory``, each made only if it is not there yet."""
    ca, ca_key = _ensure_ca(directory / CA_FOLDER)
    pins = {}
    for subject in wanted:
        cert = _issue(subject, ca, ca_key)
        if subject.party is not None:
            pins[subject.party] = spki_pin(cert)
    return Issued(ca.public_bytes(serialization.Encoding.PEM).decode("ascii"), pins)
