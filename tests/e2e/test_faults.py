"""Fault injection for real: SIGKILL the TPF and the registry while 50+ submissions are delivered.

Runs its own chain in ``tmp_path`` (the session chain must not be killed) through :func:`run_soak`, which polls
the registry during the run for partial submissions and checks at the end that every submission the gateway
accepted was stored exactly once, and that the newest submission of each municipality-year is the active one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from iplos_cli.soak import run_soak

pytestmark = pytest.mark.e2e


class _Quiet:
    def print(self, *objects: object, **kwargs: object) -> None:
        pass


def test_sigkill_of_tpf_and_registry_loses_nothing_duplicates_nothing_shows_nothing_partial(tmp_path: Path) -> None:
    result = run_soak(tmp_path / "soak", 60, seed=4, console=_Quiet(), max_seconds=90, max_faults=10)
    report = "\n".join(
        [*result.summary_lines(), *result.lost, *result.duplicated, *result.partial_details, *result.problems]
    )

    assert result.accepted == 60, report
    assert result.faults["tpf"] > 0, report
    assert result.faults["registry"] > 0, report
    assert result.faults_injected >= 6, report
    assert result.multi_attempt > 0, report  # the faults did meet deliveries in flight
    assert result.api_reads > 0, report  # the registry was watched through its API
    assert result.db_reads > 0, report  # and in its database
    assert result.lost == [], report
    assert result.duplicated == [], report
    assert result.partial_views == 0, report
    assert result.problems == [], report
    assert result.stored + result.refused_stale == 60, report
