"""The feedback loop through the real services: faults found, reported blind, corrected, replaced."""

from __future__ import annotations

import base64
import io
import json
import ssl
from collections import Counter
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from iplos_chain import Chain, client
from iplos_cli.main import app
from iplos_testkit.exports import write_synthetic_export
from shared.envelope import InvalidEnvelope, MessageRefused, PartRef
from shared.envelope.report import open_report
from shared.keys.registry import load_registry_keys
from shared.keys.tpf import load_tpf_keys
from tests.e2e.messages import keys_of
from tests.tls import tls_as

pytestmark = pytest.mark.e2e
MUNICIPALITY = "0301"


def _as_municipality(chain: Chain) -> ssl.SSLContext:
    """The registry hands a report only over the submitting municipality's TLS connection (as its gateway)."""
    return tls_as(chain, f"kommune-{MUNICIPALITY}")


@pytest.fixture(scope="module")
def faulty(chain: Chain, exports_dir: Path) -> tuple[dict, Counter]:  # type: ignore[type-arg]
    path = exports_dir / "0301-faulty.xml"
    _, key = write_synthetic_export(path, MUNICIPALITY, 2024, 600, 77, errors=0.05)
    assert key is not None
    expected = Counter((nr, code) for nr, codes in key.records.items() for code in codes)
    token = chain.municipality_token(MUNICIPALITY)
    accepted = client.submit(path, chain.url("gateway"), token=token)
    final = client.wait_final(chain.url("gateway"), accepted["submission_id"], 60, token=token)
    assert final["state"] == "stored"
    return final, expected


def _gateway_report(chain: Chain, submission_id: str) -> dict:  # type: ignore[type-arg]
    """The report as the municipality reads it at its gateway, with its own credential."""
    url = f"{chain.url('gateway')}/v1/submissions/{submission_id}/report"
    return client.get_json(url, chain.municipality_token(MUNICIPALITY))


def test_the_report_names_every_injected_fault_by_brukerNr_and_nothing_else(chain: Chain, faulty) -> None:  # type: ignore[no-untyped-def]
    final, expected = faulty
    report = _gateway_report(chain, final["submission_id"])
    found = Counter((f["brukerNr"], f["code"]) for f in report["findings"])
    assert found == expected
    assert len({code for _, code in expected}) >= 20  # the fault kinds really vary
    assert report["finding_count"] == sum(expected.values())
    assert {row["code"]: row["count"] for row in report["counts"]} == dict(Counter(c for _, c in expected.elements()))
    assert all(f["title"] and f["severity"] in ("error", "warning") for f in report["findings"])
    # The registry's statistics know the findings too, without knowing whose.
    row = client.get_json(f"{chain.url('registry')}/v1/submissions/{final['submission_id']}", chain.operator_token)
    assert row["findings"] == sum(expected.values())


