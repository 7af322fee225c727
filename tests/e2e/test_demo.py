"""What `make demo` runs, end to end: it must end with its own checks passed (exit 0), so the README's first
command is tested by the second one."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from iplos_testkit.demo import run_demo
from shared.iplos.controls import BUSINESS_CODES

pytestmark = pytest.mark.e2e


def test_the_demo_runs_and_every_one_of_its_checks_holds(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_demo(tmp_path / "demo-state", Console(file=out, width=200)) == 0, out.getvalue()[-3000:]
    text = out.getvalue()
    assert "an empty export: refused at the gateway (empty-export)" in text
    assert "the same file again: refused at the gateway (identical-resubmission)" in text
    assert "held by the registry, the active year stays" in text
    # Step 7: the population register's gateway, its extracts judged against, the flows as the population's truth.
    words = " ".join(text.split())  # as printed, long lines wrapped
    assert "8 register extracts and 8 care exports stored" in words
    assert "the population's truth: yes" in words
    # The business register's faults were among those every report matched exactly (the demo's own check): each of
    # the four kinds was injected somewhere, and both of Enhetsregisteret's files were loaded first.
    assert "underenhet units loaded from underenheter.csv.gz" in words
    injected: set[str] = set()
    for answers in (tmp_path / "demo-state" / "exports").glob("*-answers.json"):
        injected |= {code for codes in json.loads(answers.read_text())["records"].values() for code in codes}
    assert injected >= BUSINESS_CODES
