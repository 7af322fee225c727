"""The public-key directory: which party holds which public key, under which key id.

``directory.json`` (format ``iplos-directory/1``)::

    {"format": "iplos-directory/1",
     "tls_ca": ["-----BEGIN CERTIFICATE-----..."],
     "parties": {"tpf": {"role": "tpf", "municipality": null,
                         "keys": [{"kid": "...", "alg": "X25519", "public": "<base64>"},
                                  {"kid": "...", "alg": "Ed25519", "public": "<base64>"}],
                         "tls_pins": ["<SHA-256 hex of the TLS certificate's SubjectPublicKeyInfo>"]},
                 "kommune-0301": {"role": "municipality", "municipality": "0301", "keys": [...], "tls_pins": [...]}}}

A key id is the first 16 hex digits of SHA-256("iplos/v1/kid" 0x00 alg 0x00 public key): it names the key,
so a rotated key gets a new id, and a directory entry whose id does not match its key is refused on load.

``tls_ca`` (the CA certificates a TLS peer must chain to; a list, so a new CA can overlap the old) and each party's
``tls_pins`` (its TLS certificate keys, a list for the same reason) are optional: a directory from before mutual
TLS has neither and still loads; a service that needs them says so when it starts (services.kit.tls).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from nacl.bindings import crypto_core_ed25519_is_valid_point
from nacl.signing import VerifyKey

from shared.errors import KeyFileError, UnknownKey
from shared.keys._tls import PIN_PATTERN

ALG_X25519: Final = "X25519"
ALG_ED25519: Final = "Ed25519"
DIRECTORY_FORMAT: Final = "iplos-directory/1"
#: The population register (Folkeregisteret) sends its extracts through the chain as a party of its own (issue 14,
#: docs/population-register.md): it signs like a municipality, for any municipality, and only register extracts.
POPULATION_REGISTER_ROLE: Final = "population-register"
#: The population register's party name.
POPULATION_REGISTER: Final = "folkeregister"
ROLES: Final = frozenset({"municipality", "tpf", "registry", POPULATION_REGISTER_ROLE})


def key_id(alg: str, public: bytes) -> str:
    return hashlib.sha256(b"iplos/v1/kid\x00" + alg.encode("ascii") + b"\x00" + public).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    party: str
    kid: str
    alg: str
    public: bytes


@dataclass(frozen=True, slots=True)
class PartyInfo:
    name: str
    role: str
    municipality: str | None


class PublicDirectory:
    """Read-only view of ``directory.json``."""

    def __init__(
        self,
        parties: dict[str, PartyInfo],
        entries: list[DirectoryEntry],
        tls_ca: list[str] | None = None,
        tls_pins: dict[str, list[str]] | None = None,
    ) -> None:
        self._parties = parties
        self._by_kid = {entry.kid: entry for entry in entries}
        self._entries = entries
        self._tls_ca = list(tls_ca or [])
        self._tls_pins = {party: list(pins) for party, pins in (tls_pins or {}).items()}
        self._by_pin = {pin: parties[party] for party, pins in self._tls_pins.items() for pin in pins}

    @classmethod
    def load(cls, path: Path) -> PublicDirectory:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KeyFileError(f"public-key directory {path} does not exist") from None
        except ValueError:
            raise KeyFileError(f"public-key directory {path} is not valid JSON") from None
        return cls.from_document(document, source=str(path))

    @classmethod
    def from_document(cls, document: Any, source: str = "directory") -> PublicDirectory:
        if not isinstance(document, dict) or document.get("format") != DIRECTORY_FORMAT:
            raise KeyFileError(f"{source}: not an {DIRECTORY_FORMAT} document")
        try:
            return cls._parse(document, source)
        except (AttributeError, TypeError, KeyError):
            # A structurally malformed document (a list where an object belongs, a number for a key).
            raise KeyFileError(f"{source}: malformed {DIRECTORY_FORMAT} document") from None

    @classmethod
    def _parse(cls, document: dict[str, Any], source: str) -> PublicDirectory:
        parties: dict[str, PartyInfo] = {}
        entries: list[DirectoryEntry] = []
        pins: dict[str, list[str]] = {}
        for name, body in document.get("parties", {}).items():
            role = body.get("role")
            if role not in ROLES:
                raise KeyFileError(f"{source}: party {name} has an unknown role")
            parties[name] = PartyInfo(name=name, role=role, municipality=body.get("municipality"))
            pins[name] = _pins(body.get("tls_pins", []), source, name)
            if any(pin in other for other_name, other in pins.items() if other_name != name for pin in pins[name]):
                raise KeyFileError(f"{source}: a TLS pin is listed for two parties")
            for key in body.get("keys", []):
                try:
                    public = base64.b64decode(key["public"], validate=True)
                except (KeyError, binascii.Error):
                    raise KeyFileError(f"{source}: party {name} has a malformed key") from None
                if base64.b64encode(public).decode("ascii") != key["public"]:
                    # Strict base64: one text form per key (no non-zero unused bits).
                    raise KeyFileError(f"{source}: party {name} has a malformed key")
                alg = key.get("alg")
                if alg not in (ALG_X25519, ALG_ED25519) or len(public) != 32:
                    raise KeyFileError(f"{source}: party {name} has an unsupported key")
                if key.get("kid") != key_id(alg, public):
                    raise KeyFileError(f"{source}: party {name} has a key whose id does not match the key")
                if alg == ALG_ED25519 and not crypto_core_ed25519_is_valid_point(public):
                    # Not a point of the prime-order subgroup (the eight small-order points among them): a
                    # signature "by" such a key can be made without any private key.
                    raise KeyFileError(f"{source}: party {name} has an Ed25519 key that is not a valid point")
                if any(entry.kid == key["kid"] for entry in entries):
                    raise KeyFileError(f"{source}: a key id is listed twice")
                entries.append(DirectoryEntry(party=name, kid=key["kid"], alg=alg, public=public))
        return cls(parties, entries, _ca_certificates(document.get("tls_ca", []), source), pins)

    def to_document(self) -> dict[str, Any]:
        parties: dict[str, Any] = {}
        for info in self._parties.values():
            parties[info.name] = {
                "role": info.role,
                "municipality": info.municipality,
                "keys": [
                    {"kid": e.kid, "alg": e.alg, "public": base64.b64encode(e.public).decode("ascii")}
                    for e in self._entries
                    if e.party == info.name
                ],
            }
            if self._tls_pins.get(info.name):
                parties[info.name]["tls_pins"] = list(self._tls_pins[info.name])
        document: dict[str, Any] = {"format": DIRECTORY_FORMAT, "parties": parties}
        if self._tls_ca:
            document["tls_ca"] = list(self._tls_ca)
        return document

    @property
    def tls_ca(self) -> list[str]:
        """The PEM certificates of the CAs a TLS peer's certificate must chain to (empty: no TLS in the directory)."""
        return list(self._tls_ca)

    def tls_pins(self, party: str) -> list[str]:
        """The pins of ``party``'s TLS certificate keys."""
        self.party(party)
        return list(self._tls_pins.get(party, []))

    def party_by_tls_pin(self, pin: str) -> PartyInfo | None:
        """The party whose TLS certificate key this is, or None."""
        return self._by_pin.get(pin)

    def party(self, name: str) -> PartyInfo:
        try:
            return self._parties[name]
        except KeyError:
            raise UnknownKey(f"party {name!r} is not in the public-key directory") from None

    def parties(self) -> list[PartyInfo]:
        return list(self._parties.values())

    def entry(self, kid: str) -> DirectoryEntry:
        try:
            return self._by_kid[kid]
        except KeyError:
            raise UnknownKey("key id is not in the public-key directory") from None

    def encryption_key(self, party: str) -> tuple[str, X25519PublicKey]:
        """The party's current encryption key: the last X25519 key listed for it (rotation appends)."""
        self.party(party)
        candidates = [e for e in self._entries if e.party == party and e.alg == ALG_X25519]
        if not candidates:
            raise UnknownKey(f"party {party!r} has no encryption key")
        entry = candidates[-1]
        return entry.kid, X25519PublicKey.from_public_bytes(entry.public)

    def verify_key(self, kid: str) -> tuple[PartyInfo, VerifyKey]:
        entry = self.entry(kid)
        if entry.alg != ALG_ED25519:
            raise UnknownKey("key id does not name a signing key")
        return self._parties[entry.party], VerifyKey(entry.public)


def _pins(value: Any, source: str, party: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(p, str) and PIN_PATTERN.match(p) for p in value):
        raise KeyFileError(f"{source}: party {party} has a TLS pin that is not 64 lowercase hex digits")
    return list(value)


def _ca_certificates(value: Any, source: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(pem, str) for pem in value):
        raise KeyFileError(f"{source}: tls_ca is not a list of PEM certificates")
    for pem in value:
        try:
            cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except (ValueError, UnicodeEncodeError, x509.ExtensionNotFound):
            raise KeyFileError(f"{source}: tls_ca holds something that is not a CA certificate") from None
        if not constraints.ca:
            raise KeyFileError(f"{source}: tls_ca holds a certificate that is not a CA's")
    return list(value)
