"""A busy peer delays deliveries, never dead-letters them: three real services over mutual TLS, the TPF and the
registry each taking one request every two seconds from a caller (no burst), the gateway and the TPF allowed
four failed attempts only. Four exports sent back to back are refused at the TPF's door (and the TPF's
deliveries at the registry's) again and again; each waits as Retry-After says, none is dead-lettered, and the
year ends with the last one stored. With each refusal counted as a failed attempt (the code before), one or two
of the four were dead-lettered in every run. Four attempts rather than fewer: the TPF's first answer (202, taken
on) is one, and a loaded machine may add a genuine failure (a connection cut) that rightly counts.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from iplos_audit.logs import SERVICES
from iplos_chain import Chain, client, ensure_keys, free_port
from iplos_testkit.generator import generate_export
from tests.tls import trust_chain

pytestmark = pytest.mark.e2e
MUNICIPALITY = "0301"
YEAR = 2026
SLOW = {"REQUESTS_PER_S_PER_CALLER": "0.5", "REQUEST_BURST_PER_CALLER": "1", "DELIVERY_MAX_ATTEMPTS": "4"}


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    state = tmp_path_factory.mktemp("busy-peers")
    ensure_keys(state, [MUNICIPALITY])
    settings = {
        "gateway": {"IPLOS_GATEWAY_DELIVERY_MAX_ATTEMPTS": "4"},
        "tpf": {f"IPLOS_TPF_{name}": value for name, value in SLOW.items()},
        "registry": {f"IPLOS_REGISTRY_{name}": value for name, value in SLOW.items() if "DELIVERY" not in name},
    }
    with Chain(state, ports={s: free_port() for s in SERVICES}, extra_env=settings) as running:
        trust_chain(running)
        yield running


def _refused_at_the_door(chain: Chain, service: str) -> float:
    text = httpx.get(
        f"{chain.url(service)}/metrics",
        headers={"Authorization": f"Bearer {chain.operator_token}"},
        verify=chain.verify,
        timeout=30,
    ).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("iplos_refusals_total") and 'problem="rate-limited"' in line
    )


def test_refusals_at_a_busy_peers_door_delay_deliveries_and_dead_letter_none(chain: Chain) -> None:
    token = chain.municipality_token(MUNICIPALITY)
    accepted = []
    for vary in range(4):
        path = chain.state_dir / f"export-{vary}.xml"
        with path.open("wb") as handle:
            generate_export(MUNICIPALITY, YEAR, 12, 3, handle, vary=vary)
        accepted.append(client.submit(path, chain.url("gateway"), token=token, verify=chain.verify))

    final = [
        client.wait_final(chain.url("gateway"), a["submission_id"], 180.0, token=token, verify=chain.verify)
        for a in accepted
    ]

    assert [f["state"] for f in final if f["state"] not in ("stored", "refused")] == [], [
        (f["state"], f.get("attempts"), f.get("last_error")) for f in final
    ]
    assert final[-1]["state"] == "stored", final[-1]
    assert _refused_at_the_door(chain, "tpf") > 0  # the gateway was held back at the TPF's door
    url = f"{chain.url('registry')}/v1/submissions?municipality={MUNICIPALITY}&year={YEAR}"
    active = [
        row["submission_id"]
        for row in client.get_json(url, chain.operator_token, verify=chain.verify)["submissions"]
        if row["status"] == "active"
    ]
    assert active == [accepted[-1]["submission_id"]]
