"""`make install` with the wrong interpreter, or an install that fails half-way: one clear line, and no half-made
.venv left for the next `make` to take for a working one (issue 16). The real Makefile, run by make in a copy of the
project's files, with stand-in interpreters (this machine has only Python 3.11; `make check-pythons` checks that
every locked package has a wheel for 3.12 and 3.13 whose hash the lock holds)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _project(tmp_path: Path) -> Path:
    tmp_path.mkdir()
    for name in ("Makefile", "pyproject.toml", "requirements-dev.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _interpreter(path: Path, script: str) -> Path:
    path.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    path.chmod(0o755)
    return path


def _make(project: Path, python: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "install", f"PYTHON={python}"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_a_wrong_python_is_one_line_and_leaves_no_venv(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    python = _interpreter(
        tmp_path / "python3.10", 'if [ "$1" = "-V" ]; then echo "Python 3.10.12"; exit 0; fi\nexit 1\n'
    )
    result = _make(project, python)
    assert result.returncode == 2
    said, *rest = result.stderr.strip().splitlines()
    assert said == (
        f"error: iplos-chain needs Python 3.11, 3.12 or 3.13, and '{python}' is Python 3.10.12; run with"
        " PYTHON=/path/to/python3.11 (or 3.12, 3.13)"
    )
    # make's own "Error 2" line ("make[1]: ***" when `make test` runs this), nothing else.
    assert all(re.match(r"make(\[\d+\])?: \*\*\*", line) for line in rest), rest
    assert not (project / ".venv").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_an_install_that_fails_half_way_removes_the_venv(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    # Passes the version check, makes a .venv whose python cannot install anything (as a broken download would).
    python = _interpreter(
        tmp_path / "python3.11",
        'if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then mkdir -p .venv/bin; '
        "printf '#!/bin/sh\\nexit 1\\n' > .venv/bin/python; chmod +x .venv/bin/python; exit 0; fi\nexit 0\n",
    )
    result = _make(project, python)
    assert result.returncode != 0
    assert "it was removed, so the next try starts clean" in result.stderr
    assert not (project / ".venv").exists()


def test_the_package_admits_python_3_11_to_3_13() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["requires-python"] == ">=3.11,<3.14"
