"""The population register's extract through the real chain (issue 14): the register's own gateway (``iplos serve
gateway`` given the register's key folder) takes an upload, seals and signs it with the register's key and delivers
it through its outbox to the TPF, which pseudonymises each number and forwards it to the registry, which stores it
and answers with a signed receipt. Each gateway takes only its own kind of file. A municipality's control report
changes when the register's extract of its year arrives: the register controls find exactly the faults injected.
A municipality probing a number the register lists only elsewhere (issue 17) is flagged for the registry's operators
when the extract arrives, counted in the registry's metrics, and its report says nothing of it.

The first test runs beside the session's chain, with Oslo's (0301) extract of 2021 and no care data of its own;
the two-year scenario runs on a chain of its own (with the register's gateway, as `iplos up` runs it), so that every
care record of its years is its own: an extract judges every care record of its municipality and year, and the flows
count every municipality's."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from iplos_chain import REGISTER_GATEWAY, SERVICES, Chain, client, ensure_keys, free_port, launch_command, service_env
from iplos_testkit.exports import write_synthetic_export
from iplos_testkit.population import REPORTED_AS, Population, generate_population
from services.kit.credentials import Credential, hash_token, new_token, write_credentials
from services.registry_intake.read.flows import flow_suppression
from shared.iplos.controls import (
    DIFFERS_FROM_REGISTER,
    NEVER_RESIDENT,
    NOT_RESIDENT,
    REGISTRY_ONLY_CODES,
    SERVICE_AFTER_REGISTER_DEATH,
)
from shared.iplos.reader import read_export
from shared.population import ExtractHeader, RegisterPerson, write_extract
from tests.e2e.conftest import Export
from tests.postgres import DATABASES, service_databases
from tests.tls import trust_chain

TOKEN = new_token()


YEAR = 2022
#: The first test's extract, on the session's chain: Oslo in 2021, a municipality-year no end-to-end test stores care
#: data for (an extract judges the care records of its municipality and year).
SHARED_YEAR = 2021


def oslo_extract(year: int) -> tuple[bytes, int]:
    """Oslo's register extract of ``year`` from a small simulated population, and its number of persons."""
    population = Population(("0301", "1103"), (year - 1, year), residents=60, seed=9)
    views = [p.register_view(year) for p in population.persons]
    persons: list[RegisterPerson] = [v for v in views if v is not None and v.resident_in("0301", year)]
    out = io.BytesIO()
    write_extract(out, ExtractHeader(str(uuid.uuid4()), "0301", year, dt.date(year + 1, 1, 20)), persons)
    return out.getvalue(), len(persons)


