"""The command line as scripts use it, against the real chain: `--json` prints JSON only on stdout (progress and
errors go to stderr), `iplos status`, `iplos list` and `iplos retry`, and long work reporting its progress in plain
lines when it is not on a terminal (issue 16, "Progress and scripts"). Each command runs in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iplos_chain import Chain
from iplos_testkit.exports import write_synthetic_export
from shared.keys import ca_certificate_file

pytestmark = pytest.mark.e2e
# Nothing else on the shared chain reports 2026 (the reporting year in progress), nor lists 0301 across years.
MUNICIPALITY, YEAR = "0301", 2026


def _iplos(chain: Chain | None, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPLOS_")}
    extra: list[str] = []
    if chain is not None:
        extra = ["--gateway", chain.url("gateway"), "--ca", str(ca_certificate_file(chain.state_dir / "keys"))]
        env["IPLOS_TOKEN"] = token or chain.municipality_token(MUNICIPALITY)
    return subprocess.run(
        [sys.executable, "-m", "iplos_cli.main", *args, *extra], capture_output=True, text=True, env=env, timeout=180
    )


@pytest.fixture(scope="module")
def submitted(chain: Chain, exports_dir: Path) -> dict:  # type: ignore[type-arg]
    """`iplos submit --wait --json`: the final status document, and nothing else, on stdout."""
    path = exports_dir / f"{MUNICIPALITY}-{YEAR}-scripts.xml"
    write_synthetic_export(path, MUNICIPALITY, YEAR, 60, 31)
    result = _iplos(chain, "submit", str(path), "--wait", "--json")
    assert result.returncode == 0, result.stderr
    final = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert final["state"] == "stored"
    assert "accepted by the gateway" in result.stderr  # the progress went to stderr, as plain lines
    return final


def test_status_says_where_the_submission_is_and_exits_by_its_state(chain: Chain, submitted: dict) -> None:  # type: ignore[type-arg]
    plain = _iplos(chain, "status", submitted["submission_id"])
    assert plain.returncode == 0
    assert f"submission {submitted['submission_id']}: municipality {MUNICIPALITY}, year {YEAR}" in plain.stdout
    assert "stored at the registry (60 records)" in plain.stdout
    as_json = _iplos(chain, "status", submitted["submission_id"], "--json")
    assert as_json.returncode == 0
    body = json.loads(as_json.stdout)
    assert (body["submission_id"], body["state"], body["receipt"]["records_stored"]) == (
        submitted["submission_id"],
        "stored",
        60,
    )


def test_list_shows_the_token_s_submissions(chain: Chain, submitted: dict) -> None:  # type: ignore[type-arg]
    body = json.loads(_iplos(chain, "list", "--year", str(YEAR), "--json").stdout)
    assert submitted["submission_id"] in [row["submission_id"] for row in body["submissions"]]
    assert {row["municipality"] for row in body["submissions"]} == {MUNICIPALITY}
    assert {row["year"] for row in body["submissions"]} == {YEAR}
    table = _iplos(chain, "list", "--year", str(YEAR))
    assert table.returncode == 0
    assert submitted["submission_id"] in table.stdout


def test_retry_of_a_stored_submission_is_refused_in_one_message(chain: Chain, submitted: dict) -> None:  # type: ignore[type-arg]
    result = _iplos(chain, "retry", submitted["submission_id"], "--json")
    assert result.returncode == 1
    assert result.stdout == ""  # nothing on stdout: the refusal is on stderr
    assert "HTTP 409" in result.stderr
    assert "Traceback" not in result.stderr


def test_report_json_is_json_only(chain: Chain, submitted: dict) -> None:  # type: ignore[type-arg]
    result = _iplos(chain, "report", submitted["submission_id"], "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["submission_id"] == submitted["submission_id"]


def test_an_unknown_submission_s_status_is_one_error(chain: Chain) -> None:
    result = _iplos(chain, "status", "00000000-0000-4000-8000-000000000000")
    assert result.returncode == 1
    assert "HTTP 404" in result.stderr
    assert "Traceback" not in result.stderr


def test_generate_reports_its_progress_in_plain_lines_off_a_terminal(tmp_path: Path) -> None:
    out = tmp_path / "export.xml"
    result = _iplos(None, "generate", "-o", str(out), "-m", "0301", "--persons", "400", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [f"wrote {out} (400 persons, municipality 0301, year 2025)"]
    steps = [line for line in result.stderr.splitlines() if "writing persons:" in line]
    assert steps[-1].endswith("writing persons: 400 of 400 (100%)")
    assert len(steps) == 11  # 0%, then every tenth
