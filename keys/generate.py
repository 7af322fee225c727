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
    DIR/population-register/folkeregister/encryption.pem, signing.pem
                                        the population register's (issue 14): signs its extracts
    DIR/ca/, DIR/<party>/tls/           the development CA and each party's TLS certificate (keys.tls)

Each service is given only its own folder (a municipalities' gateway: ``municipalities/``; the register's gateway:
``population-register/``) and ``directory.json``: the TPF's
configuration has no path to the registry's folder, which is the key-custody half of the TPF's blindness.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from keys.tls import ensure_tls, private_pem, subjects
from shared.keys import (
    ALG_ED25519,
    ALG_X25519,
    DIRECTORY_FORMAT,
    ENCRYPTION_FILE,
    POPULATION_REGISTER,
    POPULATION_REGISTER_ROLE,
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
#: The key folder of the population register's zone: what its gateway is given (``folkeregister/`` and the
#: gateway's own TLS certificate in ``tls/``), as ``municipalities/`` is a municipalities' gateway's.
POPULATION_REGISTER_FOLDER = "population-register"


def _raw_public(key: X25519PrivateKey | Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _party_keys(folder: Path) -> list[dict[str, str]]:
    """Create a party's key pairs and return their public directory entries."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    encryption = X25519PrivateKey.generate()
    signing = Ed25519PrivateKey.generate()
    write_private_file(folder / ENCRYPTION_FILE, private_pem(encryption))
    write_private_file(folder / SIGNING_FILE, private_pem(signing))
    return [
        {
            "kid": key_id(alg, _raw_public(key)),
            "alg": alg,
            "public": base64.b64encode(_raw_public(key)).decode("ascii"),
        }
        for alg, key in ((ALG_X25519, encryption), (ALG_ED25519, signing))
    ]


def init_keys(directory: Path, municipalities: list[str]) -> PublicDirectory:
    """Create keys for the TPF, the registry, the population register and each municipality under ``directory``.

    Refuses to touch a directory that already holds keys: overwriting a key silently would orphan every
    message sealed for it (and a new pseudonym key would break every longitudinal series).
    """
    if (directory / DIRECTORY_FILE).exists():
        raise FileExistsError(f"{directory} already holds keys ({DIRECTORY_FILE}); choose an empty directory")
    directory.mkdir(parents=True, exist_ok=True)
    parties: dict[str, dict[str, object]] = {
        "tpf": {"role": "tpf", "municipality": None, "keys": _party_keys(directory / "tpf")},
        "registry": {"role": "registry", "municipality": None, "keys": _party_keys(directory / "registry")},
        POPULATION_REGISTER: {
            "role": POPULATION_REGISTER_ROLE,
            "municipality": None,
            "keys": _party_keys(directory / POPULATION_REGISTER_FOLDER / POPULATION_REGISTER),
        },
    }
    write_private_file(pseudonym_key_file(directory / "tpf", 1), base64.b64encode(os.urandom(KEY_SIZE)) + b"\n")
    for kommune_nr in sorted(set(municipalities)):
        name = party_name(kommune_nr)
        parties[name] = {
            "role": "municipality",
            "municipality": kommune_nr,
            "keys": _party_keys(directory / MUNICIPALITIES_FOLDER / name),
        }
    return _write_directory(directory, {"format": DIRECTORY_FORMAT, "parties": parties})


def add_tls(directory: Path) -> PublicDirectory:
    """Give an existing key folder what it lacks of TLS (the CA, a party's certificate) and the directory its CA
    and pins; every key and certificate already there is kept. A folder from before mutual TLS gets all of it."""
    try:
        document = json.loads((directory / DIRECTORY_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{directory} holds no {DIRECTORY_FILE}; create the keys with 'iplos keys init'"
        ) from None
    PublicDirectory.from_document(document, source=str(directory / DIRECTORY_FILE))  # refuse a broken one first
    return _write_directory(directory, document)


def _write_directory(directory: Path, document: dict[str, Any]) -> PublicDirectory:
    """Issue the missing TLS certificates, add the CA and each party's current pin to ``document`` (an earlier CA
    or pin stays listed: rotation overlaps), validate it with the loader the services use, and write it."""
    parties: dict[str, Any] = document["parties"]
    municipalities = {
        name: body.get("municipality") for name, body in parties.items() if body["role"] == "municipality"
    }
    register = any(body["role"] == POPULATION_REGISTER_ROLE for body in parties.values())
    register_folder = POPULATION_REGISTER_FOLDER if register else None
    issued = ensure_tls(directory, subjects(directory, MUNICIPALITIES_FOLDER, municipalities, register=register_folder))
    if issued.ca_pem not in document.setdefault("tls_ca", []):
        document["tls_ca"].append(issued.ca_pem)
    for name, pin in issued.pins.items():
        pins = parties[name].setdefault("tls_pins", [])
        if pin not in pins:
            pins.append(pin)
    loaded = PublicDirectory.from_document(document)
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    target = directory / DIRECTORY_FILE
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return loaded  # nothing was missing: the file stays as it is (services may be reading it)
    # Written whole under another name, then renamed: a reader never sees half a directory.
    temporary = directory / (DIRECTORY_FILE + ".new")
    temporary.write_text(text)
    temporary.replace(target)
    return loaded
