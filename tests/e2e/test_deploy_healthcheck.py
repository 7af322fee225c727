"""deploy/healthcheck.py, the containers' health check, run as the container runs it (a separate Python process
with only the standard library) against the real services over TLS: it passes when the service's certificate
verifies against the CA of the directory it is given, and fails when it does not, so a secrets folder holding
another deployment's certificate or directory makes the container unhealthy instead of passing unverified."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from iplos_chain import Chain, ensure_keys

pytestmark = pytest.mark.e2e

HEALTHCHECK = Path(__file__).resolve().parents[2] / "deploy" / "healthcheck.py"


@pytest.fixture(scope="module")
def other_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another deployment's directory: another CA."""
    state = tmp_path_factory.mktemp("other-deployment")
    ensure_keys(state, ["0301"])
    return state / "keys" / "directory.json"


def _healthcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, HEALTHCHECK, *args], capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize("service", ["gateway", "tpf", "registry"])
def test_the_health_check_verifies_the_service_against_the_directory_s_ca(
    chain: Chain, service: str, other_directory: Path
) -> None:
    # 127.0.0.1, as inside the container: every service certificate names it.
    url = f"{chain.url(service)}/readyz"
    directory = chain.state_dir / "keys" / "directory.json"
    assert _healthcheck(url, str(directory)).returncode == 0

    # Another deployment's directory (another CA): the certificate does not verify, and the check says why.
    other = _healthcheck(url, str(other_directory))
    assert other.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in other.stderr

    # https without a directory to trust: no unverified fallback.
    assert _healthcheck(url).returncode == 1
