"""`iplos up` as a user runs it: the three services and the population register's gateway on their default ports,
the tokens printed one a line, a bulk file of Enhetsregisteret loaded with `iplos registers load-enheter`, and a
register extract sent with `iplos submit` to the register's gateway goes through
the TPF into the registry. SIGTERM stops all four."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from iplos_chain import DEFAULT_PORTS, REGISTER_GATEWAY, procfs
from iplos_testkit.population import generate_population
from shared.keys import ca_certificate_file

pytestmark = pytest.mark.e2e


def test_iplos_up_runs_the_register_gateway_and_a_register_extract_goes_through(tmp_path: Path) -> None:
    population = generate_population(tmp_path / "population", ("0301",), (2024,), residents=40, seed=3)
    extract = population.registers[(2024, "0301")]
    state = tmp_path / "state"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    up = _start_up(state, env)
    try:
        text = _read_until(up, "population register token:")
        assert f"register-gateway https://127.0.0.1:{DEFAULT_PORTS[REGISTER_GATEWAY]}" in text
        match = re.search(r"^population register token: (\S+)$", text, re.MULTILINE)
        assert match is not None
        submitted = subprocess.run(
            [
                *(sys.executable, "-m", "iplos_cli.main", "submit", str(extract), "--wait"),
                *("--gateway", f"https://127.0.0.1:{DEFAULT_PORTS[REGISTER_GATEWAY]}", "--token", match.group(1)),
                *("--ca", str(ca_certificate_file(state / "keys"))),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        assert '"state": "stored"' in submitted.stdout
        assert '"municipality": "0301"' in submitted.stdout
        # The registry's operator loads Enhetsregisteret's sub-units as downloaded (gzipped CSV), by the CLI.
        operator = re.search(r"^operator token: (\S+)$", text, re.MULTILINE)
        assert operator is not None
        cli = (sys.executable, "-m", "iplos_cli.main", "registers")
        target = ("--registry", f"https://127.0.0.1:{DEFAULT_PORTS['registry']}", "--token", operator.group(1))
        target += ("--ca", str(ca_certificate_file(state / "keys")))
        made = subprocess.run([*cli, "synthetic-enheter", "--out", str(tmp_path / "enheter")], env=env, timeout=60)
        assert made.returncode == 0
        loaded = subprocess.run(
            [*cli, "load-enheter", str(tmp_path / "enheter" / "underenheter.csv.gz"), *target],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        assert re.search(r"loaded \d+ sub-units as of \d{4}-\d{2}-\d{2}", loaded.stdout), loaded.stdout
        # A file that is not one of the register's: one error naming the rule, exit 1, nothing loaded.
        wrong = tmp_path / "not-a-register.csv"
        wrong.write_text('"organisasjonsnummer","navn"\n"903012005","X"\n', encoding="utf-8")
        refused = subprocess.run(
            [*cli, "load-enheter", str(wrong), *target], capture_output=True, text=True, env=env, timeout=120
        )
        assert refused.returncode == 1
        assert "invalid-business-register-file" in refused.stderr
        assert "forretningsadresse.kommunenummer" in refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        up.send_signal(signal.SIGTERM)
        rest, _ = up.communicate(timeout=60)  # reads what is left and closes the pipe
    assert "stopped" in rest
    assert up.returncode == 0
    assert (state / REGISTER_GATEWAY / "gateway.db").is_file(), "the register gateway kept its own state apart"


def _start_up(state: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "iplos_cli.main", "up", "--state-dir", str(state), "-m", "0301"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        start_new_session=True,
    )


def _read_until(up: subprocess.Popen[str], prefix: str, timeout_s: float = 120) -> str:
    assert up.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while not any(line.startswith(prefix) for line in lines):
        assert time.monotonic() < deadline, "".join(lines)
        line = up.stdout.readline()
        assert line, "iplos up ended early:\n" + "".join(lines)
        lines.append(line)
    return "".join(lines)


def test_iplos_up_prints_an_auditor_token_refuses_taken_ports_and_reports_a_service_that_dies(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    first = _start_up(tmp_path / "first", env)
    try:
        text = _read_until(first, "submit with:")
        auditor = re.search(r"^auditor token: (\S+)$", text, re.MULTILINE)
        assert auditor is not None
        # The auditor's token reads every audit log: the three verify, nothing to reconcile yet.
        verified = subprocess.run(
            [
                *(sys.executable, "-m", "iplos_cli.main", "audit", "verify"),
                *("--state-dir", str(tmp_path / "first"), "--token", auditor.group(1)),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr

        # A second `iplos up` while the first runs: one line naming the port and who holds it, no tokens, exit 2.
        second = subprocess.run(
            [sys.executable, "-m", "iplos_cli.main", "up", "--state-dir", str(tmp_path / "second"), "-m", "0301"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert second.returncode == 2
        assert "token" not in second.stdout
        said = second.stderr.strip()
        assert said.splitlines() == [said]
        taken = re.search(r"port (\d+) for the ([a-z-]+) is already in use by process \d+", said)
        assert taken is not None, said
        assert DEFAULT_PORTS[taken.group(2)] == int(taken.group(1))

        # The TPF dies: `iplos up` says so, with its log, stops the rest and exits 1.
        tpf = [pid for pid in procfs.listener_pids(DEFAULT_PORTS["tpf"]) if procfs.process_group(pid) == pid]
        assert len(tpf) == 1
        os.killpg(tpf[0], signal.SIGKILL)
        rest, _ = first.communicate(timeout=90)
        assert first.returncode == 1
        assert "error: the tpf stopped (exit code -9); its log:" in rest
        assert "stopped" in rest
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGTERM)
            first.communicate(timeout=60)
