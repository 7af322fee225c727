"""Mutual TLS between the real processes: each hop takes a message only from the party it must come from.

The TPF takes a municipality's message only over a connection with that municipality's certificate and tells of
it only to that municipality; the registry takes deliveries only from the TPF's and serves a municipality's report
only to that municipality's; a client without a certificate is refused there (403 ``wrong-peer``), one whose
certificate is not from the deployment's CA is refused at the handshake, and plain HTTP gets no answer at all.
A refused peer changes nothing: no row, no file, no submission, no audit entry (its message's sender is not proven:
the connection is not the signer's); the only trace is the refusal counted by problem type and the connection's
party (``iplos_unproven_refusals_total``) at the service that verified the message's signature.

Bergen (4601), reporting year 2020, which no other end-to-end test uses. The messages built here carry sequences
as the gateway makes them (milliseconds), so whatever the session stored before, each is the newest.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from iplos_chain import Chain, client
from iplos_testkit.exports import write_synthetic_export
from keys.tls import TlsSubject, ensure_tls
from services.kit.tls import client_context
from shared.audit import parse_entry
from tests.e2e.messages import Message, build_delivery, build_message
from tests.tls import tls_as

pytestmark = pytest.mark.e2e

OWNER, OTHER = "4601", "5001"
YEAR = 2020
PERSONS = 8
PROBLEM = "urn:iplos-chain:problem:"


def _message(chain: Chain, tmp_path: Path, seed: int) -> Message:
    export = tmp_path / f"{OWNER}-{seed}.xml"
    write_synthetic_export(export, OWNER, YEAR, PERSONS, seed)
    return build_message(chain.state_dir, export, time.time_ns() // 1_000_000, work=tmp_path / "work")


def _audit(chain: Chain, service: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The service's whole audit log, page by page (a page holds at most the endpoint's limit)."""
    entries: list[dict[str, Any]] = []
    while page := client.get_json(f"{chain.url(service)}/v1/audit/entries?start={len(entries)}", chain.operator_token)[
        "entries"
    ]:
        entries += page
    parsed = [parse_entry(entry["entry"].encode()) for entry in entries]
    return [(e.event, e.message_id, dict(e.facts)) for e in parsed]


