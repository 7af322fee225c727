"""iplos_testkit.compose.checks.check_secrets, the check ``make compose-test`` runs on what deploy/prepare-secrets
made: it passes on each service's own folder and fails when a folder holds the CA's private key, another party's
TLS certificate, or a key that is not its certificate's. (The real prepare-secrets needs root and runs in
``make compose-test``; here the folders are laid out as it lays them out: the party folder whole as ``keys/``,
with the directory beside it.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from iplos_chain import ensure_keys
from iplos_testkit.compose.checks import check_secrets
from iplos_testkit.compose.engine import CommandFailed
from shared.keys import PublicDirectory

PARTY_FOLDERS = {"gateway": "municipalities", "tpf": "tpf", "registry": "registry"}


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("compose-checks")
    ensure_keys(folder, ["0301", "4601"])
    return folder


def _secrets(state: Path, out: Path) -> tuple[Path, PublicDirectory]:
    keys = state / "keys"
    for service, party in PARTY_FOLDERS.items():
        shutil.copytree(keys / party, out / service / "keys")
        shutil.copy(keys / "directory.json", out / service / "directory.json")
    (out / "postgres").mkdir()
    for service in PARTY_FOLDERS:
        (out / "postgres" / f"{service}-password").write_text("synthetic\n")
    return out, PublicDirectory.load(keys / "directory.json")


def test_each_service_holding_its_own_tls_folder_passes(state: Path, tmp_path: Path) -> None:
    lines = check_secrets(*_secrets(state, tmp_path))
    assert [line.split(":")[0] for line in lines] == ["gateway", "tpf", "registry", "postgres"]
    assert "client certificates of kommune-0301, kommune-4601" in lines[0]


def test_the_ca_s_private_key_anywhere_fails(state: Path, tmp_path: Path) -> None:
    secrets, directory = _secrets(state, tmp_path)
    shutil.copy(state / "keys" / "ca" / "ca-key.pem", secrets / "tpf" / "keys" / "ca-key.pem")
    with pytest.raises(CommandFailed, match="CA's private key"):
        check_secrets(secrets, directory)


@pytest.mark.parametrize(
    ("service", "source", "target"),
    [
        ("tpf", "registry/tls", "tls"),  # the TPF's own place, with the registry's certificate and key
        ("registry", "tpf/tls", "extra/tls"),  # a second party's certificate beside its own
        ("gateway", "municipalities/kommune-4601/tls", "kommune-0301/tls"),  # one municipality's, in another's place
    ],
)
def test_another_party_s_certificate_fails(state: Path, tmp_path: Path, service: str, source: str, target: str) -> None:
    secrets, directory = _secrets(state, tmp_path)
    shutil.rmtree(secrets / service / "keys" / target, ignore_errors=True)
    shutil.copytree(state / "keys" / source, secrets / service / "keys" / target)
    with pytest.raises(CommandFailed):
        check_secrets(secrets, directory)


def test_a_key_that_is_not_its_certificate_s_fails(state: Path, tmp_path: Path) -> None:
    secrets, directory = _secrets(state, tmp_path)
    shutil.copy(state / "keys" / "tpf" / "tls" / "key.pem", secrets / "registry" / "keys" / "tls" / "key.pem")
    with pytest.raises(CommandFailed, match="not its certificate's"):
        check_secrets(secrets, directory)
