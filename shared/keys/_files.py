"""Private key files: PKCS#8 PEM for X25519 and Ed25519, read only when nobody but the owner can read them."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from nacl.signing import SigningKey

from shared.errors import KeyFileError
from shared.keys._directory import ALG_ED25519, ALG_X25519, key_id

ENCRYPTION_FILE: Final = "encryption.pem"
SIGNING_FILE: Final = "signing.pem"


def read_private_file(path: Path) -> bytes:
    """Read a secret file, refusing one that group or others could read or write."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise KeyFileError(f"key file {path} does not exist; create keys with 'iplos keys init'") from None
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"key file {path} is not a regular file")
    if info.st_mode & 0o077:
        raise KeyFileError(
            f"key file {path} is readable or writable by group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); fix it with: chmod 600 {path}"
        )
    return path.read_bytes()


def write_private_file(path: Path, data: bytes) -> None:
    """Create a secret file with mode 0600 from the start (never world-readable, not even for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _load_pem(path: Path) -> object:
    data = read_private_file(path)  # its own KeyFileError says how to fix permissions or a missing file
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # TypeError: an encrypted PEM (the services take unencrypted files protected by their mode).
        raise KeyFileError(f"key file {path} is not an unencrypted PKCS#8 PEM private key") from None


def load_encryption_key(path: Path) -> X25519PrivateKey:
    key = _load_pem(path)
    if not isinstance(key, X25519PrivateKey):
        raise KeyFileError(f"key file {path} does not hold an X25519 private key")
    return key


def load_signing_key(path: Path) -> SigningKey:
    key = _load_pem(path)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"key file {path} does not hold an Ed25519 private key")
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return SigningKey(seed)


@dataclass(frozen=True, slots=True)
class PartyKeys:
    """One party's private keys and their key ids. ``repr`` shows the ids only."""

    party: str
    encryption: X25519PrivateKey = field(repr=False)
    encryption_kid: str
    signing: SigningKey = field(repr=False)
    signing_kid: str


def load_party_keys(folder: Path, party: str) -> PartyKeys:
    encryption = load_encryption_key(folder / ENCRYPTION_FILE)
    signing = load_signing_key(folder / SIGNING_FILE)
    return PartyKeys(
        party=party,
        encryption=encryption,
        encryption_kid=key_id(
            ALG_X25519,
            encryption.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        ),
        signing=signing,
        signing_kid=key_id(ALG_ED25519, bytes(signing.verify_key)),
    )
