"""The key-custody check without a running chain: a state folder with keys only, and the registry's key leaked
into the TPF's files in each form the check claims to recognise.

The end-to-end tests (``tests/e2e/test_blindness.py``) run the whole audit against real processes; these pin the
check's own logic: the positive control, every form of a leaked key, and what must count as inconclusive.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from iplos_audit.blindness.canary_envelope import opens, seal_canary_envelope
from iplos_audit.blindness.key_custody import check_key_custody
from keys.generate import init_keys
from shared.keys import PublicDirectory


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("custody") / "state"
    init_keys(state / "keys", ["0301"])
    (state / "tpf" / "logs").mkdir(parents=True)
    (state / "tpf" / "logs" / "tpf.log").write_text('{"event": "started"}\n', encoding="utf-8")
    return state


@pytest.fixture
def state(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "state"
    shutil.copytree(template, copy)
    return copy


def _registry_secret(state: Path) -> bytes:
    key = serialization.load_pem_private_key((state / "keys" / "registry" / "encryption.pem").read_bytes(), None)
    assert isinstance(key, X25519PrivateKey)
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def test_a_correct_state_passes_with_the_registry_key_as_positive_control(state: Path) -> None:
    result = check_key_custody(state)

    assert result.ok, result.summary()
    assert result.control_opened
    assert result.control_file == "keys/registry/encryption.pem"
    assert result.control_kid == result.registry_kid
    tried = {f.file for f in result.files if f.attempts}
    tpf = state / "keys" / "tpf"
    # Every file the TPF holds, its TLS key (tls/key.pem) included; its certificate is public.
    held = {f"keys/tpf/{p.relative_to(tpf)}" for p in tpf.rglob("*") if p.is_file()}
    assert held <= tried
    assert result.openers == []


@pytest.mark.parametrize(
    ("where", "leak"),
    [
        ("keys/tpf/registry-backup.pem", lambda state: (state / "keys" / "registry" / "encryption.pem").read_bytes()),
        ("tpf/tmp/blob", _registry_secret),  # 32 raw bytes: a key whatever the file's name
        ("tpf/tmp/cache.txt", lambda state: _registry_secret(state).hex().encode() + b"\n"),
        (
            "tpf/logs/tpf.log",
            lambda state: b'{"event": "debug", "k": "' + base64.urlsafe_b64encode(_registry_secret(state)) + b'"}\n',
        ),
    ],
)
def test_the_registry_key_at_the_tpf_fails_naming_the_file(
    state: Path, where: str, leak: Callable[[Path], bytes]
) -> None:
    target = state / where
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(leak(state))

    result = check_key_custody(state)

    assert not result.ok
    assert sorted({f.file for f, _ in result.openers}) == [where]
    assert result.summary() == f"{where} opens the canary payload envelope"
    assert result.control_opened  # the positive control ran all the same


def test_an_encrypted_key_cannot_be_tried_and_fails_as_inconclusive(state: Path) -> None:
    key = X25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"not-known-to-the-auditor"),
    )
    (state / "keys" / "tpf" / "old.pem").write_bytes(pem)

    result = check_key_custody(state)

    assert not result.ok
    assert result.openers == []
    assert result.summary() == "some of the TPF's files could not be tried"


def test_without_the_registry_key_the_check_proves_nothing_and_fails(state: Path) -> None:
    (state / "keys" / "registry" / "encryption.pem").unlink()

    result = check_key_custody(state)

    assert not result.ok
    assert not result.control_opened
    assert result.control_result.startswith("not run: the registry's key is not in this state folder")


def test_a_canary_envelope_with_one_byte_flipped_opens_for_no_key(state: Path) -> None:
    directory = PublicDirectory.load(state / "keys" / "directory.json")
    envelope = seal_canary_envelope(directory, "KEY-CUSTODY-CANARY-test")
    registry_key = X25519PrivateKey.from_private_bytes(_registry_secret(state))
    assert opens(envelope, registry_key)

    flipped = bytearray(envelope.part)
    flipped[len(flipped) // 2] ^= 0x01
    tampered = type(envelope)(bytes(flipped), envelope.body, envelope.context, envelope.sha256)
    assert not opens(tampered, registry_key)
    assert not opens(envelope, X25519PrivateKey.generate())
