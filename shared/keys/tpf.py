"""The TPF's keys: its own encryption and signing keys, and the pseudonym keys by version."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path

from shared.errors import KeyFileError
from shared.keys._files import PartyKeys, load_party_keys, read_private_file
from shared.pseudonym import KEY_SIZE, MAX_KEY_VERSION, PseudonymKey

PARTY = "tpf"
_PSEUDONYM_FILE = re.compile(r"^pseudonym-v([1-9][0-9]*)\.key$")


def pseudonym_key_file(folder: Path, version: int) -> Path:
    return folder / f"pseudonym-v{version}.key"


@dataclass(frozen=True, slots=True)
class TpfKeys:
    party: PartyKeys
    pseudonym_keys: dict[int, PseudonymKey] = field(repr=False)

    @property
    def current_pseudonym_key(self) -> PseudonymKey:
        return self.pseudonym_keys[max(self.pseudonym_keys)]


def load_pseudonym_key(path: Path, version: int) -> PseudonymKey:
    if not 1 <= version <= MAX_KEY_VERSION:
        # docs/envelope-v1.md 7.2, KeyVersion: the registry could store no pseudonym made under it.
        raise KeyFileError(f"pseudonym key file {path}: a key version is from 1 to {MAX_KEY_VERSION}")
    try:
        secret = base64.b64decode(read_private_file(path).strip(), validate=True)
    except binascii.Error:
        raise KeyFileError(f"pseudonym key file {path} is not base64") from None
    if len(secret) < KEY_SIZE:
        raise KeyFileError(f"pseudonym key file {path} holds fewer than 256 bits")
    return PseudonymKey(version=version, secret=secret)


def load_tpf_keys(folder: Path) -> TpfKeys:
    keys: dict[int, PseudonymKey] = {}
    for path in sorted(folder.iterdir()):
        match = _PSEUDONYM_FILE.match(path.name)
        if match:
            version = int(match.group(1))
            keys[version] = load_pseudonym_key(path, version)
    if not keys:
        raise KeyFileError(f"no pseudonym key (pseudonym-v1.key) in {folder}")
    return TpfKeys(party=load_party_keys(folder, PARTY), pseudonym_keys=keys)
