"""A user's mistake at the command line gets one line that says what to do, and exit code 2: no traceback, and the
names a user sets (the environment variables), not the names in the code (issue 16, "Friendly failures")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

_SERVICE_VARIABLES = ("IPLOS_GATEWAY_", "IPLOS_TPF_", "IPLOS_REGISTRY_")


def _iplos(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own, as a user runs it (no terminal: what a script sees)."""
    return subprocess.run(
        [sys.executable, "-m", "iplos_cli.main", *args], capture_output=True, text=True, env=env, timeout=120
    )


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(_SERVICE_VARIABLES)}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("-m", "301"), "--municipality 301 is not a kommunenummer of 2025"),
        (("-m", "0301", "--year", "2019"), "no municipality list is shipped for reporting year 2019"),
        (("-m", "9999"), "--municipality 9999 is not a kommunenummer of 2025"),
    ],
)
def test_a_wrong_municipality_or_year_for_generate_is_one_line(
    tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    out = tmp_path / "export.xml"
    result = _iplos("generate", "-o", str(out), *args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert says in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not out.exists()


def test_serve_without_configuration_names_the_variables_to_set() -> None:
    result = _iplos("serve", "gateway", env=_clean_env())
    assert result.returncode == 2
    line = result.stderr.strip()
    assert line.splitlines() == [line]
    for variable in ("IPLOS_GATEWAY_KEY_DIR", "IPLOS_GATEWAY_DIRECTORY", "IPLOS_GATEWAY_STATE_DIR"):
        assert variable in line
    assert "key_dir" not in line  # the field's name in the code means nothing to whoever runs it
    assert "iplos up" in line
    assert "Traceback" not in result.stderr


def test_serve_with_a_wrong_value_names_the_variable_and_not_the_value(tmp_path: Path) -> None:
    env = _clean_env() | {
        "IPLOS_REGISTRY_KEY_DIR": str(tmp_path),
        "IPLOS_REGISTRY_DIRECTORY": str(tmp_path / "directory.json"),
        "IPLOS_REGISTRY_STATE_DIR": str(tmp_path / "state"),
        "IPLOS_REGISTRY_HOLD_BELOW_RATIO": "7.25",
    }
    result = _iplos("serve", "registry", env=env)
    assert result.returncode == 2
    assert "IPLOS_REGISTRY_HOLD_BELOW_RATIO" in result.stderr
    assert "7.25" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_lift_sequence_with_a_wrong_municipality_or_no_reason_is_one_line_before_any_request() -> None:
    # Nothing listens on port 9 on this machine: a request would fail with exit 1, not 2.
    wrong = _iplos("registry", "lift-sequence", "301", "2026", "--reason", "INC-1", "--registry", "https://127.0.0.1:9")
    assert (wrong.returncode, wrong.stderr.strip()) == (2, "error: the municipality is a four-digit kommuneNr")
    missing = _iplos("registry", "lift-sequence", "0301", "2026", "--registry", "https://127.0.0.1:9")
    assert missing.returncode == 2
    assert "--reason" in missing.stderr
    assert "Traceback" not in wrong.stderr + missing.stderr