@pytest.fixture(scope="module")
def register_gateway(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The register's gateway, a fourth process beside the chain: its key folder is the register's zone's."""
    state = tmp_path_factory.mktemp("register-gateway")
    credentials = state / "credentials.json"
    write_credentials(credentials, [Credential("folkeregister-it", "operator", hash_token(TOKEN))])
    port = free_port()
    env = {
        **os.environ,
        # As `iplos up` runs it (iplos_chain.service_env), with a state folder and credentials of this test's own.
        **service_env(REGISTER_GATEWAY, chain.state_dir, {**chain.ports, REGISTER_GATEWAY: port}),
        "IPLOS_GATEWAY_STATE_DIR": str(state / "gateway"),
        "IPLOS_GATEWAY_CREDENTIALS_FILE": str(credentials),
        "TMPDIR": str(state),
    }
    log = open(state / "process.log", "ab")  # noqa: SIM115 - owned by the child
    process = subprocess.Popen(
        launch_command(REGISTER_GATEWAY, port), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    log.close()
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (state / "process.log").read_text()
            try:
                if httpx.get(url + "/readyz", verify=chain.verify, timeout=3).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the register's gateway did not become ready"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _final(client: httpx.Client, url: str, submission_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, object] = client.get(f"{url}/v1/submissions/{submission_id}").json()
        if body["state"] in ("stored", "rejected", "dead-letter"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def test_an_extract_goes_from_the_registers_gateway_into_the_registry(
    chain: Chain, register_gateway: str, make_export, exports_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    extract, persons = oslo_extract(SHARED_YEAR)
    # Beside the session's exports: the last e2e test looks for its numbers in everything the TPF and registry wrote.
    (exports_dir / f"register-0301-{SHARED_YEAR}-{uuid.uuid4().hex[:8]}.jsonl").write_bytes(extract)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(verify=chain.verify, headers=headers, timeout=30) as client:
        answer = client.post(
            f"{register_gateway}/v1/submissions", content=extract, headers={"Content-Type": "application/x-ndjson"}
        )
        assert answer.status_code == 202, answer.text
        submission = _final(client, register_gateway, answer.json()["submission_id"])
        assert submission["state"] == "stored", submission
        receipt = submission["receipt"]
        assert isinstance(receipt, dict)
        assert (receipt["status"], receipt["records_stored"], receipt["report_path"]) == ("stored", persons, None)
        assert receipt["municipality"] == "0301"
        # The same file again: refused at the gateway, as a care export would be.
        again = client.post(
            f"{register_gateway}/v1/submissions", content=extract, headers={"Content-Type": "application/x-ndjson"}
        )
        assert again.json()["type"].endswith("identical-resubmission"), again.text
        # The register's gateway takes no care export.
        export: Export = make_export("0301", 5, year=SHARED_YEAR)
        xml = client.post(
            f"{register_gateway}/v1/submissions",
            content=export.path.read_bytes(),
            headers={"Content-Type": "application/xml"},
        )
        assert xml.status_code == 415, xml.text
    # And a municipalities' gateway takes no extract.
    with httpx.Client(verify=chain.verify, timeout=30) as client:
        refused = client.post(
            chain.url("gateway") + "/v1/submissions",
            content=extract,
            headers={"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {chain.operator_token}"},
        )
    assert refused.status_code == 415, refused.text


@pytest.fixture(scope="module", params=DATABASES)
def register_chain(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """A chain of its own with the register's gateway (as `iplos up` runs it), on each database: its two years of
    care and register data are all its registry holds, so the flows between them are exactly the population's."""
    state = tmp_path_factory.mktemp(f"register-chain-{request.param}")
    ensure_keys(state, ["4601", "5001"])
    ports = {service: free_port() for service in (*SERVICES, REGISTER_GATEWAY)}
    with (
        service_databases(request.param, "iplos_e2e_register_") as databases,
        Chain(state, ports=ports, extra_env=databases, register=True) as running,
    ):
        trust_chain(running)
        yield running


def _send_extract(chain: Chain, path: Path) -> None:
    """The register's IT staff sends ``path`` to the register's gateway, as `iplos submit FILE.jsonl` does."""
    gateway, token = chain.url(REGISTER_GATEWAY), chain.register_token
    accepted = client.submit(path, gateway, token=token)
    assert client.wait_final(gateway, accepted["submission_id"], 60, token=token)["state"] == "stored"


def _send_export(chain: Chain, municipality: str, path: Path) -> str:
    token = chain.municipality_token(municipality)
    accepted = client.submit(path, chain.url("gateway"), token=token)
    assert client.wait_final(chain.url("gateway"), accepted["submission_id"], 60, token=token)["state"] == "stored"
    return str(accepted["submission_id"])


def test_two_years_of_care_and_register_through_the_chain_give_the_faults_and_the_flows(
    register_chain: Chain, tmp_path: Path
) -> None:
    # Two municipalities over 2021 and 2022: moves between them, deaths, arrivals with D-numbers, a D-number replaced
    # by a fødselsnummer, register faults injected.
    chain = register_chain
    population = generate_population(
        tmp_path / "population", ("4601", "5001"), (2021, 2022), residents=200, seed=2, errors=0.1
    )
    for municipality in ("4601", "5001"):
        _send_export(chain, municipality, population.exports[(2021, municipality)])
        _send_extract(chain, population.registers[(2021, municipality)])

    # Bergen's 2022 export before the register's extract of 2022: a report with no register findings (the generated
    # records pass every payload control) ...
    bergen = _send_export(chain, "4601", population.exports[(2022, "4601")])
    token = chain.municipality_token("4601")
    report_url = f"{chain.url('gateway')}/v1/submissions/{bergen}/report"
    before = client.get_json(report_url, token)
    assert (before["findings"], before["register_check"]) == ([], "pending")
    # ... and once it arrives, the same report, revalidated at the gateway, has exactly the faults injected, by
    # brukerNr, as the municipality may see them.
    _send_extract(chain, population.registers[(2022, "4601")])
    expected = {
        (f.bruker_nr, REPORTED_AS[f.kind]) for f in population.faults if (f.year, f.municipality) == (YEAR, "4601")
    }
    assert {code for _, code in expected} == {NOT_RESIDENT, SERVICE_AFTER_REGISTER_DEATH, DIFFERS_FROM_REGISTER}
    after = client.get_json(report_url, token)
    assert {(f["brukerNr"], f["code"]) for f in after["findings"]} == expected
    assert after["finding_count"] == len(after["findings"])
    assert after["register_check"] == "done"
    assert client.get_json(report_url, token) == after  # not modified: served as kept

    # Trondheim's extract first this time, then its export: judged at once.
    _send_extract(chain, population.registers[(2022, "5001")])
    trondheim = _send_export(chain, "5001", population.exports[(2022, "5001")])
    report = client.get_json(
        f"{chain.url('gateway')}/v1/submissions/{trondheim}/report", chain.municipality_token("5001")
    )
    assert {(f["brukerNr"], f["code"]) for f in report["findings"]} == {
        (f.bruker_nr, REPORTED_AS[f.kind]) for f in population.faults if (f.year, f.municipality) == (YEAR, "5001")
    }
    assert report["register_check"] == "done"

    # The flows between the years, as the operator is shown them: the generator's truth through the suppression rule.
    truth = json.loads(population.truth.read_text(encoding="utf-8"))[str(YEAR)]
    shown = client.get_json(f"{chain.url('registry')}/v1/operator/years/{YEAR}/flows", chain.operator_token)
    rule = flow_suppression(truth)
    assert {area["area"]: area["flows"] for area in shown["areas"]} == {
        area: {kind: rule[(area, kind)] for kind in counts} for area, counts in truth.items()
    }
    assert shown["areas"][0]["flows"]["continuing"] == truth["national"]["continuing"] > 0


def test_a_probe_of_a_number_the_register_lists_elsewhere_is_flagged_for_the_operators_only(
    chain: Chain, register_gateway: str, exports_dir: Path
) -> None:
    # Issue 17, the chosen-number oracle: Stavanger (1103) reports the number of a person the register lists only in
    # Drammen (3301). Reporting year 2026 on the session's chain, as for every end-to-end test that stores data; no
    # end-to-end test stores Drammen's care data, which its extract would judge.
    year = 2026
    population = Population(("3301", "4601"), (year - 1, year), residents=60, seed=11)
    views = [p.register_view(year) for p in population.persons]
    drammen = [v for v in views if v is not None and v.resident_in("3301", year)]
    probed = next(p for p in drammen if {r.municipality for r in p.residence} == {"3301"} and p.death_date is None)
    number = next(n.number for n in probed.numbers if n.valid_to is None)
    extract = io.BytesIO()
    write_extract(extract, ExtractHeader(str(uuid.uuid4()), "3301", year, dt.date(year + 1, 1, 20)), drammen)
    extract_path = exports_dir / f"register-3301-{year}-{uuid.uuid4().hex[:8]}.jsonl"
    extract_path.write_bytes(extract.getvalue())
    care = exports_dir / f"1103-{year}-probe-{uuid.uuid4().hex[:8]}.xml"
    write_synthetic_export(care, "1103", year, 40, 23)
    with read_export(care) as reader:
        first = next(iter(reader))
    text = care.read_text(encoding="utf-8")
    assert text.count(first.fid) == 1
    care.write_text(text.replace(first.fid, number), encoding="utf-8")

    registry, operator = chain.url("registry"), chain.operator_token

    def suspicious(reason: str) -> float:
        body = httpx.get(
            f"{registry}/metrics", headers={"Authorization": f"Bearer {operator}"}, verify=chain.verify, timeout=30
        ).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
            if sample.name == "iplos_suspicious_submissions_total" and sample.labels["reason"] == reason
        )

    token = chain.municipality_token("1103")
    accepted = client.submit(care, chain.url("gateway"), token=token)
    submission_id = str(accepted["submission_id"])
    assert client.wait_final(chain.url("gateway"), submission_id, 60, token=token)["state"] in ("stored", "held")
    flagged_before = suspicious("never-resident")
    # The register's extract of Drammen, through the register's gateway, the TPF and the registry: it lists the
    # person, never in Stavanger, and the registry flags the probe for its operators.
    accepted = client.submit(extract_path, register_gateway, token=TOKEN)
    assert client.wait_final(register_gateway, accepted["submission_id"], 60, token=TOKEN)["state"] == "stored"
    assert suspicious("never-resident") == flagged_before + 1
    detail = client.get_json(f"{registry}/v1/operator/submissions/{submission_id}", operator)
    rules = {rule["code"]: rule["records"] for rule in detail["findings_by_rule"]}
    assert rules.get(NEVER_RESIDENT) == 1
    # Stavanger's report, mapped at its gateway: nothing in it says the register knows the number.
    report = client.get_json(f"{chain.url('gateway')}/v1/submissions/{submission_id}/report", token)
    codes = {finding["code"] for finding in report["findings"]}
    assert not codes & REGISTRY_ONLY_CODES
    assert report["finding_count"] == len(report["findings"])
