"""Key generation for every party of the chain, and the public-key directory.

Layout written by ``iplos keys init --dir DIR``::

    DIR/directory.json                  public keys and key ids of every party (safe to distribute)
    DIR/tpf/encryption.pem              X25519, opens identity parts            (0600)
    DIR/tpf/signing.pem                 Ed25519, signs deliveries              (0600)
    DIR/tpf/pseudonym-v1.key            256-bit HMAC key, base64               (0600)
    DIR/registry/encryption.pem         X25519, opens payload and pseudonym parts
    DIR/registry/signing.pem            Ed25519, signs receipts
    DIR/municipalities/kommune-NNNN/encryption.pem   X25519, opens the registry's reports
    DIR/municipalities/kommune-NNNN/signing.pem      Ed25519, signs submissions

Each service is given only its own folder (the gateway: ``municipalities/``) and ``directory.json``: the TPF's
configuration has no path to the registry's folder, which is the key-custody half of the TPF's blindness.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared.keys import (
    ALG_ED25519,
    ALG_X25519,
    DIRECTORY_FORMAT,
    ENCRYPTION_FILE,
    SIGNING_FILE,
    PublicDirectory,
    key_id,
    write_private_file,
)
from shared.keys.municipality import party_name
from shared.keys.tpf import pseudonym_key_file
from shared.pseudonym import KEY_SIZE

DIRECTORY_FILE = "directory.json"
MUNICIPALITIES_FOLDER = "municipalities"


def _pem(key: X25519PrivateKey | Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _raw_public(key: X25519PrivateKey | Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _party_keys(folder: Path) -> list[dict[str, str]]:
    """Create a party's key pairs and return their public directory entries."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    encryption = X25519PrivateKey.generate()
    signing = Ed25519PrivateKey.generate()
    write_private_file(folder / ENCRYPTION_FILE, _pem(encryption))
    write_private_file(folder / SIGNING_FILE, _pem(signing))
    return [
        {
            "kid": key_id(alg, _raw_public(key)),
            "alg": alg,
            "public": base64.b64encode(_raw_public(key)).decode("ascii"),
        }
        for alg, key in ((ALG_X25519, encryption), (ALG_ED25519, signing))
    ]


def init_keys(directory: Path, municipalities: list[str]) -> PublicDirectory:
    """Create keys for the TPF, the registry and each municipality under ``directory``.

    Refuses to touch a directory that already holds keys: overwriting a key silently would orphan every
    message sealed for it (and a new pseudonym key would break every longitudinal series).
    """
    if (directory / DIRECTORY_FILE).exists():
        raise FileExistsError(f"{directory} already holds keys ({DIRECTORY_FILE}); choose an empty directory")
    directory.mkdir(parents=True, exist_ok=True)
    parties: dict[str, dict[str, object]] = {
        "tpf": {"role": "tpf", "municipality": None, "keys": _party_keys(directory / "tpf")},
        "registry": {"role": "registry", "municipality": None, "keys": _party_keys(directory / "registry")},
    }
    write_private_file(pseudonym_key_file(directory / "tpf", 1), base64.b64encode(os.urandom(KEY_SIZE)) + b"\n")
    for kommune_nr in sorted(set(municipalities)):
        name = party_name(kommune_nr)
        parties[name] = {
            "role": "municipality",
            "municipality": kommune_nr,
            "keys": _party_keys(directory / MUNICIPALITIES_FOLDER / name),
        }
    document = {"format": DIRECTORY_FORMAT, "parties": parties}
    # Validate what we wrote with the same loader the services use.
    loaded = PublicDirectory.from_document(document)
    (directory / DIRECTORY_FILE).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return loaded
