"""`make test` on a machine without PostgreSQL: one line that says the PostgreSQL tests need a server and how to
point them at one, exit 2, instead of an error per test; and `-m 'not postgres'` still runs the rest (issue 16).
The real pytest, in a process of its own, pointed at a port where nothing listens."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = "tests/kit/test_database.py"  # on SQLite and PostgreSQL


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends: nothing listens there


def _pytest(*args: str) -> subprocess.CompletedProcess[str]:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/test"
    env = os.environ | {"IPLOS_TEST_POSTGRES_URL": url}
    return subprocess.run(
        # Collection is enough: the check runs once the tests are collected and chosen, before any of them runs.
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only", TESTS, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_a_server_the_run_stops_with_one_line() -> None:
    result = _pytest()
    assert result.returncode == 2, result.stdout[-2000:]
    said = [line for line in result.stdout.splitlines() if "The PostgreSQL tests need a server" in line]
    assert len(said) == 1
    assert "point IPLOS_TEST_POSTGRES_URL at one" in said[0]
    assert "FAILED" not in result.stdout
    assert "ERROR" not in result.stdout


def test_leaving_them_out_runs_the_rest() -> None:
    result = _pytest("-m", "not postgres")
    assert result.returncode == 0, result.stdout[-2000:]
    assert re.search(r"\d+/\d+ tests collected \(\d+ deselected\)", result.stdout), result.stdout[-500:]
    assert "[postgresql]" not in result.stdout
    assert "The PostgreSQL tests need a server" not in result.stdout