def test_the_registry_hands_a_report_to_the_gateway_s_credential_only_sealed_once(chain: Chain, faulty) -> None:  # type: ignore[no-untyped-def]
    final, _ = faulty
    url = f"{chain.url('registry')}/v1/submissions/{final['submission_id']}/report"
    callers = {
        "no token": (None, 401, "unauthenticated"),
        "the municipality's gateway token": (chain.municipality_token(MUNICIPALITY), 401, "unauthenticated"),
        "the operator's token": (chain.operator_token, 403, "forbidden"),
    }
    for name, (token, status, slug) in callers.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        refused = httpx.get(url, headers=headers, timeout=30, verify=_as_municipality(chain))
        assert (refused.status_code, refused.json()["type"]) == (status, f"urn:iplos-chain:problem:{slug}"), name
        assert "header" not in refused.json()
    gateway = {"Authorization": f"Bearer {chain.gateway_registry_token}"}
    answers = [httpx.get(url, headers=gateway, timeout=30, verify=_as_municipality(chain)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 3
    # Sealed and signed once, then served as stored: the same bytes every time, the same signing time.
    assert answers[0].content == answers[1].content == answers[2].content
    unknown_url = url.replace(final["submission_id"], "00000000-0000-4000-8000-000000000000")
    unknown = httpx.get(unknown_url, headers=gateway, verify=_as_municipality(chain))
    assert (unknown.status_code, unknown.json()["type"]) == (404, "urn:iplos-chain:problem:not-found")


def test_only_the_municipality_can_open_its_report(chain: Chain, faulty) -> None:  # type: ignore[no-untyped-def]
    final, _ = faulty
    body = client.get_json(
        f"{chain.url('registry')}/v1/submissions/{final['submission_id']}/report",
        chain.gateway_registry_token,
        verify=_as_municipality(chain),
    )
    part = base64.b64decode(body["part"])
    header = body["header"]
    ref = PartRef.model_validate(header["parts"]["report"])
    own = keys_of(chain.state_dir, MUNICIPALITY)
    summary, findings = open_report(
        io.BytesIO(part), own, ref, sender=header["sender"], message_id=header["message_id"]
    )
    assert sum(1 for _ in findings) == header["finding_count"] > 0
    # The references in the report are the gateway's random ones: no brukerNr reaches the registry.
    assert all(len(f["brukerNr"]) < 32 for f in _gateway_report(chain, final["submission_id"])["findings"])
    others = [
        keys_of(chain.state_dir, "4601"),
        load_tpf_keys(chain.state_dir / "keys" / "tpf").party,
        load_registry_keys(chain.state_dir / "keys" / "registry"),
    ]
    for other in others:
        with pytest.raises(MessageRefused):  # the part names its one recipient ...
            list(open_report(io.BytesIO(part), other, ref, sender=header["sender"], message_id=header["message_id"])[1])
        aimed = ref.model_copy(update={"recipient": other.party, "recipient_kid": other.encryption_kid})
        with pytest.raises(InvalidEnvelope):  # ... and only its key opens it
            list(
                open_report(io.BytesIO(part), other, aimed, sender=header["sender"], message_id=header["message_id"])[1]
            )
    assert summary.records == 600


def test_a_corrected_resubmission_replaces_the_year_with_fewer_findings(
    chain: Chain, faulty, exports_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    final, expected = faulty
    corrected = exports_dir / "0301-corrected.xml"
    write_synthetic_export(corrected, MUNICIPALITY, 2024, 600, 77)
    token = chain.municipality_token(MUNICIPALITY)
    accepted = client.submit(corrected, chain.url("gateway"), token=token)
    second = client.wait_final(chain.url("gateway"), accepted["submission_id"], 60, token=token)
    assert second["receipt"]["supersedes"] == final["submission_id"]
    report = _gateway_report(chain, accepted["submission_id"])
    assert report["finding_count"] == 0 < sum(expected.values())
    old = httpx.get(
        f"{chain.url('registry')}/v1/submissions/{final['submission_id']}/report",
        headers={"Authorization": f"Bearer {chain.gateway_registry_token}"},
        verify=_as_municipality(chain),
    )
    assert (old.status_code, old.json()["type"]) == (410, "urn:iplos-chain:problem:superseded")
    # The municipality still has the old report it fetched, by brukerNr.
    kept = _gateway_report(chain, final["submission_id"])
    assert kept["finding_count"] == sum(expected.values())


def test_iplos_report_prints_the_report(chain: Chain, faulty) -> None:  # type: ignore[no-untyped-def]
    final, expected = faulty
    runner = CliRunner(env={"IPLOS_TOKEN": None})  # whatever the shell running the tests has set
    gateway = ["--gateway", chain.url("gateway")]
    token = ["--token", chain.municipality_token(MUNICIPALITY)]
    as_json = runner.invoke(app, ["report", final["submission_id"], *gateway, *token, "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["finding_count"] == sum(expected.values())
    # The token from the environment, as a municipality's script would pass it.
    table = runner.invoke(
        app, ["report", final["submission_id"], *gateway], env={"IPLOS_TOKEN": chain.municipality_token(MUNICIPALITY)}
    )
    assert table.exit_code == 0, table.output
    some_bruker_nr, some_code = next(iter(expected))
    assert some_bruker_nr in table.output
    assert some_code in table.output
    missing = runner.invoke(app, ["report", "00000000-0000-4000-8000-000000000000", *gateway, *token])
    assert missing.exit_code == 1
    assert "not-found" in missing.output
    # Another municipality's credential gets the same answer as for an id that does not exist.
    other = runner.invoke(
        app, ["report", final["submission_id"], *gateway, "--token", chain.municipality_token("4601")]
    )
    assert other.exit_code == 1
    assert "not-found" in other.output
    assert some_bruker_nr not in other.output
    anonymous = runner.invoke(app, ["report", final["submission_id"], *gateway])
    assert anonymous.exit_code == 1
    assert "401" in anonymous.output
    assert "unauthenticated" in anonymous.output
    assert "IPLOS_TOKEN" in anonymous.output  # and it says what to do about it
