"""Check 1, key custody: no secret the TPF holds opens a payload part sealed for the registry; its key does.

A fresh canary payload part is sealed for the registry's current X25519 key (from ``keys/directory.json``). Every
file under ``keys/tpf`` and every file in the TPF's state folder ``tpf/`` is tried against it in every plausible
interpretation (:mod:`.key_candidates`); none may open it. The registry's own key
(``keys/registry/encryption.pem``) must open it: otherwise the check would prove nothing. The registry's key is
loaded with ``cryptography`` directly: the tooling may not import ``shared.keys.registry`` (import contract),
and an auditor's tool should not depend on the registry's code to say whether a key opens a part anyway.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from iplos_audit.blindness.canary_envelope import CanaryEnvelope, opens, seal_canary_envelope
from iplos_audit.blindness.key_candidates import B64_TOKEN, KeyAttempt, interpretations
from iplos_audit.blindness.progress import Progress, quiet
from iplos_audit.blindness.search import open_bytes, relative, walk_files
from shared.errors import IplosError
from shared.keys import ALG_X25519, ENCRYPTION_FILE, PublicDirectory, key_id

__all__ = ["KeyCustody", "KeyFile", "check_key_custody"]

_WHOLE_FILE_LIMIT: Final = 1 << 20  # a key file is small; a larger file is only searched for keys inside it
_KEYISH_NAME: Final = re.compile(
    r"(key|secret|priv|seed|\.pem$|\.der$|\.p8$|\.pk8$|\.pkcs8$|\.jwk$|\.sk$|\.raw$|\.x25519$)", re.IGNORECASE
)


@dataclass
class KeyFile:
    file: str
    size: int | None
    attempts: list[KeyAttempt] = field(default_factory=list)
    note: str | None = None

    @property
    def opened(self) -> list[KeyAttempt]:
        return [a for a in self.attempts if a.opened]

    @property
    def inconclusive(self) -> bool:
        return any(a.inconclusive for a in self.attempts)


@dataclass
class KeyCustody:
    registry_kid: str | None = None
    envelope: CanaryEnvelope | None = None
    control_file: str | None = None
    control_kid: str | None = None
    control_result: str = "not run"
    control_opened: bool = False
    files: list[KeyFile] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def openers(self) -> list[tuple[KeyFile, KeyAttempt]]:
        return [(f, a) for f in self.files for a in f.opened]

    @property
    def ok(self) -> bool:
        return (
            not self.errors and self.control_opened and not self.openers and not any(f.inconclusive for f in self.files)
        )

    def summary(self) -> str:
        if self.errors:
            return self.errors[0]
        if self.openers:
            names = sorted({f.file for f, _ in self.openers})
            return f"{', '.join(names)} opens the canary payload envelope"
        if not self.control_opened:
            return f"positive control {self.control_result}"
        if any(f.inconclusive for f in self.files):
            return "some of the TPF's files could not be tried"
        tried = sum(len(f.attempts) for f in self.files)
        return f"{len(self.files)} files, {tried} interpretations tried, none opens; the registry's key does"


def _public_kid(key: X25519PrivateKey) -> str:
    return key_id(ALG_X25519, key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def check_key_custody(state_dir: Path, progress: Progress = quiet) -> KeyCustody:
    result = KeyCustody()
    try:
        directory = PublicDirectory.load(state_dir / "keys" / "directory.json")
        result.registry_kid, _ = directory.encryption_key("registry")
    except IplosError as exc:
        result.errors.append(f"the public-key directory could not be used: {exc}")
        return result
    marker = "KEY-CUSTODY-CANARY-" + secrets.token_hex(16)
    envelope = seal_canary_envelope(directory, marker)
    result.envelope = envelope
    progress("key custody: canary payload envelope sealed for the registry; trying the TPF's keys")

    _control(state_dir, envelope, result)

    tried: dict[bytes, bool] = {}  # one HPKE attempt per distinct secret, however many files hold it

    def attempt(key: X25519PrivateKey) -> bool:
        secret = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        if secret not in tried:
            tried[secret] = opens(envelope, key)
        return tried[secret]

    key_folder = state_dir / "keys" / "tpf"
    state_folder = state_dir / "tpf"
    if not key_folder.is_dir():
        result.errors.append("keys/tpf does not exist: the TPF's keys are not where 'iplos up' puts them")
    sources = [(path, True) for path in walk_files(key_folder)] if key_folder.is_dir() else []
    if state_folder.is_dir():
        sources += [(path, bool(_KEYISH_NAME.search(path.name))) for path in walk_files(state_folder)]
    else:
        result.notes.append("the TPF's state folder tpf/ does not exist: only keys/tpf was searched")
    for path, whole_file in sources:
        entry = KeyFile(relative(state_dir, path), None)
        result.files.append(entry)
        try:
            opened = open_bytes(path)
        except FileNotFoundError:
            entry.note = "removed by the TPF while the check ran"
            continue
        except OSError as exc:
            entry.attempts.append(KeyAttempt("reading the file", f"unreadable ({type(exc).__name__})", False, True))
            continue
        try:
            data = opened.data
            entry.size = len(data)
            if path.is_symlink():
                entry.note = f"symbolic link to {os.path.realpath(path)}"
            # A small file in the state folder is tried as a whole too: a 32-byte file is a key whatever its name.
            small = bytes(data) if len(data) <= _WHOLE_FILE_LIMIT else None
            whole = small is not None and (
                whole_file or len(small) in (32, 64) or (len(small) < 4096 and bool(B64_TOKEN.fullmatch(small.strip())))
            )
            candidates, notes = interpretations(data, small if whole else None)
        finally:
            opened.close()
        entry.attempts.extend(notes)
        for interpretation, key in candidates:
            if attempt(key):
                entry.attempts.append(KeyAttempt(interpretation, "OPENS the canary payload envelope", opened=True))
            else:
                entry.attempts.append(KeyAttempt(interpretation, "does not open"))
    progress(f"key custody: {len(tried)} distinct secrets tried from {len(result.files)} files")
    return result


def _control(state_dir: Path, envelope: CanaryEnvelope, result: KeyCustody) -> None:
    path = state_dir / "keys" / "registry" / ENCRYPTION_FILE
    result.control_file = relative(state_dir, path)
    if not path.is_file():
        result.control_result = (
            "not run: the registry's key is not in this state folder, so the check cannot show that the canary "
            "envelope opens at all"
        )
        return
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        result.control_result = f"not run: the registry's key file could not be loaded ({type(exc).__name__})"
        return
    if not isinstance(key, X25519PrivateKey):
        result.control_result = "not run: the registry's encryption key file holds no X25519 key"
        return
    result.control_kid = _public_kid(key)
    if result.control_kid != result.registry_kid:
        result.control_result = (
            f"failed: the registry's key file holds key {result.control_kid}, the directory names "
            f"{result.registry_kid} as the registry's current key"
        )
        return
    if opens(envelope, key):
        result.control_opened = True
        result.control_result = "opens the canary payload envelope (every chunk authenticated, body as sealed)"
    else:
        result.control_result = "failed: the registry's own key does not open the canary envelope"
