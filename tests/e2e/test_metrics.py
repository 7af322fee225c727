"""``/metrics`` and ``/readyz`` of the three real services: after real submissions the counters say what the
chain did, a deliberate bad request shows up by its problem type, the gateway's outbox depth rises while the TPF
is stopped and falls back to 0 once everything is delivered, and nothing in any exposition names a person, a
pseudonym, a submission or a token.

The chain is the session's: other tests' traffic went through it before, so every count here is a difference
between two scrapes, taken once the outboxes are empty.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from iplos_chain import Chain, client
from iplos_testkit.exports import write_synthetic_export
from shared import fnr
from shared.iplos.reader import ExportReader
from shared.keys.tpf import load_tpf_keys
from shared.pseudonym import Pseudonymiser, encode_pseudonym
from tests.kit.test_metrics import label_values

pytestmark = pytest.mark.e2e
SERVICES = ("gateway", "tpf", "registry")
# No other end-to-end test submits for these years (nor lists 0301, 4601 or 5001 across years): the
# resubmission below supersedes only its own.
YEAR = 2022
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(chain: Chain, service: str) -> str:
    response = httpx.get(f"{chain.url(service)}/metrics", headers=_bearer(chain.operator_token), timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape_all(chain: Chain) -> dict[str, Samples]:
    return {service: samples(scrape(chain, service)) for service in SERVICES}


def value(scraped: dict[str, Samples], service: str, name: str, **labels: str) -> float:
    return scraped[service].get((name, frozenset({"service": service, **labels}.items())), 0.0)


def delta(before: dict[str, Samples], after: dict[str, Samples]) -> Callable[..., float]:
    def of(service: str, name: str, **labels: str) -> float:
        return value(after, service, name, **labels) - value(before, service, name, **labels)

    return of


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout_s:.0f} s"
        time.sleep(0.2)


def outboxes_empty(chain: Chain) -> bool:
    scraped = scrape_all(chain)
    pending = [
        value(scraped, "gateway", "iplos_outbox_depth", state="queued"),
        value(scraped, "gateway", "iplos_outbox_depth", state="forwarded"),
        value(scraped, "tpf", "iplos_outbox_depth", state="queued"),
    ]
    return pending == [0, 0, 0] and value(scraped, "gateway", "iplos_outbox_oldest_age_seconds") == 0


def findings_by_rule(scraped: dict[str, Samples]) -> Counter[str]:
    return Counter(
        {
            dict(labels)["rule"]: int(count)
            for (name, labels), count in scraped["registry"].items()
            if name == "iplos_findings_total"
        }
    )


def persons(path: Path) -> list:  # type: ignore[type-arg]
    with path.open("rb") as handle, ExportReader(handle) as reader:
        return list(reader)


def assert_nothing_identifying(chain: Chain, exports: list[Path], submission_ids: list[str]) -> None:
    """No identity number, brukerNr, pseudonym, submission id or token in any service's exposition: in no label
    value (where one could get in), and the ones that are not plain digits nowhere in the text either."""
    numbers = {p.fid for path in exports for p in persons(path)}
    bruker = {p.bruker_nr for path in exports for p in persons(path)}
    pseudonymiser = Pseudonymiser(load_tpf_keys(chain.state_dir / "keys" / "tpf").current_pseudonym_key)
    pseudonyms: set[str] = set()
    for number in numbers:
        try:
            value = pseudonymiser.pseudonym(fnr.parse(number))
        except fnr.InvalidIdentityNumber:
            continue
        pseudonyms |= {encode_pseudonym(value), value.hex()}
    tokens = {chain.operator_token, *chain.municipality_tokens().values()}
    for service in SERVICES:
        text = scrape(chain, service)
        labels = label_values(text)
        for kind, values in (("numbers", numbers), ("brukerNr", bruker), ("pseudonyms", pseudonyms)):
            assert [v for v in values if any(v in label for label in labels)] == [], f"{service} labels hold {kind}"
        assert [v for v in [*pseudonyms, *submission_ids, *tokens] if v in text] == [], service
        assert UUID.search(text) is None, service


def test_the_counters_show_what_the_chain_did(chain: Chain, exports_dir: Path) -> None:
    wait_until(lambda: outboxes_empty(chain), "the outboxes were not empty")
    before = scrape_all(chain)
    gateway = chain.url("gateway")
    plan = [("0301", 40, 0), ("4601", 30, 0), ("0301", 40, 1)]  # the last replaces the first
    exports, ids, found = [], [], Counter[str]()
    for nr, count, vary in plan:
        path = exports_dir / f"metrics-{nr}-{YEAR}-{vary}.xml"
        write_synthetic_export(path, nr, YEAR, count, 31, vary=vary, errors=0.2)
        token = chain.municipality_token(nr)
        accepted = client.submit(path, gateway, token=token)
        final = client.wait_final(gateway, accepted["submission_id"], 60, token=token)
        assert final["state"] == "stored", final
        # The registry's own count of its findings, by rule, as the municipality reads it in the report.
        report = client.get_json(f"{gateway}/v1/submissions/{final['submission_id']}/report", token)
        found.update({row["code"]: row["count"] for row in report["counts"]})
        exports.append(path)
        ids.append(final["submission_id"])
    records = sum(len(persons(path)) for path in exports)
    wait_until(lambda: outboxes_empty(chain), "the outboxes did not empty")
    after = scrape_all(chain)
    change = delta(before, after)

    assert change("gateway", "iplos_messages_total", outcome="accepted") == len(plan)
    assert change("gateway", "iplos_messages_total", outcome="stored") == len(plan)
    assert change("gateway", "iplos_records_total", outcome="accepted") == records
    assert change("gateway", "iplos_records_total", outcome="stored") == records
    assert change("gateway", "iplos_stage_duration_seconds_count", stage="seal") == len(plan)
    assert change("gateway", "iplos_stage_duration_seconds_count", stage="delivery_attempt") >= len(plan)

    assert change("tpf", "iplos_messages_total", outcome="pseudonymised") == len(plan)
    assert change("tpf", "iplos_messages_total", outcome="forwarded") == len(plan)
    pseudonymised = change("tpf", "iplos_records_total", outcome="pseudonymised")
    assert pseudonymised + change("tpf", "iplos_records_total", outcome="refused") == records
    assert change("tpf", "iplos_stage_duration_seconds_count", stage="verify") == len(plan)
    assert change("tpf", "iplos_stage_duration_seconds_count", stage="pseudonymise") == len(plan)

    assert change("registry", "iplos_messages_total", outcome="stored") == len(plan)
    assert change("registry", "iplos_messages_total", outcome="superseded") == 1
    assert change("registry", "iplos_messages_total", outcome="refused") == 0
    assert change("registry", "iplos_records_total", outcome="stored") == records
    assert change("registry", "iplos_stage_duration_seconds_count", stage="store") == len(plan)
    deliveries = {"method": "POST", "route": "/v1/deliveries", "status": "201"}
    assert change("registry", "iplos_http_request_duration_seconds_count", **deliveries) == len(plan)
    assert len(found) >= 5  # the injected faults really vary
    assert findings_by_rule(after) - findings_by_rule(before) == found

    assert_nothing_identifying(chain, exports, ids)


def test_a_deliberate_bad_request_is_counted_by_its_problem_type(chain: Chain) -> None:
    before = scrape_all(chain)
    headers = {"Content-Type": "text/plain", **_bearer(chain.municipality_token("0301"))}
    wrong_type = httpx.post(f"{chain.url('gateway')}/v1/submissions", content=b"not xml", headers=headers)
    assert wrong_type.status_code == 415
    garbage = httpx.post(f"{chain.url('tpf')}/v1/messages", files={"x": ("x", b"x", "application/octet-stream")})
    garbage_type = garbage.json()["type"].removeprefix("urn:iplos-chain:problem:")
    change = delta(before, scrape_all(chain))
    assert change("gateway", "iplos_refusals_total", problem="unsupported-media-type") == 1
    assert change("gateway", "iplos_messages_total", outcome="accepted") == 0
    assert change("tpf", "iplos_refusals_total", problem=garbage_type) == 1
    assert change("tpf", "iplos_messages_total", outcome="pseudonymised") == 0


def test_metrics_need_an_operator_token_and_readyz_needs_none(chain: Chain) -> None:
    for service in SERVICES:
        url = chain.url(service)
        assert httpx.get(f"{url}/metrics").status_code == 401, service
        assert httpx.get(f"{url}/metrics", headers=_bearer("iplos_not-a-known-token")).status_code == 401
        assert httpx.get(f"{url}/metrics", headers=_bearer(chain.operator_token)).status_code == 200
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 200, ready.text
        checks = {"database": "ok", "keys": "ok"} | ({} if service == "registry" else {"outbox": "ok"})
        assert ready.json() == {"status": "ready", "checks": checks}
    # A municipality's token is for its own submissions, not for the gateway's counts of everyone's.
    municipality = _bearer(chain.municipality_token("0301"))
    assert httpx.get(f"{chain.url('gateway')}/metrics", headers=municipality).status_code == 403


def test_the_outbox_depth_rises_while_the_tpf_is_stopped_and_is_0_once_all_is_delivered(
    chain: Chain, exports_dir: Path
) -> None:
    wait_until(lambda: outboxes_empty(chain), "the outboxes were not empty")
    path = exports_dir / f"metrics-5001-{YEAR - 1}.xml"
    write_synthetic_export(path, "5001", YEAR - 1, 20, 32)
    token = chain.municipality_token("5001")
    chain.stop("tpf")
    try:
        accepted = client.submit(path, chain.url("gateway"), token=token)

        def waiting() -> bool:
            gateway = {"gateway": samples(scrape(chain, "gateway"))}
            return (
                value(gateway, "gateway", "iplos_outbox_depth", state="queued") == 1
                and value(gateway, "gateway", "iplos_outbox_oldest_age_seconds") > 0
            )

        wait_until(waiting, "the gateway's outbox depth did not show the waiting submission", 15)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{chain.url('tpf')}/metrics", headers=_bearer(chain.operator_token))
    finally:
        chain.start("tpf")
    final = client.wait_final(chain.url("gateway"), accepted["submission_id"], 120, token=token)
    assert final["state"] == "stored", final
    wait_until(lambda: outboxes_empty(chain), "the outboxes did not empty once the TPF was back")
    # The restarted TPF counts from 0: this submission is all it has seen.
    tpf = {"tpf": samples(scrape(chain, "tpf"))}
    assert value(tpf, "tpf", "iplos_messages_total", outcome="forwarded") == 1
    assert_nothing_identifying(chain, [path], [accepted["submission_id"]])