def _unproven(chain: Chain, service: str) -> Counter[tuple[str, str]]:
    """``iplos_unproven_refusals_total`` at ``service``, by (problem, peer)."""
    text = httpx.get(
        f"{chain.url(service)}/metrics", headers={"Authorization": f"Bearer {chain.operator_token}"}, timeout=30
    ).text
    return Counter(
        {
            (sample.labels["problem"], sample.labels["peer"]): int(sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "iplos_unproven_refusals_total"
        }
    )


def _registry_ids(chain: Chain) -> set[str]:
    rows = client.get_json(f"{chain.url('registry')}/v1/submissions", chain.operator_token)["submissions"]
    return {row["submission_id"] for row in rows}


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["type"] == PROBLEM + "wrong-peer"
    # No party, certificate or message detail in the answer.
    assert set(body) == {"type", "title", "status"}


def test_the_tpf_takes_a_message_only_from_the_municipality_that_signed_it(chain: Chain, tmp_path: Path) -> None:
    message = _message(chain, tmp_path, 1)
    tpf = chain.url("tpf")
    status = f"{tpf}/v1/messages/{message.parsed.message_id}"
    audit_before, unproven_before = _audit(chain, "tpf"), _unproven(chain, "tpf")
    registry_before = _registry_ids(chain)

    # Another municipality's gateway (a valid certificate of this deployment) brings 5001's signed message.
    _refused(httpx.post(f"{tpf}/v1/messages", files=message.files(), verify=tls_as(chain, f"kommune-{OTHER}")))
    # No certificate at all: refused before the body is read.
    _refused(httpx.post(f"{tpf}/v1/messages", files=message.files(), verify=tls_as(chain, None)))
    # The registry's certificate is no municipality's either.
    _refused(httpx.post(f"{tpf}/v1/messages", files=message.files(), verify=tls_as(chain, "registry")))

    # Nothing changed: the TPF does not know the message, the registry has nothing, and the TPF's log has no entry
    # (the other two were refused before the body was read); the refusal after the signature was verified is
    # counted, by the party of the connection that brought it.
    assert httpx.get(status, verify=tls_as(chain, f"kommune-{OWNER}")).status_code == 404
    assert _registry_ids(chain) == registry_before
    assert _audit(chain, "tpf") == audit_before
    assert _unproven(chain, "tpf") - unproven_before == Counter({("wrong-peer", f"kommune-{OTHER}"): 1})

    # Not final for the message id: the municipality's own gateway delivers it as ever.
    taken = httpx.post(f"{tpf}/v1/messages", files=message.files(), verify=tls_as(chain, f"kommune-{OWNER}"))
    assert taken.status_code == 200, taken.text
    assert taken.json()["receipt"]["status"] == "stored"
    # Its status: to its municipality only.
    assert httpx.get(status, verify=tls_as(chain, f"kommune-{OWNER}")).json()["state"] == "delivered"
    _refused(httpx.get(status, verify=tls_as(chain, f"kommune-{OTHER}")))
    _refused(httpx.get(status, verify=tls_as(chain, None)))


def test_the_registry_takes_deliveries_only_from_the_tpf(chain: Chain, tmp_path: Path) -> None:
    message = _message(chain, tmp_path, 2)
    delivery = build_delivery(chain.state_dir, message)  # pseudonymised and signed with the TPF's real keys
    url = f"{chain.url('registry')}/v1/deliveries"
    audit_before = _audit(chain, "registry")
    registry_before = _registry_ids(chain)

    # A municipality's certificate, the very municipality whose message it is: still not the TPF.
    _refused(httpx.post(url, files=delivery.files(), verify=tls_as(chain, f"kommune-{OWNER}")))
    _refused(httpx.post(url, files=delivery.files(), verify=tls_as(chain, None)))

    assert _registry_ids(chain) == registry_before
    assert _audit(chain, "registry") == audit_before  # refused before the body was read: nothing to attribute
    # The TPF's connection brings it in.
    stored = httpx.post(url, files=delivery.files(), verify=tls_as(chain, "tpf"))
    assert stored.status_code == 201, stored.text
    assert message.parsed.message_id in _registry_ids(chain)


def test_a_report_goes_only_to_the_submitting_municipalitys_peer(chain: Chain, tmp_path: Path) -> None:
    gateway, token = chain.url("gateway"), chain.municipality_token(OWNER)
    export = tmp_path / "report.xml"
    write_synthetic_export(export, OWNER, YEAR, PERSONS, 3, vary=1)
    accepted = client.submit(export, gateway, token=token)
    final = client.wait_final(gateway, accepted["submission_id"], 60, token=token)
    assert final["state"] == "stored", final
    # The gateway fetched it over its connection with 5001's certificate.
    report = client.get_json(f"{gateway}/v1/submissions/{accepted['submission_id']}/report", token)
    assert report["records"] == PERSONS

    url = chain.url("registry") + final["receipt"]["report_path"]
    headers = {"Authorization": f"Bearer {chain.gateway_registry_token}"}
    assert httpx.get(url, headers=headers, verify=tls_as(chain, f"kommune-{OWNER}")).status_code == 200
    _refused(httpx.get(url, headers=headers, verify=tls_as(chain, f"kommune-{OTHER}")))
    _refused(httpx.get(url, headers=headers, verify=tls_as(chain, "tpf")))
    _refused(httpx.get(url, headers=headers, verify=tls_as(chain, None)))


def test_a_certificate_from_another_ca_is_refused_at_the_handshake(chain: Chain, tmp_path: Path) -> None:
    # A whole other deployment's CA and municipality certificate, with a name this directory knows.
    stranger = tmp_path / "stranger"
    ensure_tls(stranger, [TlsSubject(stranger / f"kommune-{OWNER}", f"kommune-{OWNER}", client=True)])
    tls = stranger / f"kommune-{OWNER}" / "tls"
    ca = json.loads((chain.state_dir / "keys" / "directory.json").read_text())["tls_ca"]
    verify = client_context(ca, tls / "cert.pem", tls / "key.pem")
    with pytest.raises(httpx.TransportError):
        # TLS 1.3: the server checks the client's certificate after the client's handshake is done; the
        # refusal (an alert) arrives with the first read.
        httpx.get(f"{chain.url('tpf')}/healthz", verify=verify)


def test_plain_http_to_a_tls_service_gets_no_answer(chain: Chain) -> None:
    for service in ("gateway", "tpf", "registry"):
        plain = chain.url(service).replace("https://", "http://") + "/healthz"
        with pytest.raises(httpx.TransportError):
            httpx.get(plain, timeout=10)


def test_a_client_checks_the_service_s_name(chain: Chain) -> None:
    # The certificates name localhost and 127.0.0.1 (and the service); the client refuses any other name.
    url = f"https://localhost:{chain.ports['tpf']}/healthz"
    assert httpx.get(url, verify=chain.verify).status_code == 200
    # Asking for the registry's name at the TPF's address.
    with pytest.raises(httpx.ConnectError), httpx.Client(verify=chain.verify) as http:
        http.send(http.build_request("GET", url, extensions={"sni_hostname": "registry"}))
