"""Fault injection for real: SIGKILL the TPF and the registry while 50+ submissions are delivered, with the
services on SQLite and on PostgreSQL (each its own fresh database, dropped afterwards).

Runs its own chain in ``tmp_path`` (the session chain must not be killed) through :func:`run_soak`, which polls
the registry during the run for partial submissions and checks at the end that every submission the gateway
accepted was stored exactly once, and that the newest submission of each municipality-year is the active one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from iplos_testkit.soak import run_soak
from tests.postgres import DATABASES, postgres_server_url

pytestmark = pytest.mark.e2e


class _Quiet:
    def print(self, *objects: object, **kwargs: object) -> None:
        pass


@pytest.mark.parametrize("database", DATABASES)
def test_sigkill_of_tpf_and_registry_loses_nothing_duplicates_nothing_shows_nothing_partial(
    tmp_path: Path, database: str
) -> None:
    server = postgres_server_url() if database == "postgresql" else None
    result = run_soak(
        tmp_path / "soak",
        60,
        seed=4,
        console=_Quiet(),
        max_seconds=90,
        max_faults=10,
        database=database,
        postgres_url=server,
    )
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
    _no_identity_in_any_log_or_tpf_file(tmp_path / "soak")


def _no_identity_in_any_log_or_tpf_file(state: Path) -> None:
    """After a run full of crashes, retries, refusals and replays: no identity number, pseudonym or payload
    string (service ids) in any log line of any service, nor in anything the TPF wrote."""
    from shared import fnr
    from shared.iplos.reader import ExportReader
    from shared.keys.tpf import load_tpf_keys
    from shared.pseudonym import Pseudonymiser, encode_pseudonym

    numbers: set[bytes] = set()
    payload: set[bytes] = set()
    for path in (state / "exports").glob("*.xml"):
        with path.open("rb") as handle, ExportReader(handle) as reader:
            for person in reader:
                numbers.add(person.fid.encode())
                payload.update(s.tjeneste_id.encode() for s in person.services)
    pseudonymiser = Pseudonymiser(load_tpf_keys(state / "keys" / "tpf").current_pseudonym_key)
    pseudonyms = {
        form
        for number in numbers
        for value in [pseudonymiser.pseudonym(fnr.parse(number.decode()))]
        for form in (value, encode_pseudonym(value).encode())
    }
    logs = [p for service in ("gateway", "tpf", "registry") for p in (state / service / "logs").glob("*")]
    assert len(logs) >= 6  # each service's own log and its process output
    assert sum(p.stat().st_size for p in logs) > 10_000  # the run did log: refusals, retries, restarts
    tpf_files = [p for p in (state / "tpf").rglob("*") if p.is_file()]
    for path in logs + tpf_files:
        data = path.read_bytes()
        leaked = [n for n in numbers | pseudonyms if n in data]
        assert leaked == [], f"{path} holds {len(leaked)} identity numbers or pseudonyms"
        assert not [p for p in payload if p in data], f"{path} holds payload content"
